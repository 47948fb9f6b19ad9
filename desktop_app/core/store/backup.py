"""Backups of the store: made before every import, merge and migration and daily on start.

A backup is a complete copy made with SQLite's backup API (safe while the store is
open), checked with ``integrity_check`` before it counts, kept in
``<store folder>/backups/<store name>/`` and rotated (the newest ``keep`` stay)::

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
so packages sent before the restore are never numbered twice.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError
from . import lockfile, migrations
from .writes import Writer

REASONS = {
    "manual": "手动备份", "daily": "每日自动备份", "import": "导入表格前", "package": "导入数据包前",
    "migration": "升级前", "restore": "恢复前", "damaged": "损坏的数据库（原样保存）",
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


def _fingerprint(conn: sqlite3.Connection) -> str:
    """Changes whenever a write happened: the clock moves with every write."""
    row = conn.execute("SELECT value FROM settings WHERE key = 'hlc'").fetchone()
    n = conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]
    return f"{int(row[0]) if row else 0:x}{n:x}"


def _copy(conn: sqlite3.Connection, target: Path) -> None:
    """SQLite's online backup into ``target``, made a single self-contained file."""
    dest = sqlite3.connect(str(target))
    try:
        conn.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        dest.close()


def _verify(path: Path) -> None:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        result = str(exc)
    finally:
        conn.close()
    if result != "ok":
        raise BackupError(f"{path.name} 未通过完整性检查（{result}）")


def make_backup(source, reason: str, *, keep: int | None = None, force: bool = False) -> Backup | None:
    """Copy the store (an open :class:`Store` or a path) into its backup folder.

    Returns the new backup, or ``None`` when the newest backup already holds exactly this
    state (unless ``force``). The copy is verified before it replaces anything; then the
    oldest backups beyond ``keep`` are removed.

    :raises BackupError: when the copy cannot be written (disk full …) or fails the check.
    """
    if reason not in REASONS:
        raise ValueError(reason)
    own = not isinstance(source, (str, Path))
    db = Path(source.path) if own else Path(source)
    conn = source.conn if own else sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
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
            _copy_verified(conn, target)
        except (OSError, sqlite3.Error, BackupError) as exc:
            raise BackupError(f"无法备份 {db.name}（{exc}）；请检查磁盘空间后重试，数据库未改动") from None
    finally:
        if not own:
            conn.close()
    _rotate(db, keep or KEEP)
    return Backup(target, created, reason, fp, target.stat().st_size)


def _copy_verified(conn, target: Path) -> None:
    """A checked copy of the database at ``target`` (written beside it, renamed into place,
    readable only by this account); nothing is left behind when it fails."""
    tmp = target.with_name(target.name + ".part")
    try:
        _copy(conn, tmp)
        _verify(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _private(target)


def _now_after(last: dt.datetime | None) -> dt.datetime:
    """Now, but strictly after the newest backup (names sort in the order they were made)."""
    now = dt.datetime.now()
    return now if last is None or now > last else last + dt.timedelta(microseconds=1)


def copy_to(store, out: Path | str) -> Path:
    """A verified copy of the store at ``out`` (管理员: it holds every personal record); audited.

    :raises BackupError: when ``out`` exists, cannot be written, or the copy fails the check.
    """
    store.require("admin")
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} 已经存在；请换一个文件名", 1)
    try:
        _copy_verified(store.conn, out)
    except (OSError, sqlite3.Error, BackupError) as exc:
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


def _private(path: Path) -> None:
    if os.name != "nt":
        try:
            os.chmod(path, 0o600)
        except OSError:
            pass


def _rotate(db: Path, keep: int) -> None:
    for old in list_backups(db)[keep:]:
        old.path.unlink(missing_ok=True)


def daily_backup(store, *, keep: int | None = None) -> Backup | None:
    """The once-a-day backup made when the app starts (nothing when one exists from today)."""
    today = dt.date.today()
    if any(b.created.date() == today for b in list_backups(store.path)):
        return None
    return make_backup(store, "daily", keep=keep)


def store_problem(db: Path | str) -> str | None:
    """What is wrong with the store file (SQLite's quick_check), or ``None`` when it is sound."""
    try:
        conn = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if result == "ok" else result


def newest_good(db: Path | str) -> Backup | None:
    """The newest backup of ``db`` that passes the integrity check (damaged copies skipped)."""
    for b in list_backups(db):
        if b.reason == "damaged":
            continue
        try:
            _verify(b.path)
            return b
        except BackupError:
            continue
    return None


def check_backup_file(path: Path | str) -> dict:
    """What a backup file holds (node, unit, version), or :class:`BackupError` if unusable."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"找不到备份文件 {path}；请检查路径（U 盘是否已插好）")
    _verify(path)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        settings = dict(conn.execute("SELECT key, value FROM settings WHERE key IN "
                                     "('node_id', 'org', 'level')").fetchall())
    except sqlite3.DatabaseError:
        raise BackupError(f"{path.name} 不是台账数据库的备份") from None
    finally:
        conn.close()
    if version > migrations.latest():
        raise BackupError(f"{path.name} 来自更新版本的程序（数据库版本 {version}），请先升级本程序")
    if "node_id" not in settings:
        raise BackupError(f"{path.name} 不是台账数据库的备份")
    return settings


def _readable_node(db: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return None
            row = conn.execute("SELECT value FROM settings WHERE key = 'node_id'").fetchone()
            return row[0] if row else None
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None


def restore(db: Path | str, backup_file: Path | str) -> Backup | None:
    """Replace the store at ``db`` with ``backup_file``; returns the backup of what was there.

    The store must not be open in another program. A damaged store is kept as it was (a
    ``damaged`` copy in the backup folder) instead of being backed up through SQLite.

    :raises BackupError: the file is not a usable backup (2), belongs to another install (1),
        or the store is open elsewhere (2). Nothing is changed then.
    """
    db, backup_file = Path(db), Path(backup_file)
    info = check_backup_file(backup_file)
    try:
        lock = lockfile.acquire(db)
    except lockfile.Locked as exc:
        raise BackupError(str(exc)) from None
    try:
        current_node = _readable_node(db) if db.exists() else None
        if current_node and current_node != info["node_id"]:
            raise BackupError(f"{backup_file.name} 是另一个安装（单位代码 {info.get('org')}）的备份，"
                              "不能恢复到本数据库", 1)
        saved = None
        if current_node:
            saved = make_backup(db, "restore", force=True)
            if saved is None:
                saved = list_backups(db)[0]
        elif db.exists():
            saved = _keep_damaged(db)
        tmp = db.with_name(db.name + ".restoring")
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)
        dest = sqlite3.connect(str(tmp))
        try:
            src.backup(dest)
            if current_node:
                _carry_over(dest, db)
            dest.commit()
            dest.execute("PRAGMA journal_mode=DELETE")
        except (OSError, sqlite3.Error) as exc:
            dest.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(tmp) + suffix).unlink(missing_ok=True)
            raise BackupError(f"无法恢复（{exc}）；请检查磁盘空间，数据库未改动") from None
        finally:
            src.close()
        dest.close()
        _verify(tmp)
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        os.replace(tmp, db)
        _private(db)
        return saved
    finally:
        lockfile.release(lock)


def _keep_damaged(db: Path) -> Backup:
    import shutil
    folder = _folder(db)
    existing = list_backups(db)
    created = _now_after(existing[0].created if existing else None)
    target = folder / f"{db.stem}-{created:%Y%m%d-%H%M%S-%f}-damaged-x.sqlite3"
    shutil.copyfile(db, target)
    for suffix in ("-wal", "-shm"):
        side = Path(str(db) + suffix)
        if side.exists():
            shutil.copyfile(side, Path(str(target) + suffix))
    _private(target)
    return Backup(target, created, "damaged", "x", target.stat().st_size)


def _carry_over(dest: sqlite3.Connection, db: Path) -> None:
    """Keep what left this install before the restore: the audit log after the backup, the
    clock, and the package numbers per destination (never reused). Packages received after
    the backup are forgotten, so they can be imported again."""
    migrations.apply(dest)
    dest.execute("ATTACH DATABASE ? AS cur", (f"{db.resolve().as_uri()}?mode=ro",))
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
        dest.commit()
    finally:
        dest.execute("DETACH DATABASE cur")
