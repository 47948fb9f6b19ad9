"""The district's pages (报送情况, 全区进度, 重复计数核实, 核实意见, 调度报告) show what core
decides — board, progress, duplicates, reviews, provenance, the monthly report — and
write through core on the runner. The district is tests/district_world.py's."""
import datetime as dt

import pytest
from district_world import DISABLED, SHARED, TODAY, build_district
from openpyxl import load_workbook
from support import copy_store
from PySide6.QtCore import Qt

from desktop_app.core.catalog.model import load_catalog
from desktop_app.core.district import board, duplicates, reviews
from desktop_app.core.district.monthly import STATUS_WORDS
from desktop_app.core.district.progress import compute
from desktop_app.core.store.database import Store
from desktop_app.core.store.query import LedgerView, Selection, counted_selection
from desktop_app.ui import tables
from desktop_app.ui.district_board import BoardPage
from desktop_app.ui.district_pages import MonthlyReportDialog
from desktop_app.ui.district_progress import TOTAL_COL, ConsolidatedPage
from desktop_app.ui.district_review import DuplicatesPage, ProvenanceView
from desktop_app.ui.reviews_page import ReviewsPage
from desktop_app.ui.tasks import TaskRunner

WAIT = 30000
DISTRICT = "430971"
ADDITIVE = ("count", "distinct", "sum")  # per-town figure == that town's own progress


@pytest.fixture(scope="module")
def district_master(tmp_path_factory):
    """The district of tests/district_world.py (5 towns, overlapping people, 4 packages in);
    built once, closed; each test works on its own copy of the district's file."""
    root = tmp_path_factory.mktemp("district")
    d, towns = build_district(root)
    for s in [d, *towns.values()]:
        s.close()
    return root / "d.sqlite3"


@pytest.fixture
def db(district_master, tmp_path):
    path = tmp_path / "d.sqlite3"
    return copy_store(district_master, path)


@pytest.fixture
def runner(db, qtbot):
    r = TaskRunner(db)
    yield r
    r.shutdown()


@pytest.fixture
def reader(db):
    store = Store.open_readonly(db)
    yield store
    store.close()


def core(runner, fn):
    """Ask core directly, on the store thread (the one writer)."""
    return runner.call(fn)


def make(qtbot, cls, runner, reader):
    page = cls(runner, reader)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    return page


def load(qtbot, page, *args):
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.refresh(*args)


# ---------------------------------------------------------------- 报送情况

def test_board_rows_match_core_and_the_schedule_is_saved(qtbot, qtmodeltester, runner, reader):
    def arrivals(store):   # as in core's board test: the packages arrived on these dates
        node = {org: n for n, org in store.conn.execute("SELECT node, org FROM peers")}
        with store.transaction():
            for org, ts in {"430971121": "2024-03-04T10:00:00", "430971123": "2024-02-03T10:00:00",
                            "430971124": "2024-03-05T09:00:00", "430971130": "2024-03-01T09:00:00"}.items():
                store.conn.execute("UPDATE packages SET handled = ? WHERE source = ? AND direction = 'in'",
                                   (ts, node[org]))
    core(runner, arrivals)
    page = make(qtbot, BoardPage, runner, reader)
    load(qtbot, page, dt.date(2024, 3, 20))
    qtmodeltester.check(page.model)
    expected = core(runner, lambda s: board.submission_board(s, dt.date(2024, 3, 20)))
    assert [page.model.cell(r, 0) for r in range(page.model.rowCount())] == [b.name for b in expected]
    for row, line in enumerate(expected):
        assert page.model.cell(row, 1) == STATUS_WORDS[line.status]
        assert page.model.cell(row, 4) == str(line.packages)
        assert page.model.cell(row, 5) == ("；".join(line.gaps) or "—")
        assert page.model.cell(row, 7) == str(line.conflicts)
        assert page.model.cell(row, 8) == str(line.rejected)
        assert (page.model.cell(row, 6) == "—") == (not line.overdue)
        assert page.model.index(row, 1).data(Qt.DecorationRole) is not None     # the coloured dot
    words = {page.model.cell(r, 0): page.model.cell(r, 1) for r in range(page.model.rowCount())}
    assert words["南湾湖管理处"] == "逾期或缺包" and page.model.cell(4, 2) == "从未收到"
    assert words["河坝镇"] == "逾期或缺包"                     # January and February missed
    assert "2月5日" in page.model.cell(0, 6)
    # a town's villages
    assert page.select_town("430971121")
    qtmodeltester.check(page.village_model)
    hb = next(b for b in expected if b.org == "430971121")
    assert [page.village_model.cell(r, 0) for r in range(page.village_model.rowCount())] == \
        [v.name for v in hb.villages]
    assert page.village_model.cell(0, 1) == f"{hb.villages[0].rows:,}"
    # the schedule: quarterly by the 10th, through core
    with qtbot.waitSignal(page.schedule_saved, timeout=WAIT), qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.period.setCurrentIndex(page.period.findData("quarter"))
        page.due_day.setValue(10)
        qtbot.mouseClick(page.save_button, Qt.LeftButton)
    assert board.schedule(reader) == ("quarter", 10)
    after = core(runner, lambda s: board.submission_board(s, dt.date(2024, 3, 20)))
    assert [page.model.cell(r, 1) for r in range(page.model.rowCount())] == \
        [STATUS_WORDS[b.status] for b in after]
    assert page.selected_town() == "430971121"              # the selection survives a refresh
    # core refuses a schedule it does not know; the page says why, inline
    with qtbot.waitSignal(page.failed, timeout=WAIT) as blocker:
        page.save_schedule("week", 5)
    assert "报送周期" in blocker.args[0] and "报送周期" in page.message.text()
    assert board.schedule(reader) == ("quarter", 10)


# ---------------------------------------------------------------- 全区进度

def test_consolidated_figures_equal_core_for_the_district_and_each_town(qtbot, qtmodeltester,
                                                                        runner, reader):
    page = make(qtbot, ConsolidatedPage, runner, reader)
    load(qtbot, page, TODAY)
    qtmodeltester.check(page.model)
    district = core(runner, lambda s: compute(s, TODAY))
    towns = [t.code for t in reader.orgs.children(DISTRICT)]
    per_town = {code: core(runner, lambda s, code=code: compute(s, TODAY, scope=code)) for code in towns}
    assert [c for c, _ in page.model.orgs[:len(towns)]] == towns
    assert page.model.rowCount() == len(district.indicators)
    for row, shown in enumerate(page.model.rows):
        p = district.get(shown.indicator.id)
        assert (shown.achieved, shown.target, shown.rate) == (p.achieved, p.target, p.rate)
        by_org = {f.org: f for f in p.by_org}
        for code in towns:
            col = page.model.column_of(code)
            f = page.model.figure(row, col)
            if code in by_org:
                assert (f.achieved, f.target) == (by_org[code].achieved, by_org[code].target)
            if p.indicator.measure.method in ADDITIVE:
                assert f.achieved == per_town[code].get(p.indicator.id).achieved
    row = next(i for i, s in enumerate(page.model.rows) if s.indicator.id == "two_cancer_screening")
    screened = district.get("two_cancer_screening")
    assert page.model.index(row, TOTAL_COL).data().startswith(f"{screened.achieved} / 3,000")
    hb = page.model.column_of("430971121")
    assert page.model.index(row, hb).data() == str(per_town["430971121"].get("two_cancer_screening").achieved)
    assert page.model.index(row, page.model.column_of("430971405")).data() == "0"   # 南湾湖: nothing yet


def test_unit_selector_puts_the_units_indicators_first(qtbot, runner, reader):
    page = make(qtbot, ConsolidatedPage, runner, reader)
    load(qtbot, page, TODAY)
    catalog = load_catalog()
    units = [page.unit.itemData(i) for i in range(1, page.unit.count())]
    assert {"区教育卫生健康局", "区民政人社局", "区妇联"} <= set(units)
    assert set(units) == {u for ind in catalog.indicators for u in ind.units}
    everything = [p.indicator.id for p in page.model.rows]
    page.set_unit("区妇联")
    mine = [i.id for i in catalog.indicators if "区妇联" in i.units]
    shown = [p.indicator.id for p in page.model.rows]
    assert mine and shown[:len(mine)] == [i for i in everything if i in mine]
    assert shown[len(mine):] == [i for i in everything if i not in mine]
    page.set_unit("区妇联", only=True)
    assert [p.indicator.id for p in page.model.rows] == [i for i in everything if i in mine]
    assert page.only_unit.isEnabled() and page.only_unit.isChecked()
    page.only_unit.setChecked(False)                  # the checkbox itself reorders
    assert page.model.rowCount() == len(everything)
    page.set_unit(None)
    assert [p.indicator.id for p in page.model.rows] == everything and not page.only_unit.isEnabled()


def test_a_quota_set_on_the_page_is_cores_quota(qtbot, runner, reader):
    page = make(qtbot, ConsolidatedPage, runner, reader)
    load(qtbot, page, TODAY)
    assert page.select("two_cancer_screening", "430971121")
    assert page.quota_town.currentData() == "430971121" and page.quota_save.isEnabled()
    page.quota_value.setText("600")
    with qtbot.waitSignal(page.quota_saved, timeout=WAIT) as saved, \
            qtbot.waitSignal(page.loaded, timeout=WAIT):
        qtbot.mouseClick(page.quota_save, Qt.LeftButton)
    assert saved.args == ["two_cancer_screening", "430971121", 600.0]
    assert core(runner, lambda s: s.quotas()) == {("two_cancer_screening", "430971121"): 600.0}
    row = next(i for i, s in enumerate(page.model.rows) if s.indicator.id == "two_cancer_screening")
    col = page.model.column_of("430971121")
    figure = core(runner, lambda s: compute(s, TODAY)).get("two_cancer_screening")
    town = next(f for f in figure.by_org if f.org == "430971121")
    assert town.target == 600.0 and page.model.figure(row, col).target == 600.0
    assert page.model.index(row, col).data() == f"{town.achieved} / 600"
    assert "600" in page.quota_current.text()
    with qtbot.waitSignal(page.quota_saved, timeout=WAIT):
        qtbot.mouseClick(page.quota_clear, Qt.LeftButton)
    assert core(runner, lambda s: s.quotas()) == {}
    # a qualitative task has no number to split
    qualitative = next(i.id for i in load_catalog().indicators if i.kind == "qualitative")
    assert page.select(qualitative)
    assert not page.quota_save.isEnabled()


def test_the_lead_unit_set_on_the_page_is_cores_choice_and_travels_in_the_profile(qtbot, runner, reader):
    from desktop_app.core.catalog import load_choices
    from desktop_app.core.sync.profiles import make_profile
    page = make(qtbot, ConsolidatedPage, runner, reader)
    load(qtbot, page, TODAY)
    assert page.select("two_cancer_screening")
    assert [page.lead_unit.itemText(i) for i in range(page.lead_unit.count())] == [
        "区妇联", "区教育卫生健康局", "区民政人社局"]                    # p03's units, as the plan lists them
    assert page.lead_current.text() == "当前：区妇联、区教育卫生健康局（目录原定）（方案按项目列责任单位，由目录选定）"
    page.lead_unit.setCurrentIndex(page.lead_unit.findData("区教育卫生健康局"))
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        qtbot.mouseClick(page.lead_save, Qt.LeftButton)
    assert core(runner, lambda s: load_choices(s).leads) == {"two_cancer_screening": ("区教育卫生健康局",)}
    assert core(runner, lambda s: make_profile(s)["profile"]["district_choices"]["leads"]) == {
        "two_cancer_screening": ["区教育卫生健康局"]}
    assert "区教育卫生健康局" in page.lead_current.text() and "目录原定为区妇联、区教育卫生健康局" in page.lead_current.text()
    row = next(s for s in page.model.rows if s.indicator.id == "two_cancer_screening")
    assert row.indicator.units == ("区教育卫生健康局",)
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        qtbot.mouseClick(page.lead_reset, Qt.LeftButton)
    assert core(runner, lambda s: load_choices(s).leads) == {}


def test_double_clicking_a_figure_drills_into_the_counted_rows(qtbot, runner, reader):
    page = make(qtbot, ConsolidatedPage, runner, reader)
    load(qtbot, page, TODAY)
    row = next(i for i, s in enumerate(page.model.rows) if s.indicator.id == "two_cancer_screening")
    for org in ("430971123", DISTRICT):
        col = page.model.column_of(org) if org != DISTRICT else TOTAL_COL
        index = page.model.index(row, col)
        page.table.scrollTo(index)
        center = page.table.visualRect(index).center()
        with qtbot.waitSignal(page.drill, timeout=WAIT) as blocker:
            qtbot.mouseClick(page.table.viewport(), Qt.LeftButton, pos=center)
            qtbot.mouseDClick(page.table.viewport(), Qt.LeftButton, pos=center)
        assert blocker.args == ["two_cancer_screening", org]
        # what the window does with it: the ledger filtered to the rows that figure counts
        lid, counted = counted_selection(reader.catalog, *blocker.args[:1], TODAY, blocker.args[1])
        rows = LedgerView(reader.conn, reader.catalog.ledger(lid), Selection(counted=counted),
                          catalog=reader.catalog).count()
        assert rows == core(runner, lambda s, o=org: compute(s, TODAY, scope=o)).get("two_cancer_screening").rows


# ---------------------------------------------------------------- 重复计数核实

def test_duplicates_page_lists_cores_pairs_and_deciding_changes_progress(qtbot, qtmodeltester,
                                                                        runner, reader):
    page = make(qtbot, DuplicatesPage, runner, reader)
    load(qtbot, page)
    qtmodeltester.check(page.model)
    pairs = core(runner, duplicates.find_duplicates)
    assert sorted(v.key for v in page.model.items) == \
        sorted((p.ledger, p.a["uuid"], p.b["uuid"]) for p in pairs)
    assert len(pairs) == 3
    kinds = sorted(page.model.cell(r, 1) for r in range(page.model.rowCount()))
    assert kinds == ["跨年度", "跨镇", "跨镇"]
    for r in range(page.model.rowCount()):
        number = page.model.cell(r, 2)
        assert "*" in number and number not in (SHARED, DISABLED)
        assert page.model.cell(r, 11) == "待核实"
    shared = next(p for p in pairs if p.ledger == "two_cancer" and p.kind == "cross_town")
    assert page.select_pair(shared.ledger, shared.a["uuid"], shared.b["uuid"])
    row = page.table.currentIndex().row()
    assert page.model.cell(row, 2) == SHARED[:3] + "*" * 11 + SHARED[-4:]
    assert {page.model.cell(row, 4), page.model.cell(row, 8)} == {"河坝镇 / 示例村一", "金盆镇 / 示例村二"}
    assert page.left_view.value("录入单位") in ("河坝镇", "金盆镇")      # each side's provenance
    before = core(runner, lambda s: compute(s, TODAY)).get("two_cancer_screening")
    right_town = shared.b["org"][:9]
    with qtbot.waitSignal(page.decided, timeout=WAIT) as blocker, \
            qtbot.waitSignal(page.changed, timeout=WAIT), qtbot.waitSignal(page.loaded, timeout=WAIT):
        qtbot.mouseClick(page.buttons["left"], Qt.LeftButton)
    assert blocker.args == ["two_cancer", shared.a["uuid"], shared.b["uuid"], "same"]
    decided = next(p for p in core(runner, duplicates.find_duplicates) if p.a["uuid"] == shared.a["uuid"]
                   and p.b["uuid"] == shared.b["uuid"])
    assert (decided.decision, decided.keep) == ("same", shared.a["uuid"])
    after = core(runner, lambda s: compute(s, TODAY)).get("two_cancer_screening")
    assert after.rows == before.rows - 1          # the right row no longer counts
    by_org = lambda p: {f.org: f.achieved for f in p.by_org}       # noqa: E731
    assert by_org(after)[right_town] == by_org(before)[right_town] - 1
    # the decided pair stays, greyed, with the decision
    row = page.table.currentIndex().row()
    assert page.model.item_at(row).key == (shared.ledger, shared.a["uuid"], shared.b["uuid"])
    assert page.model.cell(row, 11) == "同一人，保留左边"
    assert page.model.index(row, 0).data(Qt.ForegroundRole).color().name() == tables.DIMMED
    qtmodeltester.check(page.model)
    page.open_only.setChecked(True)
    assert page.model.rowCount() == 2 and all(page.model.cell(r, 11) == "待核实" for r in range(2))
    page.open_only.setChecked(False)
    # and back: not a duplicate, both rows count again
    assert page.select_pair(shared.ledger, shared.a["uuid"], shared.b["uuid"])
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        qtbot.mouseClick(page.buttons["different"], Qt.LeftButton)
    assert core(runner, lambda s: compute(s, TODAY)).get("two_cancer_screening").rows == before.rows
    assert page.model.cell(page.table.currentIndex().row(), 11) == "不是重复"


# ---------------------------------------------------------------- 核实意见

def test_a_row_flagged_through_the_page_appears_with_its_provenance(qtbot, qtmodeltester, runner, reader):
    page = make(qtbot, ReviewsPage, runner, reader)
    load(qtbot, page)
    assert page.model.rowCount() == 0
    row = reader.ledger("two_cancer").rows(match={"name": "示例6"})[0]
    with qtbot.waitSignal(page.flagged, timeout=WAIT) as flagged, qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.flag_row("two_cancer", row["uuid"], "电话号码疑似错误，请核实", "退回修改")
    assert flagged.args == [reviews.review_id("two_cancer", row["uuid"])]
    qtmodeltester.check(page.model)
    [in_core] = core(runner, reviews.list_reviews)
    assert (in_core["row_uuid"], in_core["status"], in_core["note"]) == \
        (row["uuid"], "退回修改", "电话号码疑似错误，请核实")
    assert page.model.rowCount() == 1
    cells = [page.model.cell(0, c) for c in range(page.model.columnCount())]
    assert cells[1:7] == ["两癌检查台账", "示例6", "北洲子镇 / 示例村一", "退回修改",
                          "电话号码疑似错误，请核实", "（未答复）"]
    assert page.select_review("two_cancer", row["uuid"])
    view = page.provenance
    assert view.value("录入单位") == "北洲子镇" and view.value("录入人") == "北洲子镇录入员"
    assert view.value("所在单位") == "北洲子镇 / 示例村一"
    assert view.value("经由的数据包").startswith("北洲子镇 第 1 号")
    # the form changes the selected review
    page.status.setCurrentText("已核实")
    page.note.setText("已电话核实")
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        qtbot.mouseClick(page.save_button, Qt.LeftButton)
    assert core(runner, reviews.list_reviews)[0]["status"] == "已核实"
    assert page.model.cell(0, 4) == "已核实"
    page.open_only.setChecked(True)
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=WAIT)
    # core refuses a flag without a note; the page says so, inline
    with qtbot.waitSignal(page.failed, timeout=WAIT) as failed:
        page.flag_row("two_cancer", row["uuid"], "  ", "待核实")
    assert "核实意见" in failed.args[0] and failed.args[0] in page.message.text()


def test_the_flag_dialog_and_a_standalone_provenance_view(qtbot, runner, reader):
    page = make(qtbot, ReviewsPage, runner, reader)
    row = reader.ledger("barrier_free").rows(org="430971130")[0]
    dialog = page.ask_flag("barrier_free", row["uuid"])
    dialog.note.setText("验收日期早于完工日期？请核实")
    with qtbot.waitSignal(dialog.saved, timeout=WAIT):
        qtbot.mouseClick(dialog.ok, Qt.LeftButton)
    assert core(runner, reviews.list_reviews)[0]["note"] == "验收日期早于完工日期？请核实"
    view = ProvenanceView(reader)
    qtbot.addWidget(view)
    view.show_row("barrier_free", row["uuid"])
    assert view.value("录入单位") == "千山红镇" and view.value("所在单位") == "千山红镇 / 示例村一"
    view.show()                                          # QWidget.show, untouched
    assert view.isVisible()
    view.show_row("barrier_free", "no-such-row")
    assert "没有这条记录" in view.value("记录")


# ---------------------------------------------------------------- 调度报告

def test_monthly_dialog_writes_the_xlsx_and_the_pdf(qtbot, runner, reader, tmp_path):
    dialog = MonthlyReportDialog(runner, reader, today=dt.date(2024, 7, 3))
    qtbot.addWidget(dialog)
    assert dialog.month.currentData() == 7 and dialog.month.count() == 12
    out = tmp_path / "报告"
    out.mkdir()
    with qtbot.waitSignal(dialog.generated, timeout=WAIT) as blocker:
        dialog.generate(2024, 6, out)
    xlsx, pdf = blocker.args
    assert xlsx == out / "调度报告_2024-06.xlsx" and pdf == out / "调度报告_2024-06.pdf"
    assert load_workbook(xlsx).sheetnames[:4] == ["合计", "滞后指标", "报送情况", "待办问题"]
    assert pdf.read_bytes().startswith(b"%PDF")
    assert str(xlsx) in dialog.paths.text() and str(pdf) in dialog.paths.text()
    with qtbot.waitSignal(dialog.failed, timeout=WAIT) as failed:
        dialog.generate(2023, 12, out)
    assert "2024" in failed.args[0]
    with qtbot.waitSignal(dialog.failed, timeout=WAIT):
        dialog.generate(2024, 6, tmp_path / "没有这个文件夹")
    assert "不存在" in dialog.message.text()
