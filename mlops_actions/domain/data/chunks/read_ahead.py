"""Reading ahead: a thread produces the items of an iterator while the consumer works on the previous ones."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def read_ahead(items: Iterator[T], depth: int = 1, *, name: str = "mlops-reader") -> Generator[T, None, None]:
    """The same items, produced by a thread at most ``depth`` ahead of the consumer; the producer's error is
    raised where its item would have been, and the producer stops when the consumer does."""
    import queue
    import threading

    waiting: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(kind: str, item: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over("item", item):
                    return
            hand_over("end", None)
        except BaseException as error:  # handed to the consumer
            hand_over("error", error)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = waiting.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
