"""Loading and validating stashplex.yaml.

Every mistake becomes one `ConfigError` line that names the key and what is
expected, so the command line can print it and exit 2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from reconciler.errors import ConfigError
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
)

TOKEN_ENV = "STASHPLEX_PLEX_TOKEN"
API_KEY_ENV = "STASHPLEX_STASH_API_KEY"
CONFIG_ENV = "STASHPLEX_CONFIG"
DEFAULT_CONFIG_FILE = "stashplex.yaml"


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


@dataclass
class PathMapping:
    stash: str = ""
    plex: str = ""


@dataclass
class SyncConfig:
    strict_matching: bool = True
    fields: list[str] = field(default_factory=lambda: list(SYNC_FIELDS))
    studio_collection: bool = True
    clear_empty: bool = False


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
    """stashplex's own HTTP endpoint (`GET /healthz`, `GET /metrics`); off while empty."""

    listen: str = ""


def listen_address(listen: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets) as a (host, port) pair."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"server.listen: expected host:port such as 127.0.0.1:8765, got {listen!r}"
        )
    return host.strip("[]"), int(port)


@dataclass
class Config:
    stash: StashConfig = field(default_factory=StashConfig)
    plex: PlexConfig = field(default_factory=PlexConfig)
    path_map: list[PathMapping] = field(default_factory=list)
    sync: SyncConfig = field(default_factory=SyncConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
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
    known = {f.name for f in fields(cls) if f.name not in ("source", "warnings")}
    for key in data:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"{where}: unknown key; expected one of {', '.join(sorted(known))}")
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
    for section in ("stash", "plex"):
        server = getattr(config, section)
        if server.timeout <= 0:
            raise ConfigError(f"{section}.timeout: expected a number of seconds above 0")
        if server.ca_bundle and not os.path.isfile(server.ca_bundle):
            raise ConfigError(
                f"{section}.ca_bundle: no such file {server.ca_bundle!r}; expected the path of "
                "a PEM certificate"
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


def parse_config(data: Any, source: str = "<string>", env: dict | None = None) -> Config:
    """Build a `Config` from parsed YAML, applying the secret overrides from `env`."""
    env = os.environ if env is None else env
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("expected a YAML mapping at the top level")
    config = _build(Config, data, "")
    config.source = source
    if env.get(TOKEN_ENV):
        config.plex.token = env[TOKEN_ENV]
    if env.get(API_KEY_ENV):
        config.stash.api_key = env[API_KEY_ENV]
    config.plex.url = config.plex.url.rstrip("/")
    config.stash.url = config.stash.url.rstrip("/")
    _check(config)
    for section in ("plex", "stash"):
        if not getattr(config, section).verify_ssl:
            config.warnings.append(
                f"{section}.verify_ssl is false: the {section.title()} server's TLS certificate "
                f"is not checked; prefer {section}.ca_bundle"
            )
    return config


def config_path(explicit: str | None = None, env: dict | None = None) -> Path:
    """`--config`, else `$STASHPLEX_CONFIG`, else ./stashplex.yaml."""
    env = os.environ if env is None else env
    return Path(explicit or env.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def load_config(explicit: str | None = None, env: dict | None = None) -> Config:
    """Read and validate the config file; every failure is one `ConfigError` line."""
    path = config_path(explicit, env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; copy stashplex.yaml.example there or pass --config"
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
        config = parse_config(data, str(path), env)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    config.warnings.extend(_exposure_warnings(path, data))
    return config


def _exposure_warnings(path: Path, data: Any) -> list[str]:
    """A file holding a secret should be readable by its owner alone."""
    held = [
        f"{section}.{key}"
        for section, key in (("plex", "token"), ("stash", "api_key"))
        if isinstance(data, dict) and isinstance(data.get(section), dict) and data[section].get(key)
    ]
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if held and mode & 0o077:
        return [
            f"{path} holds {' and '.join(held)} and is readable by other users; "
            f"run: chmod 600 {path} (or move the secrets to the environment)"
        ]
    return []
