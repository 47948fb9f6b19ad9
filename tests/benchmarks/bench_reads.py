"""Benchmark: the read paths of a 1,000,000-row district, and adopting a catalog change
there (issue 18; not run in CI).

    python tests/benchmarks/bench_reads.py [--district-rows 1000000] [--store PATH] [--repeat 3]
        [--only TEXT] [--work DIR] [--no-copy]

On the district store of tests/benchmarks/district_store.py (opened read-only: the cached
file is never written), as a 审核员 of the district (and, where a unit matters, one bound to a
town), each user-visible read: the ledger page's lists, filters, searches and sorts over
two_cancer (a quarter of the rows), the navigation's counts, the command line's list, the
duplicate check of a form, the person page's search and look-up, the sync centre's status,
the duplicates page and 为什么是这个数 (explain). Each figure is the median CPU seconds of
``--repeat`` runs of core's function (the machine is shared: CPU time is the steadier
figure; the wall time is printed beside it), next to a raw baseline measured in the same run
on the same connection: the plainest SQL returning the same rows, SQLite choosing its plan.
Goals: an interactive read ≤ 0.3 s or ≤ 1.5x its raw query; a report ≤ 1 s, or its floor
stated (explain: the progress figure it starts from, which core's compute makes).

Then, on a copy of the store in ``--work`` (default: a temporary folder; ``--no-copy``
skips this part): exporting a town's rows to .csv, a town's de-identified rows, the month's
调度 report (it records the rules it counted by), and adopting a catalog change that touches
two big ledgers — two_cancer gains a 复核机构 filled from 宫颈癌检查机构 (every row filled),
relief_payments a required 开户银行 (every row 待补充) — on a fresh copy each run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from desktop_app.core.district import find_duplicates, monthly_report  # noqa: E402
from desktop_app.core.district.explain import explain  # noqa: E402
from desktop_app.core.district.progress import compute  # noqa: E402
from desktop_app.core.excel.deidentify import export_deidentified  # noqa: E402
from desktop_app.core.excel.export import export_ledger  # noqa: E402
from desktop_app.core.store.database import Store  # noqa: E402
from desktop_app.core.store.query import LedgerView, Selection, counted_selection  # noqa: E402
from desktop_app.core.store.users import Session  # noqa: E402
from desktop_app.core.sync import status  # noqa: E402

AS_OF = dt.date(2024, 12, 31)
LEDGER = "two_cancer"


def measure(fn, repeat: int) -> tuple[float, float, object]:
    """Median CPU and wall seconds of ``repeat`` runs, and the last result."""
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        result = fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall), result


def raw(conn, sql: str, params=()):
    return lambda: conn.execute(sql, params).fetchall()


def size(result) -> str:
    if hasattr(result, "counted_total"):
        return f"{result.counted_total + result.excluded_total:,} rows"
    return f"{len(result):,}" if hasattr(result, "__len__") else ""


class Table:
    def __init__(self, args):
        self.args = args

    def wanted(self, name: str) -> bool:
        return not self.args.only or self.args.only in name

    def row(self, kind: str, name: str, fn, raw_fn=None, note: str = "") -> None:
        if not self.wanted(name):
            return
        cpu, wall, result = measure(fn, self.args.repeat)
        line = f"{kind:11s} {name:46s} {cpu:7.3f} s cpu {wall:7.3f} s wall  {size(result):>12s}"
        if raw_fn is not None:
            rcpu, _, _ = measure(raw_fn, self.args.repeat)
            line += f"   raw {rcpu:6.3f} s  {cpu / rcpu if rcpu else float('inf'):5.1f}x"
        print(line + (f"  ({note})" if note else ""), flush=True)


def reads(args, path: Path) -> None:
    store = Store.open_readonly(path)
    store.session = Session("bench", "审核员")
    conn, cat = store.conn, store.catalog
    led = cat.ledger(LEDGER)
    table, date = led.table, led.date_field
    town = store.orgs.children(store.node.org)[3].code
    village = store.orgs.children(town)[2].code
    print(f"district: {sum(conn.execute(f'SELECT COUNT(*) FROM [{x.table}]').fetchone()[0] for x in cat.ledgers):,}"
          f" rows; {LEDGER}: {conn.execute(f'SELECT COUNT(*) FROM [{table}]').fetchone()[0]:,} rows; "
          f"town {town}, village {village}; median of {args.repeat} runs")
    t = Table(args)

    def view(**kw):
        sort = kw.pop("sort", None)
        return LedgerView(store, led, Selection(**kw), catalog=cat, sort=sort)

    last = led.statuses[-1]
    sub = f"substr(org, 1, {len(town)}) = ?"
    t.row("interactive", "list: first rows", lambda: view().ids(1000),
          raw(conn, f"SELECT rowid FROM [{table}] ORDER BY rowid DESC LIMIT 1000"))
    t.row("interactive", "list: every id", lambda: view().ids(),
          raw(conn, f"SELECT rowid FROM [{table}] ORDER BY rowid DESC"))
    t.row("interactive", "list: a town", lambda: view(org=town).ids(),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE {sub} ORDER BY rowid DESC", [town]))
    t.row("interactive", "list: a village", lambda: view(org=village).ids(),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE substr(org, 1, {len(village)}) = ? ORDER BY rowid DESC",
              [village]))
    t.row("interactive", f"list: a town, status {last}", lambda: view(org=town, status=last).ids(),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE {sub} AND status = ? ORDER BY rowid DESC", [town, last]))
    t.row("interactive", "list: 待补充", lambda: view(incomplete=True).ids(),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE _incomplete = 1 ORDER BY rowid DESC"))
    t.row("interactive", "list: recycle bin", lambda: view(deleted=True).ids(),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE _deleted = 1 ORDER BY rowid DESC"))
    t.row("interactive", "list: sorted by date, first rows", lambda: view(sort=date).ids(1000),
          raw(conn, f"SELECT rowid FROM [{table}] ORDER BY [{date}] DESC, rowid DESC LIMIT 1000"))
    t.row("interactive", "list: a town sorted by date, first rows", lambda: view(org=town, sort=date).ids(1000),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE {sub} ORDER BY [{date}] DESC, rowid DESC LIMIT 1000",
              [town]))
    t.row("interactive", "search: a 2-character name", lambda: view(search="张三").ids(),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE name LIKE '%张三%'"))
    t.row("interactive", "search: 4 digits", lambda: view(search="1234").ids(),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE id_number LIKE '%1234' OR phone LIKE '%1234'"))
    ind = next(i for i in cat.indicators if i.measure.ledger == LEDGER)
    _, counted = counted_selection(cat, ind.id, AS_OF, town)
    t.row("interactive", "list: the rows a town's indicator counts", lambda: view(counted=counted).ids(),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE {sub} AND [{date}] BETWEEN '2024-01-01' AND ? "
                    f"ORDER BY rowid DESC", [town, AS_OF.isoformat()]))
    t.row("interactive", "navigation counts (every ledger)",
          lambda: [store.ledger(x.id).count() for x in cat.ledgers],
          lambda: [conn.execute(f"SELECT COUNT(*) FROM [{x.table}]").fetchone() for x in cat.ledgers])
    one = store.ledger(LEDGER).rows(limit=1)[0]
    t.row("interactive", "form: duplicate check of a row", lambda: store.ledger(LEDGER).duplicates_of(one),
          raw(conn, f"SELECT uuid FROM [{table}] WHERE id_number = ? AND substr([{date}], 1, 4) = ?",
              [one["id_number"], one[date][:4]]))
    t.row("interactive", "CLI records --org a town", lambda: store.ledger(LEDGER).rows(org=town),
          raw(conn, f"SELECT * FROM [{table}] WHERE {sub} ORDER BY _created, rowid", [town]))
    by_name = "SELECT * FROM persons WHERE name LIKE ? ORDER BY name LIMIT 50"
    t.row("interactive", "person search (district user)", lambda: store.persons.search("张"),
          raw(conn, by_name, ["%张%"]))
    person = one["person_id"]
    t.row("interactive", "person page: a person's rows", lambda: store.persons.appearances(person),
          raw(conn, f"SELECT * FROM [{table}] WHERE person_id = ?", [person]))
    t.row("interactive", "sync centre status", lambda: (status.sources(store), status.received_packages(store),
                                                         status.conflict_views(store), status.peer_list(store)),
          lambda: [conn.execute(f"SELECT * FROM {x}").fetchall() for x in ("received", "packages", "conflicts",
                                                                           "peers")])
    store.session = Session("bench", "审核员", town)
    t.row("interactive", "person search (a town's user)", lambda: store.persons.search("张"),
          raw(conn, by_name, ["%张%"]))
    t.row("interactive", "form: a person looked up (a town's user)", lambda: store.persons.visible(person),
          raw(conn, "SELECT * FROM persons WHERE uuid = ?", [person]))
    t.row("interactive", "list: first rows (a town's user)", lambda: view().ids(1000),
          raw(conn, f"SELECT rowid FROM [{table}] WHERE {sub} ORDER BY rowid DESC LIMIT 1000", [town]))
    store.session = Session("bench", "审核员")

    def same_person_rows():
        for x in cat.ledgers:
            if x.persons:
                col = x.persons[0].column
                conn.execute(f"SELECT uuid, org, [{col}], [{x.date_field}] FROM [{x.table}] WHERE [{col}] IN "
                             f"(SELECT [{col}] FROM [{x.table}] GROUP BY [{col}] HAVING COUNT(*) > 1)").fetchall()
    t.row("report", "duplicates (every ledger)", lambda: find_duplicates(store), same_person_rows,
          "raw: each person ledger's rows of persons met twice")
    for ind_id in ("two_cancer_screening", "urban_dibao_standard"):
        x = cat.ledger(cat.indicator(ind_id).measure.ledger)
        floor = measure(lambda: compute(store, AS_OF, indicators=[ind_id]), args.repeat)[0] \
            if t.wanted(f"explain {ind_id}") else 0
        t.row("report", f"explain {ind_id}", lambda: explain(store, ind_id, AS_OF),
              raw(conn, f"SELECT uuid, org, _incomplete, status, [{x.date_field}] FROM [{x.table}] "
                        f"ORDER BY [{x.date_field}], rowid"),
              f"raw: every row read in date order; its progress figure alone: {floor:.3f} s")
        t.row("report", f"explain {ind_id}, a town", lambda: explain(store, ind_id, AS_OF, scope=town),
              raw(conn, f"SELECT uuid, org, _incomplete, status, [{x.date_field}] FROM [{x.table}] "
                        f"WHERE {sub} ORDER BY [{x.date_field}], rowid", [town]))
    store.close()


def changed_catalog(store: Store) -> dict:
    """The store's catalog with two_cancer's 复核机构 (filled from 宫颈癌检查机构) and
    relief_payments' required 开户银行 added, as a newer version."""
    files = json.loads(store.setting("catalog"))
    for text in files.values():
        for led in text.get("ledgers", ()):
            if led.get("id") == "two_cancer":
                led["fields"].append({"id": "review_institution", "label": "复核机构", "type": "text",
                                      "default_from": "institution", "max_length": 60})
            elif led.get("id") == "relief_payments":
                led["fields"].append({"id": "bank_name", "label": "开户银行", "type": "text", "required": True,
                                      "max_length": 60})
    header = next(text for text in files.values() if "catalog" in text)
    header["catalog"]["version"] = "2024.99"
    return files


def writes(args, path: Path, work: Path) -> None:
    t = Table(args)
    copy = work / "district.sqlite3"

    def fresh() -> Store:
        for suffix in ("", ".keys"):
            shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
        return Store.open(copy)

    store = fresh()
    store.session = Session("bench", "审核员")
    town = store.orgs.children(store.node.org)[3].code
    table = store.catalog.ledger(LEDGER).table
    sub = f"substr(org, 1, {len(town)}) = ?"
    select = f"SELECT uuid, org, * FROM [{table}] WHERE {sub} ORDER BY _created, rowid"
    t.row("report", "export a town's two_cancer (.csv)",
          lambda: export_ledger(store, LEDGER, work / "town.csv", village=town),
          raw(store.conn, select, [town]))
    t.row("report", "de-identified export of a town (.csv)",
          lambda: export_deidentified(store, LEDGER, work / "deid.csv", village=town, purpose="统计"),
          raw(store.conn, select, [town]))
    t.row("report", "the month's 调度 report", lambda: monthly_report(store, 2024, 12).issues,
          lambda: compute(store, AS_OF), "raw: its progress figures alone")
    files = changed_catalog(store)
    store.close()
    if not t.wanted("adopt a catalog change"):
        return
    runs, raws = [], []
    for _ in range(args.repeat):
        store = fresh()
        c, w = time.process_time(), time.perf_counter()
        store.adopt_catalog(files)
        runs.append((time.process_time() - c, time.perf_counter() - w))
        filled, waiting = (store.conn.execute(f"SELECT COUNT(*) FROM [{x}] WHERE {cond}").fetchone()[0] for x, cond in (
            ("ledger_two_cancer", "review_institution IS NOT NULL"),
            ("ledger_relief_payments", "_missing LIKE '%bank_name%'")))
        store.close()
        store = fresh()   # raw: the same columns added and the same rows written by two plain UPDATEs
        c = time.process_time()
        with store.transaction():
            store.conn.execute("ALTER TABLE ledger_two_cancer ADD COLUMN review_institution TEXT")
            store.conn.execute("ALTER TABLE ledger_relief_payments ADD COLUMN bank_name TEXT")
            store.conn.execute("UPDATE ledger_two_cancer SET review_institution = institution, _incomplete = "
                               "_incomplete, _missing = _missing WHERE +_deleted = 0 AND institution IS NOT NULL")
            store.conn.execute("UPDATE ledger_relief_payments SET _incomplete = 1, _missing = "
                               "COALESCE(_missing || '、', '') || 'bank_name' WHERE +_deleted = 0")
        raws.append(time.process_time() - c)
        store.close()
    cpu, wall = (statistics.median(r[i] for r in runs) for i in (0, 1))
    rcpu = statistics.median(raws)
    print(f"{'write':11s} {'adopt a catalog change (2 big ledgers)':46s} {cpu:7.3f} s cpu {wall:7.3f} s wall  "
          f"{'':12s}   raw {rcpu:6.3f} s  {cpu / rcpu:5.1f}x  ({filled:,} rows filled, {waiting:,} rows now 待补充; "
          f"raw: two plain UPDATEs writing the same rows)")


def main() -> int:
    from district_store import make_district
    ap = argparse.ArgumentParser()
    ap.add_argument("--district-rows", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path, help="a district store made before (default: district_store.py's)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="only the figures whose name holds this text")
    ap.add_argument("--work", type=Path, help="the folder for the copies (default: a temporary one)")
    ap.add_argument("--no-copy", action="store_true", help="only the reads of the cached store")
    args = ap.parse_args()
    path = args.store or make_district(args.district_rows)
    reads(args, path)
    if not args.no_copy:
        if args.work:
            args.work.mkdir(parents=True, exist_ok=True)
            writes(args, path, args.work)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                writes(args, path, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
