"""Logging set-up: journald-friendly stderr, an optional rotating file, secrets redacted."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys

from reconciler.redact import redact


class RedactingFilter(logging.Filter):
    """Masks the Plex token and the Stash key in messages, arguments and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def under_systemd() -> bool:
    """journald adds its own timestamps; systemd sets JOURNAL_STREAM for our stderr."""
    return bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))


def setup_logging(level: str = "INFO", log_file: str | None = None) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_stashplex", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    redactor = RedactingFilter()
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(
        logging.Formatter(
            "%(levelname)s %(name)s: %(message)s"
            if under_systemd()
            else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    )
    handlers: list[logging.Handler] = [stderr]
    if log_file:
        rotating = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
        rotating.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(rotating)
    for handler in handlers:
        handler.addFilter(redactor)
        handler._stashplex = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("urllib3", "gql", "apscheduler", "plexapi"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
