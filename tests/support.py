"""Helpers shared by the tests (importable: pytest puts tests/ on sys.path)."""
from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

from stdnum.cn import ric

TODAY = dt.date(2024, 6, 30)


def make_id(birth: str, seq: int = 2, region: str = "430902") -> str:
    """A well-formed 身份证号: region + birth (YYYYMMDD) + 3-digit sequence + check digit.

    ``seq`` even → woman, odd → man.
    """
    body = f"{region}{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def logical_dump(path: Path) -> str:
    """A hash of everything "unchanged" covers (DESIGN.md): rows, persons, change
    log, orgs, quotas, settings and every other table except import history."""
    conn = sqlite3.connect(str(path))
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT IN ('import_history') ORDER BY name")]
        h = hashlib.sha256()
        for t in tables:
            h.update(t.encode())
            for row in conn.execute(f"SELECT * FROM [{t}] ORDER BY 1"):
                h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        conn.close()


