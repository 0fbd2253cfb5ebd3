import pytest
import yaml

from reconciler.config import load_config, parse_config
from reconciler.errors import ConfigError


def test_example_file_documents_every_default(pathlib_root):
    example = yaml.safe_load((pathlib_root / "stashplex.yaml.example").read_text())
    config = parse_config(example, env={})
    defaults = parse_config({}, env={})
    for section in ("stash", "plex", "sync", "schedule", "retry"):
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
