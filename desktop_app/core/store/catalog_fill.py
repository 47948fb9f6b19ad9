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
from ..catalog.validation import fill_defaults, missing_fields

CHUNK = 2000


def fill_existing_rows(conn, old: Catalog | None, new: Catalog) -> dict[str, int]:
    """Bring the rows of every changed ledger up to ``new`` (inside the caller's
    transaction). Returns ledger id → rows changed (only ledgers with changes)."""
    before = {led.id: led for led in old.ledgers} if old is not None else {}
    changed: dict[str, int] = {}
    for led in new.ledgers:
        if before.get(led.id) == led:
            continue
        cols = [f.id for f in led.fields]
        select = ", ".join(f"[{c}]" for c in cols)
        cur = conn.execute(f"SELECT uuid, _missing, {select} FROM [{led.table}] WHERE _deleted = 0")
        updates = []
        while True:
            block = cur.fetchmany(CHUNK)
            if not block:
                break
            for row in block:
                values = dict(zip(cols, row[2:]))
                filled = fill_defaults(led, values)
                missing = missing_fields(led, values)
                old_missing = set((row[1] or "").split("、")) - {""}
                if filled or set(missing) != old_missing:
                    updates.append((row[0], filled, missing))
        for uid, filled, missing in updates:
            sets = {**filled, "_incomplete": 1 if missing else 0,
                    "_missing": "、".join(missing) if missing else None}
            conn.execute(f"UPDATE [{led.table}] SET {', '.join(f'[{k}] = ?' for k in sets)} WHERE uuid = ?",
                         [*sets.values(), uid])
        if updates:
            changed[led.id] = len(updates)
    return changed
