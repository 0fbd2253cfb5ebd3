"""Cassettes are committed: they must never hold a credential or a server's id."""

import re
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from tests.integration.conftest import PLEX_TOKEN, ROOT, STASH_KEY, SYNC_PLEX_TOKEN
from tests.recording import (
    CREDENTIAL_PLACEHOLDERS,
    MACHINE_ID_PLACEHOLDER,
    SECRET_HEADERS,
    SECRET_PARAMETERS,
    text_placeholder,
)

PLACEHOLDERS = CREDENTIAL_PLACEHOLDERS | {text_placeholder(p) for p in CREDENTIAL_PLACEHOLDERS}


def _cassettes():
    found = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert found, "the cassettes directory is empty"
    return found


def test_no_cassette_holds_a_token_or_api_key():
    for cassette in _cassettes():
        text = cassette.read_text(encoding="utf-8")
        for secret in (PLEX_TOKEN, SYNC_PLEX_TOKEN, STASH_KEY, "wrong-token-1234"):
            assert secret not in text, cassette
        for interaction in yaml.safe_load(text)["interactions"]:
            request = interaction["request"]
            for name, values in request["headers"].items():
                if name.lower() in SECRET_HEADERS:
                    assert set(values) <= PLACEHOLDERS, (cassette, name)
            for key, value in parse_qsl(urlsplit(request["uri"]).query):
                if key.lower() in SECRET_PARAMETERS:
                    assert value in PLACEHOLDERS, (cassette, key)
        for value in re.findall(r"(?i)(?:x-plex-token|apikey)=([^&\s'\"]+)", text):
            assert unquote(value) in PLACEHOLDERS, cassette


def test_no_cassette_holds_a_plex_server_id():
    for cassette in _cassettes():
        text = cassette.read_text(encoding="utf-8")
        for value in re.findall(r'machineIdentifier=\\?"([^"\\]*)', text):
            assert value == MACHINE_ID_PLACEHOLDER, cassette
