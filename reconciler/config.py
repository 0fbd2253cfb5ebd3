"""Loading and validating stashplex.yaml, and its `STASHPLEX_<SECTION>_<KEY>` overrides.

Every mistake becomes one `ConfigError` line that names the key (or the environment
variable) and what is expected, so the command line can print it and exit 2. A
relative `database` path is taken from the config file's folder, not the working
directory, so every command run from anywhere meets the same database and lock.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import string
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from reconciler.envconfig import (
    ENV_PREFIX,
    EnvConfigError,
    environment_overrides,
    naming_the_variable,
)
from reconciler.errors import ConfigError
from reconciler.matching import BY_PATH, MATCH_MODES
from reconciler.pathmap import path_key

SYNC_FIELDS = (
    "title",
    "summary",
    "date",
    "studio",
    "performers",
    "tags",
    "collection",
    "rating",
    "poster",
    "year",
    "content_rating",
    "performer_photos",
    "background",
)
# written unless `sync.fields` says otherwise: every field but the background art
DEFAULT_FIELDS = tuple(name for name in SYNC_FIELDS if name != "background")
TITLE_PLACEHOLDERS = (
    "title",
    "studio",
    "parent_studio",
    "date",
    "year",
    "performers",
    "code",
    "filename",
)
TITLE_FALLBACKS = ("filename", "none")
REQUIREMENTS = ("organized", "stash_id", "url")
# collection rule sources: those naming things (one collection per name) and the two others
NAMED_SOURCES = ("studio", "parent_studio", "groups", "performers", "tags")
COLLECTION_SOURCES = (*NAMED_SOURCES, "organized", "rating")
RULE_KEYS = ("from", "name", "fallback", "only", "except")
DEFAULT_RULE_NAMES = {"organized": "Organized", "rating": "Rating: {stars} Stars"}
FILE_ONLY_KEYS = ("collections",)  # top-level keys parse_config reads itself

TOKEN_ENV = "STASHPLEX_PLEX_TOKEN"
API_KEY_ENV = "STASHPLEX_STASH_API_KEY"
CONFIG_ENV = "STASHPLEX_CONFIG"
DEFAULT_CONFIG_FILE = "stashplex.yaml"
# below this an edit PUT cannot carry even one field with its lock and the item's id
MIN_REQUEST_BYTES = 1024


@dataclass
class StashConfig:
    url: str = "http://127.0.0.1:9999"
    api_key: str = ""
    timeout: float = 30
    verify_ssl: bool = True
    ca_bundle: str = ""


@dataclass
class PlexConfig:
    url: str = "http://127.0.0.1:32400"
    token: str = ""
    libraries: list[str] = field(default_factory=lambda: ["Adult"])
    timeout: float = 30
    verify_ssl: bool = True
    ca_bundle: str = ""
    max_request_bytes: int = 7000
    scan_missing: bool = False  # ask Plex to scan the folder of a file it does not have


@dataclass
class PathMapping:
    stash: str = ""
    plex: str = ""


@dataclass(frozen=True)
class CollectionRule:
    """One `collections:` entry: where the names come from and how the collection is named.

    `fallback` is a source used when `source` gives no name (a studio without a parent);
    `only`/`excluded` filter the names (without regard to case).
    """

    source: str
    name: str = "{name}"
    fallback: str | None = None
    only: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholders this rule's name may use."""
        if self.source in NAMED_SOURCES:
            return ("name",)
        return ("stars",) if self.source == "rating" else ()


STUDIO_RULE = CollectionRule("studio")


@dataclass
class SyncConfig:
    strict_matching: bool = True
    fields: list[str] = field(default_factory=lambda: list(DEFAULT_FIELDS))
    studio_collection: bool = True
    clear_empty: bool = False
    content_rating: str = "XXX"
    title_format: str = "{title}"
    title_fallback: str = "filename"
    require: list[str] = field(default_factory=list)
    exclude_tags: list[str] = field(default_factory=list)
    ignore_tags: list[str] = field(default_factory=list)
    # the top-level `collections:` key, kept here with what it shapes; None: not given, so
    # `studio_collection` decides (see `collection_rules`)
    collections: tuple[CollectionRule, ...] | None = field(
        default=None, metadata={"derived": True}
    )

    @property
    def collection_rules(self) -> tuple[CollectionRule, ...]:
        """The rules in force: `collections:`, else the studio's name while
        `studio_collection` is true."""
        if self.collections is not None:
            return self.collections
        return (STUDIO_RULE,) if self.studio_collection else ()


@dataclass
class ScheduleConfig:
    poll_interval: float = 60
    process_interval: float = 5
    reconcile_interval: float = 86400


@dataclass
class RetryClassConfig:
    max_retries: int = 5
    base: float = 5
    cap: float = 80


def _not_found_defaults() -> RetryClassConfig:
    return RetryClassConfig(max_retries=12, base=30, cap=600)


@dataclass
class RetryConfig:
    transient: RetryClassConfig = field(default_factory=RetryClassConfig)
    not_found: RetryClassConfig = field(default_factory=_not_found_defaults)


@dataclass
class ServerConfig:
    """stashplex's own HTTP endpoint (`GET /healthz`, `GET /metrics`, performer photos); off
    while `listen` is empty. `public_url` is how Plex reaches it: the base of the actor photo
    URLs written to Plex when Stash has an API key (which must stay out of Plex's database)."""

    listen: str = ""
    public_url: str = ""


def listen_address(listen: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets) as a (host, port) pair."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"server.listen: expected host:port such as 127.0.0.1:8765, got {listen!r}"
        )
    return host.strip("[]"), int(port)


@dataclass
class PlexToStashConfig:
    """What the token's Plex account did, carried back to Stash; everything off by default."""

    plays: bool = False
    resume: bool = False
    ratings: bool = False
    link: bool = False

    @property
    def enabled(self) -> bool:
        return self.plays or self.resume or self.ratings or self.link


@dataclass
class Config:
    stash: StashConfig = field(default_factory=StashConfig)
    plex: PlexConfig = field(default_factory=PlexConfig)
    path_map: list[PathMapping] = field(default_factory=list)
    match: str = BY_PATH  # how a Stash file finds its Plex items: "path" or "filename"
    sync: SyncConfig = field(default_factory=SyncConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    plex_to_stash: PlexToStashConfig = field(default_factory=PlexToStashConfig)
    database: str = "./stashplex.db"
    source: str = "<defaults>"
    warnings: list[str] = field(default_factory=list)

    @property
    def secrets(self) -> list[str]:
        """The values that must never be written anywhere."""
        return [s for s in (self.plex.token, self.stash.api_key) if s]


def tls_verify(server: StashConfig | PlexConfig) -> bool | str:
    """What requests' `verify` gets: the CA bundle when one is set, else true or false."""
    return server.ca_bundle or server.verify_ssl


_TYPE_NAMES = {str: "a string", bool: "true or false", int: "a whole number", float: "a number"}


def _describe(tp: Any) -> str:
    if get_origin(tp) is list:
        return f"a list of {_describe(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    if is_dataclass(tp):
        return "a mapping"
    return _TYPE_NAMES.get(tp, str(tp))


def _shown(key: str, value: Any) -> str:
    """A wrong value as an error shows it; a secret is never repeated."""
    if key.endswith((".token", ".api_key")):
        return f"a value of type {type(value).__name__} (not shown)"
    return repr(value)


def _convert(value: Any, tp: Any, key: str, defaults: Any = None) -> Any:
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return _build(tp, value, key, defaults)
    if get_origin(tp) is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected {_describe(tp)}, got {_shown(key, value)}")
        (item_type,) = get_args(tp)
        return [_convert(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_shown(key, value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {_shown(key, value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number of seconds, got {_shown(key, value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_shown(key, value)}")
        return value
    raise ConfigError(f"{key}: unsupported type")  # pragma: no cover - schema bug


def _build(cls: type, data: dict, prefix: str, defaults: Any = None) -> Any:
    hints = get_type_hints(cls)
    known = {
        f.name
        for f in fields(cls)
        if f.name not in ("source", "warnings") and not f.metadata.get("derived")
    }
    for key in data:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else str(key)
            expected = known if prefix else known | set(FILE_ONLY_KEYS)
            raise ConfigError(
                f"{where}: unknown key; expected one of {', '.join(sorted(expected))}"
            )
    base = defaults if defaults is not None else cls()
    values = {}
    for name in known:
        key = f"{prefix}.{name}" if prefix else name
        current = getattr(base, name)
        if name in data:
            if data[name] is None:
                raise ConfigError(f"{key}: expected {_describe(hints[name])}, got nothing")
            values[name] = _convert(data[name], hints[name], key, current)
        else:
            values[name] = current
    return cls(**values)


def _check(config: Config) -> None:
    for key, url in (("stash.url", config.stash.url), ("plex.url", config.plex.url)):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{key}: expected an http:// or https:// URL, got {url!r}")
    if not config.plex.libraries:
        raise ConfigError("plex.libraries: expected at least one library title")
    if any(not title.strip() for title in config.plex.libraries):
        raise ConfigError("plex.libraries: library titles must not be empty")
    if config.match not in MATCH_MODES:
        raise ConfigError(
            f"match: expected {' or '.join(MATCH_MODES)}, got {config.match!r}"
        )
    seen: dict[str, int] = {}
    for i, mapping in enumerate(config.path_map):
        if not mapping.stash or not mapping.plex:
            raise ConfigError(f"path_map[{i}]: expected both 'stash' and 'plex' prefixes")
        stash, plex = path_key(mapping.stash), path_key(mapping.plex)
        if stash == plex:
            raise ConfigError(
                f"path_map[{i}]: maps {mapping.stash!r} onto itself; remove it, or give the "
                "prefix Plex sees"
            )
        if stash in seen:
            raise ConfigError(
                f"path_map[{i}]: Stash prefix {mapping.stash!r} is already mapped by "
                f"path_map[{seen[stash]}]"
            )
        seen[stash] = i
    unknown = [f for f in config.sync.fields if f not in SYNC_FIELDS]
    if unknown:
        raise ConfigError(
            f"sync.fields: unknown field {unknown[0]!r}; expected some of {', '.join(SYNC_FIELDS)}"
        )
    _check_title(config.sync)
    for i, requirement in enumerate(config.sync.require):
        if requirement not in REQUIREMENTS:
            raise ConfigError(
                f"sync.require[{i}]: unknown requirement {requirement!r}; expected some of "
                + ", ".join(REQUIREMENTS)
            )
    for section in ("stash", "plex"):
        server = getattr(config, section)
        if server.timeout <= 0:
            raise ConfigError(f"{section}.timeout: expected a number of seconds above 0")
        if server.ca_bundle and not os.path.isfile(server.ca_bundle):
            raise ConfigError(
                f"{section}.ca_bundle: no such file {server.ca_bundle!r}; expected the path of "
                "a PEM certificate"
            )
    if config.plex.max_request_bytes < MIN_REQUEST_BYTES:
        raise ConfigError(
            f"plex.max_request_bytes: expected a whole number of bytes, at least "
            f"{MIN_REQUEST_BYTES}, got {config.plex.max_request_bytes}"
        )
    schedule = config.schedule
    for name in ("poll_interval", "process_interval"):
        if getattr(schedule, name) <= 0:
            raise ConfigError(f"schedule.{name}: expected a number of seconds above 0")
    if schedule.reconcile_interval < 0:
        raise ConfigError("schedule.reconcile_interval: expected seconds, 0 to turn it off")
    for name in ("transient", "not_found"):
        rule = getattr(config.retry, name)
        if rule.max_retries < 0:
            raise ConfigError(f"retry.{name}.max_retries: expected 0 or more")
        if rule.base < 0 or rule.cap < 0:
            raise ConfigError(f"retry.{name}: base and cap must not be negative")
    if not config.database:
        raise ConfigError("database: expected the path of the SQLite database file")
    if config.server.listen:
        listen_address(config.server.listen)
    if config.server.public_url and not config.server.public_url.startswith(
        ("http://", "https://")
    ):
        raise ConfigError(
            "server.public_url: expected an http:// or https:// URL, got "
            f"{config.server.public_url!r}"
        )


def _check_title(sync: SyncConfig) -> None:
    try:
        parts = string.Formatter().parse(sync.title_format)
        names = [name for _, name, _, _ in parts if name is not None]
    except ValueError as exc:
        raise ConfigError(f"sync.title_format: {exc} in {sync.title_format!r}") from None
    for name in names:
        if name not in TITLE_PLACEHOLDERS:
            raise ConfigError(
                f"sync.title_format: unknown placeholder {{{name}}}; expected some of "
                + " ".join(f"{{{p}}}" for p in TITLE_PLACEHOLDERS)
            )
    if not names:
        raise ConfigError(
            f"sync.title_format: {sync.title_format!r} holds no placeholder; every scene "
            "would get the same title"
        )
    if sync.title_fallback not in TITLE_FALLBACKS:
        raise ConfigError(
            f"sync.title_fallback: expected filename or none, got {sync.title_fallback!r}"
        )


def _names_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{key}: expected a list of names, got {value!r}")
    return tuple(v.strip() for v in value)


def _placeholders(template: str, key: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc} in {template!r}") from None


def _collection_rule(entry: Any, key: str) -> CollectionRule:
    if not isinstance(entry, dict):
        raise ConfigError(
            f"{key}: expected a mapping such as {{from: studio, name: \"{{name}}\"}}, "
            f"got {entry!r}"
        )
    for name in entry:
        if name not in RULE_KEYS:
            raise ConfigError(f"{key}.{name}: unknown key; expected one of {', '.join(RULE_KEYS)}")
    source = entry.get("from")
    if source not in COLLECTION_SOURCES:
        got = "nothing" if source is None else repr(source)
        raise ConfigError(f"{key}.from: expected one of {', '.join(COLLECTION_SOURCES)}, got {got}")
    template = entry.get("name", DEFAULT_RULE_NAMES.get(source, "{name}"))
    if not isinstance(template, str) or not template.strip():
        raise ConfigError(f"{key}.name: expected the collection's name, got {template!r}")
    rule = CollectionRule(source, template.strip())
    for name in _placeholders(rule.name, f"{key}.name"):
        if name not in rule.placeholders:
            allowed = " ".join(f"{{{p}}}" for p in rule.placeholders) or "none"
            raise ConfigError(
                f"{key}.name: unknown placeholder {{{name}}} for from: {source}; "
                f"expected {allowed}"
            )
    try:
        rule.name.format(name="x", stars=1)
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ConfigError(f"{key}.name: cannot fill in {rule.name!r} ({exc})") from None
    fallback = entry.get("fallback")
    if fallback is not None and (
        source not in NAMED_SOURCES or fallback not in NAMED_SOURCES or fallback == source
    ):
        raise ConfigError(
            f"{key}.fallback: expected another of {', '.join(NAMED_SOURCES)} for a rule "
            f"from one of them, got {fallback!r}"
        )
    if "only" in entry and "except" in entry:
        raise ConfigError(f"{key}: only and except together; give one of them")
    for name in ("only", "except"):
        if name in entry and source not in NAMED_SOURCES:
            raise ConfigError(f"{key}.{name}: from: {source} has no names to choose from")
    return CollectionRule(
        source,
        rule.name,
        fallback,
        _names_list(entry["only"], f"{key}.only") if "only" in entry else (),
        _names_list(entry["except"], f"{key}.except") if "except" in entry else (),
    )


def collection_rules(value: Any) -> tuple[CollectionRule, ...]:
    """The top-level `collections:` list as rules; every mistake names its entry's key."""
    if not isinstance(value, list):
        got = "nothing" if value is None else repr(value)
        raise ConfigError(f"collections: expected a list of rules (or [] for none), got {got}")
    return tuple(_collection_rule(entry, f"collections[{i}]") for i, entry in enumerate(value))


def _merge(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` laid over it, section by section (the environment wins)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _strip_secrets(config: Config, sources: dict[str, str]) -> None:
    """A pasted token often carries a newline or a space; servers would refuse it."""
    for section, key in (("plex", "token"), ("stash", "api_key")):
        server = getattr(config, section)
        value = getattr(server, key)
        if value != value.strip():
            setattr(server, key, value.strip())
            where = sources.get(f"{section}.{key}", f"{section}.{key}")
            config.warnings.append(
                f"{where} has spaces or line breaks around it; stripped them (fix the value)"
            )


def _stash_base(url: str) -> str:
    """Stash's address as stashplex wants it: GraphQL is asked at `{url}/graphql`, so a URL
    copied with that ending (Stash shows it in its settings) is taken without it."""
    url = url.rstrip("/")
    return url[: -len("/graphql")].rstrip("/") if url.endswith("/graphql") else url


_NOT_GIVEN = object()


def parse_config(
    data: Any,
    source: str = "<string>",
    env: dict | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Build a `Config` from parsed YAML, with every `STASHPLEX_<SECTION>_<KEY>` from `env`
    laid over it; a relative `database` is taken from `base_dir` when one is given."""
    env = os.environ if env is None else env
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("expected a YAML mapping at the top level")
    overrides, sources = environment_overrides(Config, env)
    try:
        merged = _merge(data, overrides)
        rules = merged.pop("collections", _NOT_GIVEN)
        config = _build(Config, merged, "")
        if rules is not _NOT_GIVEN:
            config.sync.collections = collection_rules(rules)
            if "studio_collection" in (merged.get("sync") or {}):
                raise ConfigError(
                    "sync.studio_collection: shorthand for collections: [{from: studio}]; "
                    "remove it now that collections: is set"
                )
            if config.sync.collections and "collection" not in config.sync.fields:
                config.warnings.append(
                    "collections: rules are set but collection is not in sync.fields, so no "
                    "collection is written; add it there"
                )
        config.source = source
        config.plex.url = config.plex.url.rstrip("/")
        config.stash.url = _stash_base(config.stash.url)
        config.server.public_url = config.server.public_url.rstrip("/")
        _strip_secrets(config, sources)
        _check(config)
    except EnvConfigError:
        raise
    except ConfigError as exc:
        raise naming_the_variable(exc, sources) from None
    if base_dir is not None and not os.path.isabs(os.path.expanduser(config.database)):
        config.database = str(base_dir / config.database)
    config.database = os.path.expanduser(config.database)
    config.warnings.extend(_photo_warnings(config))
    for section in ("plex", "stash"):
        if not getattr(config, section).verify_ssl:
            config.warnings.append(
                f"{section}.verify_ssl is false: the {section.title()} server's TLS certificate "
                f"is not checked; prefer {section}.ca_bundle"
            )
    return config


def _photo_warnings(config: Config) -> list[str]:
    """Actor photos that cannot reach Plex: said once, at start, with what to set."""
    if "performer_photos" not in config.sync.fields or not config.stash.api_key:
        return []
    if not config.server.public_url:
        return [
            "sync.fields has performer_photos, but Stash has an API key, which must not go "
            "into the photo URLs Plex stores: actor photos are skipped until server.listen and "
            "server.public_url (the address at which Plex reaches stashplex) are set"
        ]
    if not config.server.listen:
        return [
            "server.public_url is set but server.listen is not: stashplex serves no actor "
            "photos, so they are skipped until server.listen is set"
        ]
    return []


def config_path(explicit: str | None = None, env: dict | None = None) -> Path:
    """`--config`, else `$STASHPLEX_CONFIG`, else ./stashplex.yaml."""
    env = os.environ if env is None else env
    return Path(explicit or env.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def _configured_by_environment(env: dict) -> bool:
    return any(
        name.startswith(ENV_PREFIX) and name != CONFIG_ENV and value
        for name, value in env.items()
    )


def load_config(explicit: str | None = None, env: dict | None = None) -> Config:
    """Read and validate the config file; every failure is one `ConfigError` line.

    Without a file, the environment alone may configure stashplex (a container), unless
    the file was named with `--config`.
    """
    env = os.environ if env is None else env
    path = config_path(explicit, env)
    folder = path.absolute().parent
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit is None and _configured_by_environment(env):
            return parse_config({}, f"the environment (no {path})", env, folder)
        raise ConfigError(
            f"{path}: config file not found; run stashplex init, copy stashplex.yaml.example "
            "there, or pass --config"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    try:
        config = parse_config(data, str(path), env, folder)
    except EnvConfigError:
        raise
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    config.warnings.extend(_exposure_warnings(path, data))
    return config


def _readers(info: os.stat_result) -> bool:
    """Whether users other than the file's owner, root and this process may read the file.

    A file of mode 0640 owned by root and the service's own group (the README's systemd
    steps) is readable by the service alone; mode 0644, or a group with other members, is not.
    """
    if info.st_mode & 0o004:
        return True
    if not info.st_mode & 0o040:
        return False
    try:
        group = grp.getgrgid(info.st_gid)
    except KeyError:
        return True
    members = set(group.gr_mem) | {
        user.pw_name for user in pwd.getpwall() if user.pw_gid == info.st_gid
    }
    trusted = {"root"}
    for uid in (info.st_uid, os.geteuid()):
        with contextlib.suppress(KeyError):
            trusted.add(pwd.getpwuid(uid).pw_name)
    return bool(members - trusted)


def _exposure_warnings(path: Path, data: Any) -> list[str]:
    """A file holding a secret should be readable by the service alone."""
    held = [
        f"{section}.{key}"
        for section, key in (("plex", "token"), ("stash", "api_key"))
        if isinstance(data, dict) and isinstance(data.get(section), dict) and data[section].get(key)
    ]
    if not held:
        return []
    try:
        info = path.stat()
    except OSError:
        return []
    if _readers(info):
        return [
            f"{path} holds {' and '.join(held)} and is readable by other users; "
            f"run: chmod 600 {path} (or chmod 640 with a group of the service's own; or move "
            "the secrets to the environment)"
        ]
    return []
