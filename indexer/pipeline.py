"""Run a generator ahead of its consumer in a background thread, through a bounded queue.

The sync reads, parses and chunks files in such a thread while the calling thread
encodes what came before: the model releases the GIL while it computes, so the two
overlap. Errors cross over: whatever the producer raises is raised again in the
consumer, and a consumer that stops early stops the producer. Nothing waits forever.
"""

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# How often a producer blocked on a full queue looks whether the consumer has gone.
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _Done:
    pass


def prefetch(items: Iterator[T], depth: int = 4, name: str = "prefetch") -> Iterator[T]:
    """Yield what `items` yields, in order, computed ahead by a thread.

    At most `depth` items wait in the queue, which bounds the memory held ahead. An
    exception raised by `items` is raised here, at the point the consumer reaches it.
    When the consumer stops early (an exception, a `break`, `close()`), the producer is
    told to stop at its next item and is joined.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    waiting: queue.Queue[T | _Failed | _Done] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: T | _Failed | _Done) -> bool:
        """Queue `item` unless the consumer has gone; False when it has."""
        while not stop.is_set():
            try:
                waiting.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            offer(_Failed(error))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator's own `finally` runs in this thread
                close()
        offer(_Done())

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = waiting.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
