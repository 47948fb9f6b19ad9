"""The store's key, wrapped: the sidecar ``<store>.keys`` beside the database file.

The database is encrypted with one random 32-byte key that never changes for a store.
The sidecar (JSON, readable by this account only) holds it only wrapped: once per user
by a key derived from that user's password (scrypt at OWASP's cost, then AES-256-GCM),
and once by the one-time 恢复码. Each wrap's associated data binds the sidecar's
``store_id``, the user's name, role and unit, so an entry edited (a role raised) or
copied to another name or store no longer opens. Changing a password rewraps the key;
the data is not re-encrypted. A store that has no users yet (made by a script or a
test) keeps an ``open_key``, deleted the moment the first user is added::

    >>> import os, tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3"
    >>> key = os.urandom(32)
    >>> ring = Keyring.new(db, key)
    >>> ring.open_key == key, ring.has_users
    (True, False)
    >>> ring.add_user("示例管理员", "示例密码-2024", "管理员", None, key)
    >>> ring.open_key is None, ring.unwrap_user("示例管理员", "示例密码-2024")[0] == key
    (True, True)
    >>> ring.unwrap_user("示例管理员", "不对的密码") is None
    True
    >>> code = new_recovery_code()
    >>> ring.set_recovery(code, key)
    >>> ring.unwrap_recovery(code.lower().replace("-", " ")) == key
    True
    >>> Keyring.load(db).store_id == ring.store_id        # saved (0600) as it changed
    True

The key of a store opened in this process is remembered (:func:`remember`, keyed by
``store_id``) so that the app's background threads open it by path after the log-in.
"""
from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import StoreError

SUFFIX = ".keys"
FORMAT = 1
# OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1 (128 MiB, about half a second)
SCRYPT = (1 << 17, 8, 1)
# tests only (tests/conftest.py sets it): far cheaper wraps, recorded in each entry as made
TEST_FAST_ENV = "MINSHENG_TEST_FAST_KDF"
_TEST_SCRYPT = (1 << 10, 8, 1)
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"   # no 0/O, 1/I/L: read off paper
RECOVERY_GROUPS, RECOVERY_GROUP = 6, 4                  # 24 symbols: 118 bits
MAX_FAILURE_NAMES = 1000


class KeyringError(StoreError):
    """The sidecar is missing or unusable (exit 2); the message names the file."""


def sidecar(db: Path | str) -> Path:
    return Path(str(db) + SUFFIX)


def scrypt_params() -> tuple[int, int, int]:
    """The cost new wraps are made with (the test setting lowers it)."""
    return _TEST_SCRYPT if os.environ.get(TEST_FAST_ENV) == "1" else SCRYPT


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * n * r * p + (1 << 20))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text) -> bytes:
    return base64.b64decode(str(text).encode("ascii"), validate=True)


# ---------------------------------------------------------------- recovery code

def new_recovery_code() -> str:
    """A one-time 恢复码: 6 groups of 4 symbols from an alphabet without look-alikes."""
    symbols = "".join(secrets.choice(RECOVERY_ALPHABET)
                      for _ in range(RECOVERY_GROUPS * RECOVERY_GROUP))
    return "-".join(symbols[i:i + RECOVERY_GROUP] for i in range(0, len(symbols), RECOVERY_GROUP))


def normalise_recovery_code(code: str) -> str:
    """The code as typed (any case, spaces or dashes) in its printed form.

    >>> normalise_recovery_code(" abcd efgh-jkmn pqrs tuvw xyz2 ")
    'ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2'

    :raises KeyringError: (exit 1) when it cannot be a 恢复码.
    """
    text = "".join(c for c in (code or "").upper() if c not in " -\t")
    if len(text) != RECOVERY_GROUPS * RECOVERY_GROUP or any(c not in RECOVERY_ALPHABET for c in text):
        raise KeyringError(f"恢复码应为 {RECOVERY_GROUPS} 组、每组 {RECOVERY_GROUP} 个字母或数字"
                           "（不含 0、1、I、L、O）；请对照打印的恢复码重新输入", 1)
    return "-".join(text[i:i + RECOVERY_GROUP] for i in range(0, len(text), RECOVERY_GROUP))


# ---------------------------------------------------------------- the key cache

_cache: dict[str, bytes] = {}
_cache_lock = threading.Lock()


def remember(store_id: str, key: bytes) -> None:
    """Keep ``key`` for this process (after a log-in or when a store is made)."""
    with _cache_lock:
        _cache[store_id] = bytes(key)


def recall(store_id: str) -> bytes | None:
    with _cache_lock:
        return _cache.get(store_id)


def forget(store_id: str | None = None) -> None:
    """Drop one remembered key, or all of them."""
    with _cache_lock:
        if store_id is None:
            _cache.clear()
        else:
            _cache.pop(store_id, None)


# ---------------------------------------------------------------- the sidecar

class Keyring:
    """The parsed sidecar of one store (or of a backup: a copy as it was)."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = Path(path), data

    # -- files
    @classmethod
    def new(cls, db: Path | str, key: bytes, *, store_id: str | None = None,
            save: bool = True, label: dict | None = None) -> "Keyring":
        """A sidecar for a store with no users yet: it keeps the key open. ``label``: what
        the log-in may show before the store opens (the unit's name)."""
        ring = cls(sidecar(db), {"format": FORMAT, "store_id": store_id or secrets.token_hex(16),
                                 "open_key": key.hex(), "users": {}, "failures": {},
                                 "label": label or {}})
        if save:
            ring.save()
        return ring

    @classmethod
    def load(cls, db: Path | str, *, required: bool = True) -> "Keyring | None":
        """The sidecar of the store (or backup) at ``db``.

        :raises KeyringError: missing (when ``required``) or unreadable.
        """
        path = sidecar(db)
        name = Path(db).name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if not required:
                return None
            raise KeyringError(
                f"{name} 无法作为数据库打开：找不到它的密钥文件 {path.name}。加密的数据库文件和同名的 "
                ".keys 密钥文件必须放在同一个文件夹里（复制时要一起复制）：请把密钥文件找回放在旁边，"
                "或从备份恢复；如果它本来就不是台账数据库，请换一个文件") from None
        except OSError as exc:
            raise KeyringError(f"无法读取密钥文件 {path.name}（{exc.strerror}）；请检查文件权限") from None
        try:
            data = json.loads(raw.decode("utf-8"))
            if not (isinstance(data, dict) and data.get("format") == FORMAT and
                    isinstance(data.get("store_id"), str) and isinstance(data.get("users"), dict)):
                raise ValueError
            data.setdefault("failures", {})
        except (ValueError, UnicodeDecodeError):
            raise KeyringError(f"密钥文件 {path.name} 已损坏或不是本程序的密钥文件；"
                               f"请从备份恢复 {name}（备份带有当时的密钥文件）") from None
        return cls(path, data)

    def save(self, path: Path | None = None) -> Path:
        """Write the sidecar atomically (beside, flushed, renamed), readable by this account only."""
        path = Path(path or self.path)
        tmp = path.with_name(path.name + ".part")
        body = json.dumps(self.data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            if os.name != "nt":
                os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def copy_to(self, db: Path | str) -> Path:
        """The same sidecar beside another file (a backup of this store)."""
        return Keyring(sidecar(db), json.loads(json.dumps(self.data))).save()

    @contextlib.contextmanager
    def undone_on_failure(self):
        """Put the sidecar back as it was when the block fails (the database change it
        went with was rolled back)."""
        before = copy.deepcopy(self.data)
        try:
            yield self
        except BaseException:
            self.data = before
            with contextlib.suppress(OSError):
                self.save()
            raise

    # -- what it holds
    @property
    def db(self) -> Path:
        """The database file this sidecar belongs to."""
        return self.path.with_name(self.path.name[:-len(SUFFIX)])

    @property
    def store_id(self) -> str:
        return self.data["store_id"]

    @property
    def open_key(self) -> bytes | None:
        text = self.data.get("open_key")
        if not text:
            return None
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise KeyringError(f"密钥文件 {self.path.name} 已损坏；请从备份恢复")
        return key

    @property
    def has_users(self) -> bool:
        """A store that ever had a user always needs a log-in (disabling every user does not
        open it)."""
        return bool(self.data["users"]) or bool(self.data.get("had_users"))

    @property
    def users(self) -> dict[str, dict]:
        return self.data["users"]

    def entry(self, name: str) -> dict | None:
        entry = self.data["users"].get(name)
        return entry if isinstance(entry, dict) else None

    def can_unwrap(self, name: str) -> bool:
        entry = self.entry(name)
        return bool(entry and entry.get("wrapped"))

    # -- wrapping
    def _aad(self, *parts) -> bytes:
        return json.dumps(["minsheng-store-key", FORMAT, self.store_id, *parts],
                          ensure_ascii=False).encode("utf-8")

    def _wrap(self, kek: bytes, key: bytes, aad: bytes) -> dict:
        nonce = os.urandom(12)
        return {"nonce": _b64(nonce), "wrapped": _b64(AESGCM(kek).encrypt(nonce, key, aad))}

    def _unwrap(self, entry: dict, kek: bytes, aad: bytes) -> bytes | None:
        try:
            key = AESGCM(kek).decrypt(_unb64(entry["nonce"]), _unb64(entry["wrapped"]), aad)
        except (InvalidTag, KeyError, ValueError, TypeError):
            return None
        return key if len(key) == 32 else None

    def _kek(self, entry: dict, secret: str) -> bytes | None:
        kdf = entry.get("kdf")
        try:
            name, n, r, p = kdf["name"], int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
            salt = _unb64(entry["salt"]) if name == "scrypt" else bytes.fromhex(entry["salt"])
        except (TypeError, KeyError, ValueError):
            return None
        if not (2 <= n <= 1 << 20 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
            return None   # a cost no program of ours wrote: refuse rather than hang
        if name == "scrypt":
            return _scrypt(secret, salt, n, r, p)
        return None   # "legacy-scrypt" (an old password hash) never opens the key: see mark_reset

    def _new_entry(self, secret: str, key: bytes, aad: bytes, **fields) -> dict:
        n, r, p = scrypt_params()
        salt = os.urandom(16)
        kek = _scrypt(secret, salt, n, r, p)
        return fields | {"kdf": {"name": "scrypt", "n": n, "r": r, "p": p}, "salt": _b64(salt)} | \
            self._wrap(kek, key, aad)

    def add_user(self, name: str, password: str, role: str, unit: str | None, key: bytes,
                 *, save: bool = True) -> None:
        """Wrap ``key`` for ``name`` (a new user, a new password, a role or unit changed);
        the open key goes the moment a user exists."""
        self.data["users"][name] = self._new_entry(password, key, self._aad("user", name, role, unit),
                                                   role=role, unit=unit)
        self.data.pop("open_key", None)
        self.data["had_users"] = True
        if save:
            self.save()

    def mark_reset(self, name: str, role: str, unit: str | None, *, old_hash: tuple | None = None,
                   save: bool = True) -> None:
        """``name`` gets no wrapped key: an administrator must set a new password first (a
        user of a store made before encryption, whose password is not known when it is
        encrypted; a user the restored sidecar cannot vouch for). No wrap is ever derived
        from an old password hash: anyone holding an old unencrypted copy has that hash.

        ``old_hash`` (salt, hash, kdf as the old users table kept them) keeps only a check
        that lets the log-in tell this user, typing the old password, to ask an
        administrator (and everyone else the usual 用户名或密码不对)."""
        entry = {"role": role, "unit": unit, "reset": True}
        try:
            salt_hex, digest_hex, kdf = old_hash or ("", "", "")
            kind, n, r, p = kdf.split(":")
            if kind == "scrypt":
                bytes.fromhex(salt_hex)
                entry |= {"salt": salt_hex, "kdf": {"name": "legacy-scrypt", "n": int(n), "r": int(r), "p": int(p)},
                          "check": _b64(self._reset_check(bytes.fromhex(digest_hex), name))}
        except ValueError:
            pass
        self.data["users"][name] = entry
        self.data.pop("open_key", None)
        self.data["had_users"] = True
        if save:
            self.save()

    def _reset_check(self, digest: bytes, name: str) -> bytes:
        key = HKDF(algorithm=SHA256(), length=32, salt=None,
                   info=b"minsheng legacy password check").derive(digest)
        return hmac.new(key, self._aad("reset", name), "sha256").digest()

    def needs_reset(self, name: str) -> bool:
        """An active user without a usable wrap: an administrator must set a new password."""
        entry = self.entry(name)
        return bool(entry and not entry.get("disabled") and (entry.get("reset") or entry.get("legacy")
                                                             or not entry.get("wrapped")))

    def reset_check(self, name: str, password: str) -> bool:
        """Whether ``password`` is the old password of a user waiting for a new one (the log-in
        then says to ask an administrator). Never gives a key."""
        entry = self.entry(name)
        if not entry or not (entry.get("reset") or entry.get("legacy")):
            return False
        kdf = entry.get("kdf")
        try:
            if kdf["name"] != "legacy-scrypt":
                return False
            n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
            salt = bytes.fromhex(entry["salt"])
        except (TypeError, KeyError, ValueError):
            return False
        if not (2 <= n <= 1 << 20 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
            return False
        digest = _scrypt(password or "", salt, n, r, p)
        if entry.get("check"):
            try:
                return hmac.compare_digest(_unb64(entry["check"]), self._reset_check(digest, name))
            except ValueError:
                return False
        # a sidecar written by an earlier version: its wrap by the old hash only checks here
        return self._unwrap(entry, legacy_kek(digest),
                            self._aad("user", name, entry.get("role"), entry.get("unit"))) is not None

    def disable_user(self, name: str, role: str, unit: str | None, *, save: bool = True) -> None:
        """A disabled user keeps no wrapped key (re-enabling needs a new password)."""
        self.data["users"][name] = {"role": role, "unit": unit, "disabled": True}
        self.data["had_users"] = True
        if save:
            self.save()

    def unwrap_user(self, name: str, password: str) -> tuple[bytes, dict] | None:
        """The store key and the user's entry, or None (no such user, disabled, wrong
        password, or an entry edited since it was written)."""
        entry = self.entry(name)
        if not entry or not entry.get("wrapped") or entry.get("legacy"):
            decoy(password)   # the same work for a name that does not exist
            return None
        kek = self._kek(entry, password or "")
        if kek is None:
            return None
        key = self._unwrap(entry, kek, self._aad("user", name, entry.get("role"), entry.get("unit")))
        return (key, entry) if key is not None else None

    def set_recovery(self, code: str, key: bytes, *, save: bool = True) -> None:
        self.data["recovery"] = self._new_entry(normalise_recovery_code(code), key,
                                                self._aad("recovery"))
        if save:
            self.save()

    @property
    def has_recovery(self) -> bool:
        return isinstance(self.data.get("recovery"), dict)

    def unwrap_recovery(self, code: str) -> bytes | None:
        """The store key, or None for a wrong 恢复码 (:raises KeyringError: not a code at all)."""
        code = normalise_recovery_code(code)
        entry = self.data.get("recovery")
        if not isinstance(entry, dict):
            return None
        kek = self._kek(entry, code)
        return None if kek is None else self._unwrap(entry, kek, self._aad("recovery"))

    # -- failed log-ins, by name whether or not the user exists (no enumeration)
    def _failure_key(self, name: str) -> str:
        return hmac.new(self.store_id.encode(), (name or "").encode("utf-8"), "sha256").hexdigest()[:32]

    def failures(self, name: str) -> tuple[int, dt.datetime | None]:
        got = self.data["failures"].get(self._failure_key(name))
        if not isinstance(got, list) or len(got) != 2:
            return 0, None
        try:
            return int(got[0]), dt.datetime.fromisoformat(got[1]) if got[1] else None
        except (TypeError, ValueError):
            return 0, None

    def set_failures(self, name: str, count: int, locked_until: dt.datetime | None,
                     now: dt.datetime) -> None:
        table = self.data["failures"]
        key = self._failure_key(name)
        if count or locked_until:
            table[key] = [count, locked_until.isoformat(timespec="seconds") if locked_until else None]
        else:
            table.pop(key, None)
        if len(table) > MAX_FAILURE_NAMES:   # guessing many names: keep the locks still running
            for k, (c, until) in list(table.items()):
                if not until or dt.datetime.fromisoformat(until) <= now:
                    table.pop(k)
            while len(table) > MAX_FAILURE_NAMES:
                table.pop(next(iter(table)))
        with contextlib.suppress(OSError):   # a read-only folder: the store will not open anyway
            self.save()

    def clear_failures(self, name: str) -> None:
        self.data["failures"].pop(self._failure_key(name), None)


_edit_lock = threading.RLock()


@contextlib.contextmanager
def editing(db: Path | str):
    """The sidecar of ``db`` loaded for a change (one change at a time in this process;
    one program writes a store at a time): save it inside the block."""
    with _edit_lock:
        yield Keyring.load(db)


def legacy_kek(digest: bytes) -> bytes:
    """The key earlier versions wrapped the store key with for the users of a store made
    before encryption, from the old scrypt hash. Anyone holding an old unencrypted copy
    has that hash: such a wrap no longer opens anything (:meth:`Keyring.reset_check`)."""
    return HKDF(algorithm=SHA256(), length=32, salt=None,
                info=b"minsheng legacy password wrap").derive(digest)


def decoy(password: str) -> None:
    """The work of one unwrap, for a name that has no entry."""
    n, r, p = scrypt_params()
    _scrypt(password or "", b"\x00" * 16, n, r, p)
