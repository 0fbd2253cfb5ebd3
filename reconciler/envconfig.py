"""Config keys from the environment: `STASHPLEX_<SECTION>_<KEY>`, so a container needs no YAML.

Pure logic. Each variable is turned into the value its key would hold in the YAML
file (a list from commas, `path_map` from `stash:plex` pairs separated by `;`), and a
value that cannot be turned gets one line naming the variable. An empty variable
counts as unset, so an env file with blank secrets does not wipe the YAML file's.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints

from reconciler.errors import ConfigError

ENV_PREFIX = "STASHPLEX_"
NOT_KEYS = {"STASHPLEX_CONFIG"}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
# the Stash prefix ends at the first colon that is not a Windows drive letter's
_PAIR = re.compile(r"^((?:[A-Za-z]:)?[^:]*):(.+)$")


class EnvConfigError(ConfigError):
    """A mistake in an environment variable: its line names the variable, not a file."""


def _variables(schema: type, prefix: str, path: str) -> dict[str, tuple[str, Any]]:
    """Every variable name the schema allows -> (key path, the key's type)."""
    found: dict[str, tuple[str, Any]] = {}
    hints = get_type_hints(schema)
    for item in fields(schema):
        if item.name in ("source", "warnings") or item.metadata.get("derived"):
            continue  # not keys of their own (`collections:` is YAML only)
        tp = hints[item.name]
        name = f"{prefix}{item.name.upper()}"
        key = f"{path}.{item.name}" if path else item.name
        if is_dataclass(tp):
            found.update(_variables(tp, f"{name}_", key))
        else:
            found[name] = (key, tp)
    return found


def _path_map(text: str, var: str) -> list[dict[str, str]]:
    pairs = []
    for i, entry in enumerate(part.strip() for part in text.split(";")):
        if not entry:
            continue
        match = _PAIR.match(entry)
        if not match or not match.group(1).strip():
            raise EnvConfigError(
                f"{var}: entry {i + 1} {entry!r}: expected STASH_PREFIX:PLEX_PREFIX, "
                "entries separated by ';' (e.g. /data:/media;/data/vr:/vr)"
            )
        pairs.append({"stash": match.group(1).strip(), "plex": match.group(2).strip()})
    return pairs


def _value(text: str, tp: Any, var: str, key: str) -> Any:
    shown = "(not shown)" if key.endswith((".token", ".api_key")) else repr(text)
    if get_origin(tp) is list:
        (item,) = get_args(tp)
        if is_dataclass(item):
            return _path_map(text, var)
        return [part.strip() for part in text.split(",") if part.strip()]
    if tp is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise EnvConfigError(f"{var}: expected true or false, got {shown}")
    if tp is int:
        try:
            return int(text.strip())
        except ValueError:
            raise EnvConfigError(f"{var}: expected a whole number, got {shown}") from None
    if tp is float:
        try:
            return float(text.strip())
        except ValueError:
            raise EnvConfigError(f"{var}: expected a number of seconds, got {shown}") from None
    return text


def environment_overrides(schema: type, env: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The YAML-shaped data the environment sets, and key path -> the variable that set it."""
    allowed = _variables(schema, ENV_PREFIX, "")
    sections = {key.split(".")[0] for key, _ in allowed.values()}
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or var in NOT_KEYS or env[var] == "":
            continue
        if var not in allowed:
            rest = var[len(ENV_PREFIX) :].lower()
            section = next((s for s in sorted(sections) if rest.startswith(f"{s}_")), None)
            if section is not None:
                known = sorted(n for n, (key, _) in allowed.items() if key.startswith(section))
                raise EnvConfigError(f"{var}: unknown setting; expected one of {', '.join(known)}")
            continue
        key, tp = allowed[var]
        target = data
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = _value(env[var], tp, var, key)
        sources[key] = var
    return data, sources


def naming_the_variable(error: ConfigError, sources: dict[str, str]) -> ConfigError:
    """A validation error about a key the environment set, re-worded to name the variable."""
    text = str(error)
    for key, var in sources.items():
        parent = key.rsplit(".", 1)[0]
        if text.startswith((f"{key}:", f"{key}[", f"{parent}: ")):
            return EnvConfigError(f"{var}: {text}")
    return error
