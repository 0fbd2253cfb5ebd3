"""The floor: page through both full listings and parse them, nothing else.

Same page sizes, the same GraphQL query and the same paging by key as stashplex
(`reconciler/stash.py`, `reconciler/plex.py`: Stash by `id`, Plex by ratingKey, the way a
real PMS must be paged); no diff, no queue, no database. The two listings are read one
after the other. Run in its own process by
`bench/reconcile.py`; prints one JSON line: wall and CPU seconds of the paging alone
(imports and interpreter start-up excluded), the items read and the requests made.

    python bench/floor.py --config cfg.yaml
"""

from __future__ import annotations

import argparse
import json
import time
import xml.etree.ElementTree as ET

import requests

from reconciler.config import load_config
from reconciler.plex import LISTING_PAGE_SIZE
from reconciler.stash import FIND_SCENES
from reconciler.stash import PAGE_SIZE as STASH_PAGE_SIZE


def stash_listing(session: requests.Session, url: str) -> tuple[int, int]:
    """Every scene by id, `STASH_PAGE_SIZE` a page, each page asked for as "id greater than
    the last one read", as stashplex's full pass asks: (scenes, requests)."""
    last, seen, requests_made = 0, 0, 0
    while True:
        variables = {
            "filter": {"page": 1, "per_page": STASH_PAGE_SIZE, "sort": "id", "direction": "ASC"},
            "scene_filter": {"id": {"value": last, "modifier": "GREATER_THAN"}},
            "ids": None,
        }
        answer = session.post(f"{url}/graphql", json={"query": FIND_SCENES, "variables": variables})
        answer.raise_for_status()
        scenes = json.loads(answer.content)["data"]["findScenes"]["scenes"]
        requests_made += 1
        seen += len(scenes)
        if len(scenes) < STASH_PAGE_SIZE:
            return seen, requests_made
        last = int(scenes[-1]["id"])


def plex_listing(session: requests.Session, url: str, libraries: list[str]) -> tuple[int, int]:
    """Every item of the configured libraries by ratingKey (`sort=id`, then `id>>=` the last
    one read), `LISTING_PAGE_SIZE` a page, as a client must page a real PMS: (items, requests)."""
    answer = session.get(f"{url}/library/sections")
    answer.raise_for_status()
    sections = [
        d.attrib["key"]
        for d in ET.fromstring(answer.content).iter("Directory")
        if d.attrib.get("title") in libraries
    ]
    seen, requests_made = 0, 1
    headers = {"X-Plex-Container-Start": "0", "X-Plex-Container-Size": str(LISTING_PAGE_SIZE)}
    for key in sections:
        last = None
        while True:
            after = "" if last is None else f"&id%3E%3E={last}"
            answer = session.get(
                f"{url}/library/sections/{key}/all?type=1&sort=id{after}", headers=headers
            )
            answer.raise_for_status()
            root = ET.fromstring(answer.content)
            requests_made += 1
            children = [
                el
                for el in root
                if el.tag in ("Video", "Directory") and el.attrib["ratingKey"] != str(last)
            ]
            seen += len(children)
            if len(children) < LISTING_PAGE_SIZE - (last is not None):
                break
            last = children[-1].attrib["ratingKey"]
    return seen, requests_made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument(
        "--only", choices=("plex", "stash"), help="read one listing (the benchmark's priming)"
    )
    args = parser.parse_args()
    config = load_config(args.config)
    stash = requests.Session()
    stash.headers["ApiKey"] = config.stash.api_key
    plex = requests.Session()
    plex.headers.update({"X-Plex-Token": config.plex.token, "Accept": "application/xml"})
    wall, cpu = time.perf_counter(), time.process_time()
    plex_items = plex_requests = stash_scenes = stash_requests = 0
    if args.only != "stash":
        plex_items, plex_requests = plex_listing(plex, config.plex.url, config.plex.libraries)
    if args.only != "plex":
        stash_scenes, stash_requests = stash_listing(stash, config.stash.url)
    print(
        json.dumps(
            {
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
                "plex_items": plex_items,
                "plex_requests": plex_requests,
                "stash_scenes": stash_scenes,
                "stash_requests": stash_requests,
            }
        )
    )


if __name__ == "__main__":
    main()
