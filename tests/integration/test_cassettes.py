"""Cassettes are committed: they must never hold a credential or a server's id."""

import re
from urllib.parse import parse_qsl, urlsplit

import yaml

from tests.integration.conftest import PLEX_TOKEN, ROOT, STASH_KEY, SYNC_PLEX_TOKEN
from tests.recording import (
    API_KEY_PLACEHOLDER,
    MACHINE_ID_PLACEHOLDER,
    SECRET_HEADERS,
    SECRET_PARAMETERS,
    TOKEN_PLACEHOLDER,
    text_placeholder,
)

PLACEHOLDERS = {
    TOKEN_PLACEHOLDER,
    API_KEY_PLACEHOLDER,
    text_placeholder(TOKEN_PLACEHOLDER),
    text_placeholder(API_KEY_PLACEHOLDER),
}


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
        assert not re.search(r"(?i)x-plex-token=(?!%3CPLEX_TOKEN%3E|<PLEX_TOKEN>|PLEX_TOKEN)",
                             text), cassette
        assert not re.search(r"(?i)apikey=(?!%3CSTASH_API_KEY%3E|<STASH_API_KEY>|STASH_API_KEY)"
                             r"[^&\s'\"]", text), cassette


def test_no_cassette_holds_a_plex_server_id():
    for cassette in _cassettes():
        text = cassette.read_text(encoding="utf-8")
        for value in re.findall(r'machineIdentifier=\\?"([^"\\]*)', text):
            assert value == MACHINE_ID_PLACEHOLDER, cassette
