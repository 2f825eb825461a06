"""tests/chromium.py: without Chromium the browser tests skip, saying how to run them, and
with SEMSEARCH_REQUIRE_BROWSER=1 (CI) they fail instead. Each case runs pytest on one
browser test of tests/test_web.py in a subprocess, with $SEMSEARCH_CHROMIUM pointed at a
file that does not exist."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM_VARIABLE, REQUIRE_VARIABLE

REPO = Path(__file__).resolve().parents[1]
ONE_BROWSER_TEST = "test_enter_searches_and_shows_the_highlighted_sentence"

pytestmark = pytest.mark.slow


def _pytest_without_chromium(tmp_path: Path,
                             require: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if key not in (REQUIRE_VARIABLE, "PYTEST_ADDOPTS")}
    env[CHROMIUM_VARIABLE] = str(tmp_path / "no-such-chromium")
    if require is not None:
        env[REQUIRE_VARIABLE] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_web.py", "-k", ONE_BROWSER_TEST,
         "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_missing_browser_skips_and_says_how_to_get_one(tmp_path: Path) -> None:
    result = _pytest_without_chromium(tmp_path, require=None)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 skipped" in output and "passed" not in output and "error" not in output
    assert f"{CHROMIUM_VARIABLE} names {tmp_path / 'no-such-chromium'}" in output
    assert "`apt-get install chromium`" in output
    assert f"{REQUIRE_VARIABLE}=1 (as in CI) makes this a failure" in output


def test_a_missing_browser_fails_where_one_is_required(tmp_path: Path) -> None:
    result = _pytest_without_chromium(tmp_path, require="1")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 error" in output and "skipped" not in output
    assert f"browser test cannot run, and {REQUIRE_VARIABLE} is set: no Chromium " \
           f"executable (${CHROMIUM_VARIABLE} names {tmp_path / 'no-such-chromium'})" in output
