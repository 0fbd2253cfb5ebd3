import compileall
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    """Byte-compile stashplex once: the suite starts it in processes of its own over and
    over (the crash trials alone over a hundred times), and with `PYTHONDONTWRITEBYTECODE`
    set each would compile it again."""
    compileall.compile_dir(ROOT / "reconciler", quiet=1)


@pytest.fixture
def pathlib_root() -> Path:
    return ROOT
