"""Restoring a store from a backup, audited under whoever asked for it.

:func:`restore_store` replaces the store file with a backup (the current state is
backed up first, see :func:`.backup.restore`) and notes the restore in the
restored store's audit log, under the logged-in ``session`` (none for a damaged
store nobody can log in to: then the install's operator)::

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store.database import Store
    >>> from desktop_app.core.store.backup import make_backup
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3"
    >>> store = Store.create(db, level="town", org="河坝镇", operator="示例")
    >>> made = make_backup(store, "manual")
    >>> store.close()
    >>> _ = restore_store(db, made.path)
    >>> with Store.open(db) as store:
    ...     store.conn.execute("SELECT user, action FROM audit ORDER BY id DESC").fetchone()
    ('示例', 'restore')
"""
from __future__ import annotations

from pathlib import Path

from .backup import Backup, restore
from .database import Store
from .users import Session
from .writes import Writer


def restore_store(db: Path | str, backup_file: Path | str, *,
                  session: Session | None = None) -> Backup | None:
    """Restore ``backup_file`` over the store at ``db``; returns the backup of what was there.

    :raises BackupError: the file is not a usable backup, belongs to another install, or
        the store is open elsewhere; nothing is changed then.
    """
    db, backup_file = Path(db), Path(backup_file)
    saved = restore(db, backup_file)
    with Store.open(db) as store:
        store.session = session
        with store.transaction():
            Writer(store, source=f"restore:{backup_file.name}").note(
                "restore", detail={"from": backup_file.name, "saved": saved.path.name if saved else None})
    return saved
