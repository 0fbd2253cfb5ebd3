"""The subset of Stash's GraphQL schema that the Stash emulator serves.

Written for this project from the facts of Stash v0.30 (type names, field names, argument
names, types and nullability as Stash declares them); descriptions are our own. Every
request is validated against it, so a client that asks for a field Stash lacks fails
here as it would against Stash. Things Stash has but this subset leaves out fail too
(with the same kind of error); they are listed in `OMITTED` so a failure is easy to read.
"""

from __future__ import annotations

OMITTED = (
    "Query: everything except findScene, findScenes, findTag(s), findPerformer(s), findStudio(s), "
    "version, systemStatus",
    "Mutation: everything except sceneUpdate, sceneAddPlay, sceneSaveActivity",
    "SceneFilterType / PerformerFilterType / StudioFilterType / TagFilterType: "
    "galleries_filter, images_filter, movies_filter, groups_filter, markers_filter, files_filter",
    "Gallery: chapters, cover, image(index)",
)

SDL = r"""
"An RFC3339 timestamp, written with the Stash host's UTC offset"
scalar Time
"A point in time; input may also be relative like '<4h'"
scalar Timestamp
"A String -> Any map"
scalar Map
scalar Any
scalar Int64

enum SortDirectionEnum {
  ASC
  DESC
}

enum CriterionModifier {
  EQUALS
  NOT_EQUALS
  GREATER_THAN
  LESS_THAN
  IS_NULL
  NOT_NULL
  INCLUDES_ALL
  INCLUDES
  EXCLUDES
  MATCHES_REGEX
  NOT_MATCHES_REGEX
  BETWEEN
  NOT_BETWEEN
}

enum GenderEnum {
  MALE
  FEMALE
  TRANSGENDER_MALE
  TRANSGENDER_FEMALE
  INTERSEX
  NON_BINARY
}

enum CircumisedEnum {
  CUT
  UNCUT
}

enum ResolutionEnum {
  VERY_LOW
  LOW
  R360P
  STANDARD
  WEB_HD
  STANDARD_HD
  FULL_HD
  QUAD_HD
  VR_HD @deprecated(reason: "Use 4K instead")
  FOUR_K
  FIVE_K
  SIX_K
  SEVEN_K
  EIGHT_K
  HUGE
}

enum OrientationEnum {
  LANDSCAPE
  PORTRAIT
  SQUARE
}

enum SystemStatusEnum {
  SETUP
  NEEDS_MIGRATION
  OK
}

input FindFilterType {
  q: String
  page: Int
  "per_page = -1 returns every result; the default is 25"
  per_page: Int
  sort: String
  direction: SortDirectionEnum
}

input StringCriterionInput {
  value: String!
  modifier: CriterionModifier!
}

input IntCriterionInput {
  value: Int!
  value2: Int
  modifier: CriterionModifier!
}

input FloatCriterionInput {
  value: Float!
  value2: Float
  modifier: CriterionModifier!
}

input MultiCriterionInput {
  value: [ID!]
  modifier: CriterionModifier!
  excludes: [ID!]
}

input HierarchicalMultiCriterionInput {
  value: [ID!]
  modifier: CriterionModifier!
  depth: Int
  excludes: [ID!]
}

input DateCriterionInput {
  value: String!
  value2: String
  modifier: CriterionModifier!
}

"Compared with the stored text of the column, not as a parsed time"
input TimestampCriterionInput {
  value: String!
  value2: String
  modifier: CriterionModifier!
}

input StashIDCriterionInput {
  endpoint: String
  stash_id: String
  modifier: CriterionModifier!
}

input ResolutionCriterionInput {
  value: ResolutionEnum!
  modifier: CriterionModifier!
}

input OrientationCriterionInput {
  value: [OrientationEnum!]!
}

input PHashDuplicationCriterionInput {
  duplicated: Boolean
  distance: Int
}

input PhashDistanceCriterionInput {
  value: String!
  modifier: CriterionModifier!
  distance: Int
}

input GenderCriterionInput {
  value: GenderEnum
  value_list: [GenderEnum!]
  modifier: CriterionModifier!
}

input CircumcisionCriterionInput {
  value: [CircumisedEnum!]
  modifier: CriterionModifier!
}

input CustomFieldCriterionInput {
  field: String!
  value: [Any!]
  modifier: CriterionModifier!
}

input SceneFilterType {
  AND: SceneFilterType
  OR: SceneFilterType
  NOT: SceneFilterType
  id: IntCriterionInput
  title: StringCriterionInput
  code: StringCriterionInput
  details: StringCriterionInput
  director: StringCriterionInput
  oshash: StringCriterionInput
  checksum: StringCriterionInput
  phash: StringCriterionInput @deprecated(reason: "Use phash_distance instead")
  phash_distance: PhashDistanceCriterionInput
  path: StringCriterionInput
  file_count: IntCriterionInput
  rating100: IntCriterionInput
  organized: Boolean
  o_counter: IntCriterionInput
  duplicated: PHashDuplicationCriterionInput
  resolution: ResolutionCriterionInput
  orientation: OrientationCriterionInput
  framerate: IntCriterionInput
  bitrate: IntCriterionInput
  video_codec: StringCriterionInput
  audio_codec: StringCriterionInput
  duration: IntCriterionInput
  has_markers: String
  is_missing: String
  studios: HierarchicalMultiCriterionInput
  movies: MultiCriterionInput @deprecated(reason: "use groups instead")
  groups: HierarchicalMultiCriterionInput
  galleries: MultiCriterionInput
  tags: HierarchicalMultiCriterionInput
  tag_count: IntCriterionInput
  performer_tags: HierarchicalMultiCriterionInput
  performer_favorite: Boolean
  performer_age: IntCriterionInput
  performers: MultiCriterionInput
  performer_count: IntCriterionInput
  stash_id_endpoint: StashIDCriterionInput
  url: StringCriterionInput
  interactive: Boolean
  interactive_speed: IntCriterionInput
  captions: StringCriterionInput
  resume_time: IntCriterionInput
  play_count: IntCriterionInput
  play_duration: IntCriterionInput
  last_played_at: TimestampCriterionInput
  date: DateCriterionInput
  created_at: TimestampCriterionInput
  updated_at: TimestampCriterionInput
  performers_filter: PerformerFilterType
  studios_filter: StudioFilterType
  tags_filter: TagFilterType
}

input PerformerFilterType {
  AND: PerformerFilterType
  OR: PerformerFilterType
  NOT: PerformerFilterType
  name: StringCriterionInput
  disambiguation: StringCriterionInput
  details: StringCriterionInput
  filter_favorites: Boolean
  birth_year: IntCriterionInput
  age: IntCriterionInput
  ethnicity: StringCriterionInput
  country: StringCriterionInput
  eye_color: StringCriterionInput
  height_cm: IntCriterionInput
  measurements: StringCriterionInput
  fake_tits: StringCriterionInput
  penis_length: FloatCriterionInput
  circumcised: CircumcisionCriterionInput
  career_length: StringCriterionInput
  tattoos: StringCriterionInput
  piercings: StringCriterionInput
  aliases: StringCriterionInput
  gender: GenderCriterionInput
  is_missing: String
  tags: HierarchicalMultiCriterionInput
  tag_count: IntCriterionInput
  scene_count: IntCriterionInput
  image_count: IntCriterionInput
  gallery_count: IntCriterionInput
  play_count: IntCriterionInput
  o_counter: IntCriterionInput
  stash_id_endpoint: StashIDCriterionInput
  rating100: IntCriterionInput
  url: StringCriterionInput
  hair_color: StringCriterionInput
  weight: IntCriterionInput
  death_year: IntCriterionInput
  studios: HierarchicalMultiCriterionInput
  groups: HierarchicalMultiCriterionInput
  performers: MultiCriterionInput
  ignore_auto_tag: Boolean
  birthdate: DateCriterionInput
  death_date: DateCriterionInput
  scenes_filter: SceneFilterType
  tags_filter: TagFilterType
  created_at: TimestampCriterionInput
  updated_at: TimestampCriterionInput
  custom_fields: [CustomFieldCriterionInput!]
}

input StudioFilterType {
  AND: StudioFilterType
  OR: StudioFilterType
  NOT: StudioFilterType
  name: StringCriterionInput
  details: StringCriterionInput
  parents: MultiCriterionInput
  stash_id_endpoint: StashIDCriterionInput
  tags: HierarchicalMultiCriterionInput
  is_missing: String
  rating100: IntCriterionInput
  favorite: Boolean
  scene_count: IntCriterionInput
  image_count: IntCriterionInput
  gallery_count: IntCriterionInput
  tag_count: IntCriterionInput
  url: StringCriterionInput
  aliases: StringCriterionInput
  child_count: IntCriterionInput
  ignore_auto_tag: Boolean
  scenes_filter: SceneFilterType
  created_at: TimestampCriterionInput
  updated_at: TimestampCriterionInput
}

input TagFilterType {
  AND: TagFilterType
  OR: TagFilterType
  NOT: TagFilterType
  name: StringCriterionInput
  sort_name: StringCriterionInput
  aliases: StringCriterionInput
  favorite: Boolean
  description: StringCriterionInput
  is_missing: String
  scene_count: IntCriterionInput
  image_count: IntCriterionInput
  gallery_count: IntCriterionInput
  performer_count: IntCriterionInput
  studio_count: IntCriterionInput
  movie_count: IntCriterionInput
  group_count: IntCriterionInput
  marker_count: IntCriterionInput
  parents: HierarchicalMultiCriterionInput
  children: HierarchicalMultiCriterionInput
  parent_count: IntCriterionInput
  child_count: IntCriterionInput
  ignore_auto_tag: Boolean
  stash_id_endpoint: StashIDCriterionInput
  scenes_filter: SceneFilterType
  created_at: TimestampCriterionInput
  updated_at: TimestampCriterionInput
}

input StashIDInput {
  endpoint: String!
  stash_id: String!
  updated_at: Time
}

input SceneGroupInput {
  group_id: ID!
  scene_index: Int
}

input SceneMovieInput {
  movie_id: ID!
  scene_index: Int
}

input SceneUpdateInput {
  clientMutationId: String
  id: ID!
  title: String
  code: String
  details: String
  director: String
  url: String @deprecated(reason: "Use urls")
  urls: [String!]
  date: String
  rating100: Int
  o_counter: Int @deprecated(reason: "Unsupported - Use sceneIncrementO/sceneDecrementO")
  organized: Boolean
  studio_id: ID
  gallery_ids: [ID!]
  performer_ids: [ID!]
  groups: [SceneGroupInput!]
  movies: [SceneMovieInput!] @deprecated(reason: "Use groups")
  tag_ids: [ID!]
  "A URL or a base64 data URL"
  cover_image: String
  stash_ids: [StashIDInput!]
  resume_time: Float
  play_duration: Float
  play_count: Int
    @deprecated(reason: "Unsupported - Use sceneIncrementPlayCount/sceneDecrementPlayCount")
  primary_file_id: ID
}

type Fingerprint {
  type: String!
  value: String!
}

type Folder {
  id: ID!
  path: String!
  parent_folder_id: ID @deprecated(reason: "Use parent_folder instead")
  zip_file_id: ID @deprecated(reason: "Use zip_file instead")
  parent_folder: Folder
  zip_file: BasicFile
  mod_time: Time!
  created_at: Time!
  updated_at: Time!
}

interface BaseFile {
  id: ID!
  path: String!
  basename: String!
  parent_folder_id: ID! @deprecated(reason: "Use parent_folder instead")
  zip_file_id: ID @deprecated(reason: "Use zip_file instead")
  parent_folder: Folder!
  zip_file: BasicFile
  mod_time: Time!
  size: Int64!
  fingerprint(type: String!): String
  fingerprints: [Fingerprint!]!
  created_at: Time!
  updated_at: Time!
}

type BasicFile implements BaseFile {
  id: ID!
  path: String!
  basename: String!
  parent_folder_id: ID! @deprecated(reason: "Use parent_folder instead")
  zip_file_id: ID @deprecated(reason: "Use zip_file instead")
  parent_folder: Folder!
  zip_file: BasicFile
  mod_time: Time!
  size: Int64!
  fingerprint(type: String!): String
  fingerprints: [Fingerprint!]!
  created_at: Time!
  updated_at: Time!
}

type VideoFile implements BaseFile {
  id: ID!
  path: String!
  basename: String!
  parent_folder_id: ID! @deprecated(reason: "Use parent_folder instead")
  zip_file_id: ID @deprecated(reason: "Use zip_file instead")
  parent_folder: Folder!
  zip_file: BasicFile
  mod_time: Time!
  size: Int64!
  fingerprint(type: String!): String
  fingerprints: [Fingerprint!]!
  format: String!
  width: Int!
  height: Int!
  duration: Float!
  video_codec: String!
  audio_codec: String!
  frame_rate: Float!
  bit_rate: Int!
  created_at: Time!
  updated_at: Time!
}

type GalleryFile implements BaseFile {
  id: ID!
  path: String!
  basename: String!
  parent_folder_id: ID! @deprecated(reason: "Use parent_folder instead")
  zip_file_id: ID @deprecated(reason: "Use zip_file instead")
  parent_folder: Folder!
  zip_file: BasicFile
  mod_time: Time!
  size: Int64!
  fingerprint(type: String!): String
  fingerprints: [Fingerprint!]!
  created_at: Time!
  updated_at: Time!
}

type ScenePathsType {
  screenshot: String
  preview: String
  stream: String
  webp: String
  vtt: String
  sprite: String
  funscript: String
  interactive_heatmap: String
  caption: String
}

type VideoCaption {
  language_code: String!
  caption_type: String!
}

type SceneStreamEndpoint {
  url: String!
  mime_type: String
  label: String
}

type StashID {
  endpoint: String!
  stash_id: String!
  updated_at: Time!
}

type SceneMarker {
  id: ID!
  scene: Scene!
  title: String!
  seconds: Float!
  end_seconds: Float
  primary_tag: Tag!
  tags: [Tag!]!
  created_at: Time!
  updated_at: Time!
  stream: String!
  preview: String!
  screenshot: String!
}

type GalleryPathsType {
  cover: String!
  preview: String!
}

type Gallery {
  id: ID!
  title: String
  code: String
  url: String @deprecated(reason: "Use urls")
  urls: [String!]!
  date: String
  details: String
  photographer: String
  rating100: Int
  organized: Boolean!
  created_at: Time!
  updated_at: Time!
  files: [GalleryFile!]!
  folder: Folder
  scenes: [Scene!]!
  studio: Studio
  image_count: Int!
  tags: [Tag!]!
  performers: [Performer!]!
  paths: GalleryPathsType!
}

type GroupDescription {
  group: Group!
  description: String
}

type Group {
  id: ID!
  name: String!
  aliases: String
  duration: Int
  date: String
  rating100: Int
  studio: Studio
  director: String
  synopsis: String
  urls: [String!]!
  tags: [Tag!]!
  created_at: Time!
  updated_at: Time!
  containing_groups: [GroupDescription!]!
  sub_groups: [GroupDescription!]!
  front_image_path: String
  back_image_path: String
  scene_count(depth: Int): Int!
  performer_count(depth: Int): Int!
  sub_group_count(depth: Int): Int!
  scenes: [Scene!]!
  o_counter: Int
}

type Movie {
  id: ID!
  name: String!
  aliases: String
  duration: Int
  date: String
  rating100: Int
  studio: Studio
  director: String
  synopsis: String
  url: String @deprecated(reason: "Use urls")
  urls: [String!]!
  tags: [Tag!]!
  created_at: Time!
  updated_at: Time!
  front_image_path: String
  back_image_path: String
  scene_count(depth: Int): Int!
  scenes: [Scene!]!
}

type SceneGroup {
  group: Group!
  scene_index: Int
}

type SceneMovie {
  movie: Movie!
  scene_index: Int
}

type Scene {
  id: ID!
  title: String
  code: String
  details: String
  director: String
  url: String @deprecated(reason: "Use urls")
  urls: [String!]!
  "YYYY-MM-DD"
  date: String
  "1-100; null when unrated"
  rating100: Int
  organized: Boolean!
  o_counter: Int
  interactive: Boolean!
  interactive_speed: Int
  captions: [VideoCaption!]
  created_at: Time!
  updated_at: Time!
  last_played_at: Time
  resume_time: Float
  play_duration: Float
  play_count: Int
  play_history: [Time!]!
  o_history: [Time!]!
  "The first file is the primary one"
  files: [VideoFile!]!
  paths: ScenePathsType!
  scene_markers: [SceneMarker!]!
  galleries: [Gallery!]!
  studio: Studio
  groups: [SceneGroup!]!
  movies: [SceneMovie!]! @deprecated(reason: "Use groups")
  tags: [Tag!]!
  performers: [Performer!]!
  stash_ids: [StashID!]!
  sceneStreams: [SceneStreamEndpoint!]!
}

type Studio {
  id: ID!
  name: String!
  url: String @deprecated(reason: "Use urls")
  urls: [String!]!
  parent_studio: Studio
  child_studios: [Studio!]!
  aliases: [String!]!
  tags: [Tag!]!
  ignore_auto_tag: Boolean!
  image_path: String
  scene_count(depth: Int): Int!
  image_count(depth: Int): Int!
  gallery_count(depth: Int): Int!
  performer_count(depth: Int): Int!
  group_count(depth: Int): Int!
  movie_count(depth: Int): Int! @deprecated(reason: "use group_count instead")
  stash_ids: [StashID!]!
  rating100: Int
  favorite: Boolean!
  details: String
  created_at: Time!
  updated_at: Time!
  groups: [Group!]!
  movies: [Movie!]! @deprecated(reason: "use groups instead")
  o_counter: Int
}

type Performer {
  id: ID!
  name: String!
  disambiguation: String
  url: String @deprecated(reason: "Use urls")
  urls: [String!]
  gender: GenderEnum
  twitter: String @deprecated(reason: "Use urls")
  instagram: String @deprecated(reason: "Use urls")
  birthdate: String
  ethnicity: String
  country: String
  eye_color: String
  height_cm: Int
  measurements: String
  fake_tits: String
  penis_length: Float
  circumcised: CircumisedEnum
  career_length: String
  tattoos: String
  piercings: String
  alias_list: [String!]!
  favorite: Boolean!
  tags: [Tag!]!
  ignore_auto_tag: Boolean!
  image_path: String
  scene_count: Int!
  image_count: Int!
  gallery_count: Int!
  group_count: Int!
  movie_count: Int! @deprecated(reason: "use group_count instead")
  performer_count: Int!
  o_counter: Int
  scenes: [Scene!]!
  stash_ids: [StashID!]!
  rating100: Int
  details: String
  death_date: String
  hair_color: String
  weight: Int
  created_at: Time!
  updated_at: Time!
  groups: [Group!]!
  movies: [Movie!]! @deprecated(reason: "use groups instead")
  custom_fields: Map!
}

type Tag {
  id: ID!
  name: String!
  sort_name: String
  description: String
  aliases: [String!]!
  ignore_auto_tag: Boolean!
  created_at: Time!
  updated_at: Time!
  favorite: Boolean!
  stash_ids: [StashID!]!
  image_path: String
  scene_count(depth: Int): Int!
  scene_marker_count(depth: Int): Int!
  image_count(depth: Int): Int!
  gallery_count(depth: Int): Int!
  performer_count(depth: Int): Int!
  studio_count(depth: Int): Int!
  group_count(depth: Int): Int!
  movie_count(depth: Int): Int! @deprecated(reason: "use group_count instead")
  parents: [Tag!]!
  children: [Tag!]!
  parent_count: Int!
  child_count: Int!
}

type FindScenesResultType {
  count: Int!
  "Total duration in seconds"
  duration: Float!
  "Total file size in bytes"
  filesize: Float!
  scenes: [Scene!]!
}

type FindTagsResultType {
  count: Int!
  tags: [Tag!]!
}

type FindPerformersResultType {
  count: Int!
  performers: [Performer!]!
}

type FindStudiosResultType {
  count: Int!
  studios: [Studio!]!
}

type Version {
  version: String
  hash: String!
  build_time: String!
}

type SystemStatus {
  databaseSchema: Int
  databasePath: String
  configPath: String
  appSchema: Int!
  status: SystemStatusEnum!
  os: String!
  workingDir: String!
  homeDir: String!
  ffmpegPath: String
  ffprobePath: String
}

type Query {
  "Find a scene by ID or checksum"
  findScene(id: ID, checksum: String): Scene
  findScenes(
    scene_filter: SceneFilterType
    scene_ids: [Int!] @deprecated(reason: "use ids")
    ids: [ID!]
    filter: FindFilterType
  ): FindScenesResultType!
  findPerformer(id: ID!): Performer
  findPerformers(
    performer_filter: PerformerFilterType
    filter: FindFilterType
    performer_ids: [Int!] @deprecated(reason: "use ids")
    ids: [ID!]
  ): FindPerformersResultType!
  findStudio(id: ID!): Studio
  findStudios(
    studio_filter: StudioFilterType
    filter: FindFilterType
    ids: [ID!]
  ): FindStudiosResultType!
  findTag(id: ID!): Tag
  findTags(tag_filter: TagFilterType, filter: FindFilterType, ids: [ID!]): FindTagsResultType!
  systemStatus: SystemStatus!
  version: Version!
}

type HistoryMutationResult {
  count: Int!
  history: [Time!]!
}

type Mutation {
  sceneUpdate(input: SceneUpdateInput!): Scene
  "Adds play history entries (now when no times are given); since v0.25"
  sceneAddPlay(id: ID!, times: [Timestamp!]): HistoryMutationResult!
  "Sets resume_time, adds playDuration to play_duration"
  sceneSaveActivity(id: ID!, resume_time: Float, playDuration: Float): Boolean!
}
"""

# a Stash from before v0.25 has no `sceneAddPlay` (it counted plays without their times)
OLD_SDL = "\n".join(
    line
    for line in SDL.splitlines()
    if not line.lstrip().startswith(("sceneAddPlay", '"Adds play history'))
)
