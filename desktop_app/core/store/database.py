"""The store: one SQLite file per install, the way into everything else.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3"
    >>> store = Store.create(path, level="town", org="河坝镇", operator="示例录入员")
    >>> store.node.org, store.node.level
    ('430971121', 'town')
    >>> store.ledger("two_cancer").count()
    0
    >>> store.close()

``Store.create`` makes a new file (fixed tables from ``db/``, ledger tables from
the catalog), encrypted with a new random key (:mod:`.cipher`, :mod:`.keyring`);
``Store.open`` opens one and brings it up to date. A store with users opens only
after a log-in (:meth:`Store.unlock`, or :meth:`Store.authenticate` and then
``open`` by path: the key is remembered for this process); one made before
encryption is encrypted when it is first opened. Every write goes through
:meth:`Store.transaction`, which is one SQLite transaction and saves the clock
with it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import sqlite_utils

from ..catalog.choices import load_choices, with_items
from ..catalog.model import Catalog, CatalogError, load_catalog, read_catalog_files
from ..catalog.orgs import LEVEL_NAMES, Org, OrgError, OrgTree, load_tree, name_problem, next_village_code
from ..errors import StoreError
from . import cipher, keyring, lockfile, users
from .attachments import Attachments
from .catalog_fill import fill_existing_rows
from .backup import encrypt_old_backups, encrypted_backup, make_backup, migrations
from .crypto import DEFAULT_SUITE, SUITES, Keys, b64, unb64
from .persons import PersonMaster
from .policy import policy_for
from .records import Records
from .schema import ensure_table, ledger_spec, person_spec, review_spec
from .users import PERMISSIONS, WHAT, PermissionDenied, Session
from .versions import Clock, now_iso


@dataclass(frozen=True)
class Node:
    id: str
    level: str
    org: str
    operator: str


def _connect(path: Path, key: bytes | None) -> cipher.Connection:
    conn = cipher.connect(path, key, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    # 128 MiB (taken only as a store grows): bulk writes with random uuid keys; an encrypted
    # page read back from the file costs a decryption, so a 100,000-row import keeps its
    # working set here (64 MiB: 1.19x the time of the same build without a key; 128: 1.0x)
    conn.execute("PRAGMA cache_size=-131072")
    return conn


def _read_only(path: Path) -> StoreError:
    return StoreError(f"{path} 不能写入（文件或所在的文件夹是只读的，例如在光盘、写保护的 U 盘上，或没有权限）。"
                      "本程序需要写入数据库：请把它复制到可以写入的文件夹再打开，或请管理员开放权限")


def _needs_login(path: Path) -> StoreError:
    return StoreError(f"{path.name} 设置了用户，需要登录才能打开：请用用户名和密码登录（命令行用 --user 指定用户，"
                      "密码在终端输入或用环境变量 MINSHENG_PASSWORD），忘记密码请用恢复码", 1)


def _check_header(path: Path, key: bytes | None) -> None:
    """Refuse, without writing a byte, a file that is not a store or is from a newer version."""
    try:
        conn = cipher.connect(path, key, readonly=True)
    except cipher.Error as exc:
        raise StoreError(f"{path} 无法打开（{exc}）") from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_settings = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'settings'").fetchone()
    except cipher.DatabaseError as exc:
        if "readonly" in str(exc):   # WAL needs its side files beside the store
            raise _read_only(path) from None
        if key is not None:
            raise StoreError(f"{path.name} 无法用它的密钥文件打开（{exc}）：数据库文件可能已损坏，"
                             f"或旁边的 {keyring.sidecar(path).name} 不是它的；请从备份恢复") from None
        raise StoreError(f"{path} 无法作为数据库打开（{exc}），可能已损坏；请从备份恢复") from None
    finally:
        conn.close()
    if version > migrations.latest():
        raise StoreError(
            f"{path.name} 由更新版本的程序创建（数据库版本 {version}，本程序最高支持 "
            f"{migrations.latest()}），请安装新版本后再打开；本程序不会修改它")
    if version == 0 or not has_settings:
        raise StoreError(f"{path} 不是台账数据库")


def _pending_migrations(path: Path, key: bytes | None) -> bool:
    conn = cipher.connect(path, key, readonly=True)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0] < migrations.latest()
    finally:
        conn.close()


def restrict_permissions(path: Path) -> None:
    """The store holds private keys and personal data: readable by this account only
    (POSIX; on Windows the user's profile folder already restricts it)."""
    if os.name != "nt":
        for suffix in ("", "-wal", "-shm", keyring.SUFFIX):
            p = Path(str(path) + suffix)
            if p.exists():
                try:
                    os.chmod(p, 0o600)
                except OSError:
                    pass


def _plaintext_users(path: Path) -> bool:
    """Whether a store made before encryption has (or had) users: then it needs a log-in."""
    try:
        conn = cipher.connect(path, None, readonly=True)
    except cipher.Error:
        return False
    try:
        return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None
    except cipher.DatabaseError:
        return False   # no users table (before 0006) or not a store: _check_header says which
    finally:
        conn.close()


def key_for(path: Path, key: bytes | None = None) -> tuple[bytes | None, "keyring.Keyring | None"]:
    """The key that opens the encrypted file at ``path`` without a log-in: ``key`` itself,
    the one remembered in this process, or the open key of a store without users."""
    ring = keyring.Keyring.load(path)
    return key or keyring.recall(ring.store_id) or ring.open_key, ring


def _encrypt_plaintext(path: Path, key: bytes, ring: keyring.Keyring) -> list[str]:
    """Encrypt a store made before encryption in place, with ``key`` (wrapped in ``ring``).

    The old state is backed up first (encrypted, with the sidecar), the encrypted copy is
    checked and renamed into place, and the plaintext backups beside it are encrypted too
    (those that cannot be read are removed). Returns notes for the user.
    """
    try:
        lock = lockfile.acquire(path)
    except PermissionError:
        raise _read_only(path) from None
    tmp = path.with_name(path.name + ".encrypting")
    try:
        conn = cipher.connect(path, None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        except cipher.OperationalError as exc:
            conn.close()
            if "readonly" in str(exc):
                raise _read_only(path) from None
            raise
        try:
            encrypted_backup(conn, path, "encrypt", key, ring)
            tmp.unlink(missing_ok=True)
            cipher.export(conn, tmp, key)
        finally:
            conn.close()
        check = cipher.connect(tmp, key, readonly=True)
        try:
            result = check.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            check.close()
        if result != "ok":
            raise StoreError(f"{path.name} 加密后未通过完整性检查（{result}），原文件未改动；请联系技术人员")
        ring.save()
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        lockfile.release(lock)
    restrict_permissions(path)
    return encrypt_old_backups(path, key, ring)


# a token written by every transaction that changed anything: equal tokens, equal contents
GENERATION = "generation"

# what encrypting a store at the log-in (Store.authenticate) did, for the open that follows
_migration_notes: dict[str, list[str]] = {}


class Store:
    def __init__(self, path: Path, conn: cipher.Connection, key: bytes | None = None):
        self.path = Path(path)
        self.conn = conn
        self.key = key              # the database key (in memory only while the store is open)
        self.db = sqlite_utils.Database(conn)
        self.clock = Clock(int(self.setting("hlc", "0")))
        self._depth = 0
        self._tree: OrgTree | None = None
        self._tree_version = -1
        self.session = None  # users.Session after log-in; None: no log-in configured (scripts)
        self.notes: list[str] = []   # what opening did that the user should hear about

    @property
    def keyring(self) -> keyring.Keyring:
        """The sidecar as it is now on disk (another thread may have changed it)."""
        return keyring.Keyring.load(self.path)

    # ------------------------------------------------------------ open/create
    @classmethod
    def create(cls, path: Path | str, *, level: str, org: str, operator: str,
               catalog_files: dict | None = None, person_namespace: str | None = None,
               orgs: list[Org] | None = None) -> "Store":
        """Make a new store for an install at ``level`` for ``org`` (name or code).

        The file is encrypted with a new random key; until the first user is added its
        sidecar keeps the key open (a store made by a script or a test).

        :raises StoreError: if the file exists, or org and level do not fit.
        """
        path = Path(path)
        if level not in LEVEL_NAMES:
            raise StoreError(f"级别应为 village、town 或 district，而不是“{level}”", 1)
        if not operator or not operator.strip():
            raise StoreError("请填写操作员姓名（--operator）", 1)
        if path.exists():
            raise StoreError(f"{path} 已经存在；要打开它请直接使用，要新建请换一个文件名")
        tree = OrgTree(orgs) if orgs else OrgTree.shipped()
        try:
            unit = tree.resolve(org)
        except OrgError as exc:
            raise StoreError(str(exc), 1) from None
        if unit.level != level:
            raise StoreError(f"“{unit.name}”是{LEVEL_NAMES[unit.level]}级单位，"
                             f"与所选级别“{LEVEL_NAMES[level]}”不符", 1)
        files = catalog_files or read_catalog_files()
        catalog = load_catalog(files)  # raises CatalogError before anything is written
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".creating")
        tmp.unlink(missing_ok=True)
        key = os.urandom(cipher.KEY_BYTES)
        conn = _connect(tmp, key)
        try:
            migrations.apply(conn)
            store = cls(tmp, conn, key)
            with store.transaction():
                for o in tree:
                    store._insert_org(o)
                store._set_many({
                    "node_id": uuid.uuid4().hex[:16], "level": level, "org": unit.code,
                    "operator": operator.strip(), "created": now_iso(),
                    "person_namespace": person_namespace or OrgTree.person_namespace(),
                    "catalog": json.dumps(files, ensure_ascii=False),
                    "catalog_version": catalog.version,
                })
                store._ensure_tables(catalog)
            store.keys()  # signing and encryption keys are made at setup
            conn.close()
            ring = keyring.Keyring.new(path, key, label={"unit": unit.name})
        except BaseException:
            conn.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(tmp) + suffix).unlink(missing_ok=True)
            raise
        keyring.remember(ring.store_id, key)
        os.replace(tmp, path)
        for suffix in ("-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        restrict_permissions(path)
        return cls.open(path, key=key)

    @staticmethod
    def needs_login(path: Path | str) -> bool:
        """Whether opening ``path`` takes a user's password (it has, or ever had, users).

        :raises StoreError: the sidecar of an encrypted store is missing or damaged.
        """
        path = Path(path)
        if not path.is_file():
            return False
        if cipher.is_plaintext(path):
            return _plaintext_users(path)
        return keyring.Keyring.load(path).has_users

    @staticmethod
    def label(path: Path | str) -> dict:
        """What may be shown before the log-in (kept in the sidecar, not secret): the unit's
        name, and whether it is the demo store. Empty when unknown."""
        try:
            ring = keyring.Keyring.load(path, required=False)
        except keyring.KeyringError:
            return {}
        label = ring.data.get("label") if ring else None
        return dict(label) if isinstance(label, dict) else {}

    @classmethod
    def authenticate(cls, path: Path | str, name: str, password: str, *,
                     now: dt.datetime | None = None) -> Session:
        """Check ``name``'s password against the store's sidecar: it unwraps the store key
        (remembered for this process, so the store then opens by path). The role and unit
        are those the wrap was made for; :meth:`open` with ``session`` checks them against
        the users table. A store made before encryption is encrypted now, by an
        administrator only (the others then need a new password from him: what to tell
        him is in the ``notes`` of the store opened next).

        :raises LoginError: wrong name or password, or locked (the same message whether or
            not the name exists); :raises StoreError: the file is missing or unusable.
        """
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"找不到数据库文件 {path}；请检查路径")
        now = now or dt.datetime.now()
        if cipher.is_plaintext(path):
            _check_header(path, None)
            conn = cipher.connect(path, None)
            try:
                session = users.legacy_login(conn, name, password, now)
                if session.role != users.ROLES[-1]:
                    # the one who encrypts it is the only one with a key then: an administrator
                    # (who sets the others' new passwords), never a 录入员 locking them out
                    raise users.LoginError(
                        f"{path.name} 由旧版本创建，还没有加密：需要管理员先用新版本登录一次（登录时自动加密），"
                        "再为您重设密码；请联系管理员")
                key = os.urandom(cipher.KEY_BYTES)
                ring, waiting = users.legacy_keyring(conn, path, key, session.user, password)
            finally:
                conn.close()
            notes = _encrypt_plaintext(path, key, ring)
            _migration_notes[str(path.resolve())] = [users.migration_note(waiting), *notes]
            keyring.remember(ring.store_id, key)
            return session
        ring = keyring.Keyring.load(path)
        key, entry = users.unwrap(ring, name, password, now)
        keyring.remember(ring.store_id, key)
        return Session(name.strip(), entry["role"], entry.get("unit"))

    @classmethod
    def unlock(cls, path: Path | str, name: str, password: str, *, exclusive: bool = False,
               now: dt.datetime | None = None) -> "Store":
        """Log in and open: :meth:`authenticate`, then :meth:`open` as that user."""
        session = cls.authenticate(path, name, password, now=now)
        return cls.open(path, exclusive=exclusive, session=session)

    @classmethod
    def open(cls, path: Path | str, *, exclusive: bool = False, key: bytes | None = None,
             session: Session | None = None) -> "Store":
        """Open an existing store, applying pending migrations (after a backup).

        The key is ``key``, the one remembered after a log-in in this process, or the open
        key of a store without users; otherwise :class:`StoreError` (需要登录, exit 1). A
        store made before encryption without users is encrypted now. With ``session`` (from
        :meth:`authenticate`) the users table must agree with it (active, role, unit).

        ``exclusive`` (the app and the command line): refuse when another program has the
        store open for writing.

        :raises StoreError: if the file is missing, not a store, from a newer version,
            needs a log-in, or (exclusive) open elsewhere.
        """
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"找不到数据库文件 {path}；请先用 init 新建，或检查路径")
        notes: list[str] | None = None      # set when the store was encrypted now
        if cipher.is_plaintext(path):
            _check_header(path, None)
            if _plaintext_users(path):
                raise _needs_login(path)
            key = os.urandom(cipher.KEY_BYTES)
            ring = keyring.Keyring.new(path, key, save=False)
            notes = _encrypt_plaintext(path, key, ring)
            keyring.remember(ring.store_id, key)
        key, ring = key_for(path, key)
        if key is None:
            raise _needs_login(path)
        _check_header(path, key)
        lock = None
        if exclusive:
            try:
                lock = lockfile.acquire(path)
            except PermissionError:
                raise _read_only(path) from None
        try:
            if _pending_migrations(path, key):
                make_backup(path, "migration", key=key)
            conn = _connect(path, key)
        except BaseException:
            lockfile.release(lock)
            raise
        try:
            migrations.apply(conn)
            store = cls(path, conn, key)
            store._lock = lock
            store.notes = (notes or []) + _migration_notes.pop(str(path.resolve()), [])
            store._upgrade_catalog()
            restrict_permissions(path)
            keyring.remember(ring.store_id, key)
            if session is not None:
                store.session = users.check_session(store, session)
            if notes is not None:
                Attachments(store).encrypt_plain_files()
            return store
        except cipher.OperationalError as exc:
            conn.close()
            lockfile.release(lock)
            if "readonly" in str(exc):
                raise _read_only(path) from None
            raise
        except BaseException:
            conn.close()
            lockfile.release(lock)
            raise

    @classmethod
    def open_readonly(cls, path: Path | str, *, key: bytes | None = None) -> "Store":
        """A read-only handle (for the GUI thread's instant reads beside the writer thread).

        Writing through it raises ``cipher.OperationalError``.
        """
        path = Path(path)
        if cipher.is_plaintext(path):   # encrypted by the writer first
            cls.open(path, key=key).close()
        key, _ring = key_for(path, key)
        if key is None:
            raise _needs_login(path)
        _check_header(path, key)
        conn = cipher.connect(path, key, readonly=True)
        conn.execute("PRAGMA cache_size=-32768")
        return cls(path, conn, key)

    def close(self) -> None:
        self.conn.close()
        lockfile.release(getattr(self, "_lock", None))

    def interrupt(self) -> None:
        """Stop the statement running on this store's connection (from another thread; the
        thread that runs it gets ``OperationalError: interrupted``). Never call it on a closed
        store: the caller makes sure :meth:`close` is not running at the same time."""
        self.conn.interrupt()

    def discard(self) -> None:
        """Close a store that was just made and delete its files (the database, its WAL and
        its key sidecar): a setup that failed after :meth:`create` leaves nothing behind."""
        self.close()
        for suffix in ("", "-wal", "-shm", keyring.SUFFIX):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ roles
    def require(self, permission: str) -> None:
        """Refuse (PermissionDenied) when the logged-in user's role may not do this.

        A store opened without a log-in (a script, the tests) is not restricted: the app
        and the command line always log in first when the store has users.
        """
        if self.session is not None and self.session.role not in PERMISSIONS[permission]:
            raise PermissionDenied(f"当前用户“{self.session.user}”（{self.session.role}）无权"
                                   f"{WHAT[permission]}；请由{'、'.join(sorted(PERMISSIONS[permission]))}操作")

    @property
    def actor(self) -> str:
        """Who acts: the logged-in user; a store without users (a script) acts as its operator."""
        return self.session.user if self.session is not None else self.node.operator

    @property
    def actor_unit(self) -> str | None:
        """The unit the logged-in user answers for (None: the whole install)."""
        return self.session.unit if self.session is not None else None

    # ------------------------------------------------------------ settings
    def setting(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def writing(self) -> bool:
        """Whether a :meth:`transaction` is open: what is read now may still be undone."""
        return self._depth > 0

    def generation(self) -> str | None:
        """A token that changes with every transaction that changes the store (its rows, its
        settings, its catalog): two reads that see the same token see the same contents, so
        figures worked out from the store can be kept under it. ``None`` until the first
        such transaction (a store made by an older version): nothing may be kept under it.

            >>> import tempfile, pathlib
            >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3",
            ...                      level="town", org="河坝镇", operator="示例")
            >>> before = store.generation()
            >>> store.set_setting("idle_lock_minutes", "10")
            >>> store.generation() != before
            True
            >>> store.close()
        """
        return self.setting(GENERATION)

    def set_setting(self, key: str, value: str) -> None:
        self.set_settings({key: value})

    def set_settings(self, values: dict[str, str]) -> None:
        """Write several settings in one transaction."""
        with self.transaction():
            self._set_many(values)

    def _set_many(self, values: dict[str, str]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                              list(values.items()))

    def keys(self):
        """This install's signing and encryption keys (made on first use, kept in the store)."""
        if not self.setting("sign_private"):
            suite_name = DEFAULT_SUITE
            keys = SUITES[suite_name].new_keys()
            with self.transaction():
                self._set_many({"suite": suite_name, "sign_private": b64(keys.sign_private),
                                "sign_public": b64(keys.sign_public),
                                "enc_private": b64(keys.enc_private),
                                "enc_public": b64(keys.enc_public)})
        return Keys(*(unb64(self.setting(k)) for k in
                      ("sign_private", "sign_public", "enc_private", "enc_public")))

    @property
    def suite(self) -> str:
        self.keys()
        return self.setting("suite")

    @cached_property
    def node(self) -> Node:
        return Node(self.setting("node_id"), self.setting("level"), self.setting("org"),
                    self.setting("operator"))

    # ------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def page_cache(self, mib: int):
        """The connection's page cache held to ``mib`` MiB for a while, then as it was: a
        bulk write that holds its rows in memory (a workbook import) trades a little speed
        for a bounded peak (dirty pages beyond it go to the WAL early)."""
        before = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        self.conn.execute(f"PRAGMA cache_size = {-int(mib) * 1024}")
        try:
            yield self
        finally:
            self.conn.execute(f"PRAGMA cache_size = {int(before)}")

    @contextlib.contextmanager
    def transaction(self):
        """One SQLite transaction (nested calls join it); the clock is saved with it, and a
        new :meth:`generation` when the transaction changed anything."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._depth = 1
        saved_clock = self.clock.last
        changes = self.conn.total_changes
        try:
            with self.db.atomic():
                yield self
                saved = {"hlc": str(self.clock.last)}
                if self.conn.total_changes != changes:
                    saved[GENERATION] = uuid.uuid4().hex
                self._set_many(saved)
        except cipher.OperationalError as exc:
            self.clock.last = max(saved_clock, self.clock.last)  # never reuse a stamp
            text = str(exc)
            if "full" in text or "disk I/O" in text:
                raise StoreError("磁盘空间不足（或磁盘出错），这次操作已全部撤销，数据库未改动；"
                                 "请腾出磁盘空间后重试") from exc
            if "locked" in text or "busy" in text:
                raise StoreError("数据库正被另一个程序使用，这次操作已撤销；请稍后重试") from exc
            raise
        except BaseException:
            self.clock.last = max(saved_clock, self.clock.last)  # never reuse a stamp
            raise
        finally:
            self._depth = 0

    # ------------------------------------------------------------ catalog
    @cached_property
    def catalog(self) -> Catalog:
        """The plan, with the items the district added to its fixed lists (district_choices)."""
        return with_items(load_catalog(json.loads(self.setting("catalog"))), load_choices(self))

    def choices_changed(self) -> None:
        """The district's choices changed (inside the caller's transaction): the catalog's
        fixed lists may offer more items, so rows waiting for one are worked out again."""
        old = self.catalog
        self._forget_catalog()
        fill_existing_rows(self.conn, old, self.catalog)

    def _forget_catalog(self) -> None:
        self.__dict__.pop("catalog", None)
        self.__dict__.pop("_records", None)

    def _ensure_tables(self, catalog: Catalog) -> None:
        ensure_table(self.db, person_spec())
        ensure_table(self.db, review_spec())
        for led in catalog.ledgers:
            ensure_table(self.db, ledger_spec(led))

    def _upgrade_catalog(self) -> None:
        """Adopt a newer shipped catalog of the same plan (adds fields, loses nothing)."""
        shipped_files = read_catalog_files()
        shipped = load_catalog(shipped_files)
        current = self.catalog
        if shipped.id == current.id and _version_key(shipped.version) > _version_key(current.version):
            self.adopt_catalog(shipped_files)
        else:
            with self.transaction():
                self._ensure_tables(current)

    def adopt_catalog(self, files: dict) -> Catalog:
        """Make ``files`` the active catalog and add the tables and columns it needs."""
        catalog = load_catalog(files)
        try:
            old = self.catalog
        except CatalogError:   # a stored plan this version cannot read: nothing to compare with
            old = None
        with self.transaction():
            self._set_many({"catalog": json.dumps(files, ensure_ascii=False),
                            "catalog_version": catalog.version})
            self._ensure_tables(catalog)
            fill_existing_rows(self.conn, old, catalog)
        self._forget_catalog()
        return catalog

    # ------------------------------------------------------------ orgs
    @property
    def orgs(self) -> OrgTree:
        """The org tree (cached; reloaded after a change here or a commit by another connection)."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if self._tree is None or self._tree_version != version:
            self._tree, self._tree_version = load_tree(self.conn), version
        return self._tree

    def _insert_org(self, org: Org) -> None:
        self._tree = None
        self.conn.execute(
            "INSERT OR IGNORE INTO orgs (code, name, level, parent, aliases, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (org.code, org.name, org.level, org.parent,
             json.dumps(list(org.aliases), ensure_ascii=False), now_iso()))

    def add_villages(self, names: list[str], town: str | None = None) -> list[Org]:
        """Add villages under a town (default: this install's town); codes are assigned.

        :raises StoreError: for an empty or duplicate name, or a non-town parent.
        """
        self.require("admin")
        tree = self.orgs
        parent = tree.get(town) if town else tree.get(self.node.org)
        if town and parent is None:
            try:
                parent = tree.resolve(town)
            except OrgError as exc:
                raise StoreError(str(exc), 1) from None
        if parent is None or parent.level != "town":
            raise StoreError("只有镇（或南湾湖管理处）可以添加村（社区）；请用 --town 指定所属镇", 1)
        existing = {o.name for o in tree.children(parent.code)}
        cleaned = [n.strip() for n in names]
        for name in cleaned:
            if name_problem(name):
                raise StoreError(f"“{name[:20]}”不能作村（社区）名称：{name_problem(name)}", 1)
            if name in existing or cleaned.count(name) > 1:
                raise StoreError(f"{parent.name}已经有“{name}”，未添加任何村（社区）", 1)
        added = []
        with self.transaction():
            for name in cleaned:
                org = Org(next_village_code(self.conn, parent.code), name, "village", parent.code)
                self._insert_org(org)
                added.append(org)
        return added

    def merge_orgs(self, orgs: list[Org]) -> None:
        """Add orgs learned from a profile or package (never renames local ones).

        :raises StoreError: (exit 2) a name no unit may have (it would become a formula in
            every workbook); nothing is added then.
        """
        for org in orgs:
            problem = name_problem(org.name) or next(filter(None, map(name_problem, org.aliases)), None)
            if problem:
                raise StoreError(f"收到的单位信息不合规（代码 {org.code}）：{problem}；未作任何改动，请向发出单位核实")
        with self.transaction():
            for org in orgs:
                self._insert_org(org)

    def resolve_row_org(self, name_or_code: str | None) -> str:
        """The org a new row belongs to: this install's org or one below it.

        :raises StoreError: naming the org and what is allowed.
        """
        if not name_or_code:
            return self.node.org
        tree = self.orgs
        unit = policy_for(self).unit
        if unit and unit in tree.by_code:     # a user's own unit first: 示例村一 is hers
            with contextlib.suppress(OrgError):
                return tree.resolve(name_or_code, within=unit).code
        try:
            org = tree.resolve(name_or_code, within=self.node.org)
        except OrgError as exc:
            raise StoreError(str(exc), 1) from None
        return org.code

    # ------------------------------------------------------------ services
    def ledger(self, ledger_id: str):
        """The :class:`~desktop_app.core.store.records.Records` of one ledger (id or label)."""
        cache = self.__dict__.setdefault("_records", {})
        led = self.catalog.find_ledger(ledger_id)
        if led is None:
            raise StoreError(f"没有台账“{ledger_id}”；可用：" +
                             "、".join(f"{x.id}（{x.label}）" for x in self.catalog.ledgers), 1)
        if led.id not in cache:
            cache[led.id] = Records(self, led)
        return cache[led.id]

    @cached_property
    def persons(self):
        return PersonMaster(self)

    def quotas(self) -> dict[tuple[str, str], float]:
        return {(i, o): t for i, o, t in
                self.conn.execute("SELECT indicator, org, target FROM quotas")}

    def set_quota(self, indicator: str, org: str, target: float | None) -> None:
        self.require("admin")
        self.catalog.indicator(indicator)
        with self.transaction():
            if target is None:
                self.conn.execute("DELETE FROM quotas WHERE indicator=? AND org=?", (indicator, org))
            else:
                self.conn.execute("INSERT OR REPLACE INTO quotas VALUES (?, ?, ?)",
                                  (indicator, org, float(target)))


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.replace("-", ".").split("."))
