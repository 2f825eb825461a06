"""Hostile and broken input: each file is indexed or skipped within the documented limits,
with its reason recorded, and the rest of the folder is indexed."""

import json
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import pytest
from fpdf import FPDF

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import ParseError
from semsearch.indexer.parse import MAX_DOCX_EXPANDED_BYTES, parse_document
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncOptions, SyncReport, sync_folder
from semsearch.settings import Settings
from tests.forked import run_forked

MEGABYTE = 1 << 20
# zlib.crc32(bytes(2**31)): the CRC-32 of the bomb's 2 GiB of zeros, computed once.
CRC_OF_2_GIB_OF_ZEROS = 0x4DBDF21C
ODD_NAME = "odd\nname ✓ é\u0301 \u202eevil\u200b 中文.txt"
GOOD = {
    "good/bread.md": "# Sourdough\n\nFeed the starter daily and bake when it doubles.",
    "good/bike.txt": "Fix a flat tyre: find the puncture and patch the inner tube.",
    "good/page.html": "<html><head><title>Mars</title></head><body><p>The rover landed."
                      "</p></body></html>",
}


def _zeros_deflated(size: int) -> bytes:
    """A raw deflate stream of `size` zero bytes, made in milliseconds: after a full flush
    the compressor's output for each further megabyte of zeros is the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(MEGABYTE)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return piece * (size // MEGABYTE) + compressor.flush(zlib.Z_FINISH)


def _zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip of (name, stored bytes, method, CRC-32, uncompressed size) members."""
    local, central = b"", b""
    for name, data, method, crc, size in members:
        encoded = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0,
                               crc, len(data), size, len(encoded), 0, 0, 0, 0, 0,
                               len(local)) + encoded
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc,
                             len(data), size, len(encoded), 0) + encoded + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                      len(central), len(local), 0)
    return local + central + end


def _docx_bomb(size: int, crc: int = 0) -> bytes:
    """A .docx-looking zip whose document.xml expands to `size` bytes of zeros."""
    types = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/' \
            b'package/2006/content-types"/>'
    return _zip([("[Content_Types].xml", types, 0, zlib.crc32(types), len(types)),
                 ("word/document.xml", _zeros_deflated(size), 8, crc, size)])


def _pdf(text: str, user_password: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 10, text=text)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    return bytes(pdf.output())


def _broken_xref(data: bytes) -> bytes:
    """The PDF with every offset of its cross-reference table pointing nowhere."""
    head, _, tail = data.rpartition(b"xref")
    table, _, rest = tail.partition(b"trailer")
    lines = [b"9999999999" + line[10:] if line.endswith((b" n", b" n ")) else line
             for line in table.split(b"\n")]
    return head + b"xref" + b"\n".join(lines) + b"trailer" + rest


def _build_hostile_folder(root: Path, outside: Path) -> None:
    for relative, text in GOOD.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    (root / "bomb.docx").write_bytes(_docx_bomb(2 << 30, CRC_OF_2_GIB_OF_ZEROS))
    (root / "ratio-bomb.docx").write_bytes(_docx_bomb(64 * MEGABYTE))
    (root / "broken-xref.pdf").write_bytes(_broken_xref(_pdf("Broken xref, real text.")))
    (root / "locked.pdf").write_bytes(_pdf("Top secret.", user_password="secret"))
    depth = 100_000
    (root / "deep.html").write_text(
        "<html><body>" + "<div>" * depth + "deep nested words" + "</div>" * depth
        + "</body></html>", encoding="utf-8")
    with open(root / "huge.txt", "wb") as huge:  # sparse: 200 MB that cost no disk
        huge.truncate(200 * MEGABYTE)
    (root / "latin1.txt").write_bytes("Café crème brûlée, naïve façade.".encode("latin-1"))
    (root / "garbage.txt").write_bytes(bytes(range(256)) * 64)
    (root / ODD_NAME).write_text("A file with an odd name is still searchable.",
                                 encoding="utf-8")
    os.symlink(root / "loop-b.txt", root / "loop-a.txt")
    os.symlink(root / "loop-a.txt", root / "loop-b.txt")
    os.symlink(root, root / "good" / "back-to-top")
    (outside / "secret.txt").write_text("outside the folder", encoding="utf-8")
    os.symlink(outside / "secret.txt", root / "escape.txt")
    os.mkfifo(root / "pipe.txt")  # a read would block forever
    (root / os.fsdecode(b"bad-\xff-name.txt")).write_text("name not UTF-8", encoding="utf-8")


EXPECTED_SKIPS = {
    "bomb.docx": "DOCX expands to 21474837",  # 2 GiB and the small [Content_Types].xml
    "ratio-bomb.docx": "DOCX expands 1005 times",
    "locked.pdf": "password-protected PDF",
    "huge.txt": f"file too large ({200 * MEGABYTE} bytes; limit 50000000)",
    "garbage.txt": "binary file",
    "loop-a.txt": "broken symlink or symlink loop",
    "loop-b.txt": "broken symlink or symlink loop",
    "good/back-to-top/": "symlinked folder, not followed",
    "escape.txt": "symlink leads outside the folder",
    "pipe.txt": "not a regular file (a FIFO, socket or device)",
    "bad-\\xff-name.txt": "file name is not valid UTF-8",
}
# Skipped while listing the folder: reported by the sync, but they are no documents.
LISTING_SKIPS = {"loop-a.txt", "loop-b.txt", "good/back-to-top/", "escape.txt",
                 "bad-\\xff-name.txt"}


@pytest.fixture(scope="module")
def hostile_sync(tmp_path_factory: pytest.TempPathFactory,
                 encoder: Encoder) -> tuple[Path, SyncReport]:
    base = tmp_path_factory.mktemp("hostile")
    root, outside, index_dir = base / "root", base / "outside", base / "index"
    root.mkdir()
    outside.mkdir()
    _build_hostile_folder(root, outside)
    report = sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    return index_dir, report


def test_each_hostile_file_is_skipped_with_its_reason(
    hostile_sync: tuple[Path, SyncReport]
) -> None:
    index_dir, report = hostile_sync
    reasons = {skipped.path: skipped.reason for skipped in report.skipped}
    for path, reason in EXPECTED_SKIPS.items():
        assert reasons.get(path, "").startswith(reason), (path, reasons.get(path))
    # The broken cross-reference table is rebuilt by pypdf, or the file is refused.
    assert "broken-xref.pdf" not in reasons or reasons["broken-xref.pdf"].startswith(
        "corrupt PDF")
    assert set(reasons) <= {*EXPECTED_SKIPS, "broken-xref.pdf", "latin1.txt"}
    store = Store.open_readonly(index_dir)
    try:
        recorded = dict(store.skipped())
    finally:
        store.close()
    assert set(recorded) == set(reasons) - LISTING_SKIPS
    assert all(recorded[path] == reasons[path] for path in recorded)


def test_the_rest_of_the_folder_is_indexed(hostile_sync: tuple[Path, SyncReport]) -> None:
    index_dir, report = hostile_sync
    store = Store.open_readonly(index_dir)
    try:
        indexed = {path: "\n".join(c.text for c in store.document_chunks(row.id))
                   for path, row in store.documents().items() if row.status == "indexed"}
    finally:
        store.close()
    assert set(GOOD) <= set(indexed)
    assert indexed[ODD_NAME] == "A file with an odd name is still searchable."
    assert indexed["deep.html"] == "deep nested words"
    if "latin1.txt" in indexed:  # decoded by detection (which may guess cp1250), or refused
        assert indexed["latin1.txt"].startswith("Café cr")
    if "broken-xref.pdf" in indexed:
        assert "Broken xref, real text." in indexed["broken-xref.pdf"]
    assert report.added == len(indexed)


def test_a_second_sync_changes_nothing(hostile_sync: tuple[Path, SyncReport],
                                       encoder: Encoder) -> None:
    index_dir, first = hostile_sync
    store = Store.open_readonly(index_dir)
    try:
        root = Path(store.meta()["root"])
    finally:
        store.close()
    again = sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    assert (again.added, again.updated, again.removed, again.chunks_encoded) == (0, 0, 0, 0)
    # Every skip is reported on every run; the stored ones with their reason, not read again.
    assert {s.path: s.reason for s in again.skipped} == {s.path: s.reason for s in first.skipped}
    assert again.skipped_unchanged == len(first.skipped) - len(LISTING_SKIPS)


def test_docx_guard_refuses_before_reading() -> None:
    # Declared sizes are checked first: 2 GiB is never inflated (this returns at once).
    with pytest.raises(ParseError, match="over the limit"):
        parse_document("bomb.docx", _docx_bomb(2 << 30, CRC_OF_2_GIB_OF_ZEROS))
    with pytest.raises(ParseError, match="times"):
        parse_document("bomb.docx", _docx_bomb(16 * MEGABYTE))
    assert MAX_DOCX_EXPANDED_BYTES < 2 << 30


def test_default_file_size_limit_is_the_documented_one() -> None:
    assert Settings().max_file_bytes == SyncOptions().max_file_bytes == 50_000_000


def test_unreadable_file_is_skipped_for_an_unprivileged_user(encoder: Encoder) -> None:
    """Root reads every file; the sync runs as `nobody` in a forked child instead."""
    base = Path(tempfile.mkdtemp(prefix="semsearch-perm-"))
    try:
        os.chmod(base, 0o755)
        root, index_dir = base / "root", base / "index"
        root.mkdir()
        (root / "open.txt").write_text("Anyone may read this note.", encoding="utf-8")
        (root / "closed.txt").write_text("Only its owner may read this.", encoding="utf-8")
        os.chmod(root / "closed.txt", 0o000)
        index_dir.mkdir()
        os.chown(index_dir, 65534, 65534)

        def body() -> int:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            report = sync_folder(root, index_dir, EncoderSpec.of(encoder),
                                 SyncOptions())
            (index_dir / "report.json").write_text(json.dumps(report.to_dict()))
            return 0

        assert run_forked(body) == 0
        report = json.loads((index_dir / "report.json").read_text())
        assert report["added"] == 1
        assert report["skipped"] == [{"path": "closed.txt",
                                      "reason": "unreadable: Permission denied"}]
    finally:
        shutil.rmtree(base)
