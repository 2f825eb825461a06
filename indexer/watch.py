"""Keep an index in step with a folder while it changes: `semsearch watch`.

File events (watchdog: inotify, FSEvents or ReadDirectoryChangesW) only say *that*
something changed. Each burst of changes is answered by the ordinary `sync_folder`, so a
watched index gets the same incremental work, the same lock and the same crash safety as
`semsearch index`. A burst ends after a quiet period (`debounce_s`), or after `max_wait_s`
of unbroken changes, so that a file written every second still gets indexed.
"""

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from semsearch.indexer.encoders.spec import LoadedEncoders
from semsearch.indexer.errors import IndexLockedError
from semsearch.indexer.sync import SyncJob, SyncProgress, SyncReport
from semsearch.indexer.walk import IGNORE_FILE, load_ignore_spec

log = logging.getLogger(__name__)

# Reading a file raises "opened" and "closed_no_write" events: reacting to those would
# make every sync trigger the next one.
_CHANGE_EVENTS = frozenset({"created", "modified", "deleted", "moved"})
# How often the loop wakes to look at the clock and the stop flag.
_TICK_S = 0.1


@dataclass(frozen=True)
class WatchOptions:
    debounce_s: float = 1.0  # quiet time after the last change before a sync
    max_wait_s: float = 30.0  # most time a sync waits behind a stream of changes
    retry_s: float = 5.0  # wait after finding the index locked by another process


@dataclass(frozen=True)
class WatchSync:
    """One sync run by the watcher: why it ran and what it did."""

    changed: tuple[str, ...]  # paths relative to the folder; empty for the first sync
    report: SyncReport


class _ChangeCollector(FileSystemEventHandler):
    """Gathers relevant changed paths from watchdog's thread for the watching loop."""

    def __init__(self, root: Path, index_dir: Path) -> None:
        self.root, self.index_dir = root, index_dir
        self.spec = load_ignore_spec(root)
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._first = self._last = 0.0

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGE_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # the changes of its files come as their own events
        paths = [_as_str(event.src_path), _as_str(getattr(event, "dest_path", "") or "")]
        relevant = [relative for relative in map(self._relevant, paths) if relative]
        if not relevant:
            return
        now = time.monotonic()
        with self._lock:
            if not self._paths:
                self._first = now
            self._last = now
            self._paths.update(relevant)

    def _relevant(self, path: str) -> str | None:
        """The path relative to the folder when a change there can alter the index."""
        if not path:
            return None
        absolute = Path(path)
        if absolute == self.index_dir or absolute.is_relative_to(self.index_dir):
            return None  # the sync's own writes
        try:
            relative = absolute.relative_to(self.root)
        except ValueError:
            return None
        if relative.as_posix() == IGNORE_FILE:
            self.spec = load_ignore_spec(self.root)
            return IGNORE_FILE
        if not relative.parts or any(part.startswith(".") for part in relative.parts):
            return None  # hidden files and folders are never indexed
        posix = relative.as_posix()
        if self.spec.match_file(posix) or self.spec.match_file(posix + "/"):
            return None
        return posix

    def take_burst(self, options: WatchOptions) -> tuple[str, ...] | None:
        """The changed paths once their burst has ended, else None."""
        now = time.monotonic()
        with self._lock:
            if not self._paths:
                return None
            if now - self._last < options.debounce_s and now - self._first < options.max_wait_s:
                return None
            paths = tuple(sorted(self._paths))
            self._paths.clear()
            return paths


def _as_str(path: str | bytes) -> str:
    return os.fsdecode(path)


def watch_folder(
    job: SyncJob,
    stop: threading.Event,
    options: WatchOptions = WatchOptions(),
    on_sync: Callable[[WatchSync], None] | None = None,
    on_progress: Callable[[SyncProgress], None] | None = None,
) -> int:
    """Run `job` now and after every burst of changes in its folder, until `stop`.

    The model is loaded once, on the first sync that has something to encode, and kept.
    A sync that finds the index locked by another process is retried later.

    Returns:
        How many syncs ran.

    Raises:
        IndexMismatchError: the index holds another folder or was built another way.
        IndexerError: any other failure of a sync.
    """
    root, index_dir = job.root.resolve(), job.index_dir.resolve()
    # The encoder that the first sync loads is kept for the next ones.
    job = replace(job, root=root, index_dir=index_dir,
                  encoder=replace(job.encoder, keep=LoadedEncoders()))
    changes = _ChangeCollector(root, index_dir)
    observer = Observer()
    # Watch before the first sync, so that nothing changed during it is missed.
    observer.schedule(changes, str(root), recursive=True)
    observer.start()
    syncs = 0
    try:
        pending: tuple[str, ...] | None = ()  # () is the first sync, before any event
        while not stop.is_set():
            if pending is None:
                pending = changes.take_burst(options)
            if pending is None:
                stop.wait(_TICK_S)
                continue
            try:
                report = job.run(on_progress)
            except IndexLockedError as error:  # another process syncs: try again later
                log.warning("%s; trying again in %.0f s", error, options.retry_s)
                stop.wait(options.retry_s)
                continue
            syncs += 1
            log.info("synced %s after %d change(s): %s", root, len(pending), summary(report))
            if on_sync is not None:
                on_sync(WatchSync(pending, report))
            pending = None
    finally:
        observer.stop()
        observer.join(timeout=10)
    return syncs


def summary(report: SyncReport) -> str:
    """One line saying what a sync did, for logs and the CLI."""
    return (f"added {report.added}, updated {report.updated}, removed {report.removed}, "
            f"renamed {report.renamed}, skipped {len(report.skipped)} in {report.seconds:.1f} s")


def stop_on_signals(stop: threading.Event, on_first: Callable[[], None]) -> None:
    """SIGINT and SIGTERM set `stop`: the running sync finishes, then the watcher ends.

    A second signal raises KeyboardInterrupt at once; that is safe too, because a sync
    killed anywhere leaves the previous index readable and its finished work staged.
    Call from the main thread only.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        on_first()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
