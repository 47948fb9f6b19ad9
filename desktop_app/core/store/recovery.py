"""Getting back in: restoring a backup, and the 恢复码 when every password is lost.

:func:`restore_store` replaces the store file with a backup (the current state is
backed up first, see :func:`.backup.restore`) and notes the restore in the
restored store's audit log, under the logged-in ``session``. Over a damaged store
nobody can open, it takes the backup's key from an administrator's password or the
恢复码 checked against the backup's own sidecar (:func:`unlock_backup`)::

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store.database import Store
    >>> from desktop_app.core.store.backup import make_backup
    >>> from desktop_app.core.store.users import add_user
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3"
    >>> store = Store.create(db, level="town", org="河坝镇", operator="示例")
    >>> code = add_user(store, "示例", "示例密码-2024", "管理员")
    >>> made = make_backup(store, "manual")
    >>> store.close()
    >>> session = unlock_backup(made.path, "示例", "示例密码-2024")
    >>> _ = restore_store(db, made.path, session=session)
    >>> name, new_code = recover_with_code(db, code, "新的密码-2025")
    >>> name, new_code != code
    ('示例', True)
    >>> with Store.unlock(db, "示例", "新的密码-2025") as store:
    ...     [a for (a,) in store.conn.execute("SELECT action FROM audit ORDER BY id DESC LIMIT 3")]
    ['recover', 'set_password', 'restore']
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from . import cipher, keyring
from .backup import Backup, BackupError, restore
from .database import Store
from .users import ROLES, LoginError, Session, check_session, set_password, unwrap, verify_password
from .writes import Writer

ADMIN = ROLES[-1]
RECOVERY_NAME = "\x00恢复码"   # failed 恢复码 attempts are counted under this name


def unlock_backup(backup_file: Path | str, name: str | None = None, password: str | None = None,
                  *, code: str | None = None, now: dt.datetime | None = None) -> Session:
    """Prove the right to restore ``backup_file`` over a store that cannot be opened: an
    administrator's password as it was when the backup was made, or the 恢复码, checked
    against the backup's own sidecar. The backup's key is then remembered. A backup made
    before encryption is checked against its own users table (an active 管理员's password).

    :raises LoginError: wrong name, password or code, or not an administrator (exit 1);
    :raises BackupError: the file has no sidecar (not an encrypted backup of a store).
    """
    backup_file = Path(backup_file)
    if cipher.is_plaintext(backup_file):   # made before encryption: its own users table decides
        return _plaintext_admin(backup_file, name, password, code)
    try:
        ring = keyring.Keyring.load(backup_file)
    except keyring.KeyringError as exc:
        raise BackupError(str(exc)) from None
    if code is not None:
        key = _by_code(ring, code, now)
        session = Session(name or "", ADMIN)
    else:
        key, entry = unwrap(ring, name or "", password or "", now)
        session = Session((name or "").strip(), entry["role"], entry.get("unit"))
        if session.role != ADMIN:
            raise LoginError(f"恢复数据库需要管理员；“{session.user}”是{session.role}")
    keyring.remember(ring.store_id, key)
    return session


def _plaintext_admin(backup_file: Path, name: str | None, password: str | None,
                     code: str | None) -> Session:
    """An active 管理员 of a backup made before encryption, checked by the password hash in
    its own users table (a backup without users asks for nothing, like a store without)."""
    try:
        rows = cipher.read_rows(backup_file, None, "SELECT name, role, unit, salt, hash, kdf, active FROM users")
    except cipher.Error:
        rows = []   # before users existed (or not a store: check_backup_file says so)
    if not rows:
        return Session((name or "").strip(), ADMIN)
    if code is not None:
        raise LoginError("这份备份由旧版本创建（未加密），没有恢复码：请用备份里管理员的用户名和密码")
    name = (name or "").strip()
    row = next((r for r in rows if r[0] == name), None)
    if row is None or not row[6] or not verify_password(password or "", row[3], row[4], row[5]):
        if row is None:
            keyring.decoy(password or "")
        raise LoginError("用户名或密码不对（这份旧备份里的用户和密码）")
    if row[1] != ADMIN:
        raise LoginError(f"恢复数据库需要管理员；“{name}”是{row[1]}")
    return Session(name, ADMIN, row[2])


def _by_code(ring: keyring.Keyring, code: str, now: dt.datetime | None) -> bytes:
    now = now or dt.datetime.now()
    failures, until = ring.failures(RECOVERY_NAME)
    if until and until > now:
        raise LoginError(f"恢复码连续输错多次，已锁定到 {until:%H:%M}；请稍后再试")
    key = ring.unwrap_recovery(code)
    with keyring.editing(ring.db) as fresh:
        if key is None:
            lock = now + dt.timedelta(minutes=15) if failures + 1 >= 5 else None
            fresh.set_failures(RECOVERY_NAME, 0 if lock else failures + 1, lock, now)
            raise LoginError("恢复码不对；请对照打印的恢复码重新输入（连续输错 5 次将锁定 15 分钟）")
        if failures or until:
            fresh.set_failures(RECOVERY_NAME, 0, None, now)
    return key


def restore_store(db: Path | str, backup_file: Path | str, *, session: Session | None = None,
                  password: str | None = None, notes: list[str] | None = None) -> Backup | None:
    """Restore ``backup_file`` over the store at ``db``; returns the backup of what was there.

    The key comes from the log-in (this process remembers it): the store's, or the
    backup's by :func:`unlock_backup`. A session that is not an administrator's is refused;
    so is one that is not an active 管理员 of the store in place when its sidecar is lost
    (see :func:`.backup.restore`, which adds to ``notes`` what the user must know).
    ``password``: the session user's, for a restored store that needs a new sidecar.

    :raises BackupError: the file is not a usable backup, needs a password, belongs to
        another install, or the store is open elsewhere; nothing is changed then.
    """
    db, backup_file = Path(db), Path(backup_file)
    if session is not None and session.role != ADMIN:
        raise LoginError(f"恢复备份需要管理员；“{session.user}”是{session.role}")
    saved = restore(db, backup_file, session=session, password=password, notes=notes)
    with Store.open(db) as store:
        if session is not None and session.user and store.conn.execute(
                "SELECT 1 FROM users WHERE name = ?", (session.user,)).fetchone():
            store.session = session
        with store.transaction():
            Writer(store, source=f"restore:{backup_file.name}").note(
                "restore", detail={"from": backup_file.name, "saved": saved.path.name if saved else None})
    return saved


def recover_with_code(db: Path | str, code: str, new_password: str, *, user: str | None = None,
                      now: dt.datetime | None = None) -> tuple[str, str]:
    """Every administrator's password is lost: the 恢复码 opens the store and sets a new
    password for ``user`` (default: the first administrator), who is enabled again. The
    code is then used up: a new one is made and returned with the name (show it once).

    :raises LoginError: a wrong code (counted, locked after five); :raises StoreError: no
        such administrator, a short password, or the store cannot be opened.
    """
    db = Path(db)
    if cipher.is_plaintext(db):
        raise BackupError(f"{db.name} 还没有加密（由旧版本创建），也就没有恢复码；请用管理员的密码登录", 1)
    ring = keyring.Keyring.load(db)
    key = _by_code(ring, code, now)
    keyring.remember(ring.store_id, key)
    with Store.open(db, key=key, exclusive=True) as store:
        admins = [n for (n,) in store.conn.execute(
            "SELECT name FROM users WHERE role = ? ORDER BY active DESC, created", (ADMIN,))]
        name = (user or "").strip() or (admins[0] if admins else "")
        if name not in admins:
            raise BackupError(f"没有管理员“{name}”；管理员有：{'、'.join(admins) or '（没有）'}", 1)
        unit = store.conn.execute("SELECT unit FROM users WHERE name = ?", (name,)).fetchone()[0]
        store.session = Session(name, ADMIN, unit)
        set_password(store, name, new_password)
        new_code = keyring.new_recovery_code()
        with keyring.editing(db) as ring2, ring2.undone_on_failure(), store.transaction():
            store.conn.execute("UPDATE users SET active = 1 WHERE name = ?", (name,))
            Writer(store, source="recovery").note("recover", detail={"name": name})
            ring2.set_recovery(new_code, key)
        check_session(store, store.session)
    return name, new_code


def new_recovery_code(store: Store) -> str:
    """A new 恢复码 for the store (管理员); the old one stops working. Show it once."""
    store.require("admin")
    if store.session is None and keyring.Keyring.load(store.path).open_key is not None:
        raise BackupError("这个数据库还没有用户：添加第一个管理员时会生成恢复码", 1)
    code = keyring.new_recovery_code()
    with keyring.editing(store.path) as ring, ring.undone_on_failure(), store.transaction():
        Writer(store, source="recovery").note("recovery_code", detail={})
        ring.set_recovery(code, store.key)
    return code
