"""The search page at / (api/static, api/routes/web.py), driven in headless Chromium.

Needs Debian's `chromium` (apt-get install chromium; CI installs it), or the executable
named by $SEMSEARCH_CHROMIUM, and Playwright's Python package, which drives that browser:
Playwright's own browser download is never used. Without Chromium the `browser` tests skip,
saying so, except where SEMSEARCH_REQUIRE_BROWSER=1 (CI) makes that a failure
(tests/chromium.py, checked in tests/conftest.py); `-m "not browser"` deselects them.
Screenshots of every test go to $SEMSEARCH_TEST_ARTIFACTS or tests/artifacts/ (ignored
by git).
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder
from tests.chromium import chromium_path
from tests.live_server import start_server, stop_server

API_KEY = "web-key-4711"
ARTIFACTS = Path(os.environ.get("SEMSEARCH_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parent / "artifacts")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
WAIT_MS = 60_000  # bound on every wait in the page; a busy machine only makes it slower

# Markup that must show up as text: run as HTML, it would set window.__xss.
EVIL = ('<script>window.__xss = "script"</script> <img src=x onerror="window.__xss = \'img\'">'
        " Bitter orange marmalade needs a long slow boil.")
DOCS = {
    "kitchen/bread.md": "# Sourdough bread\n\nA sourdough starter ferments flour and water. "
    "Feed the starter daily and bake when it doubles in size.",
    "garage/bike.txt": "Bicycle repair.\n\nTo fix a flat tyre, remove the wheel, find the "
    "puncture, patch the inner tube and pump it back up. Check the tyre for thorns first.",
    "notes/space.md": "# Mars rovers\n\nThe Perseverance rover landed in Jezero crater in 2021 "
    "to look for signs of ancient microbial life.",
    "notes/roses.txt": "Pruning roses.\n\nCut rose bushes back in late winter, just above an "
    "outward facing bud.",
    "old/roses.md": "# Old rose notes\n\nPrune climbing roses after they flower in summer.",
    "jars/marmalade.txt": EVIL,
}
OLD_MTIME = 1_000_000_000.0  # 2001: old/roses.md; every other file is from 2023
NEW_MTIME = 1_700_000_000.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web_index(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    root = tmp_path_factory.mktemp("web-docs")
    for path, text in DOCS.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        mtime = OLD_MTIME if path.startswith("old/") else NEW_MTIME
        os.utime(target, (mtime, mtime))
    index_dir = tmp_path_factory.mktemp("web-index")
    sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    return index_dir


@pytest.fixture(scope="module")
def server(web_index: Path) -> Iterator[str]:
    process, base = start_server(web_index, {"SEMSEARCH_API_KEY": API_KEY})
    yield base
    stop_server(process)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium with a fresh profile, driven by Playwright. Its tests carry
    the `browser` marker: tests/conftest.py skips them, or fails them in CI, without it."""
    chromium = str(chromium_path())
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=chromium,
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1100, "height": 850})
        yield context
        context.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new tab (its own sessionStorage); a screenshot of it is kept after the test."""
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    tab.close()
    assert errors == [], "the page's script failed"


def _open_with_key(page: Any, base: str) -> None:
    """Load the page as a user who already gave the key in this tab."""
    from playwright.sync_api import expect

    page.goto(base + "/")
    page.evaluate("key => sessionStorage.setItem('semsearch.apiKey', key)", API_KEY)
    page.reload()
    expect(page.locator("#stats")).to_contain_text("documents")


def _search(page: Any, query: str) -> None:
    from playwright.sync_api import expect

    page.fill("#query", query)
    page.press("#query", "Enter")
    expect(page.locator("#status")).to_contain_text(f"for “{query}”")


def _paths(page: Any) -> list[str]:
    return [str(text) for text in page.locator(".result .path").all_inner_texts()]


def _focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.className"))


def _api(base: str, body: dict[str, object]) -> dict[str, Any]:
    response = httpx.post(base + "/search", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_the_page_and_its_assets_need_no_key_but_the_data_does(server: str) -> None:
    page = httpx.get(server + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/static/app.js"' in page.text
    assert "innerHTML" not in httpx.get(server + "/static/app.js").text
    assert httpx.get(server + "/static/app.css").headers["content-type"].startswith("text/css")
    for missing in ("/static/nope.js", "/static/index.html", "/static/..%2Fweb.py"):
        assert httpx.get(server + missing).status_code == 404, missing
    assert httpx.post(server + "/search", json={"query": "bread"}).status_code == 401


@pytest.mark.browser
def test_enter_searches_and_shows_the_highlighted_sentence(page: Any, server: str) -> None:
    from playwright.sync_api import expect

    _open_with_key(page, server)
    assert _focused(page) == "query"
    query = "how do I mend a punctured bike tyre"
    page.keyboard.type(query)
    page.keyboard.press("Enter")
    first = page.locator(".result").first
    expect(first.locator(".path")).to_have_text("garage/bike.txt")
    expected = _api(server, {"query": query, "k": 10})["results"][0]["highlights"][0]["text"]
    expect(first.locator(".snippet mark")).to_have_text(expected)
    expect(first.locator(".score")).to_contain_text("fused")
    expect(page.locator("#status")).to_contain_text("results for")
    assert "q=how+do+I+mend" in page.url


@pytest.mark.browser
def test_the_mode_changes_the_ranking_kind(page: Any, server: str) -> None:
    from playwright.sync_api import expect

    _open_with_key(page, server)
    for mode, kind in (("lexical", "bm25"), ("dense", "cosine"), ("hybrid", "fused")):
        page.select_option("#mode", mode)
        _search(page, "sourdough starter")
        expect(page.locator(".result .score").first).to_contain_text(kind)
        expect(page.locator(".result .path").first).to_have_text("kitchen/bread.md")
        assert f"mode={mode}" in page.url


@pytest.mark.browser
def test_filters_narrow_the_results(page: Any, server: str) -> None:
    from playwright.sync_api import expect

    _open_with_key(page, server)
    page.fill("#k", "20")
    _search(page, "pruning roses")
    assert {"notes/roses.txt", "old/roses.md"} <= set(_paths(page))

    page.fill("#path-prefix", "notes/")
    _search(page, "pruning roses")
    assert _paths(page) and all(path.startswith("notes/") for path in _paths(page))

    page.fill("#path-prefix", "")
    page.fill("#file-types", "md")
    _search(page, "pruning roses")
    assert _paths(page) and all(path.endswith(".md") for path in _paths(page))
    assert "old/roses.md" in _paths(page)

    page.fill("#modified-after", "2010-01-01")
    _search(page, "pruning roses")
    expect(page.locator(".result").first).to_be_visible()
    assert "old/roses.md" not in _paths(page)

    bodies: list[Any] = []
    page.on("request", lambda request: bodies.append(request.post_data_json)
            if request.url.endswith("/search") else None)
    page.check("#by-document")
    _search(page, "roses")
    assert bodies[-1]["group_by"] == "document"
    assert bodies[-1]["filters"] == {"file_types": ["md"], "modified_after": "2010-01-01T00:00:00"}
    assert "by=document" in page.url


@pytest.mark.browser
def test_keyboard_moves_opens_and_closes_a_document(page: Any, server: str) -> None:
    from playwright.sync_api import expect

    _open_with_key(page, server)
    _search(page, "Mars rover landing crater")
    titles = page.locator(".result-title")
    expect(titles.first).to_have_text("Mars rovers")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") == "Mars rovers"
    page.keyboard.press("j")
    second = str(page.evaluate("document.activeElement.textContent"))
    assert second != "Mars rovers"
    page.keyboard.press("k")
    page.keyboard.press("ArrowUp")
    assert _focused(page) == "query"
    page.keyboard.press("ArrowDown")

    page.keyboard.press("Enter")
    dialog = page.locator("#document-view")
    expect(dialog).to_be_visible()
    expect(page.locator("#document-title")).to_have_text("Mars rovers")
    expect(page.locator("#document-meta")).to_contain_text("notes/space.md")
    highlight = page.locator(".result .snippet mark").first.inner_text()
    expect(page.locator("#document-text mark")).to_have_text(highlight)
    expect(page.locator("#document-text")).to_contain_text("ancient microbial life")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.textContent") == "Mars rovers"

    page.keyboard.press("j")
    page.keyboard.press("o")
    expect(dialog).to_be_visible()
    expect(page.locator("#document-title")).to_have_text(second)
    page.click("#document-close")
    expect(dialog).to_be_hidden()


@pytest.mark.browser
def test_a_401_asks_for_the_key_and_then_searches(page: Any, server: str) -> None:
    from playwright.sync_api import expect

    sent: list[str | None] = []
    page.on("request", lambda request: sent.append(request.headers.get("authorization"))
            if request.url.endswith("/search") else None)
    page.goto(server + "/")
    panel = page.locator("#key-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#key-message")).to_contain_text("needs an API key")
    assert _focused(page) == "api-key"

    page.keyboard.type("not-the-key")
    page.keyboard.press("Enter")
    expect(page.locator("#key-message")).to_contain_text("refused")
    expect(panel).to_be_visible()

    page.fill("#api-key", API_KEY)
    page.press("#api-key", "Enter")
    expect(panel).to_be_hidden()
    expect(page.locator("#stats")).to_contain_text(f"{len(DOCS)} documents")
    _search(page, "sourdough starter")
    expect(page.locator(".result .path").first).to_have_text("kitchen/bread.md")
    assert page.evaluate("sessionStorage.getItem('semsearch.apiKey')") == API_KEY
    assert sent[-1] == f"Bearer {API_KEY}"

    # A key that stops working (the server's key changed) brings the prompt back.
    page.evaluate("sessionStorage.setItem('semsearch.apiKey', 'stale')")
    page.fill("#query", "Mars")
    page.press("#query", "Enter")
    expect(panel).to_be_visible()
    page.fill("#api-key", API_KEY)
    page.press("#api-key", "Enter")
    expect(page.locator("#status")).to_contain_text("for “Mars”")


@pytest.mark.browser
def test_errors_are_shown_with_the_servers_reason(page: Any, server: str) -> None:
    from playwright.sync_api import expect

    _open_with_key(page, server)
    error = page.locator("#error")
    page.fill("#file-types", "../etc")
    page.fill("#query", "bread")
    page.press("#query", "Enter")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Error 422")
    expect(error).to_contain_text("filters.file_types")
    expect(error).to_contain_text("not a file extension")

    page.fill("#file-types", "")
    page.fill("#k", "1000")
    page.press("#query", "Enter")
    expect(error).to_contain_text(re.compile(r"Error 422.*\bk: .*less than or equal to 100"))

    page.fill("#k", "5")
    page.press("#query", "Enter")
    expect(error).to_be_hidden()
    expect(page.locator(".result").first).to_be_visible()

    page.fill("#query", "   ")
    page.press("#query", "Enter")
    expect(error).to_have_text("Type something to search for.")

    # The server gone away: the browser's request fails, and the page says so.
    page.route("**/search", lambda route: route.abort("connectionrefused"))
    page.fill("#query", "bread")
    page.press("#query", "Enter")
    expect(error).to_contain_text("Cannot reach the semsearch server")
    page.unroute("**/search")


@pytest.mark.browser
def test_markup_in_documents_is_shown_as_text(page: Any, server: str) -> None:
    from playwright.sync_api import expect

    _open_with_key(page, server)
    page.select_option("#mode", "lexical")
    _search(page, "marmalade")
    first = page.locator(".result").first
    expect(first.locator(".path")).to_have_text("jars/marmalade.txt")
    expect(first.locator(".snippet")).to_contain_text('<script>window.__xss = "script"</script>')
    expect(first.locator(".snippet")).to_contain_text("<img src=x onerror=")
    first.locator(".result-title").click()
    text = page.locator("#document-text")
    expect(text).to_contain_text("<img src=x onerror=")
    expect(text).to_contain_text("Bitter orange marmalade")
    assert page.locator("#results img, #results script").count() == 0
    assert page.locator("#document-view img, #document-view script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
