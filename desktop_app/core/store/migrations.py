"""Numbered SQL migrations of the fixed tables (``db/NNNN_name.sql``).

Applied in order by ``PRAGMA user_version``; each file and the version bump
commit together in one transaction, so a failed migration leaves the file as
it was::

    >>> import sqlite3
    >>> conn = sqlite3.connect(":memory:")
    >>> apply(conn) == latest()
    True
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from ..paths import migrations_dir


def available(directory: Path | None = None) -> list[tuple[int, Path]]:
    directory = directory or migrations_dir()
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = re.match(r"(\d{4})_", path.name)
        if m:
            found.append((int(m[1]), path))
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"迁移文件编号不连续：{numbers}")
    return found


def latest() -> int:
    return len(available())


def statements(sql: str) -> list[str]:
    """Split a script into complete statements (executescript would commit early)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(l.strip().startswith("--") or not l.strip()
                               for l in buf.splitlines()):
        raise RuntimeError("迁移脚本末尾有不完整的语句")
    return out


def apply(conn: sqlite3.Connection, upto: int | None = None) -> int:
    """Apply pending migrations (up to ``upto``); returns the new user_version."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, path in available():
        if number <= current or (upto is not None and number > upto):
            continue
        conn.execute("BEGIN")
        try:
            for stmt in statements(path.read_text(encoding="utf-8")):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = number
    return current
