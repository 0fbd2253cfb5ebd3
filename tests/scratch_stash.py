"""A proxy that shows a real Stash's scratch scenes to the cassette tests as the emulator would.

The Stash counterpart of `tests/scratch.py`. The scratch scenes are the real scenes with a
file under STASHPLEX_RECORD_STASH_PATH. `add_scene` claims the next one (by id), gives it the
test's metadata with `sceneUpdate` (finding tags, performers and studios by name, creating the
missing ones) and shows it under the next test id ("1", "2", ...) with the test's file path;
`update_scene` edits a claimed scene. GraphQL reads are narrowed to the claimed scenes (the
`$ids` variable of stashplex's `FindScenes`), and tags, performers and studios to the ones the
claimed scenes use, so neither the library's other scenes nor its names reach a cassette. On
stop every claimed scene is put back and every object the proxy created is deleted.

Runs in a process of its own, like the Plex proxy:

    python -m tests.scratch_stash --port P --test-key K

with STASHPLEX_RECORD_STASH_URL, STASHPLEX_RECORD_STASH_API_KEY, STASHPLEX_RECORD_STASH_PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from reconciler.emulators.http import EmulatorServer, Request, Response
from tests.scratch import REAL_STASH, control_call

KINDS = {"tags": "tag", "performers": "performer", "studios": "studio"}
_SCREENSHOT = re.compile(r"^/scene/([^/]+)/screenshot$")
_EDITABLE = ("title", "details", "date", "rating100", "code", "director", "urls", "organized")
_SNAPSHOT = """query Snapshot($id: ID!) { findScene(id: $id) {
  title details date rating100 code director urls organized
  studio { id } performers { id } tags { id } } }"""


@dataclass
class ClaimedScene:
    test_id: str
    real_id: str
    files: list[str]
    original: dict[str, Any]
    objects: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data).encode(), "application/json")


class ScratchStashProxy(EmulatorServer):
    name = "scratch-stash-proxy"

    def __init__(self, upstream: str, api_key: str, scratch_path: str, test_keys: list[str],
                 port: int | None = None) -> None:
        super().__init__(port)
        self.upstream, self._key, self._test_keys = upstream.rstrip("/"), api_key, set(test_keys)
        self._session = requests.Session()
        self._lock_claims = threading.Lock()
        self._claimed: list[ClaimedScene] = []
        self._created: dict[str, list[str]] = {k: [] for k in KINDS}
        found = self.graphql(
            """query Scratch($path: String!) { findScenes(
                 scene_filter: { path: { value: $path, modifier: INCLUDES } },
                 filter: { per_page: -1, sort: "id", direction: ASC }) { scenes { id } } }""",
            {"path": scratch_path.rstrip("/") + "/"},
        )
        self._pool = sorted((s["id"] for s in found["findScenes"]["scenes"]), key=int)

    # -- upstream ----------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = self._session.post(f"{self.upstream}/graphql", timeout=60,
                                    headers={"ApiKey": self._key},
                                    json={"query": query, "variables": variables})
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise ValueError(f"Stash refused: {body['errors'][0].get('message')}")
        return body["data"]

    def _object_id(self, kind: str, name: str) -> str:
        """The id of the tag, performer or studio called `name`, created when there is none."""
        singular = KINDS[kind]
        found = self.graphql(
            f"""query Find($name: String!) {{ find{kind.title()}(
                {singular}_filter: {{ name: {{ value: $name, modifier: EQUALS }} }}) {{
                {kind} {{ id name }} }} }}""",
            {"name": name},
        )[f"find{kind.title()}"][kind]
        exact = [o["id"] for o in found if o["name"] == name]
        if exact:
            return exact[0]
        made = self.graphql(
            f"mutation Make($name: String!) {{ {singular}Create(input: {{ name: $name }}) "
            "{ id } }",
            {"name": name},
        )[f"{singular}Create"]["id"]
        self._created[kind].append(made)
        return made

    def _update(self, real_id: str, fields: dict[str, Any]) -> None:
        self.graphql("mutation Put($input: SceneUpdateInput!) { sceneUpdate(input: $input) "
                     "{ id } }", {"input": {"id": real_id, **fields}})

    # -- the control endpoint ----------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        answered = control_call(request, self._call)
        if answered is not None:
            return answered
        if request.path == "/graphql" and request.method == "POST":
            return self._graphql(request)
        if m := _SCREENSHOT.match(request.path):
            return self._screenshot(request, m.group(1))
        return self._forward(request, request.path, request.body)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "add_scene":
            return self.claim(**kwargs)
        if method == "update_scene":
            scene = self._by_test_id(args[0])
            self._update(scene.real_id, self._stash_fields(scene, kwargs))
            return None
        raise ValueError(f"{method} cannot be done on a real server")

    def claim(self, *, files: list[str] = (), **fields: Any) -> str:
        """The next scratch scene, cleared and given the test's fields; returns its test id."""
        with self._lock_claims:
            if len(self._claimed) == len(self._pool):
                raise ValueError(f"the scratch path has only {len(self._pool)} scenes")
            real_id = self._pool[len(self._claimed)]
            original = self.graphql(_SNAPSHOT, {"id": real_id})["findScene"]
            scene = ClaimedScene(str(len(self._claimed) + 1), real_id, list(files), original)
            self._claimed.append(scene)
        cleared: dict[str, Any] = {"title": "", "details": "", "date": None, "rating100": None,
                                   "code": "", "director": "", "urls": [], "organized": False,
                                   "studio_id": None, "performer_ids": [], "tag_ids": []}
        cleared.update(self._stash_fields(scene, fields))
        self._update(real_id, cleared)
        return scene.test_id

    def _stash_fields(self, scene: ClaimedScene, fields: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in fields.items():
            if name in _EDITABLE:
                out[name] = list(value) if name == "urls" else value
            elif name == "studio":
                out["studio_id"] = self._object_id("studios", value) if value else None
                if value:
                    scene.objects["studios"].add(out["studio_id"])
            elif name in ("performers", "tags"):
                ids = [self._object_id(name, n) for n in value]
                scene.objects[name].update(ids)
                out[f"{name[:-1]}_ids"] = ids
            elif name == "files":
                scene.files = list(value)
            else:
                raise ValueError(f"{name} cannot be set on a real Stash")
        return out

    def _by_test_id(self, test_id: Any) -> ClaimedScene:
        for scene in self._claimed:
            if scene.test_id == str(test_id):
                return scene
        raise ValueError(f"no scene {test_id}")

    def restore(self) -> None:
        for scene in self._claimed:
            original = scene.original
            fields = {name: original.get(name) for name in _EDITABLE}
            fields["studio_id"] = (original.get("studio") or {}).get("id")
            fields["performer_ids"] = [p["id"] for p in original.get("performers", [])]
            fields["tag_ids"] = [t["id"] for t in original.get("tags", [])]
            self._update(scene.real_id, fields)
        for kind, ids in self._created.items():
            for made in ids:
                self.graphql(f"mutation Drop($id: ID!) {{ {KINDS[kind]}Destroy("
                             "input: { id: $id }) }", {"id": made})
        self._claimed.clear()

    def stop(self) -> None:
        super().stop()
        self.restore()

    # -- what the test sees ------------------------------------------------------------------

    def _forward(self, request: Request, path: str, body: bytes | None) -> Response:
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "connection", "apikey",
                                        "accept-encoding")}
        supplied = request.header("ApiKey")
        if supplied:
            headers["ApiKey"] = self._key if supplied in self._test_keys else supplied
        url = self.upstream + path + (f"?{request.query}" if request.query else "")
        answer = self._session.request(request.method, url, headers=headers, data=body or None,
                                       timeout=60)
        return Response(answer.status_code, answer.content,
                        answer.headers.get("Content-Type", "application/octet-stream"))

    def _graphql(self, request: Request) -> Response:
        payload = json.loads(request.body or b"{}")
        variables = dict(payload.get("variables") or {})
        query = payload.get("query", "")
        by_test = {s.test_id: s.real_id for s in self._claimed}
        if "findScenes(" in query and "$ids" in query:
            wanted = variables.get("ids")
            variables["ids"] = ([by_test[i] for i in wanted if i in by_test] if wanted
                                else [s.real_id for s in self._claimed]) or ["0"]
        if "findScene(" in query and "id" in variables:
            variables["id"] = by_test.get(str(variables["id"]), "0")
        payload["variables"] = variables
        answer = self._forward(request, "/graphql", json.dumps(payload).encode())
        if answer.status != 200:
            return answer
        body = json.loads(answer.body)
        self._show_claimed(body.get("data") or {}, request)
        return Response(200, json.dumps(body).encode(), answer.content_type)

    def _show_claimed(self, data: dict[str, Any], request: Request) -> None:
        by_real = {s.real_id: s for s in self._claimed}
        base = f"http://{request.header('Host') or urlsplit(self.url).netloc}"
        used = {kind: set().union(*(s.objects[kind] for s in self._claimed))
                for kind in KINDS}
        for key, value in data.items():
            if key == "findScene" and value:
                self._show_scene(value, by_real, base)
            elif key == "findScenes" and value:
                kept = [s for s in value.get("scenes", []) if str(s.get("id")) in by_real]
                for scene in kept:
                    self._show_scene(scene, by_real, base)
                value["scenes"] = kept
                if "count" in value:
                    value["count"] = min(value["count"], len(self._claimed))
            elif key[len("find"):].lower() in KINDS and value:
                kind = key[len("find"):].lower()
                listed = value.get(kind)
                if listed is None:
                    continue
                kept = [o for o in listed if o.get("id") in used[kind]]
                value[kind] = kept
                if "count" in value:
                    value["count"] = len(kept)

    def _show_scene(self, scene: dict[str, Any], by_real: dict[str, ClaimedScene],
                    base: str) -> None:
        claimed = by_real.get(str(scene.get("id")))
        if claimed is None:
            scene.clear()  # a scene outside the scratch set shows nothing of itself
            return
        scene["id"] = claimed.test_id
        for file, path in zip(scene.get("files") or [], claimed.files, strict=False):
            file["path"] = path
            if "basename" in file:
                file["basename"] = posixpath.basename(path)
        shot = (scene.get("paths") or {}).get("screenshot")
        if shot:
            query = urlsplit(shot).query
            scene["paths"]["screenshot"] = (f"{base}/scene/{claimed.test_id}/screenshot"
                                            + (f"?{query}" if query else ""))

    def _screenshot(self, request: Request, test_id: str) -> Response:
        real = next((s.real_id for s in self._claimed if s.test_id == test_id), "0")
        return self._forward(request, f"/scene/{real}/screenshot", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.scratch_stash", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--test-key", action="append", default=[],
                        help="an API key the tests use, swapped for the real one")
    args = parser.parse_args(argv)
    missing = [name for name in REAL_STASH if not os.environ.get(name)]
    if missing:
        print(f"tests.scratch_stash: set {', '.join(missing)}", file=sys.stderr)
        return 2
    proxy = ScratchStashProxy(os.environ[REAL_STASH[0]], os.environ[REAL_STASH[1]],
                              os.environ[REAL_STASH[2]], args.test_key, port=args.port)
    return proxy.serve_until_signalled()


if __name__ == "__main__":
    raise SystemExit(main())
