import xml.etree.ElementTree as ET

import pytest
import requests
from plexapi import exceptions as plex_exc

from reconciler.errors import (
    NOT_FOUND,
    PERMANENT,
    TRANSIENT,
    PlexNotFound,
    PlexPermanentError,
    PlexTemporaryError,
    PlexUnavailable,
    PlexUnreachable,
    translate_plex_error,
)
from reconciler.redact import redact, register_secret


def bad_request(status, name):
    return plex_exc.BadRequest(
        f"({status}) {name}; http://plex:32400/library/sections/1/all <html/>"
    )


@pytest.mark.parametrize(
    "exc, expected, error_class",
    [
        (bad_request(500, "internal_server_error"), PlexTemporaryError, TRANSIENT),
        (bad_request(502, "bad_gateway"), PlexTemporaryError, TRANSIENT),
        (bad_request(503, "service_unavailable"), PlexUnavailable, TRANSIENT),
        (bad_request(429, "too_many_requests"), PlexTemporaryError, TRANSIENT),
        (bad_request(408, "request_timeout"), PlexTemporaryError, TRANSIENT),
        (bad_request(400, "bad_request"), PlexPermanentError, PERMANENT),
        (bad_request(403, "forbidden"), PlexPermanentError, PERMANENT),
        (
            plex_exc.Unauthorized("(401) unauthorized; http://plex/ x"),
            PlexPermanentError,
            PERMANENT,
        ),
        (
            plex_exc.NotFound("(404) not_found; http://plex/library/metadata/9"),
            PlexNotFound,
            NOT_FOUND,
        ),
        (TypeError("'NoneType' object is not subscriptable"), PlexTemporaryError, TRANSIENT),
        (requests.exceptions.ConnectionError("refused"), PlexUnreachable, TRANSIENT),
        (requests.exceptions.ReadTimeout("slow"), PlexTemporaryError, TRANSIENT),
        (requests.exceptions.ConnectTimeout("slow"), PlexTemporaryError, TRANSIENT),
        (ET.ParseError("not xml"), PlexTemporaryError, TRANSIENT),
    ],
)
def test_translation_table(exc, expected, error_class):
    error = translate_plex_error(exc, "editing item 7")
    assert type(error) is expected
    assert error.error_class == error_class
    assert "editing item 7" in str(error)


def test_a_timeout_is_not_mistaken_for_an_outage():
    # ConnectTimeout is both a ConnectionError and a Timeout in requests
    assert not isinstance(
        translate_plex_error(requests.exceptions.ConnectTimeout(), "x"), PlexUnreachable
    )


def test_unauthorized_names_the_config_key():
    error = translate_plex_error(plex_exc.Unauthorized("(401) unauthorized; u"), "listing")
    assert "plex.token" in str(error)


def test_messages_never_carry_a_registered_secret():
    register_secret("s3cr3t-plex-token-xyz")
    exc = plex_exc.BadRequest("(400) bad_request; http://plex/?X-Plex-Token=s3cr3t-plex-token-xyz")
    assert "s3cr3t-plex-token-xyz" not in str(translate_plex_error(exc, "x"))
    assert (
        redact("GET /scene/1/stream?apikey=anything-at-all")
        == "GET /scene/1/stream?apikey=<redacted>"
    )
