"""Users, roles and the local log-in.

Roles: 录入员 enters and edits the rows of this install's units; 审核员 also reviews
conflicts, duplicates and feedback and may reveal sensitive fields; 管理员 also
manages users, keys, profiles, settings and restores backups. Passwords are hashed
with scrypt (memory-hard); five wrong passwords lock the user for 15 minutes::

    >>> salt, digest, kdf = hash_password("示例密码-2024")
    >>> verify_password("示例密码-2024", salt, digest, kdf), verify_password("x", salt, digest, kdf)
    (True, False)
    >>> allowed("录入员", "reveal"), allowed("审核员", "reveal")
    (False, True)

A store without users (one made by a script) needs no log-in; the app asks for
the first 管理员 when it opens such a store, and ``init`` on the command line
creates it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import StoreError
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
    salt = os.urandom(16)
    n, r, p = _SCRYPT
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return salt.hex(), digest.hex(), f"scrypt:{n}:{r}:{p}"


def verify_password(password: str, salt: str, digest: str, kdf: str) -> bool:
    name, n, r, p = kdf.split(":")
    if name != "scrypt":
        return False
    got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                         p=int(p), dklen=32)
    return hmac.compare_digest(got.hex(), digest)


def has_users(store: Store) -> bool:
    return store.conn.execute("SELECT 1 FROM users WHERE active = 1 LIMIT 1").fetchone() is not None


def list_users(store: Store) -> list[dict]:
    cur = store.conn.execute("SELECT name, role, unit, active, failures, locked_until, created FROM users "
                             "ORDER BY created")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def add_user(store: Store, name: str, password: str, role: str, *, unit: str | None = None) -> None:
    """Add a user (管理员 only, except the very first, who must be a 管理员).

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
    if len(password or "") < MIN_PASSWORD:
        raise StoreError(f"密码至少 {MIN_PASSWORD} 位", 1)
    if store.conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        raise StoreError(f"已有用户“{name}”", 1)
    salt, digest, kdf = hash_password(password)
    with store.transaction():
        store.conn.execute("INSERT INTO users (name, role, unit, salt, hash, kdf, created) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", (name, role, unit, salt, digest, kdf, now_iso()))
        Writer(store, source="users").note("add_user", detail={"name": name, "role": role, "unit": unit})


def set_password(store: Store, name: str, password: str) -> None:
    """A user changes their own password, or a 管理员 resets anyone's (and unlocks them)."""
    if not (store.session and store.session.user == name):
        store.require("admin")
    if len(password or "") < MIN_PASSWORD:
        raise StoreError(f"密码至少 {MIN_PASSWORD} 位", 1)
    salt, digest, kdf = hash_password(password)
    with store.transaction():
        done = store.conn.execute("UPDATE users SET salt = ?, hash = ?, kdf = ?, failures = 0, "
                                  "locked_until = NULL WHERE name = ?", (salt, digest, kdf, name)).rowcount
        if not done:
            raise StoreError(f"没有用户“{name}”", 1)
        Writer(store, source="users").note("set_password", detail={"name": name})


def set_active(store: Store, name: str, active: bool) -> None:
    store.require("admin")
    if not active and store.session and store.session.user == name:
        raise StoreError("不能停用自己", 1)
    with store.transaction():
        store.conn.execute("UPDATE users SET active = ? WHERE name = ?", (1 if active else 0, name))
        Writer(store, source="users").note("set_active", detail={"name": name, "active": active})


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


def login(store: Store, name: str, password: str, *, now: dt.datetime | None = None) -> Session:
    """Check the password and start a session on ``store``.

    :raises LoginError: wrong name or password (after five wrong ones: locked for 15 minutes).
    """
    now = now or dt.datetime.now()
    row = store.conn.execute("SELECT role, unit, salt, hash, kdf, failures, locked_until, active "
                             "FROM users WHERE name = ?", ((name or "").strip(),)).fetchone()
    if row is None or not row[7]:
        raise LoginError("用户名或密码不对")
    role, unit, salt, digest, kdf, failures, locked_until, _active = row
    if locked_until and dt.datetime.fromisoformat(locked_until) > now:
        raise LoginError(f"密码连续输错 {MAX_FAILURES} 次，用户“{name}”已锁定到 "
                         f"{dt.datetime.fromisoformat(locked_until):%H:%M}；也可请管理员重设密码")
    if not verify_password(password or "", salt, digest, kdf):
        failures += 1
        lock = (now + dt.timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds") \
            if failures >= MAX_FAILURES else None
        with store.transaction():
            store.conn.execute("UPDATE users SET failures = ?, locked_until = ? WHERE name = ?",
                               (0 if lock else failures, lock, name))
        if lock:
            raise LoginError(f"密码连续输错 {MAX_FAILURES} 次，用户“{name}”已锁定 {LOCK_MINUTES} 分钟")
        raise LoginError(f"用户名或密码不对（再错 {MAX_FAILURES - failures} 次将锁定）")
    with store.transaction():
        store.conn.execute("UPDATE users SET failures = 0, locked_until = NULL WHERE name = ?", (name,))
    store.session = Session(name, role, unit)
    return store.session


def check_password(store: Store, password: str) -> bool:
    """For the idle lock: is this the current user's password? (counts failures like log-in)."""
    if store.session is None:
        return True
    try:
        login(store, store.session.user, password)
        return True
    except LoginError:
        return False
