"""How cassettes match requests on replay and what is scrubbed before one is written."""

import json

import pytest
from vcr.request import Request

from tests.recording import (
    API_KEY_PLACEHOLDER,
    COOKIE_PLACEHOLDER,
    MACHINE_ID_PLACEHOLDER,
    OTHER_TOKEN_PLACEHOLDER,
    SCRUBBED_PATH_ROOT,
    TOKEN_PLACEHOLDER,
    ScrubRules,
    credential_placeholder,
    match_body,
    match_credentials,
    match_query,
    played_out_of_order,
    scrub_interaction,
    scrubbed_path,
)

QUERY = "query Scenes($page: Int!) { findScenes(filter: {page: $page}) { count scenes { id } } }"
REFORMATTED = """
query Scenes($page: Int!) {
  findScenes(filter: { page: $page }) {
    count
    scenes {
      id
    }
  }
}
"""


def graphql(query: str, variables: dict, name: str | None = "Scenes") -> Request:
    body = json.dumps({"query": query, "variables": variables, "operationName": name})
    return Request("POST", "http://stash:9999/graphql", body.encode(), {})


def plex(uri: str, method: str = "PUT", body: bytes | None = None) -> Request:
    return Request(method, f"http://plex:32400{uri}", body, {})


def matches(matcher, r1, r2) -> bool:
    try:
        matcher(r1, r2)
    except AssertionError:
        return False
    return True


# -- matching ------------------------------------------------------------------------------


def test_graphql_formatting_does_not_count():
    assert matches(match_body, graphql(QUERY, {"page": 1}), graphql(REFORMATTED, {"page": 1}))


def test_graphql_variables_count():
    assert not matches(match_body, graphql(QUERY, {"page": 1}), graphql(QUERY, {"page": 2}))


def test_a_changed_graphql_query_does_not_match():
    changed = QUERY.replace("scenes { id }", "scenes { id title }")
    assert not matches(match_body, graphql(QUERY, {"page": 1}), graphql(changed, {"page": 1}))


def test_the_graphql_operation_name_counts():
    assert not matches(
        match_body, graphql(QUERY, {"page": 1}), graphql(QUERY, {"page": 1}, name="Other")
    )


def test_json_bodies_match_on_their_content_not_key_order():
    one = plex("/_emulator/call", "POST", b'{"method": "add_item", "args": ["Adult"]}')
    same = plex("/_emulator/call", "POST", b'{"args": ["Adult"], "method": "add_item"}')
    other = plex("/_emulator/call", "POST", b'{"method": "inject", "args": [500]}')
    assert matches(match_body, one, same)
    assert not matches(match_body, one, other)


def test_binary_bodies_match_on_their_bytes():
    poster = plex("/library/metadata/1/posters", "POST", b"\xff\xd8\xff\xe0one")
    assert matches(match_body, poster, plex("/library/metadata/1/posters", "POST", poster.body))
    assert not matches(
        match_body, poster, plex("/library/metadata/1/posters", "POST", b"\xff\xd8\xff\xe0two")
    )


def test_bodies_on_different_paths_are_left_to_the_path_matcher():
    poster = plex("/library/metadata/1/posters", "POST", b"\xff\xd8 not utf-8 \xff")
    assert matches(match_body, poster, graphql(QUERY, {"page": 1}))


def test_query_parameters_match_in_any_order():
    one = plex("/library/sections/1/all?type=1&id=5&title.value=A&title.locked=1")
    other = plex("/library/sections/1/all?title.locked=1&id=5&type=1&title.value=A")
    assert matches(match_query, one, other)


def test_query_is_a_multiset_with_blank_values_kept():
    base = "/library/sections/1/all?type=1&id=5"
    assert not matches(match_query, plex(base + "&genre%5B%5D.tag="), plex(base))
    assert not matches(match_query, plex(base + "&type=1"), plex(base))
    assert not matches(match_query, plex(base + "&title.value=A"), plex(base + "&title.value=B"))


def test_the_token_in_a_query_is_not_matched_on():
    assert matches(
        match_query,
        plex("/library/metadata/1/thumb?X-Plex-Token=real-token"),
        plex(f"/library/metadata/1/thumb?X-Plex-Token={TOKEN_PLACEHOLDER}"),
    )


def test_the_configured_token_and_any_other_are_told_apart_without_their_values():
    def recorded(value: str) -> str:
        return credential_placeholder(value, ["good-token"], TOKEN_PLACEHOLDER,
                                      OTHER_TOKEN_PLACEHOLDER)

    assert recorded("good-token") == TOKEN_PLACEHOLDER
    assert recorded("wrong-token") == OTHER_TOKEN_PLACEHOLDER
    assert recorded(OTHER_TOKEN_PLACEHOLDER) == OTHER_TOKEN_PLACEHOLDER  # already recorded
    right = Request("GET", "http://plex/", None, {"X-Plex-Token": TOKEN_PLACEHOLDER})
    wrong = Request("GET", "http://plex/", None, {"X-Plex-Token": OTHER_TOKEN_PLACEHOLDER})
    assert matches(match_credentials, right, right) and not matches(match_credentials, right, wrong)


def test_played_out_of_order_finds_the_first_step_back():
    assert played_out_of_order([0, 1, 2, 5]) is None
    assert played_out_of_order([0, 2, 1, 3]) == 2
    assert played_out_of_order([]) is None


# -- scrubbing -----------------------------------------------------------------------------

RULES = ScrubRules(
    secrets={"tok-123": TOKEN_PLACEHOLDER, "key/456": API_KEY_PLACEHOLDER},
    scratch_roots=("/srv/scratch", "D:\\Scratch"),
)


def interaction(uri="http://plex:32400/", headers=None, body=None, answer="", answer_headers=None):
    request = {"method": "GET", "uri": uri, "body": body, "headers": headers or {}}
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": answer_headers or {},
        "body": {"string": answer},
    }
    return request, response


def test_credentials_in_headers_become_placeholders():
    request, response = interaction(
        headers={"X-Plex-Token": ["tok-123"], "ApiKey": ["anything"], "Accept": ["*/*"]},
        answer_headers={"Set-Cookie": ["session=abc"]},
    )
    clean, answer = scrub_interaction(request, response, RULES)
    assert clean["headers"] == {
        "X-Plex-Token": [TOKEN_PLACEHOLDER],
        "ApiKey": [API_KEY_PLACEHOLDER],
        "Accept": ["*/*"],
    }
    assert answer["headers"] == {"Set-Cookie": [COOKIE_PLACEHOLDER]}
    assert request["headers"]["X-Plex-Token"] == ["tok-123"]  # the input is left alone


def test_a_credential_recorded_as_the_other_placeholder_keeps_it():
    request, response = interaction(headers={"X-Plex-Token": [OTHER_TOKEN_PLACEHOLDER]})
    clean, _ = scrub_interaction(request, response, RULES)
    assert clean["headers"] == {"X-Plex-Token": [OTHER_TOKEN_PLACEHOLDER]}


def test_credentials_in_query_strings_become_placeholders_and_the_rest_stays():
    request, response = interaction(uri="http://stash/scene/1/stream?apikey=key%2F456&t=9")
    clean, _ = scrub_interaction(request, response, RULES)
    assert clean["uri"] == f"http://stash/scene/1/stream?apikey={API_KEY_PLACEHOLDER}&t=9"


def test_secret_values_anywhere_in_a_body_are_replaced_quoted_or_not():
    answer = '{"stream": "http://s/x?apikey=key%2F456", "raw": "key/456", "t": "tok-123"}'
    request, response = interaction(answer=answer)
    _, clean = scrub_interaction(request, response, RULES)
    text = clean["body"]["string"]
    assert "key/456" not in text and "key%2F456" not in text and "tok-123" not in text
    assert "STASH_API_KEY" in text and "PLEX_TOKEN" in text
    assert "<" not in text  # placeholders in bodies keep XML parseable


def test_machine_identifier_is_replaced_in_xml_and_json():
    xml = '<MediaContainer machineIdentifier="abc123def" version="1.41"/>'
    request, response = interaction(answer=xml)
    _, clean = scrub_interaction(request, response, RULES)
    assert clean["body"]["string"] == (
        f'<MediaContainer machineIdentifier="{MACHINE_ID_PLACEHOLDER}" version="1.41"/>'
    )
    request, response = interaction(answer=b'{"machineIdentifier": "abc123def"}')
    _, clean = scrub_interaction(request, response, RULES)
    expected = f'{{"machineIdentifier": "{MACHINE_ID_PLACEHOLDER}"}}'
    assert clean["body"]["string"] == expected.encode()


def test_paths_outside_the_scratch_library_are_replaced_and_its_own_kept():
    xml = (
        '<Location id="1" path="/home/alice/Movies"/>'
        '<Part file="/srv/scratch/a &amp; b.mp4"/><Part file="/home/alice/Movies/secret.mkv"/>'
        '<Part file="D:\\Scratch\\c.mkv"/><Location path="/srv/scratchy"/>'
    )
    request, response = interaction(answer=xml)
    _, clean = scrub_interaction(request, response, RULES)
    text = clean["body"]["string"]
    assert "alice" not in text and "secret" not in text and "scratchy" not in text
    assert 'file="/srv/scratch/a &amp; b.mp4"' in text and 'file="D:\\Scratch\\c.mkv"' in text
    assert f'path="{scrubbed_path("/home/alice/Movies")}"' in text


def test_paths_in_graphql_answers_and_query_strings_are_scrubbed_too():
    answer = json.dumps({"files": [{"path": "/home/alice/x.mp4"}, {"path": "/srv/scratch/y.mp4"}]})
    request, response = interaction(
        uri="http://plex/library/sections/1/refresh?path=%2Fhome%2Falice", answer=answer
    )
    clean_request, clean = scrub_interaction(request, response, RULES)
    text = clean["body"]["string"]
    assert "alice" not in text and "/srv/scratch/y.mp4" in text
    assert "alice" not in clean_request["uri"]
    assert SCRUBBED_PATH_ROOT.strip("/") in clean_request["uri"]


def test_the_same_outside_path_always_gets_the_same_stand_in():
    assert scrubbed_path("/a/b.mp4") == scrubbed_path("/a/b.mp4") != scrubbed_path("/a/c.mp4")


@pytest.mark.parametrize("body", [b"\xff\xd8\xff\xe0 jpeg bytes", None])
def test_binary_and_empty_bodies_pass_through(body):
    request, response = interaction(body=body, answer=body)
    clean_request, clean = scrub_interaction(request, response, RULES)
    assert clean_request["body"] == body and clean["body"]["string"] == body


def test_an_uri_with_nothing_to_hide_is_kept_byte_for_byte():
    uri = "http://plex/library/sections/1/all?type=1&title.value=A%20B&genre%5B0%5D.tag.tag=X"
    request, response = interaction(uri=uri)
    assert scrub_interaction(request, response, RULES)[0]["uri"] == uri
