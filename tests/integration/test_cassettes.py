"""Cassettes are committed: they must never hold a credential."""

import re

from tests.integration.conftest import PLEX_TOKEN, ROOT, TOKEN_PLACEHOLDER


def test_no_cassette_holds_a_token_or_api_key():
    cassettes = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert cassettes, "the cassettes directory is empty"
    for cassette in cassettes:
        text = cassette.read_text(encoding="utf-8")
        assert PLEX_TOKEN not in text, cassette
        for value in re.findall(r"X-Plex-Token:\n\s+- (.+)", text):
            assert value.strip("'\"") == TOKEN_PLACEHOLDER, cassette
        assert not re.search(r"(?i)x-plex-token=(?!%3CPLEX_TOKEN%3E|<PLEX_TOKEN>)", text), cassette
        assert not re.search(r"(?im)^\s+ApiKey:", text), cassette
        assert not re.search(r"(?i)apikey=[^&\s'\"<]", text), cassette
