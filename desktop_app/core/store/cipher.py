"""Every connection to a store or a backup, through SQLCipher (``sqlcipher3``).

A store is encrypted with a random 32-byte key (:mod:`.keyring` keeps it wrapped for
each user); the key is given raw, so opening costs no key derivation. Without a key
the same build reads and writes plain SQLite, as every store before encryption was::

    >>> import os, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3"
    >>> key = os.urandom(32)
    >>> conn = connect(path, key)
    >>> _ = conn.execute("CREATE TABLE t (x)")
    >>> conn.close()
    >>> is_plaintext(path), is_encrypted(path)
    (False, True)
    >>> connect(path, key, readonly=True).execute("SELECT count(*) FROM t").fetchone()
    (0,)
    >>> connect(path, key).execute("PRAGMA temp_store").fetchone()   # 2: in memory, never a file
    (2,)
    >>> try:
    ...     connect(path, os.urandom(32)).execute("SELECT count(*) FROM sqlite_master")
    ... except DatabaseError as exc:
    ...     print(exc)
    file is not a database

Core catches only the exception classes re-exported here (never the standard
library's ``sqlite3`` ones: the two modules' classes differ).
"""
from __future__ import annotations

import os
from pathlib import Path

from sqlcipher3 import dbapi2 as _db

Connection = _db.Connection
Error = _db.Error
DatabaseError = _db.DatabaseError
OperationalError = _db.OperationalError
IntegrityError = _db.IntegrityError

HEADER = b"SQLite format 3\x00"
KEY_BYTES = 32

# None is bound as NULL through sqlcipher3's adapter look-up (no base type has an adapter:
# every other value skips it), and finding no adapter raises and clears an AttributeError
# for each None: a bulk insert with a few empty fields a row spent a fifth of its time
# there. An adapter for None that gives None back (a C call) binds the same NULL at once.
_db.register_adapter(type(None), {}.get)

# a wrong key is an expected event (a log-in, a foreign file): SQLCipher would print it
_quiet = _db.connect(":memory:")
_quiet.execute("PRAGMA cipher_log_level = NONE")
_quiet.close()


def key_literal(key: bytes) -> str:
    """The raw-key form SQLCipher takes (no passphrase derivation)."""
    if len(key) != KEY_BYTES:
        raise ValueError("a store key is 32 bytes")
    return f"x'{key.hex()}'"


def connect(path: Path | str, key: bytes | None, *, readonly: bool = False,
            timeout: float = 10) -> Connection:
    """A connection to ``path`` (``":memory:"`` too), keyed when ``key`` is given.

    A wrong key is noticed on the first read (``DatabaseError: file is not a database``).
    ``readonly`` opens the file read-only (writing raises ``OperationalError``).
    """
    if str(path) == ":memory:":
        conn = _db.connect(":memory:", timeout=timeout)
    elif readonly:
        conn = _db.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
    else:
        conn = _db.connect(str(path), timeout=timeout)
    if key is not None:
        conn.execute(f'PRAGMA key = "{key_literal(key)}"')
        # SQLite's temporary files (large sorts, temp tables) are not encrypted: keep them in
        # memory whatever the build's default
        conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def read_rows(path: Path | str, key: bytes | None, sql: str) -> list[tuple]:
    """The rows of one query on a store file opened read-only and closed again.

    :raises Error: the file does not open with ``key`` (or is no store).
    """
    conn = connect(path, key, readonly=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def is_plaintext(path: Path | str) -> bool:
    """Whether ``path`` starts like an unencrypted SQLite file (an empty file counts too)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(HEADER))
    except OSError:
        return False
    return head == HEADER or head == b""


def is_encrypted(path: Path | str) -> bool:
    """Whether ``path`` holds something that is not plain SQLite (an encrypted store, or any
    other file: only a key tells them apart)."""
    return Path(path).is_file() and not is_plaintext(path)


def copy_into(conn: Connection, target: Path | str, key: bytes | None) -> None:
    """SQLite's online backup of ``conn`` into a new file ``target`` encrypted with ``key``
    (the same key as ``conn``'s), made a single self-contained file."""
    dest = connect(target, key)
    try:
        conn.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        dest.close()


def export(conn: Connection, target: Path | str, key: bytes) -> None:
    """Everything in ``conn`` (plain or keyed) written into a new file ``target`` under
    another ``key`` (``sqlcipher_export``; the schema version is carried too)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(target), key_literal(key)))
    try:
        conn.execute("SELECT sqlcipher_export('encrypted')")
        conn.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        conn.commit()
    finally:
        conn.execute("DETACH DATABASE encrypted")
    if os.name != "nt":
        os.chmod(target, 0o600)
