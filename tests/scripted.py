"""A cassette test's set-up and read-back, sent as HTTP so they are recorded with its traffic.

A cassette test that sets up the emulator in-process replays the same with or without its
set-up. Here every step (a section, an item, a scene, a fault) is a request to the
emulator's control endpoint, and every check of what Plex holds is a read of Plex's own API:
on replay each is answered from the cassette, and a step removed or changed leaves a
recorded request unplayed or asks for one the cassette does not hold, so the test fails.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import requests

from reconciler.emulators.http import Response
from reconciler.emulators.plex import PlexEmulator

_FAULT_METHODS = ("inject", "clear_faults")


class RecordablePlexEmulator(PlexEmulator):
    """The Plex emulator with its fault injection also reachable at `/_emulator/call`."""

    def _call(self, payload: dict) -> Response:
        name = payload.get("method")
        if name not in _FAULT_METHODS:
            return super()._call(payload)
        kwargs = dict(payload.get("kwargs") or {})
        if "body" in kwargs:
            kwargs["body"] = kwargs["body"].encode("utf-8")
        getattr(self, name)(*payload.get("args", []), **kwargs)
        return Response(200, b'{"result": null}', "application/json")


def _control_call(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
    answer = requests.post(
        f"{url}/_emulator/call",
        json={"method": method, "args": list(args), "kwargs": kwargs},
        timeout=10,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"set-up step {method} failed: {answer.status_code} {answer.text}")
    return answer.json()["result"]


@dataclass(frozen=True)
class PlexView:
    """What Plex shows for one item, read through its API."""

    title: str
    summary: str
    studio: str | None
    genres: tuple[str, ...]
    locked: frozenset[str]


class PlexOverHttp:
    """Plex set up through the emulator's control endpoint and read through Plex's API."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self._token = url.rstrip("/"), token

    def add_section(self, title: str, locations: list[str], type: str = "movie") -> int:
        return _control_call(self.url, "add_section", title, locations, type)

    def add_item(self, section: str, files: str | list[str], title: str | None = None,
                 **fields: Any) -> int:
        return _control_call(self.url, "add_item", section, files, title, **fields)

    def inject(self, status: int | None, count: int = 1, *, path_prefix: str = "",
               body: str = "", skip: int = 0) -> None:
        """The next `count` requests under `path_prefix` get `status` (a fault to record)."""
        _control_call(self.url, "inject", status, count, path_prefix=path_prefix, body=body,
                      skip=skip)

    def view(self, rating_key: int | str) -> PlexView:
        answer = requests.get(
            f"{self.url}/library/metadata/{rating_key}",
            headers={"X-Plex-Token": self._token},
            timeout=10,
        )
        answer.raise_for_status()
        video = ET.fromstring(answer.content).find("Video")
        if video is None:
            raise AssertionError(f"no item {rating_key} in Plex's answer")
        return PlexView(
            title=video.get("title", ""),
            summary=video.get("summary", ""),
            studio=video.get("studio"),
            genres=tuple(g.get("tag", "") for g in video.findall("Genre")),
            locked=frozenset(
                f.get("name", "") for f in video.findall("Field") if f.get("locked") == "1"
            ),
        )


class StashOverHttp:
    """Stash set up through the emulator's control endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def add_scene(self, **fields: Any) -> str:
        return _control_call(self.url, "add_scene", **fields)

    def update_scene(self, scene_id: str, **fields: Any) -> None:
        _control_call(self.url, "update_scene", scene_id, **fields)
