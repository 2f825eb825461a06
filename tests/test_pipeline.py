"""`prefetch`: a generator run ahead in a thread; order kept, errors and early stops cross."""

import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext

import pytest

from semsearch.indexer.encoders import Encoder
from semsearch.indexer.pipeline import prefetch


def test_items_come_in_order() -> None:
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))
    assert list(prefetch(iter([]), depth=1)) == []


def test_the_producer_runs_in_another_thread() -> None:
    consumer = threading.get_ident()

    def where() -> Iterator[int]:
        yield threading.get_ident()

    assert list(prefetch(where())) != [consumer]


def test_a_producer_error_is_raised_in_the_consumer_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("parser exploded on file 3")

    received: list[int] = []
    raised: list[BaseException] = []

    def consume() -> None:
        try:
            for item in prefetch(failing(), depth=1):
                received.append(item)
        except ValueError as error:
            raised.append(error)

    # In a thread with a generous bound: a lost error would hang the consumer, not fail.
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    consumer.join(timeout=60)
    assert not consumer.is_alive(), "the consumer hangs: the producer's error was lost"
    assert received == [1, 2]
    assert [str(error) for error in raised] == ["parser exploded on file 3"]


def test_the_producer_runs_at_most_depth_items_ahead() -> None:
    produced = []

    def counting() -> Iterator[int]:
        for i in range(50):
            produced.append(i)
            yield i

    items = prefetch(counting(), depth=2)
    assert next(items) == 0
    time.sleep(0.5)  # time to run ahead, were it unbounded
    # The producer fills the queue (2), holds one more it cannot put, and waits.
    assert len(produced) <= 1 + 2 + 1
    items.close()


@pytest.mark.parametrize("stop", ["break", "raise"])
def test_a_consumer_that_stops_stops_the_producer(stop: str) -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    with pytest.raises(RuntimeError) if stop == "raise" else nullcontext():
        for item in prefetch(endless(), depth=2):
            if item == 5:
                if stop == "raise":
                    raise RuntimeError("the encoder failed")
                break
    # The producer was told to stop, its generator closed, and its thread joined.
    assert closed.is_set()
    assert threading.active_count() == before


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        list(prefetch(iter([1]), depth=0))



def test_chunking_in_one_thread_never_disturbs_encoding_in_another(encoder: Encoder) -> None:
    """The producer thread tokenizes whole documents (no padding, no truncation) while the
    encoder pads batches: each thread gets its own tokenizer, so neither sees the other's
    settings (with a shared one, encode failed now and then on a ragged batch)."""
    assert encoder.tokenizer is encoder.tokenizer
    texts = ["short", "a somewhat longer text to pad the batch " * 3, "mid length one"]
    expected = encoder.encode(texts)
    stop = threading.Event()
    lengths: list[int] = []

    def chunk_forever() -> None:
        long = "word " * 600
        while not stop.is_set():
            tokenizer = encoder.tokenizer
            lengths.append(len(tokenizer(long, add_special_tokens=False)["input_ids"]))

    other = threading.Thread(target=chunk_forever)
    other.start()
    try:
        for _ in range(30):
            assert encoder.encode(texts) == pytest.approx(expected, abs=1e-5)
    finally:
        stop.set()
        other.join()
    assert lengths and set(lengths) == {600}
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(encoder.tokenizer))
    thread.start()
    thread.join()
    assert seen[0] is not encoder.tokenizer
