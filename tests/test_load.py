"""benchmarks/load_test.py, short: 32 concurrent clients for 10 s against a live server
while syncs re-encode edited files; it must see no failed request."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_short_load_run_has_no_errors(tmp_path: Path, encoder: Encoder) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    root.mkdir()
    for i in range(30):
        (root / f"note{i:02d}.md").write_text(
            f"# Note {i}\n\nA note about topic {i % 5}: sourdough, bicycles, Mars rovers, "
            f"gardening or budgets, number {i}.\n", encoding="utf-8")
    sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSEARCH_")}
    result = subprocess.run(
        [sys.executable, "benchmarks/load_test.py", "--index-dir", str(index_dir),
         "--modify-files", "--clients", "32", "--duration", "10", "--sync-every", "3",
         "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == 0 and report["clients"] == 32
    assert report["routes"]["POST /search"]["requests"] >= 32
    assert report["syncs_started"] >= 1
    # The syncs had work to do: the load test edited the served folder's files.
    assert "Load test edit" in "".join(p.read_text(encoding="utf-8") for p in root.glob("*.md"))
