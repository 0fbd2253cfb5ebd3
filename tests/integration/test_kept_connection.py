"""Writes, uploads and cover downloads on the kept-alive connection (`reconciler/keepalive.py`):
against the emulators over real HTTP they land as before, fail as before (each failure
translated into the same stashplex error as on requests' own path), survive a server that
closes the connection, and stay visible to vcrpy."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable

import pytest
import requests
import vcr
import vcr.patch
import yaml

from reconciler.config import PlexConfig
from reconciler.diff import Edit, FieldChange
from reconciler.emulators.http import free_port
from reconciler.errors import (
    PlexPermanentError,
    PlexTemporaryError,
    PlexUnreachable,
    translate_plex_error,
)
from reconciler.httpsession import ConfiguredSession
from reconciler.plex import PlexClient
from tests.integration.conftest import PLEX_TOKEN
from tests.unit.test_lean_response import ANSWERS

pytestmark = pytest.mark.integration

TOKEN = PLEX_TOKEN  # the token of the conftest's `plex` emulator
FILE = "/media/a.mp4"
POSTER = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def client_for(url: str, **config) -> PlexClient:
    return PlexClient(PlexConfig(url=url, token=TOKEN, **config))


def retitle(client: PlexClient, rating_key: int, title: str) -> None:
    item = client.fetch_items([rating_key])[rating_key]
    client.write(item, Edit([FieldChange("title", item.title, title)]))


def test_edits_and_uploads_one_after_another_all_land(plex):
    rating_key = plex.add_item("Adult", FILE)
    client = client_for(plex.url)

    for n in range(3):
        retitle(client, rating_key, f"Title {n}")
        client.upload_poster(rating_key, POSTER + bytes([n]), may_hold=False)

    assert plex.item(rating_key).title == "Title 2"
    assert plex.item(rating_key).poster_uploads == 3


def test_a_long_edit_arrives_whole_with_its_encoding(plex):
    rating_key = plex.add_item("Adult", FILE)
    client = client_for(plex.url)
    summary = "Ünïcode, spaces & symbols: 100% ~ [x] + 日本語 😀 " * 25
    item = client.fetch_items([rating_key])[rating_key]

    client.write(item, Edit([FieldChange("summary", item.summary, summary.strip())]))

    assert plex.item(rating_key).summary == summary.strip()
    assert "summary" in plex.item(rating_key).locked


def test_a_server_that_closed_the_connection_gets_a_new_one(plex):
    rating_key = plex.add_item("Adult", FILE)
    client = client_for(plex.url)
    retitle(client, rating_key, "Before")

    plex.stop()  # closes every open connection, as a restarting Plex does
    plex.start()
    retitle(client, rating_key, "After")

    assert plex.item(rating_key).title == "After"


def test_a_refused_connection_is_plex_unreachable(plex):
    rating_key = plex.add_item("Adult", FILE)
    client = client_for(plex.url)
    item = client.fetch_items([rating_key])[rating_key]
    plex.stop()

    with pytest.raises(PlexUnreachable, match="cannot connect to Plex"):
        client.write(item, Edit([FieldChange("title", item.title, "New")]))


@pytest.mark.parametrize(
    ("status", "error", "refused"),
    [(500, PlexTemporaryError, False), (503, PlexUnreachable, False),
     (401, PlexPermanentError, True), (403, PlexPermanentError, True)],
)
def test_an_answer_s_status_is_translated_as_before(plex, status, error, refused):
    rating_key = plex.add_item("Adult", FILE)
    client = client_for(plex.url)
    item = client.fetch_items([rating_key])[rating_key]
    plex.inject(status, path_prefix="/library/sections/1/all")

    with pytest.raises(error) as raised:
        client.write(item, Edit([FieldChange("title", item.title, "New")]))

    assert raised.value.refused is refused
    assert f"({status})" in str(raised.value)
    retitle(client, rating_key, "Then")
    assert plex.item(rating_key).title == "Then"


def test_a_timed_out_write_is_transient_and_the_next_one_gets_its_own_answer(plex):
    rating_key = plex.add_item("Adult", FILE)
    client = client_for(plex.url, timeout=0.3)
    item = client.fetch_items([rating_key])[rating_key]
    plex.inject(None, delay=1.5, path_prefix="/library/sections/1/all")

    with pytest.raises(PlexTemporaryError, match="did not answer in time"):
        client.write(item, Edit([FieldChange("title", item.title, "Slow")]))

    # the late answer to the timed-out edit must not be read as the answer to the next one
    client.upload_poster(rating_key, POSTER, may_hold=False)
    assert plex.item(rating_key).poster_uploads == 1


def test_the_token_and_the_client_identifier_go_with_every_write(plex):
    rating_key = plex.add_item("Adult", FILE)
    seen: list[dict[str, str]] = []
    handle = plex.handle

    def keep_headers(request):
        if request.method in ("PUT", "POST"):
            seen.append({k.lower(): v for k, v in request.headers.items()})
        return handle(request)

    plex.handle = keep_headers
    client = client_for(plex.url)
    retitle(client, rating_key, "New")
    client.upload_poster(rating_key, POSTER, may_hold=False)

    assert len(seen) == 2
    for headers in seen:
        assert headers["x-plex-token"] == TOKEN
        assert headers["x-plex-client-identifier"]
        assert headers["x-plex-product"] and headers["accept"]


def test_vcrpy_records_every_write_and_upload(plex, tmp_path):
    rating_key = plex.add_item("Adult", FILE)
    client = client_for(plex.url)
    item = client.fetch_items([rating_key])[rating_key]
    cassette = tmp_path / "kept.yaml"

    with vcr.use_cassette(str(cassette), record_mode="all"):
        client.write(item, Edit([FieldChange("title", item.title, "Recorded")]))
        client.upload_poster(rating_key, POSTER, may_hold=False)

    recorded = yaml.safe_load(cassette.read_text())["interactions"]
    methods = [(i["request"]["method"], i["request"]["uri"].split("?")[0]) for i in recorded]
    assert ("PUT", f"{plex.url}/library/sections/1/all") in methods
    assert ("POST", f"{plex.url}/library/metadata/{rating_key}/posters") in methods
    assert plex.item(rating_key).title == "Recorded"


def test_a_write_made_while_vcrpy_records_from_another_thread_is_recorded(plex, tmp_path):
    """vcrpy puts the standard connection classes back for a moment around each request it
    records, for every thread: a connection made in that moment must still be its own."""
    rating_key = plex.add_item("Adult", FILE)
    cassette = tmp_path / "race.yaml"

    with vcr.use_cassette(str(cassette), record_mode="all"):
        client = client_for(plex.url)
        item = client.fetch_items([rating_key])[rating_key]
        with vcr.patch.force_reset():  # as while another thread's request is recorded
            client.write(item, Edit([FieldChange("title", item.title, "Raced")]))

    recorded = yaml.safe_load(cassette.read_text())["interactions"]
    assert [i["request"]["method"] for i in recorded].count("PUT") == 1
    assert plex.item(rating_key).title == "Raced"


# -- the same failure, the same exception as requests' own path --------------------------


class _RawServer:
    """A TCP server that answers each connection with `behave(connection)`, for failures
    the emulators do not make (a cut body, a hang-up without an answer)."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.behave = behave
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)
            threading.Thread(target=self._one, args=(connection,), daemon=True).start()

    def _one(self, connection: socket.socket) -> None:
        with connection.makefile("rb") as stream:
            while stream.readline() not in (b"\r\n", b""):
                pass
        self.behave(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


def _cut_body(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<MediaContainer")
    connection.close()


def _hang_up(connection: socket.socket) -> None:
    connection.close()


def _say_nothing(connection: socket.socket) -> None:
    """Keep the connection open without answering (closed with the server)."""


@pytest.mark.parametrize("behave", [_cut_body, _hang_up, _say_nothing, None])
def test_each_failure_raises_what_requests_raises(behave):
    server = _RawServer(behave) if behave else None
    url = server.url if server else f"http://127.0.0.1:{free_port()}"
    try:
        raised = []
        for send in ("request", "send_encoded"):
            session = ConfiguredSession(True, url)
            with pytest.raises(requests.RequestException) as failure:
                getattr(session, send)("PUT", f"{url}/library/sections/1/all?x=1", timeout=0.3)
            raised.append(failure.value)
    finally:
        if server:
            server.close()

    by_requests, kept = raised
    assert type(kept) is type(by_requests)
    assert type(translate_plex_error(kept, "x")) is type(translate_plex_error(by_requests, "x"))


# -- answers of every shape, read as requests reads them -----------------------------------


class _Answering(_RawServer):
    """Answers every request with the same bytes, on the same connection; an answer that
    ends with the connection (no length, or `Connection: close`) is followed by a hang-up."""

    def __init__(self, answer: bytes, closes: bool) -> None:
        super().__init__(lambda connection: None)
        self.answer, self.closes = answer, closes

    def _one(self, connection: socket.socket) -> None:
        with connection.makefile("rb") as stream:
            while True:
                line = stream.readline()
                while line not in (b"\r\n", b""):
                    line = stream.readline()
                if not line:
                    return
                connection.sendall(self.answer)
                if self.closes:
                    connection.close()
                    return


class _Standard(http.client.HTTPConnection):
    """http.client's own connection, requests sent and answers read its way throughout."""


# answers whose end the standard class finds only when the connection ends (the email
# parser takes a line without a colon, or a lone CR, for the end of the headers); the
# others' connection stays open on the server's side, even after `Connection: close`
_READ_TO_THE_END = ("no length", "bad length", "no colon", "lone carriage return")


@pytest.mark.parametrize("name", list(ANSWERS))
def test_an_answer_of_any_shape_reads_as_the_standard_connection_reads_it(name):
    server = _Answering(ANSWERS[name], name in _READ_TO_THE_END)
    standard, kept = ConfiguredSession(True, server.url), ConfiguredSession(True, server.url)
    standard._connection_class = _Standard
    try:
        seen, connections = [], []
        for session in (standard, kept):
            for method in ("PUT", "GET", "PUT"):
                answer = session.send_encoded(method, f"{server.url}/library/metadata/1", timeout=5)
                seen.append(
                    (answer.status_code, answer.reason, list(answer.headers.items()),
                     answer.content, answer.encoding)
                )
            connections.append(len(server.held) - sum(connections))
    finally:
        server.close()
    assert seen[3:] == seen[:3]
    assert connections[1] == connections[0]  # kept open, or closed, alike
