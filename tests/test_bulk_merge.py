"""The bulk merge (versions compared in one query per batch, values checked column by
column, each distinct value's field rules once) against the per-row reference path
(``_Applier.bulk = False``: every row parsed, checked and merged field by field on its
own): the same packages, imported in the same order into two copies of one store, give
the same summaries and the same store — rows, versions, conflicts, quarantined records,
change log and audit trail (timestamps aside). Packages carry new rows, edits, deletes,
concurrent edits (conflicts, losing leaves travelling on), rows relayed by a third
install, full packages (mostly unchanged and older rows) and rows that break a rule or
a bound."""
from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import copy_store, make_id
from test_sync_properties import EXAMPLES, FAST, FIELDS, TODAY, VALUES, canonical_state, make_mesh, row

from desktop_app.core import sync
from desktop_app.core.store.database import Store
from desktop_app.core.sync import incoming
from desktop_app.core.sync.rows import RowReader
from desktop_app.core.sync.scope import content_problem

CORRUPTIONS = {
    "rule": ("phone", "123"),                  # breaks a field rule: held (quarantined)
    "float": ("address", 12.5),                # a number in a text field: checked on its own
    "long": ("note", "长" * 40_000),            # beyond a cell: the record is refused
    "deleted": ("_deleted", 2),                # not a delete flag: the record is refused
    "cross": ("id_number", make_id("19700312", 3)),   # a man: breaks a rule relating fields, held
}


def merged_state(store: Store) -> str:
    """What a merge decides, without the times and clock stamps of this install's own entries."""
    conn = store.conn
    return json.dumps({
        "rows": canonical_state(store),
        "quarantine": sorted(conn.execute(
            "SELECT direction, package_id, source, kind, tbl, uuid, rule, record FROM quarantine").fetchall()),
        "change_log": sorted(conn.execute("SELECT tbl, uuid FROM change_log").fetchall()),
        "audit": conn.execute("SELECT origin, origin_id, action, tbl, uuid, before, after, source FROM audit "
                              "ORDER BY id").fetchall(),
        "received": sorted(conn.execute("SELECT source, seq, package_id FROM received").fetchall()),
        "packages": sorted(conn.execute("SELECT package_id, summary FROM packages").fetchall()),
        "incomplete": sorted(conn.execute(
            "SELECT uuid, _incomplete, _missing, _origin, _created FROM ledger_two_cancer").fetchall()),
    }, ensure_ascii=False, sort_keys=True)


def corrupt(store: Store, uid: str, how: str) -> None:
    """Change a stored value behind the program's back (as a broken or forged install
    would send it) and log the row as changed, so the next package carries it."""
    col, value = CORRUPTIONS[how]
    with store.transaction():
        store.conn.execute(f"UPDATE ledger_two_cancer SET [{col}] = ? WHERE uuid = ?", (value, uid))
        store.conn.execute("INSERT INTO change_log (tbl, uuid, stamp) VALUES ('ledger_two_cancer', ?, ?)",
                           (uid, store.clock.tick()))


EVERY_OUTCOME = [   # new, updated, unchanged, older, deleted, conflicts (losers relayed), held, refused
    (0, "add", 0, "phone", 0, "rule"), (0, "add", 0, "phone", 0, "rule"), (0, "add", 0, "phone", 0, "rule"),
    (0, "full", 0, "phone", 0, "rule"), (0, "relay", 0, "phone", 0, "rule"),
    (0, "clash", 0, "phone", 0, "rule"), (0, "clash", 1, "address", 1, "rule"),
    (1, "relay", 1, "phone", 0, "rule"), (2, "send", 0, "phone", 0, "rule"),
    (0, "edit", 2, "institution", 1, "rule"), (0, "send", 0, "phone", 0, "rule"),
    (1, "delete", 0, "phone", 0, "rule"), (1, "send", 0, "phone", 0, "rule"),
    (0, "corrupt", 1, "phone", 0, "rule"), (0, "corrupt", 2, "phone", 0, "long"),
    (0, "corrupt", 0, "phone", 0, "float"), (0, "corrupt", 0, "phone", 0, "deleted"),
    (1, "corrupt", 0, "phone", 0, "cross"),
]


@example(script=EVERY_OUTCOME, order=random.Random(1))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), phases=FAST)
@given(script=st.lists(st.tuples(st.integers(0, 2),
                                 st.sampled_from(["add", "add", "edit", "clash", "delete", "send", "full",
                                                  "relay", "relay", "corrupt"]),
                                 st.integers(0, 20), st.sampled_from(FIELDS), st.integers(0, 2),
                                 st.sampled_from(sorted(CORRUPTIONS))),
                       min_size=6, max_size=24),
       order=st.randoms(use_true_random=False))
def test_the_bulk_merge_gives_the_store_the_per_row_merge_gives(script, order):
    root = Path(tempfile.mkdtemp())
    try:
        senders = make_mesh(root, 3)
        [receiver] = make_mesh(root, 1, first=3)
        reference = Store.open(copy_store(receiver.path, root / "reference.sqlite3"))
        to = receiver.node.org
        packages, uuids, broken, n = [], [], set(), 0
        for node, action, pick, col, value, how in script:
            s = senders[node]
            led = s.ledger("two_cancer")
            live = [u for u in uuids if u not in broken and (x := led.get(u)) is not None and not x["_deleted"]]
            if action == "add":
                n += 1
                uuids.append(led.add(row(n), today=TODAY, allow_duplicate=True).uuid)
            elif action == "edit" and live:
                led.update(live[pick % len(live)], {col: VALUES[col][value]}, today=TODAY)
            elif action == "clash":          # two installs edit one field, neither seeing the other
                other = senders[(node + 1) % 3].ledger("two_cancer")
                both = [u for u in live if (x := other.get(u)) is not None and not x["_deleted"]]
                if both:
                    led.update(both[pick % len(both)], {col: VALUES[col][value]}, today=TODAY)
                    other.update(both[pick % len(both)], {col: VALUES[col][(value + 1) % 3]}, today=TODAY)
            elif action == "delete" and live:
                led.delete(live[pick % len(live)])
            elif action == "corrupt" and live:       # (no install edits it any more)
                broken.add(live[pick % len(live)])
                corrupt(s, live[pick % len(live)], how)
            elif action == "relay":          # to another sender, whose next package carries it on
                other = senders[(node + 1 + pick % 2) % 3]
                sync.import_package(other, sync.export_package(s, root / "mesh", to=other.node.org).path)
            elif action in ("send", "full"):
                packages.append(sync.export_package(s, root / "out", to=to, full=action == "full").path)
        for s in senders:
            packages.append(sync.export_package(s, root / "out", to=to).path)
        order.shuffle(packages)
        for path in packages + packages[:1]:
            bulk = sync.import_package(receiver, path, before_write=lambda: None)
            incoming._Applier.bulk = False
            try:
                per_row = sync.import_package(reference, path, before_write=lambda: None)
            finally:
                incoming._Applier.bulk = True
            assert bulk.to_json() == per_row.to_json()
        assert merged_state(receiver) == merged_state(reference)
        for s in [*senders, receiver, reference]:
            s.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- the reader, record by record

VALUE_POOL = [None, "", "  ", "示例", "13800000001", "123", "abc", "2024-03-05", "2024-13-45", "正常", "1级",
              "妇检+TCT", "农村适龄", "430902197003120048", "43090219700312004X", 0, 1, 2, 2 ** 63, -(2 ** 63),
              12.5, 1.0, -0.0, float("inf"), float("nan"), True, [1], {"a": 1}, "长" * 32_768]
VERSIONS = ['[[5,"n"]]', '[[6,"n"],{"phone":[9,"m",{"n":6}]}]', '[[7,"m"]]', "[[-1,\"n\"]]", "[5]", "不是版本",
            '[[4102444800000000000000,"n"]]', 5]
KEYS = ["org", "name", "phone", "note", "cervical_date", "birads", "_deleted", "other"]


def _spec_and_fields():
    from desktop_app.core.catalog import load_catalog
    from desktop_app.core.store.schema import ledger_spec
    led = load_catalog().ledger("two_cancer")
    return ledger_spec(led), led.fields


SPEC, FIELDS_OF = _spec_and_fields()
record = st.fixed_dictionaries(
    {"u": st.sampled_from(["r1", "r2", "r3", "", 7, "x" * 65]),
     "ver": st.sampled_from(VERSIONS[:3]) | st.sampled_from(VERSIONS),
     "v": st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUE_POOL), max_size=len(KEYS))},
    optional={"c": st.sampled_from([None, "2024-03-05T08:00:00", 5]), "o": st.sampled_from([None, "n", 5]),
              "l": st.sampled_from([None, {"phone": [[[4, "m"], "13900000002"]]}, {"phone": [[[4, "m"], 2 ** 64]]},
                                    {"phone": "x"}, []])})


@settings(max_examples=300, deadline=None)
@given(recs=st.lists(record, max_size=12))
def test_reading_a_batch_is_reading_each_record(recs):
    """Column by column and memoised, or one record at a time: the same rows, the same
    refusals, the same newest stamp."""
    bulk, single = RowReader(), RowReader()
    single.memo = False
    got, want = bulk.parse_many(SPEC, recs), single.parse_many(SPEC, recs)
    assert [s and (s.values, s.versions.encode(), s.losers) for s in got] == \
        [s and (s.values, s.versions.encode(), s.losers) for s in want]
    assert bulk.newest == single.newest


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({f.id: st.sampled_from(VALUE_POOL[:24]) for f in FIELDS_OF[:10]}),
                     max_size=12), again=st.booleans())
def test_field_rules_checked_once_per_value_are_the_rules_checked_per_row(rows, again):
    bulk, single = RowReader(), RowReader()
    single.memo = False
    if again:                               # what earlier batches left in the memo is used
        bulk.check(FIELDS_OF, rows[::-1])
    assert bulk.check(FIELDS_OF, rows) == single.check(FIELDS_OF, rows)


def test_a_field_id_two_ledgers_share_is_checked_by_each_ledgers_own_rule():
    from desktop_app.core.catalog import load_catalog
    catalog = load_catalog()
    screening, fairs = catalog.ledger("two_cancer").fields, catalog.ledger("job_fairs").fields
    reader, rows = RowReader(), [{"status": "已完成"}, {"status": "已举办"}]
    assert reader.check(screening, rows)[0] == [None, content_problem(screening, rows[1])]
    assert reader.check(fairs, rows)[0] == [content_problem(fairs, rows[0]), None]


WOMAN, MAN, GIRL = make_id("19700312", 2), make_id("19700312", 3), make_id("20100312", 2)
RULED = {   # values each valid or not on their own, which together may break a rule relating fields
    "two_cancer": {"id_number": [None, WOMAN, MAN, GIRL, "123", WOMAN.lower()],
                   "cervical_date": [None, "2024-03-05", "2024.3.5", "2030-01-01", "明天"], "name": ["示例", None]},
    "barrier_free": {"id_number": [None, MAN, WOMAN], "sex": [None, "男", "女", "不详"],
                     "disability_cert": [None, MAN + "41", WOMAN + "12", MAN + "99"],
                     "disability_grade": [None, "一级", "二级"], "start_date": [None, "2024-03-01", "2024-05-01"],
                     "finish_date": [None, "2024-04-01", "20240401"], "accept_date": [None, "2024-04-10"]},
}


@pytest.mark.parametrize("ledger", sorted(RULED))
def test_rules_relating_fields_checked_by_column_are_the_rules_checked_per_row(ledger):
    """Judged on the normalised columns a batch's field rules left, or row by row
    (:func:`~desktop_app.core.sync.scope.content_check`): the same verdicts and values stored; a deleted
    row is never held for such a rule."""
    from desktop_app.core.catalog import load_catalog
    led = load_catalog().ledger(ledger)
    pools = dict(RULED[ledger], _deleted=[None, 0, 1])

    @settings(max_examples=150, deadline=None)
    @given(rows=st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in pools.items()}), max_size=12),
           again=st.booleans())
    def check(rows, again):
        bulk, single = RowReader(today=TODAY), RowReader(today=TODAY)
        single.memo = False
        if again:
            bulk.check(led.fields, rows[::-1], led)
        got = bulk.check(led.fields, rows, led)
        assert got == single.check(led.fields, rows, led)
        assert all(rows[i]["_deleted"] != 1 or got[0][i] == bulk.check(led.fields, [rows[i]])[0][0]
                   for i in range(len(rows)))
    check()
