"""Progress and the board read each ledger in as few passes as they can (issue 18): the
standards of one ledger judged together in one pass (the rows below a standard read back
by rowid), a distinct count and its total in one pass, each village's rows counted per
ledger, not per village. The figures are those of the
straightforward per-indicator queries they replace (kept here as the reference), on the
demo district with standards raised mid-year, ties below a standard, rows of a town's
own (本级), deleted rows and confirmed duplicates."""
import datetime as dt

import pytest
from support import copy_store

from desktop_app.core.catalog.choices import load_choices, save_choices
from desktop_app.core.demo import create_demo
from desktop_app.core.district import board, progress
from desktop_app.core.district.progress import VIOLATION_LIMIT, compute
from desktop_app.core.store.database import Store

DATES = (dt.date(2024, 2, 29), dt.date(2024, 7, 15), dt.date(2024, 12, 31))


class Reference(progress._Calculator):
    """The calculator as it was: one query per figure (standards: three; a distinct count:
    the groups, then the total)."""

    def prepare(self, inds):
        pass

    def _reference_distinct(self, sql_expr, led, ind):
        where, params = self._filter(led, ind)
        per, n = {}, 0
        for g, value, count in self.conn.execute(
                f"SELECT substr(org, 1, {self.group_len}) AS g, {sql_expr}, COUNT(*) "
                f"FROM [{led.table}] WHERE {where} GROUP BY g", params):
            per[g], n = value, n + count
        total = self.conn.execute(f"SELECT {sql_expr} FROM [{led.table}] WHERE {where}", params).fetchone()[0]
        return total, per, n

    def _m_distinct(self, ind, led):
        col = ind.measure.field or (led.persons[0].column if led.persons else "uuid")
        return self._cumulative(ind, *self._reference_distinct(f"COUNT(DISTINCT [{col}])", led, ind))

    def _m_households(self, ind, led):
        key = f"COALESCE([{ind.measure.field}], [{led.persons[0].column}])"
        return self._cumulative(ind, *self._reference_distinct(f"COUNT(DISTINCT {key})", led, ind))

    def _m_standard(self, ind, led):
        col = self.value_expr(ind)
        op = {">=": "<", ">": "<=", "=": "<>", "<=": ">"}[ind.comparator]
        agg = "MAX" if ind.comparator == "<=" else "MIN"
        where, params = self._filter(led, ind)
        std, std_params = self.standard_expr(ind, led)
        now = self.in_force(ind)
        judged = f"{agg}(CASE WHEN {std} = ? OR {col} {op} {std} THEN {col} END)"
        judged_params = std_params + [now] + std_params
        lowest, n, bad = self.conn.execute(
            f"SELECT {judged}, COUNT(*), TOTAL({col} {op} {std}) "
            f"FROM [{led.table}] WHERE {where}", judged_params + std_params + params).fetchone()
        title = led.title_field or led.fields[0].id
        violations = [
            {"uuid": u, "org": o, "name": t, "value": v, "date": d, "standard": sv} for u, o, t, v, d, sv in
            self.conn.execute(
                f"SELECT uuid, org, [{title}], {col}, [{led.date_field}], {std} FROM [{led.table}] "
                f"WHERE {where} AND {col} {op} {std} ORDER BY {col} LIMIT {VIOLATION_LIMIT}",
                std_params + params + std_params)]
        per = {g: (low, b) for g, low, b in self.conn.execute(
            f"SELECT substr(org, 1, {self.group_len}) AS g, {judged}, TOTAL({col} {op} {std}) "
            f"FROM [{led.table}] WHERE {where} GROUP BY g", judged_params + std_params + params).fetchall()}
        share = round((n - bad) / n * 100, 1) if n else None
        by_org = [progress.OrgFigure(o.code, o.name, now, per[o.code][0] if o.code in per else None,
                                     None if o.code not in per else (0.0 if per[o.code][1] else 100.0))
                  for o in self.groups]
        return progress.IndicatorProgress(
            ind, now, lowest, share, None, lagging=(bad > 0) if n else None,
            met=(bad == 0) if n else None, by_org=by_org, violations=violations, rows=n)


def reference_villages(store, town):
    """Each village's live rows and latest change, one query per village and ledger."""
    out = []
    for village in store.orgs.children(town):
        rows, last = 0, None
        for led in store.catalog.ledgers:
            n, latest = store.conn.execute(
                f"SELECT COUNT(*), MAX(_updated) FROM [{led.table}] WHERE org = ? AND _deleted = 0",
                (village.code,)).fetchone()
            rows += n
            if latest and (last is None or latest > last):
                last = latest
        out.append(board.VillageLine(village.code, village.name, rows, last))
    return out


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory):
    """The demo district, made harder: urban 低保 raised in July, ties below the standards
    (more of them than a report lists), relief paid by a town itself, rows deleted, people
    confirmed (or not) as counted twice."""
    path = tmp_path_factory.mktemp("passes") / "demo.sqlite3"
    store = create_demo(path, scale=0.1)
    save_choices(store, load_choices(store).with_standard(
        store.catalog, "urban_dibao_standard", [("2024-01", 650), ("2024-07", 700)]))
    conn = store.conn
    with store.transaction():
        cols = ", ".join(f"[{c[1]}]" for c in conn.execute("PRAGMA table_info(ledger_relief_payments)")
                         if c[1] != "uuid")
        for _ in range(6):    # 64 payments of each: more rows below a standard than a report lists
            conn.execute(f"INSERT INTO ledger_relief_payments (uuid, {cols}) "
                         f"SELECT lower(hex(randomblob(16))), {cols} FROM ledger_relief_payments")
        conn.execute("UPDATE ledger_relief_payments SET standard = 600 WHERE rowid % 5 = 0")
        conn.execute(f"UPDATE ledger_relief_payments SET standard = 10 WHERE rowid IN (SELECT rowid FROM "
                     f"ledger_relief_payments WHERE category = '城市低保' LIMIT {VIOLATION_LIMIT + 20})")
        conn.execute("UPDATE ledger_relief_payments SET org = substr(org, 1, 9) WHERE rowid % 7 = 0")
        conn.execute("UPDATE ledger_two_cancer SET _deleted = 1 WHERE rowid % 11 = 0")
        for table, ledger in (("ledger_two_cancer", "two_cancer"), ("ledger_relief_payments", "relief_payments")):
            pairs = conn.execute(f"SELECT a.uuid, b.uuid FROM [{table}] a JOIN [{table}] b ON a.uuid < b.uuid "
                                 f"AND substr(a.org, 1, 9) <> substr(b.org, 1, 9) LIMIT 6").fetchall()
            conn.executemany("INSERT INTO duplicate_reviews (ledger, uuid_a, uuid_b, decision, keep, reviewer, decided) "
                             "VALUES (?, ?, ?, ?, ?, '示例审核员', '2024-11-01')",
                             [(ledger, a, b, "same" if i % 2 else "different", a if i % 2 else None)
                              for i, (a, b) in enumerate(pairs)])
        for led in store.catalog.ledgers:   # persons (and households) met in two towns
            if led.persons:
                col = led.persons[0].column
                conn.execute(f"UPDATE [{led.table}] SET [{col}] = (SELECT [{col}] FROM [{led.table}] "
                             f"ORDER BY rowid LIMIT 1) WHERE rowid % 9 = 0")
    store.close()
    return path


@pytest.fixture
def demo(demo_master, tmp_path):
    store = Store.open(copy_store(demo_master, tmp_path / "demo.sqlite3"))
    yield store
    store.close()


def scopes(store):
    towns = store.orgs.children(store.node.org)
    return [store.node.org, towns[0].code, towns[1].code, store.orgs.children(towns[0].code)[0].code]


def test_progress_equals_the_per_indicator_queries(demo, monkeypatch):
    new = {(scope, day): compute(demo, day, scope=scope).to_json() for scope in scopes(demo) for day in DATES}
    monkeypatch.setattr(progress, "_Calculator", Reference)
    for (scope, day), figures in new.items():
        assert figures == compute(demo, day, scope=scope).to_json(), (scope, day)


def test_the_standards_of_a_ledger_are_read_together(demo):
    seen = []
    demo.conn.set_trace_callback(seen.append)
    try:
        report = compute(demo, DATES[-1], indicators=["urban_dibao_standard", "rural_dibao_standard",
                                                      "orphan_scattered_standard"])
    finally:
        demo.conn.set_trace_callback(None)
    reads = [sql for sql in seen if "FROM [ledger_relief_payments]" in sql]
    scans = [sql for sql in reads if "rowid IN" not in sql]     # the rest: the rows below, read back by rowid
    assert (len(scans), len(reads)) == (1, 4)
    urban = report.get("urban_dibao_standard")
    assert (len(urban.violations), urban.met, urban.violations[0]["value"]) == (VIOLATION_LIMIT, False, 10)


def test_board_villages_equal_the_per_village_counts(demo):
    lines = board.submission_board(demo, DATES[-1])
    assert len(lines) == len(demo.orgs.children(demo.node.org))
    for line in lines:
        assert line.villages == reference_villages(demo, line.org)
    assert sum(v.rows for line in lines for v in line.villages) > 0


def test_the_board_reads_each_ledger_once_through_its_org_index(demo):
    seen = []
    demo.conn.set_trace_callback(seen.append)
    try:
        board.submission_board(demo, DATES[-1])
    finally:
        demo.conn.set_trace_callback(None)
    ledger_reads = [sql for sql in seen if "FROM [ledger_" in sql]
    assert len(ledger_reads) == len(demo.catalog.ledgers)
    plan = " ".join(r[3] for r in demo.conn.execute("EXPLAIN QUERY PLAN " + ledger_reads[0]))
    assert "COVERING INDEX" in plan and "__org__deleted__updated" in plan


def test_a_store_made_before_the_board_index_gets_it_when_opened(demo_master, tmp_path):
    path = copy_store(demo_master, tmp_path / "old.sqlite3")
    with Store.open(path) as store:
        for led in store.catalog.ledgers:
            store.conn.execute(f"DROP INDEX [{led.table}__org__deleted__updated]")
    with Store.open(path) as store:
        have = {name for (name,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {f"{led.table}__org__deleted__updated" for led in store.catalog.ledgers} <= have
