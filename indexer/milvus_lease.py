"""One sync at a time per Milvus store: a lease held in the store's manifest collection.

Milvus has no transactions and no conditional write, so the lease is taken the way a
register-only mutual exclusion does it: each sync writes its own claim (a row keyed by a
random owner id, with its host, pid and an expiry), then reads every claim back with
Strong consistency, and holds the lease only if it sees no other live claim; otherwise it
deletes its claim and refuses with `MilvusLockedError`. Syncs starting together can all
see each other's claims: each then withdraws and tries again after a random pause, a few
times, so that one of them usually proceeds (or all refuse: run one again). They cannot
both proceed: if the first one's read missed the second one's claim, that claim was
written after it, so the second one's read, later still, sees the first one's.

A claim is live until it expires (LEASE_SECONDS after its last renewal, by the clock of
the machine that reads it) or, on the same host, until its process is gone: a killed
sync's lease is taken over at once on its own machine, after LEASE_SECONDS elsewhere.
The holder renews its claim every RENEW_SECONDS from a thread, and checks it still holds
the lease before each commit (`check`). What this does not guarantee, honestly: a holder
paused longer than LEASE_SECONDS (a stopped VM) between that check and its commit can
commit after another sync took over; clocks that disagree by more than the lease
shorten or lengthen it.
"""

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from semsearch.indexer.errors import IndexerError, IndexLockedError
from semsearch.indexer.milvus_schema import PLACEHOLDER
from semsearch.indexer.milvus_store import STATE_ROW, MilvusStore, MilvusTarget, row_key

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
RENEW_SECONDS = LEASE_SECONDS / 4
# Tries when syncs start together and see each other's fresh claims; the pause between
# two, in seconds, is drawn at random so that one of them goes first.
RACE_TRIES = 4
RACE_PAUSE = (0.05, 1.0)


@dataclass(frozen=True)
class Claim:
    """One sync's claim on a store: who, and until when (seconds since the epoch)."""

    owner: str
    host: str
    pid: int
    expires: float

    def live(self, now: float) -> bool:
        """Whether the claim still holds: not expired, and on this host its process
        runs."""
        if self.expires < now:
            return False
        return self.host != socket.gethostname() or _running(self.pid)


class MilvusLockedError(IndexLockedError):
    """Another sync holds the Milvus store's lease."""

    def __init__(self, target: MilvusTarget, holder: Claim) -> None:
        until = datetime.fromtimestamp(holder.expires, UTC).strftime("%H:%M:%S UTC")
        IndexerError.__init__(
            self, f"Another sync is already running on Milvus collection "
            f"{target.collection!r} at {target.uri} (host {holder.host}, pid {holder.pid}); "
            f"wait for it to finish. If that process is gone, its lease expires at {until}.")
        self.index_dir = Path(f"{target.uri}#{target.collection}")


class MilvusLease:
    """The lease of one sync on `store`; `acquire`, then `check` before each commit and
    `release` at the end (or use it as a context manager)."""

    def __init__(self, store: MilvusStore, seconds: float = LEASE_SECONDS) -> None:
        self.store, self.seconds = store, seconds
        self.owner = uuid.uuid4().hex
        self.key = row_key("lease", self.owner)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> "MilvusLease":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lease, or raise.

        Raises:
            MilvusLockedError: another live claim is there, before or after ours.
        """
        self.store.create_manifest()
        for attempt in range(RACE_TRIES):
            self._refuse_if_held(self.claims())
            self._write()
            try:
                self._refuse_if_held(self.claims(), withdraw=True)
                break
            except MilvusLockedError:
                if attempt == RACE_TRIES - 1:
                    raise
                time.sleep(random.uniform(*RACE_PAUSE))  # noqa: S311 - not a secret
        self._renewer = threading.Thread(target=self._renew, daemon=True,
                                         name="semsearch-milvus-lease")
        self._renewer.start()

    def check(self) -> None:
        """Raise unless this sync still holds the lease (before a commit).

        Raises:
            MilvusLockedError: our claim expired and another sync took the store.
        """
        claims = self.claims()
        self._refuse_if_held(claims)
        if not any(claim.owner == self.owner for claim in claims):
            self._write()  # ours lapsed unseen by anyone: take it again, then look again
            self._refuse_if_held(self.claims(), withdraw=True)

    def release(self) -> None:
        """Stop renewing and delete our claim."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self.store.client.delete(self.store.manifest_collection, filter=f"pk == {self.key}")

    def claims(self) -> list[Claim]:
        """Every claim on the store, live or not."""
        rows = self.store.client.query(
            self.store.manifest_collection, filter=f"pk != {STATE_ROW}",
            output_fields=["state"], consistency_level="Strong")
        return [Claim(**json.loads(row["state"])["lease"]) for row in rows]

    def _refuse_if_held(self, claims: list[Claim], withdraw: bool = False) -> None:
        now = time.time()
        others = [claim for claim in claims if claim.owner != self.owner]
        holders = [claim for claim in others if claim.live(now)]
        if holders:
            if withdraw:
                self.store.client.delete(self.store.manifest_collection,
                                         filter=f"pk == {self.key}")
            raise MilvusLockedError(self.store.target, holders[0])
        stale = [row_key("lease", claim.owner) for claim in others]
        if stale:  # dead owners' claims: taken over
            self.store.client.delete(self.store.manifest_collection, filter=f"pk in {stale}")

    def _write(self) -> None:
        claim = Claim(self.owner, socket.gethostname(), os.getpid(),
                      time.time() + self.seconds)
        self.store.client.upsert(self.store.manifest_collection, [
            {"pk": self.key, "state": json.dumps({"lease": asdict(claim)}),
             "placeholder": PLACEHOLDER}])

    def _renew(self) -> None:
        while not self._stop.wait(min(RENEW_SECONDS, self.seconds / 4)):
            try:
                self._write()
            except Exception:  # a network blip: the next renewal, or `check`, tells
                log.warning("could not renew the Milvus sync lease", exc_info=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
