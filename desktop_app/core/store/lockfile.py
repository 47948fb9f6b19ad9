"""One writer per store: an exclusive lock on ``<store>.lock`` held while the store is open.

A second program window (or a command run while the app is open) on the same
database is refused with a clear message instead of both writing::

    >>> import tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3"
    >>> first = acquire(db)
    >>> acquire(db)
    Traceback (most recent call last):
    ...
    desktop_app.core.store.lockfile.Locked: t.sqlite3 已被另一个程序窗口或命令打开（同一数据库同时只能由一个程序写入）；请先关闭它再试
    >>> release(first)
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreError


class Locked(StoreError):
    """Another program has this store open for writing (exit 2)."""


def acquire(db: Path):
    """Lock ``db`` for this process; returns the handle to pass to :func:`release`."""
    handle = open(f"{db}.lock", "a+b")
    try:
        if os.name == "nt":
            import msvcrt
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise Locked(f"{Path(db).name} 已被另一个程序窗口或命令打开（同一数据库同时只能由一个程序写入）；"
                     "请先关闭它再试") from None
    return handle


def check_free(db: Path) -> None:
    """Refuse (:class:`Locked`) when another program has ``db`` open for writing."""
    release(acquire(db))


def release(handle) -> None:
    if handle is None or handle.closed:
        return
    if os.name == "nt":
        import msvcrt
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
    handle.close()
