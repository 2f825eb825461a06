"""cli: the documented `--json` output of `semsearch index` and `semsearch stats`, and
the exit status of errors. Runs in process through Typer's CliRunner."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.index_dir import sync_lock
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.settings import DEFAULT_MODEL


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("SEMSEARCH_INDEX_DIR", "SEMSEARCH_MODEL", "SEMSEARCH_DEVICE",
                 "SEMSEARCH_CHUNK_TOKENS", "SEMSEARCH_CHUNK_OVERLAP", "SEMSEARCH_BATCH_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("Cats sleep most of the day.", encoding="utf-8")
    (root / "b.md").write_text("# Dogs\n\nDogs like long walks.\n", encoding="utf-8")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really")
    return root


def _json(output: str) -> dict:
    return json.loads(output)


def test_index_and_stats_json(runner: CliRunner, folder: Path, index_dir: Path) -> None:
    result = runner.invoke(app, ["index", str(folder), "--index-dir", str(index_dir), "--json",
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = _json(result.stdout)
    assert {"added", "updated", "unchanged", "removed", "skipped", "chunks_written",
            "seconds"} <= set(report)
    assert report["added"] == 2
    assert (report["updated"], report["unchanged"], report["removed"]) == (0, 0, 0)
    assert len(report["skipped"]) == 1
    skipped = report["skipped"][0]
    assert {"path", "reason"} <= set(skipped)
    assert skipped["path"] == "broken.pdf"
    assert skipped["reason"].startswith("corrupt PDF")
    assert report["chunks_written"] >= 2
    assert isinstance(report["seconds"], int | float) and report["seconds"] >= 0

    # A second run changes nothing (and loads no model); the file it cannot index is
    # still reported, with its reason, and counted among neither the unchanged nor the new.
    again = runner.invoke(app, ["index", str(folder), "--index-dir", str(index_dir), "--json"])
    assert again.exit_code == 0, again.output
    report = _json(again.stdout)
    assert report["unchanged"] == 2
    assert report["added"] == report["updated"] == report["removed"] == 0
    assert report["chunks_written"] == 0 and report["skipped"] == [skipped]
    assert report["skipped_unchanged"] == 1

    result = runner.invoke(app, ["stats", "--index-dir", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    stats = _json(result.stdout)
    assert {"documents", "chunks", "model", "dimension"} <= set(stats)
    assert stats["documents"] == 2
    assert stats["chunks"] >= 2
    assert stats["model"] == DEFAULT_MODEL
    assert stats["dimension"] == 384

    # The human-readable forms work too.
    result = runner.invoke(app, ["stats", "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert "documents" in result.stdout and "broken.pdf" in result.stdout
    result = runner.invoke(app, ["index", str(folder), "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert "unchanged 2" in result.stdout and "skipped 1 (1 unchanged)" in result.stdout
    assert "skipped broken.pdf: corrupt PDF" in result.stdout


def test_version(runner: CliRunner) -> None:
    import subprocess
    import sys

    import semsearch

    expected = f"semsearch {semsearch.__version__}"
    assert semsearch.__version__ != "0.0.0"  # installed: the version comes from its metadata
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.stdout.strip()) == (0, expected)
    module = subprocess.run([sys.executable, "-m", "semsearch", "--version"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert (module.returncode, module.stdout.strip()) == (0, expected), module.stderr


def test_index_dir_from_environment(runner: CliRunner, folder: Path, index_dir: Path,
                                    encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    sync_folder(folder, index_dir, EncoderSpec.of(encoder), SyncOptions())
    monkeypatch.setenv("SEMSEARCH_INDEX_DIR", str(index_dir))
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    assert _json(result.stdout)["documents"] == 2


def test_stats_on_missing_index_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["stats", "--index-dir", str(missing), "--json"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "semsearch index" in message
    assert result.stdout == ""
    assert not missing.exists()


def test_index_refuses_another_model(runner: CliRunner, folder: Path, index_dir: Path,
                                     encoder: Encoder) -> None:
    sync_folder(folder, index_dir, EncoderSpec.of(encoder), SyncOptions())
    # Refused before any attempt to load the other model (so nothing is downloaded).
    result = runner.invoke(app, ["index", str(folder), "--index-dir", str(index_dir),
                                 "--model", "example/not-a-real-model", "--json"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "--rebuild" in message
    assert result.stdout == ""


def test_locked_index_exits_2(runner: CliRunner, folder: Path, index_dir: Path) -> None:
    with sync_lock(index_dir):
        result = runner.invoke(app, ["index", str(folder), "--index-dir", str(index_dir)])
    assert result.exit_code == 2
    assert "Another sync" in " ".join(result.output.split())


def test_index_missing_folder_is_a_usage_error(runner: CliRunner, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["index", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert not (tmp_path / ".semsearch").exists()
