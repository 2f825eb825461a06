"""Make docs/screenshot.png: the search page over an index of corpus/, in headless Chromium.

    semsearch index corpus --index-dir /tmp/web-idx
    python docs/screenshot.py --index-dir /tmp/web-idx

Needs Debian's `chromium` and the `playwright` Python package (the dev extra).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
QUERY = "What should I pack for a day walk in case I am stuck outside overnight?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSEARCH_")}
    env["SEMSEARCH_INDEX_DIR"] = str(args.index_dir)
    server = subprocess.Popen([sys.executable, "-m", "semsearch", "serve",
                               "--port", str(port)], cwd=REPO, env=env,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        _shoot(base, args.out)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"wrote {args.out}")


def _shoot(base: str, out: Path) -> None:
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"],
            viewport={"width": 1100, "height": 860}, device_scale_factor=1)
        page = context.new_page()
        page.goto(base + "/")
        expect(page.locator("#stats")).to_contain_text("documents", timeout=60_000)
        page.check("#by-document")
        page.fill("#query", QUERY)
        page.press("#query", "Enter")
        expect(page.locator(".result").first).to_be_visible(timeout=60_000)
        page.keyboard.press("ArrowDown")
        page.screenshot(path=str(out))
        context.close()


if __name__ == "__main__":
    main()
