"""The dashboard shows exactly core progress; a double click drills down to the rows."""
import datetime as dt

from PySide6.QtCore import QDate, Qt

from desktop_app.core.district.kept import peek
from desktop_app.core.district.progress import compute
from desktop_app.core.store.database import Store
from desktop_app.ui.dashboard import ID_ROLE, DashboardPage
from desktop_app.ui.main_window import MainWindow

AS_OF = dt.date(2024, 9, 30)


def indicator_rows(model):
    out = {}
    for p in range(model.rowCount()):
        parent = model.index(p, 0)
        for r in range(model.rowCount(parent)):
            cells = [model.index(r, c, parent).data() for c in range(model.columnCount())]
            out[model.index(r, 0, parent).data(ID_ROLE)] = cells
    return out


def test_dashboard_numbers_equal_core_progress(qtbot, qtmodeltester, demo_path):
    store = Store.open(demo_path)
    report = compute(store, AS_OF)
    page = DashboardPage()
    qtbot.addWidget(page)
    page.show_report(store.catalog, report)
    qtmodeltester.check(page.model)
    rows = indicator_rows(page.model)
    assert len(rows) == len(store.catalog.indicators)
    p = report.get("two_cancer_screening")
    name, target, achieved, rate, expected, status, units = rows["two_cancer_screening"]
    assert (target, achieved, rate, expected) == (
        "≥3,000 人", f"{p.achieved:,} 人", f"{p.rate:.1f}%", "74.9%")
    assert status == ("▼ 滞后" if p.lagging else "正常")
    assert units == "区妇联、区教育卫生健康局"     # the catalog's choice among p03's units
    assert "统计日期 2024年09月30日" in page.summary.text()
    store.close()


def test_main_window_drill_down_and_unit_switch(qtbot, demo_path):
    window = MainWindow(demo_path)
    qtbot.addWidget(window)
    window.as_of.setDate(QDate(2024, 9, 30))
    qtbot.waitUntil(lambda: window.dashboard.report is not None and
                    window.dashboard.report.as_of == AS_OF, timeout=10000)
    report = window.dashboard.report
    expected = report.get("two_cancer_screening").rows
    window.dashboard.indicator_activated.emit("two_cancer_screening")
    page = window.ledger_page
    assert window.pages.currentWidget() is page
    qtbot.waitUntil(lambda: page.model.view is not None and page.model.view.selection.counted is not None,
                    timeout=5000)
    assert page.model.rowCount() == expected
    assert "计入“" in page.banner.text()
    # switch to a town: the dashboard is recomputed for that town only
    town = window.dashboard.scope.findData("430971121")
    window.dashboard.scope.setCurrentIndex(town)
    qtbot.waitUntil(lambda: window.dashboard.report.scope == "430971121", timeout=10000)
    store = Store.open_readonly(demo_path)
    assert window.dashboard.report.get("two_cancer_screening").achieved == \
        compute(store, AS_OF, scope="430971121").get("two_cancer_screening").achieved
    store.close()
    window.close()


def test_a_towns_dashboard_without_quotas_never_shows_the_district_target(qtbot, qtmodeltester, town):
    from support import make_id, screening
    town.ledger("two_cancer").add(screening(1, day="2024-03-01", id_number=make_id("19700101", 2)),
                                  org="示例村一", today=AS_OF)
    page = DashboardPage()
    qtbot.addWidget(page)
    report = compute(town, AS_OF)
    page.show_report(town.catalog, report)
    qtmodeltester.check(page.model)
    rows = indicator_rows(page.model)
    _name, target, achieved, rate, _expected, status, _units = rows["two_cancer_screening"]
    assert (target, achieved, rate, status) == ("未分解", "1 人", "—", "未分解")
    amounts = sum(1 for i in town.catalog.indicators if i.is_amount)
    assert f"滞后 0 项</span>，未分解 {amounts} 项" in page.summary.text()
    tips = {page.model.index(r, 1, parent).data(Qt.ToolTipRole)
            for parent in (page.model.index(p, 0) for p in range(page.model.rowCount()))
            for r in range(page.model.rowCount(parent))}
    assert any(tip and tip.startswith("区尚未把这个指标的目标分解到本单位") for tip in tips)

    town.set_quota("two_cancer_screening", "430971121", 600)   # the district's profile brought it
    page.show_report(town.catalog, compute(town, AS_OF))
    qtmodeltester.check(page.model)
    _name, target, achieved, rate, _expected, status, _units = indicator_rows(page.model)["two_cancer_screening"]
    assert (target, achieved, rate, status) == ("≥600 人", "1 人", "0.2%", "▼ 滞后")


def test_a_change_works_out_the_figures_in_the_background(qtbot, demo_path):
    window = MainWindow(demo_path)
    qtbot.addWidget(window)
    window.as_of.setDate(QDate(2024, 9, 30))
    qtbot.waitUntil(lambda: window.dashboard.report is not None and window.dashboard.report.as_of == AS_OF,
                    timeout=10000)
    key = ("progress", window.catalog.id, window.catalog.version, AS_OF, window.node.org, None)
    window.runner.run_and_wait(lambda store, progress: store.set_setting("idle_lock_minutes", "9"))  # a change
    assert peek(window.reader, key) is None
    window.ledger_page.changed.emit()          # what a save, an import or a merge announces
    qtbot.waitUntil(lambda: peek(window.reader, key) is not None and not window._warming, timeout=10000)
    assert window._stale                       # the dashboard itself is redrawn when shown
    window.close_store()
