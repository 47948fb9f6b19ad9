"""What a store does with its existing rows when it adopts a changed catalog.

A new catalog version adds fields (``ensure_table`` adds their columns; nothing is
dropped). The rows already kept then get what a save would give them today:

* an empty field that takes another field's value gets it (``default_from``: the one
  检查机构 of an old 两癌 row becomes 乳腺癌检查机构 too; 所属月份 is the month of the
  发放日期; a free-text 事项名称 that is one of the 高效办成一件事 items selects it), and a
  field a ``value_in_if`` rule allows one value for gets that value (元/月 for 城市低保);
* 待补充 (``_incomplete`` / ``_missing``) is worked out again under the new rules: a row
  the new catalog needs more of (a 事项名称 outside the fixed list), or that breaks one of
  its rules relating fields (a date before the one it follows: the rule's field), is kept
  and marked 待补充 — never refused; a row it needs less of is complete again.

Only ledgers whose definition changed are read. The values filled are derived from the
row alone, so every install that adopts the catalog fills the same values; they keep the
row's own version stamps (see versions.py: the row's base stamp covers them), so a merge
between two upgraded installs sees no change.
"""
from __future__ import annotations

from ..catalog.model import Catalog
from ..catalog.validation import checker_of, stored_broken
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
        cols = list(dict.fromkeys(checker.fill_reads + checker.missing_reads + checker.rule_reads))
        select = "".join(f", [{c}]" for c in cols)
        cur = conn.execute(f"SELECT rowid, _missing{select} FROM [{led.table}] WHERE {LIVE}")
        updates: dict[tuple[str, ...], list[list]] = {}   # the columns set → their rows' values
        n = 0
        while block := cur.fetchmany(CHUNK):
            rowids, was, *values = map(list, zip(*block))
            columns = dict(zip(cols, values))
            fills: dict[int, list[str]] = {}
            for fid, rows in checker.fill_defaults(columns, len(block)).items():
                for i in rows:
                    fills.setdefault(i, []).append(fid)
            found = checker.missing(columns, len(block))
            for i, problem in stored_broken(checker, columns, len(block)).items():
                if problem.field and problem.field not in found.get(i, ()):
                    found.setdefault(i, []).append(problem.field)
            gaps = {i: "、".join(fields) for i, fields in found.items()}
            for i, (rowid, old_gaps) in enumerate(zip(rowids, was)):
                new_gaps = gaps.get(i)
                if i not in fills and (old_gaps == new_gaps or (
                        _same_gaps(old_gaps, new_gaps) if old_gaps else new_gaps is None)):
                    continue
                filled = fills.get(i, ())
                updates.setdefault(tuple(filled), []).append(
                    [*(columns[f][i] for f in filled), 1 if new_gaps else 0, new_gaps, rowid])
                n += 1
        for filled, rows in updates.items():   # in table order: the pages written one after another
            sets = ", ".join(f"[{c}] = ?" for c in (*filled, "_incomplete", "_missing"))
            conn.executemany(f"UPDATE [{led.table}] SET {sets} WHERE rowid = ?", rows)
        if n:
            changed[led.id] = n
    return changed


def _same_gaps(old: str | None, new: str | None) -> bool:
    """Whether a stored 待补充 list (``a、b``) names the same fields as the new one, in any order::

        >>> _same_gaps("b、a", "a、b"), _same_gaps("、", None), _same_gaps("a", None)
        (True, True, False)
    """
    return set((old or "").split("、")) - {""} == set((new or "").split("、")) - {""}
