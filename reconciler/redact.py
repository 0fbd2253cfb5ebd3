"""Keeping the Plex token and the Stash API key out of everything stashplex writes.

Known secrets are registered once (when the config is loaded); `redact` also masks
anything that looks like a credential in a URL or header, registered or not.
"""

from __future__ import annotations

import re
import threading

MASK = "<redacted>"

_PATTERNS = [
    re.compile(r"(?i)(x-plex-token[=:]\s*)[^&\s'\",;]+"),
    re.compile(r"(?i)(apikey[=:]\s*)[^&\s'\",;]+"),
    re.compile(r"(?i)(api_key[=:]\s*)[^&\s'\",;]+"),
]

_lock = threading.Lock()
# longest first; replaced whole, never changed in place: `redact` reads it without a lock, so
# a log line interrupted by a signal handler that logs too cannot wait for itself
_secrets: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` masks it wherever it appears."""
    global _secrets
    if value and len(value) >= 4:
        with _lock:
            _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every registered secret and every credential-looking URL part masked."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text
