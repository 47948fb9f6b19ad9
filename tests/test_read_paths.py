"""The read paths of a district at a million rows (issue 18): the live rows are scanned
(``+_deleted = 0``) rather than walked through the search index row by row, a unit's rows
are read through its range of the org index (a GLOB on the code's prefix), duplicates are
keyed from the person index. Each path's results are those of the straightforward
queries it replaces (kept here as the reference), on the demo district with deleted rows,
people met in two towns (one of them since deleted) and rows of a town itself; and no
read of live rows walks the search index."""
import datetime as dt
import re
from importlib import import_module

import pytest
from support import copy_store

from desktop_app.core.catalog.model import load_catalog
from desktop_app.core.demo import create_demo
from desktop_app.core.store.database import Store
from desktop_app.core.store.query import LedgerView, Selection, counted_selection
from desktop_app.core.store.users import Session

# the modules (a package's function of the same name hides some of them)
duplicates, explain, deidentify, export, importer, query, records = (import_module(f"desktop_app.core.{m}") for m in (
    "district.duplicates", "district.explain", "excel.deidentify", "excel.export", "excel.importer", "store.query",
    "store.records"))
AS_OF = dt.date(2024, 12, 31)


def old_within(code, column="org", *, install=None):
    """The unit condition as it was: every row read."""
    return f"substr({column}, 1, {len(code)}) = ?", [code]


def old_candidates(store, led):
    """Duplicate candidates as they were: both passes over the live rows by the search
    index, the person id of a pair read row by row."""
    key, date = duplicates._key_sql(led), led.date_field
    title = led.title_field or led.fields[0].id
    whole = " AND ".join(f"[{k.removeprefix('year:')}] IS NOT NULL"
                         for k in ([led.persons[0].column] if led.persons else led.natural_key))
    cur = store.conn.execute(
        f"SELECT uuid, org, {key} AS k, [{date}], [{title}], status, _incomplete, _created "
        f"FROM [{led.table}] WHERE _deleted = 0 AND {whole} AND {key} IN (SELECT {key} FROM "
        f"[{led.table}] WHERE _deleted = 0 AND {whole} GROUP BY {key} HAVING COUNT(*) > 1) "
        f"ORDER BY k, [{date}], uuid")
    groups = {}
    for uid, org, k, day, name, status, incomplete, created in cur:
        groups.setdefault(k, []).append({"uuid": uid, "org": org, "date": day, "name": name, "status": status,
                                         "incomplete": bool(incomplete), "created": created})
    if led.persons:   # the person id of each group, read as it was: from the row
        col = led.persons[0].column
        groups = {store.conn.execute(f"SELECT [{col}] FROM [{led.table}] WHERE uuid = ?",
                                     (rows[0]["uuid"],)).fetchone()[0]: rows for rows in groups.values()}
    return groups


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory):
    """The demo district with rows deleted, people met in two towns (one of their rows
    since deleted: that person is no duplicate any more) and rows of a town itself."""
    path = tmp_path_factory.mktemp("reads") / "demo.sqlite3"
    store = create_demo(path, scale=0.1)
    conn = store.conn
    with store.transaction():
        conn.execute("UPDATE ledger_relief_payments SET org = substr(org, 1, 9) WHERE rowid % 7 = 0")
        for led in store.catalog.ledgers:
            if led.persons:
                col = led.persons[0].column
                conn.execute(f"UPDATE [{led.table}] SET [{col}] = (SELECT [{col}] FROM [{led.table}] "
                             f"ORDER BY rowid LIMIT 1) WHERE rowid % 9 = 0")
                # the person of the second row met again in the third, since deleted
                conn.execute(f"UPDATE [{led.table}] SET [{col}] = (SELECT [{col}] FROM [{led.table}] "
                             f"WHERE rowid = 2), _deleted = 1 WHERE rowid = 3")
                conn.execute(f"UPDATE [{led.table}] SET _deleted = 1 WHERE rowid % 13 = 0")
            else:
                conn.execute(f"UPDATE [{led.table}] SET _deleted = 1 WHERE rowid % 13 = 0")
    store.close()
    return path


@pytest.fixture
def demo(demo_master, tmp_path):
    store = Store.open(copy_store(demo_master, tmp_path / "demo.sqlite3"))
    yield store
    store.close()


def units(store):
    town = store.orgs.children(store.node.org)[0]
    return [town.code, store.orgs.children(town.code)[0].code]


def reads(store, tmp_path):
    """What every read path returns on ``store``."""
    out = {}
    town, village = units(store)
    for led in store.catalog.ledgers:
        rec = store.ledger(led.id)
        out[led.id] = ([r["uuid"] for r in rec.rows()], [r["uuid"] for r in rec.rows(org=town)],
                       [r["uuid"] for r in rec.rows(org=village, deleted=True)], rec.count(org=town),
                       rec.count(deleted=True), rec.count(deleted=None))
        for sel in (Selection(), Selection(org=town), Selection(org=village), Selection(deleted=True),
                    Selection(org=town, deleted=True), Selection(org=village, status=led.statuses[-1]),
                    Selection(org=town, incomplete=True), Selection(org=town, search="示例")):
            out[led.id, sel] = list(LedgerView(store, led, sel, catalog=store.catalog).ids())
    for ind in store.catalog.indicators:
        lid, counted = counted_selection(store.catalog, ind.id, AS_OF, town)
        out[ind.id, "counted"] = list(LedgerView(store, store.catalog.ledger(lid), Selection(counted=counted),
                                                 catalog=store.catalog).ids())
        for scope in (None, town, village):
            out[ind.id, scope] = explain.explain(store, ind.id, AS_OF, scope=scope, limit=5000).to_json()
    out["pairs"] = [p.to_json() for p in duplicates.find_duplicates(store)]
    for i, village_or_all in enumerate((None, village)):
        export.export_ledger(store, "two_cancer", tmp_path / f"e{i}.csv", village=village_or_all)
        deidentify.export_deidentified(store, "two_cancer", tmp_path / f"d{i}.csv", village=village_or_all,
                                       purpose="统计")
        out["export", i] = (tmp_path / f"e{i}.csv").read_bytes(), (tmp_path / f"d{i}.csv").read_bytes()
    return out


def test_every_read_equals_the_straightforward_queries(demo, tmp_path, monkeypatch):
    new = reads(demo, tmp_path / "new")
    assert new["pairs"] and any(p["person_id"] for p in new["pairs"])
    for module in (query, records, explain, export, deidentify):
        monkeypatch.setattr(module, "within_sql", old_within)
    for module in (records, explain, export, deidentify):
        monkeypatch.setattr(module, "LIVE", "_deleted = 0")
    monkeypatch.setattr(duplicates, "_candidates", old_candidates)
    old = reads(demo, tmp_path / "old")
    assert new.keys() == old.keys()
    for key in new:
        assert new[key] == old[key], key


def test_a_unit_users_persons_are_those_with_a_row_there(demo):
    town, village = units(demo)
    every = [r[0] for r in demo.conn.execute("SELECT uuid FROM persons")]
    demo.session = Session("示例", "审核员", village)
    seen = {p for p in every if demo.persons.visible(p)}
    expected = {u for (u, org) in demo.conn.execute("SELECT uuid, org FROM persons") if org.startswith(village)}
    for led in demo.catalog.ledgers:
        for link in led.persons:
            expected |= {u for (u,) in demo.conn.execute(
                f"SELECT [{link.column}] FROM [{led.table}] WHERE substr(org, 1, ?) = ?", (len(village), village))}
    assert seen == expected - {None} and 0 < len(seen) < len(every)
    found = {p["uuid"] for p in demo.persons.search("示例", limit=10 ** 6)}
    assert found == {p for p in seen if "示例" in demo.persons.get(p)["name"] and not demo.persons.get(p)["_deleted"]}


def plans(store, statements):
    return {sql: " / ".join(r[3] for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            for sql in statements if "FROM [ledger_" in sql}


def test_no_read_of_live_rows_walks_the_search_index(demo, tmp_path):
    seen = []
    town, village = units(demo)
    demo.conn.set_trace_callback(seen.append)
    try:
        for led in demo.catalog.ledgers:
            rec = demo.ledger(led.id)
            rec.rows(), rec.rows(org=town), rec.count()
            for row in rec.rows(limit=3):
                rec.duplicates_of(row)
            LedgerView(demo, led, Selection(org=town, status=led.statuses[-1])).ids()
        for ind in demo.catalog.indicators:
            explain.explain(demo, ind.id, AS_OF)
            explain.explain(demo, ind.id, AS_OF, scope=town)
        duplicates.find_duplicates(demo)
        export.export_ledger(demo, "two_cancer", tmp_path / "all.xlsx", reveal=True, purpose="核对")
        export.export_ledger(demo, "two_cancer", tmp_path / "v.csv", village=village)
        deidentify.export_deidentified(demo, "two_cancer", tmp_path / "d.csv", purpose="统计")
        importer.plan_import(demo, tmp_path / "all.xlsx", today=AS_OF)   # its keys looked up here
    finally:
        demo.conn.set_trace_callback(None)
    found = plans(demo, seen)
    assert len(found) > 100 and any("IN (" in sql and "_deleted" in sql for sql in found)
    # the search index read alone (a count) is one pass; through it to the rows, a walk
    walks = {sql: plan for sql, plan in found.items() if re.search(r"(?<!COVERING )INDEX \S+___deleted_", plan)}
    assert not walks


def test_a_unit_is_read_through_its_org_index_and_the_whole_district_scanned(demo):
    town, village = units(demo)
    led = demo.catalog.ledger("two_cancer")
    seen = []
    demo.conn.set_trace_callback(seen.append)
    try:
        LedgerView(demo, led, Selection(org=village)).ids()
        demo.ledger("two_cancer").rows(org=demo.node.org)
    finally:
        demo.conn.set_trace_callback(None)
    (village_plan, district_plan) = plans(demo, seen).values()
    assert "COVERING INDEX ledger_two_cancer__org__deleted__updated (org>? AND org<?)" in village_plan
    assert district_plan.startswith("SCAN ledger_two_cancer")


def test_the_shipped_catalog_names_every_search_index_after_deleted():
    """The check above finds a walk of the search index by its name."""
    from desktop_app.core.store.schema import ledger_spec
    for led in load_catalog().ledgers:
        assert ledger_spec(led).indexes[1][0] == "_deleted"
