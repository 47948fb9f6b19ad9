"""Users, roles and the local log-in.

Roles: 录入员 enters and edits the rows of this install's units; 审核员 also reviews
conflicts, duplicates and feedback and may reveal sensitive fields; 管理员 also
manages users, keys, profiles, settings and restores backups.

A user's password is what opens the store: it unwraps the database key from the
store's sidecar (:mod:`.keyring`, scrypt at OWASP's cost), and the role and unit the
wrap was made for must agree with the users table inside the encrypted database.
Five wrong passwords for a name lock that name for 15 minutes, whether or not such a
user exists, and the message is the same either way::

    >>> allowed("录入员", "reveal"), allowed("审核员", "reveal")
    (False, True)

A store without users (one made by a script) needs no log-in; the app asks for
the first 管理员 when it opens such a store, and ``init`` on the command line
creates it. Adding the first user returns the one-time 恢复码 and removes the open
key: from then on the store opens only with a password or the 恢复码. Stores made
before encryption kept a scrypt hash per user (:func:`verify_password`); they are
encrypted at an administrator's first log-in, and the other users then need a new
password from an administrator (no key is ever wrapped by an old hash).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import StoreError
from . import keyring
from .versions import now_iso
from .writes import Writer

if TYPE_CHECKING:
    from .database import Store

ROLES = ("录入员", "审核员", "管理员")
PERMISSIONS = {
    "edit": {"录入员", "审核员", "管理员"},      # rows, Excel import/undo, packages
    "reveal": {"审核员", "管理员"},              # sensitive fields in full, on screen or in files
    "review": {"审核员", "管理员"},              # conflicts, duplicates, 核实意见
    "admin": {"管理员"},                         # users, keys, profiles, settings, quotas, restore
}
WHAT = {"edit": "录入和修改", "reveal": "查看或导出完整的敏感信息", "review": "审核冲突、重复计数和核实意见",
        "admin": "管理用户、密钥、配置文件和设置，恢复备份"}
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8
_SCRYPT = (16384, 8, 1)


class LoginError(StoreError):
    """Wrong name or password, or a locked user (exit 1)."""

    def __init__(self, message: str):
        super().__init__(message, 1)


class PermissionDenied(StoreError):
    """The logged-in user's role may not do this (exit 1)."""

    def __init__(self, message: str):
        super().__init__(message, 1)


@dataclass(frozen=True)
class Session:
    user: str
    role: str
    unit: str | None = None


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def hash_password(password: str) -> tuple[str, str, str]:
    """A password hash as stores made before encryption kept them (tests make such stores)."""
    salt = os.urandom(16)
    n, r, p = _SCRYPT
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return salt.hex(), digest.hex(), f"scrypt:{n}:{r}:{p}"


def verify_password(password: str, salt: str, digest: str, kdf: str) -> bool:
    """Check a password against a hash of a store made before encryption.

    >>> salt, digest, kdf = hash_password("示例密码-2024")
    >>> verify_password("示例密码-2024", salt, digest, kdf), verify_password("x", salt, digest, kdf)
    (True, False)
    """
    try:
        name, n, r, p = kdf.split(":")
        if name != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=32, maxmem=256 * int(n) * int(r) * int(p) + (1 << 20))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def has_users(store: Store) -> bool:
    """Whether the store needs a log-in: it has (or ever had) a user. Disabling every user
    does not make it open to anyone."""
    return store.keyring.has_users or \
        store.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def list_users(store: Store) -> list[dict]:
    cur = store.conn.execute("SELECT name, role, unit, active, failures, locked_until, created FROM users "
                             "ORDER BY created")
    cols = [d[0] for d in cur.description]
    found = [dict(zip(cols, r)) for r in cur.fetchall()]
    ring, now = store.keyring, dt.datetime.now()
    for user in found:   # failed log-ins are counted in the sidecar (before the store opens)
        failures, until = ring.failures(user["name"])
        user["failures"] = failures
        # active but without a wrap of the key (an old store encrypted, a rebuilt sidecar):
        # 需重设密码 until an administrator sets one
        user["needs_password"] = bool(user["active"]) and not ring.can_unwrap(user["name"])
        user["locked_until"] = until.isoformat(timespec="seconds") if until and until > now else None
    return found


def _check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise StoreError(f"密码至少 {MIN_PASSWORD} 位", 1)


def add_user(store: Store, name: str, password: str, role: str, *, unit: str | None = None) -> str | None:
    """Add a user (管理员 only, except the very first, who must be a 管理员).

    The store key is wrapped for the new user. Adding the first user removes the open
    key and returns the one-time 恢复码 (show it once; it is stored only wrapped);
    otherwise None.

    :raises StoreError: for a bad name, role or short password, or an existing user.
    """
    name = (name or "").strip()
    first = not has_users(store)
    if first:
        if role != "管理员":
            raise StoreError("第一个用户必须是管理员", 1)
    else:
        store.require("admin")
    if not name or len(name) > 30:
        raise StoreError("用户名不能为空，最多 30 个字", 1)
    if role not in ROLES:
        raise StoreError(f"角色应为：{'、'.join(ROLES)}", 1)
    _check_password_rules(password)
    if store.conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        raise StoreError(f"已有用户“{name}”", 1)
    code = keyring.new_recovery_code() if first else None
    with keyring.editing(store.path) as ring, ring.undone_on_failure():
        with store.transaction():
            store.conn.execute("INSERT INTO users (name, role, unit, salt, hash, kdf, created) "
                               "VALUES (?, ?, ?, '', '', 'keyring', ?)", (name, role, unit, now_iso()))
            Writer(store, source="users").note("add_user", detail={"name": name, "role": role, "unit": unit})
            ring.add_user(name, password, role, unit, store.key, save=False)
            if code:
                ring.set_recovery(code, store.key, save=False)
            ring.save()   # last: a sidecar that cannot be written undoes the whole addition
    return code


def set_password(store: Store, name: str, password: str) -> None:
    """A user changes their own password, or a 管理员 resets anyone's (and unlocks them).

    Only the wrap of the store key changes (the data is not re-encrypted)."""
    if not (store.session and store.session.user == name):
        store.require("admin")
    _check_password_rules(password)
    row = store.conn.execute("SELECT role, unit FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise StoreError(f"没有用户“{name}”", 1)
    with keyring.editing(store.path) as ring, ring.undone_on_failure():
        with store.transaction():
            store.conn.execute("UPDATE users SET salt = '', hash = '', kdf = 'keyring', failures = 0, "
                               "locked_until = NULL WHERE name = ?", (name,))
            Writer(store, source="users").note("set_password", detail={"name": name})
            ring.add_user(name, password, row[0], row[1], store.key, save=False)
            ring.clear_failures(name)
            ring.save()


def set_active(store: Store, name: str, active: bool) -> None:
    """Disable a user (their wrap of the store key is removed) or enable one again (which
    needs a new password first: :func:`set_password`)."""
    store.require("admin")
    if not active and store.session and store.session.user == name:
        raise StoreError("不能停用自己", 1)
    row = store.conn.execute("SELECT role, unit FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise StoreError(f"没有用户“{name}”", 1)
    with keyring.editing(store.path) as ring:
        if active and not ring.can_unwrap(name):
            raise StoreError(f"重新启用“{name}”需要先为他设置新密码（用户管理 → 重设密码；"
                             f"命令行 users passwd --name {name}），再启用", 1)
        with ring.undone_on_failure(), store.transaction():
            store.conn.execute("UPDATE users SET active = ? WHERE name = ?", (1 if active else 0, name))
            Writer(store, source="users").note("set_active", detail={"name": name, "active": active})
            if not active:
                ring.disable_user(name, row[0], row[1], save=False)
                ring.save()


IDLE_MINUTES = 10


def idle_minutes(store: Store) -> int:
    """Minutes without input before the app locks itself (0: never)."""
    try:
        return max(0, int(store.setting("idle_lock_minutes", str(IDLE_MINUTES))))
    except ValueError:
        return IDLE_MINUTES


def set_idle_minutes(store: Store, minutes: int) -> None:
    store.require("admin")
    if not 0 <= int(minutes) <= 240:
        raise StoreError("自动锁定时间应在 0–240 分钟之间（0 表示不自动锁定）", 1)
    store.set_setting("idle_lock_minutes", str(int(minutes)))


def _failed(name: str) -> LoginError:
    return LoginError(f"密码连续输错 {MAX_FAILURES} 次，用户“{name}”已锁定 {LOCK_MINUTES} 分钟；"
                      "也可请管理员重设密码")


def _locked(name: str, until: dt.datetime) -> LoginError:
    return LoginError(f"密码连续输错 {MAX_FAILURES} 次，用户“{name}”已锁定到 {until:%H:%M}；"
                      "也可请管理员重设密码")


def unwrap(ring: keyring.Keyring, name: str, password: str,
           now: dt.datetime | None = None) -> tuple[bytes, dict]:
    """The store key unwrapped by ``name``'s password, and the user's sidecar entry.

    Failures are counted per name in the sidecar, for names that exist and names that do
    not alike, so the messages never tell whether a user exists.

    :raises LoginError: wrong name or password, or the name is locked.
    """
    now = now or dt.datetime.now()
    name = (name or "").strip()
    failures, until = ring.failures(name)
    if until and until > now:
        raise _locked(name, until)
    got = ring.unwrap_user(name, password or "")
    if got is None and ring.reset_check(name, password or ""):
        raise LoginError(f"用户“{name}”还没有新密码：数据库加密（或恢复）后，需要管理员在 用户管理 中"
                         "为您重设密码，然后用新密码登录；请联系管理员")
    if got is None:
        failures += 1
        lock = now + dt.timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
        with keyring.editing(ring.db) as fresh:
            fresh.set_failures(name, 0 if lock else failures, lock, now)
        if lock:
            raise _failed(name)
        raise LoginError(f"用户名或密码不对（再错 {MAX_FAILURES - failures} 次将锁定）")
    if failures or until:
        with keyring.editing(ring.db) as fresh:
            fresh.set_failures(name, 0, None, now)
    return got


def check_session(store: Store, session: Session) -> Session:
    """The users table (inside the encrypted store) must agree with what the sidecar's wrap
    was made for: the user exists, is active, with the same role and unit.

    :raises LoginError: otherwise (reached only with the right password).
    """
    row = store.conn.execute("SELECT role, unit, active FROM users WHERE name = ?",
                             (session.user,)).fetchone()
    if row is None or (row[0], row[1]) != (session.role, session.unit):
        raise LoginError(f"用户“{session.user}”的角色或单位与数据库里的记录不一致（密钥文件可能被改动过）；"
                         "请管理员为该用户重设密码")
    if not row[2]:
        raise LoginError(f"用户“{session.user}”已停用；请联系管理员")
    return session


def login(store: Store, name: str, password: str, *, now: dt.datetime | None = None) -> Session:
    """Check the password of a user of the open ``store`` and start a session on it.

    :raises LoginError: wrong name or password (after five wrong ones: locked for 15 minutes).
    """
    name = (name or "").strip()
    key, entry = unwrap(store.keyring, name, password, now)
    if key != store.key:
        raise LoginError("用户名或密码不对")
    session = check_session(store, Session(name, entry["role"], entry.get("unit")))
    store.session = session
    return session


def check_password(store: Store, password: str) -> bool:
    """For the idle lock: is this the current user's password? (counts failures like log-in)."""
    if store.session is None:
        return True
    try:
        login(store, store.session.user, password)
        return True
    except LoginError:
        return False


# ---------------------------------------------------------------- stores made before encryption

def legacy_login(conn, name: str, password: str, now: dt.datetime) -> Session:
    """Log-in to a plaintext store (made before encryption) by the hash in its users table.

    :raises LoginError: as :func:`login`.
    """
    name = (name or "").strip()
    row = conn.execute("SELECT role, unit, salt, hash, kdf, failures, locked_until, active "
                       "FROM users WHERE name = ?", (name,)).fetchone()
    if row is None or not row[7]:
        keyring.decoy(password)
        raise LoginError("用户名或密码不对")
    role, unit, salt, digest, kdf, failures, locked_until, _active = row
    if locked_until and dt.datetime.fromisoformat(locked_until) > now:
        raise _locked(name, dt.datetime.fromisoformat(locked_until))
    if not verify_password(password or "", salt, digest, kdf):
        failures += 1
        lock = (now + dt.timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds") \
            if failures >= MAX_FAILURES else None
        conn.execute("UPDATE users SET failures = ?, locked_until = ? WHERE name = ?",
                     (0 if lock else failures, lock, name))
        conn.commit()
        if lock:
            raise _failed(name)
        raise LoginError(f"用户名或密码不对（再错 {MAX_FAILURES - failures} 次将锁定）")
    return Session(name, role, unit)


def legacy_keyring(conn, db, key: bytes, name: str, password: str) -> tuple[keyring.Keyring, list[str]]:
    """The sidecar for a plaintext store being encrypted, and the names that need a new
    password: ``name`` (the administrator logged in now) gets a proper wrap; the other
    active users none (their old hash is in every old copy of the file, so no wrap may be
    derived from it): an administrator sets them a new password; disabled users none."""
    ring = keyring.Keyring.new(db, key, save=False)
    waiting = []
    for user, role, unit, salt, digest, kdf, active in conn.execute(
            "SELECT name, role, unit, salt, hash, kdf, active FROM users ORDER BY created"):
        if user == name:
            ring.add_user(user, password, role, unit, key, save=False)
        elif active:
            ring.mark_reset(user, role, unit, old_hash=(salt, digest, kdf), save=False)
            waiting.append(user)
        else:
            ring.disable_user(user, role, unit, save=False)
    return ring, waiting


def migration_note(waiting: list[str]) -> str:
    """What the administrator hears after a store made before encryption was encrypted."""
    text = "数据库已加密（加密前的数据已另存一份加密的备份）。"
    if waiting:
        text += (f"其他用户（{'、'.join(waiting)}）还不能登录：请在 用户管理 中为他们逐一重设密码"
                 "（列表里显示“需重设密码”），再把新密码告诉本人。")
    return text + "本数据库还没有恢复码：请在 用户 → 生成新的恢复码 生成一个，打印后锁好。"
