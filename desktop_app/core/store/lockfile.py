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

The lock is taken on the file's real path (symbolic links resolved, ``..``
removed; on Windows also case-folded), so a second writer that reaches the
same database through a link or another spelling of its path is refused too::

    >>> link = db.with_name("link.sqlite3")
    >>> try:
    ...     link.symlink_to(db)
    ... except OSError:          # Windows without the right to make links
    ...     link = db
    >>> first = acquire(db)
    >>> acquire(link)
    Traceback (most recent call last):
    ...
    desktop_app.core.store.lockfile.Locked: ...
    >>> release(first)
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreError


class Locked(StoreError):
    """Another program has this store open for writing (exit 2)."""


def lock_path(db: Path | str) -> str:
    """The lock file of ``db``: beside the real file, under its real name (links
    resolved; case-folded on Windows), whatever path the caller used."""
    return os.path.normcase(os.path.realpath(db)) + ".lock"


def acquire(db: Path):
    """Lock ``db`` for this process; returns the handle to pass to :func:`release`."""
    handle = open(lock_path(db), "a+b")
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
