"""What a store does with its existing rows when it adopts a changed catalog.

A new catalog version adds fields (``ensure_table`` adds their columns; nothing is
dropped). The rows already kept then get what a save would give them today:

* an empty field that takes another field's value gets it (``default_from``: the one
  检查机构 of an old 两癌 row becomes 乳腺癌检查机构 too; 所属月份 is the month of the
  发放日期; a free-text 事项名称 that is one of the 高效办成一件事 items selects it), and a
  field a ``value_in_if`` rule allows one value for gets that value (元/月 for 城市低保);
* 待补充 (``_incomplete`` / ``_missing``) is worked out again under the new rules: a row
  the new catalog needs more of (a 事项名称 outside the fixed list) is kept and marked
  待补充; a row it needs less of is complete again.

Only ledgers whose definition changed are read. The values filled are derived from the
row alone, so every install that adopts the catalog fills the same values; they keep the
row's own version stamps (see versions.py: the row's base stamp covers them), so a merge
between two upgraded installs sees no change.
"""
from __future__ import annotations

from ..catalog.model import Catalog
from ..catalog.validation import checker_of
from .schema import LIVE

CHUNK = 5000


def fill_existing_rows(conn, old: Catalog | None, new: Catalog) -> dict[str, int]:
    """Bring the rows of every changed ledger up to ``new`` (inside the caller's
    transaction). Returns ledger id → rows changed (only ledgers with changes).

    A chunk of rows at a time, column by column: the fields filled (the ledger's compiled
    :meth:`~..catalog.validation.Checker.fill_defaults`), then 待补充 worked out again
    (:meth:`~..catalog.validation.Checker.missing`); the rows that change are written with
    one ``executemany`` per set of columns they change."""
    before = {led.id: led for led in old.ledgers} if old is not None else {}
    changed: dict[str, int] = {}
    for led in new.ledgers:
        if before.get(led.id) == led:
            continue
        checker = checker_of(led)
        cols = list(dict.fromkeys(checker.fill_reads + checker.missing_reads))
        select = "".join(f", [{c}]" for c in cols)
        cur = conn.execute(f"SELECT uuid, _missing{select} FROM [{led.table}] WHERE {LIVE}")
        updates: dict[tuple[str, ...], list[list]] = {}   # the columns set → their rows' values
        n = 0
        while block := cur.fetchmany(CHUNK):
            uuids, was, *values = map(list, zip(*block))
            columns = dict(zip(cols, values))
            filled = checker.fill_defaults(columns, len(block))
            missing = checker.missing(columns, len(block))
            by_row: dict[int, list[str]] = {}
            for fid, rows in filled.items():
                for i in rows:
                    by_row.setdefault(i, []).append(fid)
            for i, uid in enumerate(uuids):
                gaps, fills = missing.get(i, []), by_row.get(i, ())
                if fills or set(gaps) != set((was[i] or "").split("、")) - {""}:
                    updates.setdefault(tuple(fills), []).append(
                        [*(columns[f][i] for f in fills), 1 if gaps else 0, "、".join(gaps) or None, uid])
                    n += 1
        for fills, rows in updates.items():
            sets = ", ".join(f"[{c}] = ?" for c in (*fills, "_incomplete", "_missing"))
            conn.executemany(f"UPDATE [{led.table}] SET {sets} WHERE uuid = ?", rows)
        if n:
            changed[led.id] = n
    return changed
