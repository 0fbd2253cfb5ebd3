"""Error classes as a user reads them in `dlq list`: what went wrong, not a Python name."""

from __future__ import annotations

ERROR_WORDS = {
    "PlexPermanentError": "Plex refused",
    "LibraryNotFound": "library not found",
    "PlexNotFound": "not found in Plex",
    "InvalidSceneData": "bad data",
    "PlexTemporaryError": "Plex kept failing",
    "PlexUnreachable": "Plex unreachable",
    "PlexUnavailable": "Plex unavailable",
    "StashAuthError": "Stash refused",
    "StashQueryError": "Stash refused the query",
    "StashTemporaryError": "Stash kept failing",
    "StashUnreachable": "Stash unreachable",
    "TransientError": "kept failing",
    "PermanentError": "cannot be done",
}


AMBIGUOUS = "several Plex items hold"


def error_in_words(class_name: str, message: str = "") -> str:
    """'Plex refused' for `PlexPermanentError`; an unknown class reads as 'failed'.

    Several Plex items for one file share Plex's permanent class, but Plex refused nothing.
    """
    if AMBIGUOUS in message:
        return "several Plex items"
    return ERROR_WORDS.get(class_name, "failed")
