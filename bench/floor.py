"""The floor: page through both full listings and parse them, nothing else.

Same page sizes and the same GraphQL query as stashplex (`reconciler/stash.py`,
`reconciler/plex.py`); no diff, no queue, no database. Run in its own process by
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
    """Every scene, sorted by updated_at, `STASH_PAGE_SIZE` a page: (scenes, requests)."""
    page, seen, requests_made = 1, 0, 0
    while True:
        variables = {
            "filter": {
                "page": page,
                "per_page": STASH_PAGE_SIZE,
                "sort": "updated_at",
                "direction": "ASC",
            },
            "scene_filter": None,
            "ids": None,
        }
        answer = session.post(f"{url}/graphql", json={"query": FIND_SCENES, "variables": variables})
        answer.raise_for_status()
        data = json.loads(answer.content)["data"]["findScenes"]
        requests_made += 1
        seen += len(data["scenes"])
        if not data["scenes"] or seen >= data["count"]:
            return seen, requests_made
        page += 1


def plex_listing(session: requests.Session, url: str, libraries: list[str]) -> tuple[int, int]:
    """Every item of the configured libraries, `LISTING_PAGE_SIZE` a page: (items, requests)."""
    answer = session.get(f"{url}/library/sections")
    answer.raise_for_status()
    sections = [
        d.attrib["key"]
        for d in ET.fromstring(answer.content).iter("Directory")
        if d.attrib.get("title") in libraries
    ]
    seen, requests_made = 0, 1
    for key in sections:
        start = 0
        while True:
            answer = session.get(
                f"{url}/library/sections/{key}/all?type=1",
                headers={
                    "X-Plex-Container-Start": str(start),
                    "X-Plex-Container-Size": str(LISTING_PAGE_SIZE),
                },
            )
            answer.raise_for_status()
            root = ET.fromstring(answer.content)
            requests_made += 1
            children = [el for el in root if el.tag in ("Video", "Directory")]
            start += len(children)
            seen += len(children)
            total = int(root.attrib.get("totalSize") or root.attrib.get("size") or 0)
            if not children or start >= total:
                break
    return seen, requests_made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    config = load_config(args.config)
    stash = requests.Session()
    stash.headers["ApiKey"] = config.stash.api_key
    plex = requests.Session()
    plex.headers.update({"X-Plex-Token": config.plex.token, "Accept": "application/xml"})
    wall, cpu = time.perf_counter(), time.process_time()
    plex_items, plex_requests = plex_listing(plex, config.plex.url, config.plex.libraries)
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
