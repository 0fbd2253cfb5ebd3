"""`stashplex init` asked on a terminal: every answer typed, the libraries chosen by number."""

import argparse
import io

import pytest
import yaml

from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.init import run_init
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World

pytestmark = pytest.mark.integration


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_init_asks_for_what_the_flags_do_not_give(tmp_path, monkeypatch):
    stash = StashEmulator(api_key=STASH_KEY).start()
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    try:
        World(tmp_path, stash, plex).app.close()
        plex.add_section("Movies", ["/films"])
        monkeypatch.setattr("sys.stdin", Terminal())
        answers = iter([stash.url, plex.url, "2, 1", "y"])
        secrets = iter([f"{STASH_KEY}\n", PLEX_TOKEN])
        questions: list[str] = []

        def ask(question: str) -> str:
            questions.append(question)
            return next(answers)

        said: list[str] = []
        args = argparse.Namespace(path=str(tmp_path / "stashplex.yaml"), stash_url=None,
                                  stash_api_key=None, plex_url=None, plex_token=None,
                                  library=None, yes=False, force=False)
        code = run_init(args, say=said.append, ask=ask, secret=lambda q: next(secrets), env={})
    finally:
        stash.stop()
        plex.stop()
    assert code == 0, "\n".join(said)
    assert questions[0] == "Stash URL [http://127.0.0.1:9999]: "
    assert questions[2].startswith("libraries holding your Stash files")
    assert "[Adult]" in questions[2]
    data = yaml.safe_load((tmp_path / "stashplex.yaml").read_text())
    assert data["plex"]["libraries"] == ["Movies", "Adult"]
    assert data["stash"]["api_key"] == STASH_KEY  # stripped of the pasted line break
    assert data["path_map"] == [{"stash": "/data", "plex": "/media"}]
