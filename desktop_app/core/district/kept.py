"""Figures worked out from a store, kept while the store is unchanged.

A figure over a whole district (全区进度 of a million rows: seconds) is asked for again and
again while nothing changes: the dashboard, then the 全区进度 page, a report, an
explanation of one indicator. Each is worked out once per store *generation*
(:meth:`~desktop_app.core.store.database.Store.generation`: a token every transaction that
changes the store writes anew) and kept in this process's memory under it — never on
disk, so nothing kept outlives the process or can be edited in the file::

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store.database import Store
    >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3", level="town",
    ...                      org="河坝镇", operator="示例")
    >>> work = lambda: store.conn.execute("SELECT COUNT(*) FROM orgs").fetchone()[0]   # units known
    >>> first = kept(store, ("orgs",), work)
    >>> _ = store.add_villages(["示例村一"])          # a change: worked out again
    >>> first, kept(store, ("orgs",), work), peek(store, ("orgs",))
    (6, 7, 7)
    >>> store.close()

Two threads asking for the same figure at once work it out once: the second waits for
the first. A figure worked out while a write landed (the token read before and after
differs) is returned but not kept, and a store without a token yet keeps nothing. Inside
an open transaction nothing is served or kept: what is read there may still be undone.
Only the newest generation of a store is kept (an older one can never be asked for
again), and work that fails leaves nothing behind.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
LIMIT = 16   # figures kept, the least recently used dropped first

_kept: OrderedDict[tuple, object] = OrderedDict()
_busy: dict[tuple, threading.Lock] = {}
_guard = threading.Lock()


def kept(store, key: tuple, work: Callable[[], T]) -> T:
    """``work()``'s result for ``key`` in ``store`` as it is now: worked out once per
    generation of the store. Callers must not change what they get back (copy it first)."""
    generation = None if store.writing else store.generation()
    if generation is None:
        return work()
    path = str(Path(store.path).resolve())
    full = (path, generation, *key)
    with _guard:
        lock = _busy.setdefault(full, threading.Lock())
    with lock:
        with _guard:
            if full in _kept:
                _kept.move_to_end(full)
                return _kept[full]
        try:
            value = work()
        except BaseException:
            with _guard:
                _busy.pop(full, None)
            raise
        with _guard:
            if store.generation() != generation:
                _busy.pop(full, None)
                return value
            for old in [k for k in _kept if k[0] == path and k[1] != generation]:
                del _kept[old]
                _busy.pop(old, None)
            _kept[full] = value
            while len(_kept) > LIMIT:
                _busy.pop(_kept.popitem(last=False)[0], None)
        return value


def peek(store, key: tuple):
    """What is kept for ``key`` in ``store`` as it is now, or ``None`` (never works it out)."""
    generation = None if store.writing else store.generation()
    if generation is None:
        return None
    with _guard:
        return _kept.get((str(Path(store.path).resolve()), generation, *key))
