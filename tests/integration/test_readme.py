"""The README's sample outputs are what the code prints (tools/readme_samples.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_samples_are_what_stashplex_prints():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "readme_samples.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
