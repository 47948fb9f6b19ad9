"""Backups of the store: made before every import, merge and migration and daily on start.

A backup is a complete copy made with SQLite's backup API (safe while the store is
open), encrypted with the store's key, checked with ``integrity_check`` before it
counts, kept in ``<store folder>/backups/<store name>/`` and rotated (the newest
``keep`` stay). Each comes with a copy of the store's sidecar (``….keys``) as it was,
so an old backup opens with the passwords valid when it was made::

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store.database import Store
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3"
    >>> store = Store.create(db, level="town", org="河坝镇", operator="示例")
    >>> made = make_backup(store, "manual")
    >>> [b.reason for b in list_backups(db)]
    ['manual']
    >>> make_backup(store, "import") is None   # nothing changed since: no second copy
    True
    >>> store.close()

:func:`restore` puts a backup back in place of the store, after backing up the
current state (so a restore can itself be undone). It keeps what the outside
world has already seen: package numbers, the clock and the audit log carry over,
so packages sent before the restore are never numbered twice; the users (who is
disabled, roles, passwords) and the install's own private keys are those of now.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError
from . import cipher, keyring, lockfile, migrations
from .users import ROLES, verify_password
from .writes import Writer

REASONS = {
    "manual": "手动备份", "daily": "每日自动备份", "import": "导入表格前", "package": "导入数据包前",
    "migration": "升级前", "restore": "恢复前", "damaged": "损坏的数据库（原样保存）",
    "encrypt": "加密前",
}
KEEP = 10
_NAME = re.compile(r"^(?P<stem>.+)-(?P<ts>\d{8}-\d{6}-\d{6})-(?P<reason>[a-z]+)-(?P<fp>[0-9a-f]+|x)\.sqlite3$")


class BackupError(StoreError):
    """A backup could not be made or used; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    path: Path
    created: dt.datetime
    reason: str
    fingerprint: str
    size: int

    @property
    def label(self) -> str:
        return REASONS.get(self.reason, self.reason)

    def to_json(self) -> dict:
        return {"file": str(self.path), "created": self.created.isoformat(timespec="seconds"),
                "reason": self.reason, "label": self.label, "bytes": self.size}


def backup_dir(db: Path | str) -> Path:
    db = Path(db)
    return db.parent / "backups" / db.stem


def list_backups(db: Path | str) -> list[Backup]:
    """The backups of the store at ``db``, newest first."""
    found = []
    folder = backup_dir(db)
    if not folder.is_dir():
        return []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if not m or not p.is_file():
            continue
        created = dt.datetime.strptime(m["ts"], "%Y%m%d-%H%M%S-%f")
        found.append(Backup(p, created, m["reason"], m["fp"], p.stat().st_size))
    return sorted(found, key=lambda b: b.created, reverse=True)


def _fingerprint(conn: cipher.Connection) -> str:
    """Changes whenever a write happened: the clock moves with every write."""
    row = conn.execute("SELECT value FROM settings WHERE key = 'hlc'").fetchone()
    n = conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]
    return f"{int(row[0]) if row else 0:x}{n:x}"


def key_of(path: Path | str, key: bytes | None = None) -> bytes | None:
    """The key that opens the store or backup at ``path`` here without a log-in: ``key``,
    the one remembered after a log-in to its store, or the open key of a store without
    users. None for a plaintext file (made before encryption) or when a log-in is needed."""
    if key is not None or cipher.is_plaintext(path):
        return key
    try:
        ring = keyring.Keyring.load(path, required=False)
    except keyring.KeyringError:
        return None
    return None if ring is None else keyring.recall(ring.store_id) or ring.open_key


def _verify(path: Path, key: bytes | None) -> None:
    conn = cipher.connect(path, key, readonly=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except cipher.DatabaseError as exc:
        result = str(exc)
    finally:
        conn.close()
    if result != "ok":
        raise BackupError(f"{path.name} 未通过完整性检查（{result}）")


def make_backup(source, reason: str, *, keep: int | None = None, force: bool = False,
                key: bytes | None = None, ring: keyring.Keyring | None = None) -> Backup | None:
    """Copy the store (an open :class:`Store`, or a path with its ``key``) into its backup
    folder, encrypted with the same key and with a copy of its sidecar.

    Returns the new backup, or ``None`` when the newest backup already holds exactly this
    state (unless ``force``). The copy is verified before it replaces anything; then the
    oldest backups beyond ``keep`` are removed. ``ring``: the sidecar to copy with it
    (default: the store's own).

    :raises BackupError: when the copy cannot be written (disk full …) or fails the check.
    """
    if reason not in REASONS:
        raise ValueError(reason)
    own = not isinstance(source, (str, Path))
    db = Path(source.path) if own else Path(source)
    key = source.key if own else key_of(db, key)
    conn = source.conn if own else cipher.connect(db, key, readonly=True)
    try:
        fp = _fingerprint(conn)
        existing = list_backups(db)
        if existing and existing[0].fingerprint == fp and not force:
            return None
        folder = _folder(db)
        created = _now_after(existing[0].created if existing else None)
        name = f"{db.stem}-{created:%Y%m%d-%H%M%S-%f}-{reason}-{fp}.sqlite3"
        target = folder / name
        try:
            _copy_verified(conn, target, key, ring if ring is not None else keyring.Keyring.load(db))
        except (OSError, cipher.Error, BackupError) as exc:
            raise BackupError(f"无法备份 {db.name}（{exc}）；请检查磁盘空间后重试，数据库未改动") from None
    finally:
        if not own:
            conn.close()
    _rotate(db, keep or KEEP)
    return Backup(target, created, reason, fp, target.stat().st_size)


def encrypted_backup(conn, db: Path, reason: str, key: bytes, ring: keyring.Keyring) -> Backup:
    """A backup of a store made before encryption (``conn`` reads it plain), written
    encrypted under ``key`` with ``ring`` beside it."""
    existing = list_backups(db)
    created = _now_after(existing[0].created if existing else None)
    target = _folder(db) / f"{db.stem}-{created:%Y%m%d-%H%M%S-%f}-{reason}-{_fingerprint(conn)}.sqlite3"
    tmp = _fresh_private(target.with_name(target.name + ".part"))
    try:
        cipher.export(conn, tmp, key)
        _verify(tmp, key)
        ring.copy_to(target)
        os.replace(tmp, target)
    except (OSError, cipher.Error, BackupError) as exc:
        tmp.unlink(missing_ok=True)
        keyring.sidecar(target).unlink(missing_ok=True)
        raise BackupError(f"无法在加密前备份 {db.name}（{exc}）；请检查磁盘空间后重试，数据库未改动") from None
    _private(target)
    return Backup(target, created, reason, _fingerprint(conn), target.stat().st_size)


def encrypt_old_backups(db: Path, key: bytes, ring: keyring.Keyring) -> list[str]:
    """Encrypt the plaintext backups of a store being encrypted, each under ``key`` with a
    copy of ``ring``; one that cannot be read is removed. Returns notes for the user."""
    notes, removed = [], 0
    for b in list_backups(db):
        if not cipher.is_plaintext(b.path):
            continue
        tmp = _fresh_private(b.path.with_name(b.path.name + ".encrypting"))
        try:
            conn = cipher.connect(b.path, None, readonly=True)
            try:
                cipher.export(conn, tmp, key)
            finally:
                conn.close()
            _verify(tmp, key)
            ring.copy_to(b.path)
            os.replace(tmp, b.path)
            _private(b.path)
        except (OSError, cipher.Error, BackupError):
            tmp.unlink(missing_ok=True)
            keyring.sidecar(b.path).unlink(missing_ok=True)
            b.path.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm", "-journal"):
                Path(str(b.path) + suffix).unlink(missing_ok=True)
            removed += 1
    if removed:
        notes.append(f"{removed} 份未加密的旧备份无法读取（已损坏），已删除；其余备份都已加密")
    return notes


def _copy_verified(conn, target: Path, key: bytes | None, ring: keyring.Keyring | None) -> None:
    """A checked copy of the database at ``target`` (written beside it, renamed into place,
    readable only by this account) with a copy of ``ring``; nothing is left behind when it
    fails."""
    tmp = _fresh_private(target.with_name(target.name + ".part"))
    try:
        cipher.copy_into(conn, tmp, key)
        _verify(tmp, key)
        if ring is not None:
            ring.copy_to(target)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        keyring.sidecar(target).unlink(missing_ok=True)
        raise
    _private(target)


def _now_after(last: dt.datetime | None) -> dt.datetime:
    """Now, but strictly after the newest backup (names sort in the order they were made)."""
    now = dt.datetime.now()
    return now if last is None or now > last else last + dt.timedelta(microseconds=1)


def copy_to(store, out: Path | str) -> Path:
    """A verified copy of the store at ``out`` (管理员: it holds every personal record),
    encrypted, with its sidecar ``out.keys`` beside it (both must be kept together); audited.

    :raises BackupError: when ``out`` exists, cannot be written, or the copy fails the check.
    """
    store.require("admin")
    out = Path(out)
    if out.exists() or keyring.sidecar(out).exists():
        raise BackupError(f"{out} 已经存在；请换一个文件名", 1)
    try:
        _copy_verified(store.conn, out, store.key, store.keyring)
    except (OSError, cipher.Error, BackupError) as exc:
        raise BackupError(f"无法写入备份 {out.name}（{exc}）；请检查磁盘空间和文件夹") from None
    with store.transaction():
        Writer(store, source=f"backup:{out.name}").note("backup", detail={"file": out.name})
    return out


def _folder(db: Path) -> Path:
    folder = backup_dir(db)
    folder.mkdir(parents=True, exist_ok=True)
    if os.name != "nt":
        for p in (folder.parent, folder):
            try:
                os.chmod(p, 0o700)
            except OSError:
                pass
    return folder


def _fresh_private(path: Path) -> Path:
    """An empty file at ``path`` readable by this account only, made before any data goes in
    (SQLite keeps an existing file's mode, also for its journal): a copy left by a crash or a
    kill is never readable by others."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def _private(path: Path) -> None:
    if os.name != "nt":
        try:
            os.chmod(path, 0o600)
        except OSError:
            pass


def _rotate(db: Path, keep: int) -> None:
    for old in list_backups(db)[keep:]:
        old.path.unlink(missing_ok=True)
        keyring.sidecar(old.path).unlink(missing_ok=True)


class BackupOnce:
    """The one backup of a batch of writes (several workbooks or packages): made just
    before the first of them that writes, never on a dry run. Each write of the batch
    calls :meth:`before_write`; a package imported alone backs up by itself::

        >>> import tempfile, pathlib
        >>> from desktop_app.core.store.database import Store
        >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3", level="town",
        ...                      org="河坝镇", operator="示例")
        >>> once = BackupOnce(store, "package")
        >>> once.before_write(); once.before_write()
        >>> [b.reason for b in list_backups(store.path)]
        ['package']
        >>> store.close()
    """

    def __init__(self, store, reason: str, *, dry_run: bool = False):
        self.store, self.reason, self.made = store, reason, dry_run

    def before_write(self) -> None:
        """:raises BackupError: the store could not be backed up (nothing is written then)."""
        if not self.made:
            make_backup(self.store, self.reason)
            self.made = True


def daily_backup(store, *, keep: int | None = None) -> Backup | None:
    """The once-a-day backup made when the app starts (nothing when one exists from today)."""
    today = dt.date.today()
    if any(b.created.date() == today for b in list_backups(store.path)):
        return None
    return make_backup(store, "daily", keep=keep)


def store_problem(db: Path | str, key: bytes | None = None) -> str | None:
    """What is wrong with the store file (SQLite's quick_check), or ``None`` when it is
    sound, or cannot be checked yet (an encrypted store before the log-in)."""
    db = Path(db)
    if not cipher.is_plaintext(db):
        try:
            keyring.Keyring.load(db)
        except keyring.KeyringError as exc:
            return str(exc)
    key = key_of(db, key)
    if key is None and not cipher.is_plaintext(db):
        return None
    try:
        conn = cipher.connect(db, key, readonly=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except cipher.DatabaseError as exc:
        return str(exc)
    return None if result == "ok" else result


def newest_good(db: Path | str, key: bytes | None = None) -> Backup | None:
    """The newest backup of ``db`` that passes the integrity check (damaged copies skipped;
    ``key``: the store's, or remembered after a log-in)."""
    for b in list_backups(db):
        if b.reason == "damaged":
            continue
        try:
            _verify(b.path, key_of(b.path, key))
            return b
        except BackupError:
            continue
    return None


def check_backup_file(path: Path | str, key: bytes | None = None) -> dict:
    """What a backup file holds (node, unit, version), or :class:`BackupError` if unusable.

    ``key`` opens it (default: remembered after a log-in to its store, or the open key of
    a store without users); a plaintext backup (made before encryption) needs none.
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"找不到备份文件 {path}；请检查路径（U 盘是否已插好）")
    key = key_of(path, key)
    if key is None and not cipher.is_plaintext(path):
        if keyring.sidecar(path).is_file():
            raise BackupError(f"{path.name} 是加密的备份：需要管理员的用户名和密码（备份时有效的），"
                              "或恢复码，才能打开", 1)
        raise BackupError(f"{path.name} 不是台账数据库的备份，或缺少旁边的密钥文件 "
                          f"{keyring.sidecar(path).name}（备份文件要和它一起复制）")
    _verify(path, key)
    conn = cipher.connect(path, key, readonly=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        settings = dict(conn.execute("SELECT key, value FROM settings WHERE key IN "
                                     "('node_id', 'org', 'level')").fetchall())
    except cipher.DatabaseError:
        raise BackupError(f"{path.name} 不是台账数据库的备份") from None
    finally:
        conn.close()
    if version > migrations.latest():
        raise BackupError(f"{path.name} 来自更新版本的程序（数据库版本 {version}），请先升级本程序")
    if "node_id" not in settings:
        raise BackupError(f"{path.name} 不是台账数据库的备份")
    return settings


def _readable_node(db: Path, key: bytes | None) -> str | None:
    try:
        conn = cipher.connect(db, key, readonly=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return None
            row = conn.execute("SELECT value FROM settings WHERE key = 'node_id'").fetchone()
            return row[0] if row else None
        finally:
            conn.close()
    except cipher.DatabaseError:
        return None


def _sidecar_or_none(db: Path) -> keyring.Keyring | None:
    try:
        return keyring.Keyring.load(db, required=False)
    except keyring.KeyringError:
        return None


def restore(db: Path | str, backup_file: Path | str, *, key: bytes | None = None, session=None,
            password: str | None = None, notes: list[str] | None = None) -> Backup | None:
    """Replace the store at ``db`` with ``backup_file``; returns the backup of what was there.

    ``key`` opens the backup: the store's own key (remembered after the log-in), or one
    unwrapped from the backup's sidecar by an administrator's password or the 恢复码 (a
    damaged store). When the current store is readable its users (active or disabled,
    roles, passwords: its sidecar stays), its private keys, clock, audit log and package
    numbers carry over; when it is damaged it is kept as it was (a ``damaged`` copy in the
    backup folder) and the users of its sidecar, when that is readable, carry over.

    A database file in place whose sidecar is lost or broken counts as this store's only
    when the backup's key opens it; then its users table decides: ``session`` (who
    restores) must be an active 管理员 there, and the sidecar is rebuilt from the
    backup's wraps of the users active now (:func:`_rebuilt_ring`; what it means is
    added to ``notes``). A file the backup's key does not open is another database and
    is refused: to start over from a backup, move it away first.

    ``password`` (of ``session``'s user) wraps the key for that user when the restored
    store needs a new sidecar (a backup made before encryption).

    The store must not be open in another program.

    :raises BackupError: the file is not a usable backup (2), needs a password (1), belongs
        to another install or database (1), the user may not restore it (1), or the store
        is open elsewhere (2). Nothing is changed then.
    """
    db, backup_file = Path(db), Path(backup_file)
    backup_ring = _sidecar_or_none(backup_file)
    here = _sidecar_or_none(db) if db.exists() and not cipher.is_plaintext(db) else None
    if backup_ring is not None and here is not None and backup_ring.store_id != here.store_id:
        raise BackupError(f"{backup_file.name} 是另一个安装（另一个数据库）的备份，不能恢复到本数据库", 1)
    key = key_of(backup_file, key)
    info = check_backup_file(backup_file, key)
    try:
        lock = lockfile.acquire(db)
    except lockfile.Locked as exc:
        raise BackupError(str(exc)) from None
    try:
        encrypted_here = db.exists() and not cipher.is_plaintext(db)
        current_ring = _sidecar_or_none(db) if encrypted_here else None
        other = f"{backup_file.name} 是另一个安装（单位代码 {info.get('org')}）的备份，不能恢复到本数据库"
        if current_ring is not None and backup_ring is not None and \
                current_ring.store_id != backup_ring.store_id:
            raise BackupError(other, 1)
        rebuilt = None
        if encrypted_here and current_ring is None:
            # the sidecar in place is lost or broken: only the backup's key can show that
            # the database file here is the one it is a backup of; then its users decide
            rebuilt = _rebuilt_ring(db, backup_file, backup_ring, key, session, password, notes)
        elif encrypted_here and backup_ring is None and not _opens_with(db, key_of(db)):
            # a backup made before encryption over an encrypted store: only after a log-in
            # to this store (then its node decides), never in place of one nobody opened
            raise BackupError(f"{backup_file.name} 是未加密的旧备份：要恢复到加密的 {db.name}，"
                              "请先用本数据库管理员的用户名和密码登录", 1)
        elif current_ring is not None and session is not None and getattr(session, "user", ""):
            entry = current_ring.entry(session.user)     # a damaged store: its sidecar says who
            if current_ring.has_users and (entry is None or entry.get("disabled") or
                                           entry.get("role") != _ADMIN):
                raise BackupError(f"“{session.user}”现在不是本数据库的管理员（或已停用），不能恢复备份", 1)
        current_key = key_of(db) if db.exists() and rebuilt is None else None
        if current_key is None and (rebuilt is not None or (
                current_ring is not None and backup_ring is not None and
                current_ring.store_id == backup_ring.store_id)):
            current_key = key     # the same store: the same key
        current_node = _readable_node(db, current_key) if db.exists() else None
        if current_node and current_node != info["node_id"]:
            raise BackupError(other, 1)
        saved = None
        if current_node:
            saved = make_backup(db, "restore", force=True, key=current_key, ring=rebuilt)
            if saved is None:
                saved = list_backups(db)[0]
        elif db.exists():
            saved = _keep_damaged(db)
        # the restored store's key: the current one when it is readable, else the backup's
        target_key = current_key if current_node else key
        ring = rebuilt or current_ring
        if target_key is None:          # a plaintext backup over a store nobody can read
            target_key = os.urandom(cipher.KEY_BYTES)
            ring = None
        if ring is not None and ring.store_id != (backup_ring.store_id if backup_ring else ring.store_id):
            ring = backup_ring
        if ring is None:
            ring = backup_ring
        tmp = _fresh_private(db.with_name(db.name + ".restoring"))
        src = cipher.connect(backup_file, key, readonly=True)
        try:
            if key == target_key:
                cipher.copy_into(src, tmp, target_key)
            else:
                cipher.export(src, tmp, target_key)
            dest = cipher.connect(tmp, target_key)
            try:
                if current_node:
                    _carry_over(dest, db, current_key)
                elif rebuilt is not None:
                    _users_from_sidecar(dest, rebuilt)
                elif current_ring is not None and ring is current_ring:
                    _users_from_sidecar(dest, current_ring)
                if ring is None:   # a backup made before encryption: a new sidecar for its users
                    ring = _legacy_ring(dest, db, target_key, session, password)
                dest.commit()
                dest.execute("PRAGMA journal_mode=DELETE")
            finally:
                dest.close()
        except BaseException as exc:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(tmp) + suffix).unlink(missing_ok=True)
            if isinstance(exc, (OSError, cipher.Error)):
                raise BackupError(f"无法恢复（{exc}）；请检查磁盘空间，数据库未改动") from None
            raise
        finally:
            src.close()
        _verify(tmp, target_key)
        if ring is not current_ring:
            ring.copy_to(db)
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        os.replace(tmp, db)
        _private(db)
        _private(keyring.sidecar(db))
        keyring.remember(keyring.Keyring.load(db).store_id, target_key)
        return saved
    finally:
        lockfile.release(lock)


_ADMIN = ROLES[-1]


def _opens_with(db: Path, key: bytes | None) -> bool:
    """Whether ``key`` opens the database file ``db`` (its first page decrypts)."""
    if key is None:
        return False
    try:
        cipher.read_rows(db, key, "SELECT COUNT(*) FROM sqlite_master")
        return True
    except cipher.Error:
        return False


def _rebuilt_ring(db: Path, backup_file: Path, backup_ring: keyring.Keyring | None, key: bytes | None,
                  session, password: str | None, notes: list[str] | None) -> keyring.Keyring:
    """A sidecar for the database file at ``db`` whose own is lost or broken, when the
    backup's key opens it (else: another database, refused). Its users table decides: who
    restores must be an active 管理员 there; the backup's wraps are kept for the users
    active now with the same role and unit (their passwords are those of backup time),
    the others get none (disabled; or 需重设密码 by an administrator); the 恢复码 of backup
    time is dropped (a new one is made in the program)."""
    move = (f"如果 {db.name} 确实已经毁坏、要从这份备份重新开始，请先把它（连同同名的 -wal 文件）"
            "移到别的文件夹保存（不要删除），再恢复")
    if not _opens_with(db, key):
        raise BackupError(f"{backup_file.name} 不属于现在的数据库 {db.name}：它的密钥打不开这个数据库文件"
                          f"（而 {db.name} 的密钥文件 {keyring.sidecar(db).name} 找不到或已损坏）。别的单位"
                          f"（别的数据库）的备份不能恢复到本数据库。{move}", 1)
    try:
        rows = cipher.read_rows(db, key, "SELECT name, role, unit, active FROM users ORDER BY created")
    except cipher.Error:
        raise BackupError(f"{db.name} 的密钥文件找不到或已损坏，数据库本身也读不出现在的用户，"
                          f"无法核对谁可以恢复。{move}", 1) from None
    user = (getattr(session, "user", "") or "").strip() if session is not None else ""
    admins = {name for name, role, _unit, active in rows if active and role == _ADMIN}
    if rows and user not in admins:
        who = f"“{user}”" if user else "恢复码"
        raise BackupError(f"{db.name} 的密钥文件找不到或已损坏：这时只有现在的数据库里仍是管理员、没有停用的用户"
                          f"（用他在备份时的密码）才能恢复，{who}不行。{move}", 1)
    source = backup_ring.data if backup_ring is not None else {"store_id": None, "users": {}}
    ring = keyring.Keyring.new(db, key, store_id=source.get("store_id"), save=False,
                               label=source.get("label") if isinstance(source.get("label"), dict) else None)
    kept, waiting = [], []
    for name, role, unit, active in rows:
        entry = source["users"].get(name)
        if not active:
            ring.disable_user(name, role, unit, save=False)
        elif isinstance(entry, dict) and entry.get("wrapped") and not entry.get("legacy") and \
                (entry.get("role"), entry.get("unit")) == (role, unit):
            ring.data["users"][name] = dict(entry)
            kept.append(name)
        else:
            ring.mark_reset(name, role, unit, save=False)
            waiting.append(name)
    if rows:
        ring.data.pop("open_key", None)
        ring.data["had_users"] = True
    if user and password and user in admins and ring.unwrap_user(user, password) is None:
        role, unit = next((r, u) for n, r, u, _a in rows if n == user)
        ring.add_user(user, password, role, unit, key, save=False)
        waiting = [n for n in waiting if n != user]
        ring.data["users"][user].pop("reset", None)
    if notes is not None:
        text = (f"{db.name} 的密钥文件找不到或已损坏，已按现在数据库里的用户重建：停用的人仍然停用；"
                f"{'、'.join(kept) or '（无）'} 的密码是这份备份当时的密码")
        if waiting:
            text += f"；{'、'.join(waiting)} 需要管理员重设密码才能登录（用户管理里显示“需重设密码”）"
        notes.append(text + "。备份时的恢复码已作废：请在 用户 → 生成新的恢复码 生成新的，打印后锁好。")
    return ring


def _legacy_ring(conn, db: Path, key: bytes, session, password: str | None) -> keyring.Keyring:
    """A sidecar for a restored backup made before encryption (``conn``: the restored copy,
    its users as they will be): the administrator who restores it gets a wrap by his
    password; the other active users need a new password from him (no wrap is derived
    from an old password hash: every old copy holds it); a store without users keeps
    the key open.

    :raises BackupError: it has users but no administrator's password to wrap the key for.
    """
    ring = keyring.Keyring.new(db, key, save=False)
    try:
        rows = conn.execute("SELECT name, role, unit, salt, hash, kdf, active FROM users").fetchall()
    except cipher.DatabaseError:
        rows = []
    user = (getattr(session, "user", "") or "").strip() if session is not None else ""
    wrapped = False
    for name, role, unit, salt, digest, kdf, active in rows:
        if not active:
            ring.disable_user(name, role, unit, save=False)
        elif name == user and role == _ADMIN and password and verify_password(password, salt, digest, kdf):
            ring.add_user(name, password, role, unit, key, save=False)
            wrapped = True
        else:
            ring.mark_reset(name, role, unit, old_hash=(salt, digest, kdf), save=False)
    if rows and not wrapped:
        raise BackupError("这份备份由旧版本创建（未加密）：恢复它需要备份里一位管理员的用户名和密码，"
                          "恢复后由这位管理员为其他用户重设密码", 1)
    return ring


def _keep_damaged(db: Path) -> Backup:
    folder = _folder(db)
    existing = list_backups(db)
    created = _now_after(existing[0].created if existing else None)
    target = folder / f"{db.stem}-{created:%Y%m%d-%H%M%S-%f}-damaged-x.sqlite3"
    shutil.copyfile(db, target)
    for suffix in ("-wal", "-shm", keyring.SUFFIX):
        side = Path(str(db) + suffix)
        if side.exists():
            shutil.copyfile(side, Path(str(target) + suffix))
            _private(Path(str(target) + suffix))
    _private(target)
    return Backup(target, created, "damaged", "x", target.stat().st_size)


# what is the install's own and must not go back in time with a restore: its keys (a
# replaced key must not return; the old decryption keys and rotation statements of
# sync/profiles.py) and the attachment key its files are encrypted under
_OWN_SETTINGS = "(key IN ('suite', 'attachment_key', 'key_rotations') OR key LIKE 'sign\\_%' ESCAPE '\\' " \
    "OR key LIKE 'enc\\_%' ESCAPE '\\' OR key LIKE '%private%' OR key LIKE 'retired\\_%' ESCAPE '\\')"


def _carry_over(dest, db: Path, key: bytes | None) -> None:
    """Keep what left this install before the restore: the audit log after the backup, the
    clock, and the package numbers per destination (never reused); and what is the
    install's now: its users (disabled ones stay disabled) and its own keys. Packages
    received after the backup are forgotten, so they can be imported again."""
    migrations.apply(dest)
    dest.execute("ATTACH DATABASE ? AS cur KEY ?", (str(db), cipher.key_literal(key) if key else ""))
    try:
        dest.execute("INSERT OR IGNORE INTO main.audit SELECT * FROM cur.audit "
                     "WHERE id > (SELECT COALESCE(MAX(id), 0) FROM main.audit)")
        dest.execute("UPDATE main.settings SET value = (SELECT MAX(CAST(value AS INTEGER)) FROM "
                     "(SELECT value FROM main.settings WHERE key = 'hlc' UNION ALL "
                     "SELECT value FROM cur.settings WHERE key = 'hlc')) WHERE key = 'hlc'")
        dest.execute(
            "INSERT INTO main.outbox (dest, last_seq, last_change, last_audit, last_package) "
            "SELECT dest, last_seq, 0, 0, last_package FROM cur.outbox WHERE true "
            "ON CONFLICT (dest) DO UPDATE SET last_seq = MAX(main.outbox.last_seq, excluded.last_seq), "
            "last_package = CASE WHEN excluded.last_seq > main.outbox.last_seq "
            "THEN excluded.last_package ELSE main.outbox.last_package END")
        dest.execute(f"DELETE FROM main.settings WHERE {_OWN_SETTINGS}")
        dest.execute(f"INSERT INTO main.settings (key, value) SELECT key, value FROM cur.settings "
                     f"WHERE {_OWN_SETTINGS}")
        if dest.execute("SELECT 1 FROM cur.sqlite_master WHERE name = 'users'").fetchone():
            dest.execute("DELETE FROM main.users")
            dest.execute("INSERT INTO main.users SELECT * FROM cur.users")
        dest.commit()
    finally:
        dest.execute("DETACH DATABASE cur")


def _users_from_sidecar(dest, ring: keyring.Keyring) -> None:
    """A damaged store's users, as its sidecar knows them, over the restored table: a
    disabled user stays disabled, roles and units as now; a user added since the backup
    comes back (with the password of now)."""
    migrations.apply(dest)
    for name, entry in ring.users.items():
        role, unit = entry.get("role"), entry.get("unit")
        active = 0 if entry.get("disabled") else 1
        dest.execute("INSERT INTO users (name, role, unit, salt, hash, kdf, active, created) "
                     "VALUES (?, ?, ?, '', '', 'keyring', ?, datetime('now')) ON CONFLICT (name) DO UPDATE "
                     "SET role = excluded.role, unit = excluded.unit, active = excluded.active",
                     (name, role, unit, active))
