"""One sync at a time in a background thread, with its progress and last result."""

import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from semsearch.indexer.errors import IndexerError, IndexLockedError
from semsearch.indexer.index_dir import sync_running
from semsearch.indexer.sync import SyncJob, SyncProgress, SyncReport

log = logging.getLogger(__name__)


@dataclass
class SyncStatus:
    """What the background sync is doing, or last did."""

    running: bool = False
    path: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    files_done: int = 0
    files_total: int = 0
    chunks_encoded: int = 0
    last_report: SyncReport | None = None
    last_error: str | None = None
    # The generation searches read now (filled in by the API from the store).
    generation: int | None = None


class BackgroundSync:
    """Runs a `SyncJob` in a daemon thread; a second start while one runs is refused.

    `start(root)` runs `job` with that root.
    """

    def __init__(self, job: SyncJob) -> None:
        self.job = job
        self.index_dir = job.index_dir
        self._lock = threading.Lock()
        self._status = SyncStatus()
        self._thread: threading.Thread | None = None

    def status(self) -> SyncStatus:
        """This process's sync; `running` is also set while another process syncs."""
        with self._lock:
            status = SyncStatus(**vars(self._status))
        status.running = status.running or sync_running(self.index_dir)
        return status

    def start(self, root: Path) -> SyncStatus:
        """Start syncing `root`.

        Raises:
            IndexLockedError: a sync already runs on this index, here or in another
                process (another server worker, `semsearch index`).
        """
        with self._lock:
            if self._status.running or sync_running(self.index_dir):
                raise IndexLockedError(self.index_dir)
            self._status = SyncStatus(running=True, path=str(root), started_at=time.time(),
                                      last_report=self._status.last_report)
            self._thread = threading.Thread(target=self._run, args=(root,), daemon=True,
                                            name="semsearch-sync")
            self._thread.start()
            return SyncStatus(**vars(self._status))

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _progress(self, event: SyncProgress) -> None:
        with self._lock:
            self._status.files_done = event.files_done
            self._status.files_total = event.files_total
            self._status.chunks_encoded = event.chunks_encoded

    def _run(self, root: Path) -> None:
        report, error = None, None
        try:
            report = replace(self.job, root=root).run(self._progress)
        except IndexerError as failure:
            error = str(failure)
        except Exception as failure:  # the thread must record, not vanish
            log.exception("background sync of %s failed", root)
            error = f"{type(failure).__name__}: {failure}"
        with self._lock:
            self._status.running = False
            self._status.finished_at = time.time()
            self._status.last_report = report or self._status.last_report
            self._status.last_error = error
