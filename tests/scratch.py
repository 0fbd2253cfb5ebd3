"""A proxy that shows a real Plex's scratch library to the cassette tests as the emulator would.

The cassette tests set Plex up through the emulator's control endpoint (`tests/scripted.py`).
To record them against a real server, this proxy answers those same calls on the real one:
`add_section` names the scratch library after the test's section, `add_item` claims the
next item of the scratch library (cleared of what stashplex writes, titled as the test says)
and shows its file under the test's path, `inject` answers the next requests with a fault.
Everything else goes to the real server with the real token; the test's own token is swapped
for it, any other token passes unchanged (so a wrong token meets the real 401). Listings show
only the claimed items, so a test sees the world it set up. When the proxy stops, every
claimed item is put back as it was.

It runs in a process of its own, because vcrpy records every HTTP client of the test process
and the upstream traffic, with the real token, must never reach a cassette:

    python -m tests.scratch --port P --test-token T [--test-token T2]

with STASHPLEX_RECORD_PLEX_URL, STASHPLEX_RECORD_PLEX_TOKEN, STASHPLEX_RECORD_PLEX_LIBRARY set.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests

from reconciler.emulators.http import EmulatorServer, Request, Response, free_port
from reconciler.emulators.plex_model import basename_title

TEXT_FIELDS = ("title", "summary", "originallyAvailableAt", "studio", "userRating", "year",
               "contentRating")
TAG_FIELDS = {"genre": "Genre", "actor": "Role", "collection": "Collection"}
LOCKS = (*TEXT_FIELDS, *TAG_FIELDS, "thumb")
_PAGE_HEADERS = ("X-Plex-Container-Start", "X-Plex-Container-Size")
_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "x-plex-token"}


@dataclass
class Claimed:
    rating_key: int
    files: list[str]
    original: dict[str, Any] = field(default_factory=dict)


def control_call(request: Request, call: Any) -> Response | None:
    """Answer the tests' `/_emulator/call` set-up requests with `call`; None for any other."""
    if request.path != "/_emulator/call" or request.method != "POST":
        return None
    payload = json.loads(request.body or b"{}")
    try:
        result = call(payload["method"], *payload.get("args", []), **payload.get("kwargs", {}))
    except (KeyError, ValueError, TypeError, requests.RequestException) as exc:
        return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
    return _json({"result": result})


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data).encode(), "application/json")


def _xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


class ScratchPlexProxy(EmulatorServer):
    """The test's Plex world, made of a real server's scratch library."""

    name = "scratch-plex-proxy"

    def __init__(self, upstream: str, token: str, library: str, test_tokens: list[str],
                 port: int | None = None) -> None:
        super().__init__(port)
        self.upstream, self._token, self.library = upstream.rstrip("/"), token, library
        self._test_tokens = set(test_tokens)
        self._session = requests.Session()
        self._alias: tuple[str, list[str]] | None = None
        self._claimed: dict[int, Claimed] = {}
        self._claim_lock = threading.Lock()
        sections = ET.fromstring(self._get("/library/sections").content)
        scratch = next((d for d in sections.findall("Directory") if d.get("title") == library),
                       None)
        if scratch is None or scratch.get("type") != "movie":
            raise SystemExit(f"scratch library {library!r} must exist and be a movie library")
        self.section_key = int(scratch.get("key", "0"))
        listing = ET.fromstring(self._get(f"/library/sections/{self.section_key}/all",
                                          {"type": 1}).content)
        self._pool = sorted(int(v.get("ratingKey", "0")) for v in listing.findall("Video"))

    # -- upstream --------------------------------------------------------------------------

    def _get(self, path: str, params: dict | None = None) -> requests.Response:
        answer = self._session.get(self.upstream + path, params=params, timeout=60,
                                   headers={"X-Plex-Token": self._token})
        answer.raise_for_status()
        return answer

    def _put_edit(self, rating_key: int, args: list[tuple[str, Any]]) -> None:
        answer = self._session.put(
            f"{self.upstream}/library/sections/{self.section_key}/all",
            params=[("type", 1), ("id", rating_key), *args],
            headers={"X-Plex-Token": self._token}, timeout=60,
        )
        answer.raise_for_status()

    def _forward(self, request: Request, query: str | None = None,
                 headers: dict[str, str] | None = None) -> requests.Response:
        sent = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        supplied = request.header("X-Plex-Token")
        sent["X-Plex-Token"] = self._token if supplied in self._test_tokens else (supplied or "")
        sent.update(headers or {})
        pairs = [(k, self._token if k.lower() == "x-plex-token" and v in self._test_tokens else v)
                 for k, v in parse_qsl(request.query if query is None else query,
                                       keep_blank_values=True)]
        url = self.upstream + request.path + (f"?{urlencode(pairs)}" if pairs else "")
        return self._session.request(request.method, url, headers=sent,
                                     data=request.body or None, timeout=60)

    # -- the control endpoint ----------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        return control_call(request, self._call) or self._proxied(request)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "add_section":
            title, locations = args[0], list(args[1])
            self._alias = (title, locations)
            return self.section_key
        if method == "add_item":
            return self.claim(*args, **kwargs)
        if method == "inject":
            if "body" in kwargs:
                kwargs["body"] = kwargs["body"].encode("utf-8")
            self.inject(*args, **kwargs)
            return None
        raise ValueError(f"{method} cannot be done on a real server")

    def claim(self, section: str, files: str | list[str], title: str | None = None,
              **fields: Any) -> int:
        """The next scratch item, cleared of what stashplex writes and shown under `files`."""
        if fields:
            raise ValueError(f"add_item({', '.join(fields)}=...) cannot be set up on a real "
                             "server: give only a title")
        if self._alias is None or section != self._alias[0]:
            raise ValueError(f"no section {section!r}: call add_section first")
        paths = [files] if isinstance(files, str) else list(files)
        with self._claim_lock:
            free = [key for key in self._pool if key not in self._claimed]
            if not free:
                raise ValueError(f"the scratch library {self.library!r} needs more items "
                                 f"(it has {len(self._pool)})")
            key = free[0]
            claimed = Claimed(key, paths, self._snapshot(key))
            self._claimed[key] = claimed
        clear: list[tuple[str, Any]] = [("title.value", title or basename_title(paths[0]))]
        clear += [(f"{name}.value", "") for name in TEXT_FIELDS if name not in ("title",
                                                                                 "userRating")]
        clear += [(f"{tag}[].tag", "") for tag in TAG_FIELDS]
        clear += [(f"{name}.locked", 0) for name in LOCKS]
        self._put_edit(key, clear)
        self._rate(key, None)
        return key

    def _snapshot(self, key: int) -> dict[str, Any]:
        video = ET.fromstring(self._get(f"/library/metadata/{key}").content).find("Video")
        assert video is not None
        posters = ET.fromstring(self._get(f"/library/metadata/{key}/posters").content)
        selected = next((p.get("ratingKey") for p in posters.findall("Photo")
                         if p.get("selected") == "1"), None)
        return {
            "text": {name: video.get(name, "") for name in TEXT_FIELDS},
            "tags": {tag: [t.get("tag", "") for t in video.findall(element)]
                     for tag, element in TAG_FIELDS.items()},
            "locked": {f.get("name") for f in video.findall("Field") if f.get("locked") == "1"},
            "poster": selected,
        }

    def _rate(self, key: int, rating: str | None) -> None:
        self._session.put(f"{self.upstream}/:/rate", timeout=60,
                          headers={"X-Plex-Token": self._token},
                          params={"key": key, "identifier": "com.plexapp.plugins.library",
                                  "rating": rating if rating else -1}).raise_for_status()

    def restore(self) -> None:
        """Every claimed item back as it was before the test (rating, poster, text, tags, locks)."""
        for claimed in list(self._claimed.values()):
            original, key = claimed.original, claimed.rating_key
            self._rate(key, original["text"]["userRating"] or None)
            if original["poster"]:
                self._session.put(f"{self.upstream}/library/metadata/{key}/poster",
                                  params={"url": original["poster"]}, timeout=60,
                                  headers={"X-Plex-Token": self._token})
            args: list[tuple[str, Any]] = [
                (f"{name}.value", value) for name, value in original["text"].items()
                if name != "userRating"
            ]
            for tag, names in original["tags"].items():
                args += ([(f"{tag}[{i}].tag.tag", n) for i, n in enumerate(names)]
                         or [(f"{tag}[].tag", "")])
            args += [(f"{name}.locked", int(name in original["locked"])) for name in LOCKS]
            self._put_edit(key, args)
        self._claimed.clear()

    def stop(self) -> None:
        super().stop()
        self.restore()

    # -- what the test sees ------------------------------------------------------------------

    def _proxied(self, request: Request) -> Response:
        listing = request.method == "GET" and request.path.rstrip("/") == (
            f"/library/sections/{self.section_key}/all")
        if listing:
            query = [(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True)
                     if k not in _PAGE_HEADERS]
            answer = self._forward(request, urlencode(query), {
                "X-Plex-Container-Start": "0", "X-Plex-Container-Size": "100000"})
        else:
            answer = self._forward(request)
        body = answer.content
        content_type = answer.headers.get("Content-Type", "text/xml;charset=utf-8")
        if answer.status_code == 200 and "xml" in content_type and body.strip():
            root = ET.fromstring(body)
            if request.path.rstrip("/") == "/library/sections":
                self._show_scratch_section(root)
            if listing:
                self._show_claimed_page(root, request)
            self._show_test_paths(root)
            body = _xml(root)
        return Response(answer.status_code, body, content_type)

    def _show_scratch_section(self, root: ET.Element) -> None:
        for directory in list(root.findall("Directory")):
            if int(directory.get("key", "0")) != self.section_key or self._alias is None:
                root.remove(directory)
                continue
            directory.set("title", self._alias[0])
            for location in list(directory.findall("Location")):
                directory.remove(location)
            for index, path in enumerate(self._alias[1]):
                ET.SubElement(directory, "Location", {"id": str(index + 1), "path": path})
        root.set("size", str(len(root.findall("Directory"))))

    def _show_claimed_page(self, root: ET.Element, request: Request) -> None:
        videos = root.findall("Video")
        for video in videos:
            root.remove(video)
        kept = [v for v in videos if int(v.get("ratingKey", "0")) in self._claimed]
        query = dict(parse_qsl(request.query))
        start = int(query.get(_PAGE_HEADERS[0]) or request.header(_PAGE_HEADERS[0]) or 0)
        size_raw = query.get(_PAGE_HEADERS[1]) or request.header(_PAGE_HEADERS[1])
        page = kept[start:] if size_raw in (None, "") else kept[start:start + int(size_raw)]
        for video in page:
            root.append(video)
        root.set("size", str(len(page)))
        root.set("totalSize", str(len(kept)))
        root.set("offset", str(start))

    def _show_test_paths(self, root: ET.Element) -> None:
        alias_title = self._alias[0] if self._alias else None
        for element in root.iter():
            if alias_title and element.get("librarySectionTitle") == self.library:
                element.set("librarySectionTitle", alias_title)
        if alias_title and root.get("librarySectionTitle") == self.library:
            root.set("librarySectionTitle", alias_title)
        for video in root.iter("Video"):
            claimed = self._claimed.get(int(video.get("ratingKey", "0")))
            if claimed is None:
                continue
            parts = list(video.iter("Part"))
            for part, path in zip(parts, claimed.files, strict=False):
                part.set("file", path)


REAL_PLEX = ("STASHPLEX_RECORD_PLEX_URL", "STASHPLEX_RECORD_PLEX_TOKEN",
             "STASHPLEX_RECORD_PLEX_LIBRARY")


REAL_STASH = ("STASHPLEX_RECORD_STASH_URL", "STASHPLEX_RECORD_STASH_API_KEY",
              "STASHPLEX_RECORD_STASH_PATH")


def real_plex_configured(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return all(env.get(name) for name in REAL_PLEX)


def real_stash_configured(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return all(env.get(name) for name in REAL_STASH)


@contextmanager
def running_proxy(module: str, options: list[str]) -> Iterator[str]:
    """A proxy (`tests.scratch` or `tests.scratch_stash`) in a process of its own, for as long
    as the block runs; yields its URL."""
    command = [sys.executable, "-m", module, "--port", str(free_port()), *options]
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if " listening on " not in line:
        process.kill()
        process.wait()
        raise RuntimeError(f"the scratch proxy did not start (exit {process.poll()})")
    try:
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=300)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.scratch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--test-token", action="append", default=[],
                        help="a token the tests use, swapped for the real one")
    args = parser.parse_args(argv)
    try:
        proxy = ScratchPlexProxy(os.environ["STASHPLEX_RECORD_PLEX_URL"],
                                 os.environ["STASHPLEX_RECORD_PLEX_TOKEN"],
                                 os.environ["STASHPLEX_RECORD_PLEX_LIBRARY"],
                                 args.test_token, port=args.port)
    except KeyError as exc:
        print(f"tests.scratch: set {exc.args[0]}", file=sys.stderr)
        return 2
    return proxy.serve_until_signalled()


if __name__ == "__main__":
    raise SystemExit(main())
