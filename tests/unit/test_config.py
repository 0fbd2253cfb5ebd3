import pytest
import yaml

from reconciler.config import load_config, parse_config
from reconciler.errors import ConfigError


def test_example_file_documents_every_default(pathlib_root):
    example = yaml.safe_load((pathlib_root / "stashplex.yaml.example").read_text())
    config = parse_config(example, env={})
    defaults = parse_config({}, env={})
    for section in ("stash", "plex", "sync", "schedule", "retry", "server"):
        assert getattr(config, section) == getattr(defaults, section)
    assert config.database == defaults.database


def test_durations_accept_fractions():
    config = parse_config(
        {"schedule": {"poll_interval": 0.5}, "retry": {"not_found": {"base": 0.01}}}, env={}
    )
    assert config.schedule.poll_interval == 0.5
    assert config.retry.not_found.base == 0.01
    assert config.retry.not_found.max_retries == 12  # the rest keeps its own defaults


@pytest.mark.parametrize(
    "data, message",
    [
        ({"plex": {"tokn": "x"}}, "plex.tokn: unknown key"),
        ({"plex": {"timeout": "soon"}}, "plex.timeout: expected a number of seconds"),
        ({"plex": {"libraries": "Adult"}}, "plex.libraries: expected a list of strings"),
        ({"plex": {"libraries": []}}, "plex.libraries: expected at least one"),
        ({"sync": {"strict_matching": "yes"}}, "sync.strict_matching: expected true or false"),
        ({"sync": {"fields": ["title", "colour"]}}, "sync.fields: unknown field 'colour'"),
        (
            {"retry": {"transient": {"max_retries": 2.5}}},
            "retry.transient.max_retries: expected a whole",
        ),
        ({"path_map": [{"stash": "/a"}]}, "path_map[0]: expected both"),
        ({"stash": {"url": "localhost:9999"}}, "stash.url: expected an http"),
        ({"database": None}, "database: expected a string, got nothing"),
    ],
)
def test_each_mistake_gives_one_line_naming_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_environment_overrides_the_secrets():
    config = parse_config(
        {"plex": {"token": "file"}},
        env={"STASHPLEX_PLEX_TOKEN": "from-env", "STASHPLEX_STASH_API_KEY": "key-env"},
    )
    assert config.plex.token == "from-env" and config.stash.api_key == "key-env"


def test_config_file_lookup_order(tmp_path):
    explicit, from_env = tmp_path / "a.yaml", tmp_path / "b.yaml"
    explicit.write_text("database: /tmp/a.db\n")
    from_env.write_text("database: /tmp/b.db\n")
    env = {"STASHPLEX_CONFIG": str(from_env)}
    assert load_config(str(explicit), env).database == "/tmp/a.db"
    assert load_config(None, env).database == "/tmp/b.db"


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("plex: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: invalid YAML at line"):
        load_config(str(bad), {})
    with pytest.raises(ConfigError, match=r"missing.yaml: config file not found"):
        load_config(str(tmp_path / "missing.yaml"), {})


def test_a_wrong_secret_value_is_not_repeated_in_the_error():
    with pytest.raises(ConfigError) as info:
        parse_config({"plex": {"token": 98765432}}, env={})
    assert "plex.token: expected a string, got a value of type int" in str(info.value)
    assert "98765432" not in str(info.value)


def test_every_key_can_come_from_the_environment():
    config = parse_config({}, env={
        "STASHPLEX_PLEX_URL": "http://plex:32400",
        "STASHPLEX_PLEX_LIBRARIES": "Adult, Other Videos",
        "STASHPLEX_PATH_MAP": "/data:/media;/data/vr:V:\\VR",
        "STASHPLEX_SCHEDULE_POLL_INTERVAL": "30",
        "STASHPLEX_RETRY_TRANSIENT_MAX_RETRIES": "3",
        "STASHPLEX_SYNC_CLEAR_EMPTY": "yes",
        "STASHPLEX_SYNC_FIELDS": "title,tags",
        "STASHPLEX_DATABASE": "/config/stashplex.db",
        "STASHPLEX_CI_VENV": "not a config key",
    })
    assert config.plex.url == "http://plex:32400"
    assert config.plex.libraries == ["Adult", "Other Videos"]
    assert [(m.stash, m.plex) for m in config.path_map] == [("/data", "/media"),
                                                           ("/data/vr", "V:\\VR")]
    assert config.schedule.poll_interval == 30.0
    assert config.retry.transient.max_retries == 3 and config.retry.transient.base == 5
    assert config.sync.clear_empty is True and config.sync.fields == ["title", "tags"]
    assert config.database == "/config/stashplex.db"


def test_the_environment_wins_over_the_file_and_blank_variables_count_as_unset():
    config = parse_config(
        {"plex": {"url": "http://file:32400", "token": "from-file"}, "sync": {"clear_empty": True}},
        env={"STASHPLEX_PLEX_URL": "http://env:32400", "STASHPLEX_PLEX_TOKEN": ""},
    )
    assert config.plex.url == "http://env:32400"
    assert config.plex.token == "from-file"
    assert config.sync.clear_empty is True


@pytest.mark.parametrize("env, message", [
    ({"STASHPLEX_SCHEDULE_POLL_INTERVAL": "soon"},
     "STASHPLEX_SCHEDULE_POLL_INTERVAL: expected a number of seconds, got 'soon'"),
    ({"STASHPLEX_SYNC_STRICT_MATCHING": "maybe"},
     "STASHPLEX_SYNC_STRICT_MATCHING: expected true or false, got 'maybe'"),
    ({"STASHPLEX_PLEX_URL": "plex:32400"},
     "STASHPLEX_PLEX_URL: plex.url: expected an http:// or https:// URL"),
    ({"STASHPLEX_SCHEDULE_POLL_INTERVAL": "0"},
     "STASHPLEX_SCHEDULE_POLL_INTERVAL: schedule.poll_interval: expected a number of seconds"),
    ({"STASHPLEX_PATH_MAP": "/data"}, "STASHPLEX_PATH_MAP: entry 1 '/data': expected"),
    ({"STASHPLEX_PLEX_TOKN": "x"}, "STASHPLEX_PLEX_TOKN: unknown setting; expected one of"),
])
def test_a_bad_variable_gives_one_line_naming_it(env, message):
    with pytest.raises(ConfigError) as info:
        parse_config({}, env=env)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_bad_variable_is_not_blamed_on_the_file(tmp_path):
    path = tmp_path / "stashplex.yaml"
    path.write_text("plex: {timeout: 5}\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path), {"STASHPLEX_PLEX_TIMEOUT": "soon"})
    assert str(info.value) == "STASHPLEX_PLEX_TIMEOUT: expected a number of seconds, got 'soon'"


def test_without_a_file_the_environment_alone_configures(tmp_path):
    env = {"STASHPLEX_CONFIG": str(tmp_path / "stashplex.yaml"),
           "STASHPLEX_PLEX_URL": "http://plex:32400"}
    config = load_config(None, env)
    assert config.plex.url == "http://plex:32400"
    assert config.database == str(tmp_path / "stashplex.db")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "stashplex.yaml"), env)  # named with --config: must exist


def test_a_relative_database_lies_next_to_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "stashplex.yaml").write_text("database: state/stashplex.db\n")
    monkeypatch.chdir(tmp_path)
    assert load_config("etc/stashplex.yaml", {}).database == str(folder / "state" / "stashplex.db")
    assert load_config(str(folder / "stashplex.yaml"), {}).database == str(
        folder / "state" / "stashplex.db")


def test_secrets_with_surrounding_whitespace_are_stripped_with_a_warning():
    config = parse_config({"plex": {"token": " abcd1234\n"}},
                          env={"STASHPLEX_STASH_API_KEY": "key-5678 "})
    assert config.plex.token == "abcd1234" and config.stash.api_key == "key-5678"
    assert any(w.startswith("plex.token has spaces") for w in config.warnings)
    assert any(w.startswith("STASHPLEX_STASH_API_KEY has spaces") for w in config.warnings)
    assert not any("abcd1234" in w or "key-5678" in w for w in config.warnings)


@pytest.mark.parametrize("url", ["http://nas:9999/graphql", "http://nas:9999/graphql/",
                                 "http://nas:9999/"])
def test_a_stash_url_copied_with_its_graphql_ending_is_accepted(url):
    assert parse_config({"stash": {"url": url}}, env={}).stash.url == "http://nas:9999"
