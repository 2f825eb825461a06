"""Where the browser tests (tests/test_web.py, marker `browser`) find Chromium, and what a
missing one means: a skip on a contributor's machine, a failure where
SEMSEARCH_REQUIRE_BROWSER is set (`.ci/run` sets it, so CI can never skip them silently).

tests/conftest.py calls `require_browser` before any fixture of a browser test is set up,
so a skip costs neither the model nor a server.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_VARIABLE = "SEMSEARCH_CHROMIUM"
REQUIRE_VARIABLE = "SEMSEARCH_REQUIRE_BROWSER"
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")


def chromium_path() -> Path:
    """$SEMSEARCH_CHROMIUM when set (and then only it), else `chromium` on PATH, else
    /usr/bin/chromium. The path may not exist; see `missing_browser`."""
    chosen = os.environ.get(CHROMIUM_VARIABLE, "").strip()
    if chosen:
        return Path(chosen)
    found = shutil.which("chromium")
    return Path(found) if found else DEFAULT_CHROMIUM


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, with how to fix it; None when they can."""
    path = chromium_path()
    if os.environ.get(CHROMIUM_VARIABLE, "").strip():
        where = f"${CHROMIUM_VARIABLE} names {path}"
    else:
        where = f"looked for `chromium` on PATH and at {DEFAULT_CHROMIUM}"
    if not (path.is_file() and os.access(path, os.X_OK)):
        return (f"no Chromium executable ({where}): `apt-get install chromium`, or set "
                f"{CHROMIUM_VARIABLE}=/path/to/chromium")
    if importlib.util.find_spec("playwright") is None:
        return "Playwright's Python package is missing: `pip install -e '.[dev]'`"
    return None


def browser_required() -> bool:
    """Whether a missing browser is a failure ($SEMSEARCH_REQUIRE_BROWSER is 1/true/yes)."""
    return os.environ.get(REQUIRE_VARIABLE, "").strip().lower() in {"1", "true", "yes"}


def require_browser() -> None:
    """Skip the current test without a usable browser, or fail it where one is required."""
    reason = missing_browser()
    if reason is None:
        return
    if browser_required():
        pytest.fail(f"browser test cannot run, and {REQUIRE_VARIABLE} is set: {reason}",
                    pytrace=False)
    pytest.skip(f"browser test: {reason}; "
                f"{REQUIRE_VARIABLE}=1 (as in CI) makes this a failure")
