"""Adopting a catalog brings the rows kept up to it a chunk at a time, column by column
(issue 18): the same values filled, the same 待补充 and the same counts as the row-by-row
adoption it replaces (kept here as the reference, with the per-row oracle of the checks),
on the demo district with rows that lack what a save would have filled and 待补充 marks
that no longer hold."""
import pytest
from oracle_validation import fill_defaults, missing_fields
from support import copy_store

from desktop_app.core.catalog.validation import broken_many, checker_of
from desktop_app.core.demo import create_demo
from desktop_app.core.store import catalog_fill
from desktop_app.core.store.database import Store


def reference_fill(conn, old, new):
    """fill_existing_rows as it was (with the rules relating fields since added): each row
    checked and written on its own."""
    before = {led.id: led for led in old.ledgers} if old is not None else {}
    changed = {}
    for led in new.ledgers:
        if before.get(led.id) == led:
            continue
        cols = [f.id for f in led.fields]
        select = ", ".join(f"[{c}]" for c in cols)
        updates = []
        for row in conn.execute(f"SELECT uuid, _missing, {select} FROM [{led.table}] WHERE _deleted = 0").fetchall():
            values = dict(zip(cols, row[2:]))
            filled = fill_defaults(led, values)
            missing = missing_fields(led, values)
            rule = broken_many(led, [values])[0]      # a rule relating fields: 待补充 on its field
            if rule is not None and rule.field not in missing:
                missing.append(rule.field)
            if filled or set(missing) != set((row[1] or "").split("、")) - {""}:
                updates.append((row[0], filled, missing))
        for uid, filled, missing in updates:
            sets = {**filled, "_incomplete": 1 if missing else 0, "_missing": "、".join(missing) if missing else None}
            conn.execute(f"UPDATE [{led.table}] SET {', '.join(f'[{k}] = ?' for k in sets)} WHERE uuid = ?",
                         [*sets.values(), uid])
        if updates:
            changed[led.id] = len(updates)
    return changed


@pytest.fixture(scope="module")
def stale(tmp_path_factory):
    """The demo district as a store of an older catalog would hold it: the fields a save
    fills (and the ones 待补充 reads) blank in some rows, 待补充 marks stale (or written
    another way) in others, some rows deleted."""
    path = tmp_path_factory.mktemp("fill") / "demo.sqlite3"
    store = create_demo(path, scale=0.1)
    with store.transaction():
        for n, led in enumerate(store.catalog.ledgers):
            checker = checker_of(led)
            for k, fid in enumerate(dict.fromkeys(checker.fill_reads + checker.missing_reads)):
                store.conn.execute(f"UPDATE [{led.table}] SET [{fid}] = NULL WHERE (rowid + {k}) % {3 + k % 4} = 0")
            store.conn.execute(f"UPDATE [{led.table}] SET _missing = 'status', _incomplete = 1 WHERE rowid % 5 = 1")
            store.conn.execute(f"UPDATE [{led.table}] SET _missing = NULL, _incomplete = 0 WHERE rowid % 5 = 2")
            # the same fields named another way (a stray separator): nothing to write
            store.conn.execute(f"UPDATE [{led.table}] SET _missing = _missing || '、' WHERE rowid % 5 = 3")
            store.conn.execute(f"UPDATE [{led.table}] SET _deleted = 1, _missing = 'x' WHERE rowid % 11 = {n % 11}")
    store.close()
    return path


def dump(store):
    return {led.id: store.conn.execute(f"SELECT * FROM [{led.table}] ORDER BY rowid").fetchall()
            for led in store.catalog.ledgers}


def test_adoption_fills_as_the_row_by_row_path(stale, tmp_path, monkeypatch):
    results = {}
    for name, fill in (("chunks", catalog_fill.fill_existing_rows), ("rows", reference_fill)):
        monkeypatch.setattr(catalog_fill, "CHUNK", 7)     # chunks end mid-ledger
        with Store.open(copy_store(stale, tmp_path / f"{name}.sqlite3")) as store:
            with store.transaction():
                counts = fill(store.conn, None, store.catalog)
            results[name] = counts, dump(store)
    counts, rows = results["chunks"]
    assert results["chunks"] == results["rows"]
    assert len(counts) > 5 and sum(counts.values()) > 100


def test_a_row_breaking_a_rule_relating_its_fields_is_kept_and_marked_on_that_field(tmp_path):
    demo = create_demo(tmp_path / "demo.sqlite3", scale=0.05)
    led = demo.catalog.ledger("barrier_free")
    uid = demo.conn.execute(f"SELECT uuid FROM [{led.table}] WHERE _incomplete = 0 "
                            "AND start_date IS NOT NULL LIMIT 1").fetchone()[0]
    with demo.transaction():   # as a store of an older catalog (without the rule) could hold it
        demo.conn.execute(f"UPDATE [{led.table}] SET finish_date = date(start_date, '-1 day') WHERE uuid = ?", (uid,))
        catalog_fill.fill_existing_rows(demo.conn, None, demo.catalog)
    incomplete, missing = demo.conn.execute(f"SELECT _incomplete, _missing FROM [{led.table}] WHERE uuid = ?",
                                            (uid,)).fetchone()
    demo.close()
    assert incomplete == 1 and "finish_date" in missing.split("、")
