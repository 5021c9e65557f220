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

While a read-ahead runs, the interpreter's thread switch interval is shortened from 5 ms to
``SWITCH_INTERVAL``: the reader needs the GIL briefly after every network read, and with
the default it waits up to 5 ms each time for the encoding thread to let go, enough to fall
behind (100,000 comments as JSON Lines: 4.1 s with the default, 3.5 s with 1 ms, same CPU).
The interval is process-wide, so it is set when the first read-ahead starts and put back
when the last one ends.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.db import connections

T = TypeVar("T")

_DONE = object()
SWITCH_INTERVAL = 0.001  # seconds

_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


@contextlib.contextmanager
def _short_switch_interval() -> Iterator[None]:
    """Shorten the thread switch interval while any read-ahead runs (see the module doc)."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, SWITCH_INTERVAL))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


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
    with _short_switch_interval():
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
