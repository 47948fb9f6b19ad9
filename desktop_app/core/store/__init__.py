"""One SQLite file per install (encrypted with SQLCipher; its key wrapped per user in the
``.keys`` sidecar beside it): ledger rows, the person master, versions, change log and
audit, users and roles, masking, keys, attachments, backups.

Everything starts from :class:`Store`; who acts is ``store.session`` (set by :func:`login`
or :meth:`Store.unlock`)::

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store import Store, Selection, LedgerView
    >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3",
    ...                      level="town", org="河坝镇", operator="示例")
    >>> store.ledger("two_cancer").count(), store.actor
    (0, '示例')
    >>> LedgerView(store.conn, store.catalog.ledger("two_cancer"), Selection(search="示例")).count()
    0
    >>> store.close()
"""
from .attachments import (PHOTO_MAX_EDGE, AttachmentError, Attachments, attach, detach, inspect,
                          photo_max_edge, set_photo_max_edge, sniff)
from .backup import KEEP as BACKUPS_KEPT
from .backup import (Backup, BackupError, BackupOnce, backup_dir, check_backup_file, copy_to, daily_backup,
                     list_backups, make_backup, newest_good, store_problem)
from .crypto import fingerprint
from .database import Node, Store
from .keyring import KeyringError, normalise_recovery_code
from .lockfile import Locked, check_free
from .masking import audit_reveal, audit_use, mask_value
from .policy import Policy, policy_for
from .query import BOOK_COLUMNS, Counted, LedgerView, Selection, counted_selection
from .records import Records, RowsRejected, Saved
from .recovery import new_recovery_code, recover_with_code, restore_store, unlock_backup
from .schema import PERSON_FIELDS
from .users import (MIN_PASSWORD, ROLES, WHAT, LoginError, PermissionDenied, Session, add_user,
                    allowed, check_password, has_users, idle_minutes, list_users, login,
                    set_active, set_idle_minutes, set_password)

__all__ = [
    "BACKUPS_KEPT", "BOOK_COLUMNS", "MIN_PASSWORD", "PERSON_FIELDS", "PHOTO_MAX_EDGE", "ROLES", "WHAT",
    "AttachmentError", "Attachments", "Backup", "BackupError", "Counted", "KeyringError", "LedgerView",
    "Locked",
    "LoginError", "Node", "PermissionDenied", "Records", "RowsRejected", "Saved", "Selection",
    "Session", "Store", "add_user", "allowed", "attach", "audit_reveal", "audit_use", "backup_dir",
    "check_backup_file", "check_free", "check_password", "copy_to", "counted_selection",
    "daily_backup", "detach", "fingerprint", "has_users", "idle_minutes", "inspect", "list_backups",
    "list_users", "login", "make_backup", "mask_value", "new_recovery_code", "newest_good",
    "normalise_recovery_code", "photo_max_edge", "recover_with_code", "restore_store", "set_active",
    "set_idle_minutes", "set_password", "set_photo_max_edge", "store_problem", "unlock_backup",
]
__all__ += ["Policy", "policy_for"]
__all__ += ["sniff"]   # what a file is by its first bytes (attachments.py)   # the one masking policy (policy.py)
