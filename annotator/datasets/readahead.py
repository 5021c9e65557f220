"""Reading the next chunk of an export while this one is written.

An export alternates between waiting for the database (the next chunk of comments and their
annotations) and Python work (building and encoding rows). ``read_ahead`` runs the reading
on a second thread, one chunk ahead, so that the database works while Python encodes: the
wait for the database and its network round trips release the GIL.

The reading thread uses the *caller's* database connection, not one of its own: the export
reads inside the caller's transaction (one snapshot; a test's uncommitted data), and a
second connection would see neither. Django refuses a connection used from another thread
unless it is shared explicitly (``inc_thread_sharing``, as ``LiveServerThread`` does); the
database drivers serialise calls on one connection (psycopg holds a lock per connection,
SQLite runs in serialized mode), so the caller may still run its own small queries while
the reader works.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.db import connections

T = TypeVar("T")

_DONE = object()


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


def read_ahead(chunks: Callable[[], Iterator[T]], using: str, depth: int = 1) -> Iterator[T]:
    """Yield what ``chunks()`` yields, produced on a reading thread ``depth`` items ahead.

    ``chunks`` is called on the reading thread, where the connection ``using`` is the
    caller's own. An error raised while reading is raised here, at the item it stopped
    at. Closing this generator early (``break``, an error in the caller) stops the reader,
    closes ``chunks()`` (and so its cursors) on the reading thread and waits for it, so the
    connection is the caller's alone again when this returns.
    """
    database = connections[using]
    handoff: queue.Queue[object] = queue.Queue(depth)
    stop = threading.Event()

    def hand(item: object) -> bool:
        """Put ``item`` in the queue unless the consumer has gone (then False)."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        connections[using] = database
        try:
            iterator = chunks()
            try:
                for item in iterator:
                    if not hand(item):
                        return
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as error:  # raised again on the consumer's side
            hand(_Failure(error))
            return
        hand(_DONE)

    database.inc_thread_sharing()
    reader = threading.Thread(target=read, name="export-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()
        database.dec_thread_sharing()
