"""The dashboard shows exactly core progress; a double click drills down to the rows."""
import datetime as dt

from PySide6.QtCore import QDate

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


def test_the_window_fits_an_office_screen_on_every_page(qtbot, demo_path):
    window = MainWindow(demo_path)
    qtbot.addWidget(window)
    screen = window.screen().availableGeometry()
    assert window.width() <= screen.width() and window.height() <= screen.height()
    for i in range(window.pages.count()):       # 1366×768 less a title bar and a task bar
        window.pages.setCurrentIndex(i)
        hint = window.minimumSizeHint()
        assert hint.width() <= 1366 and hint.height() <= 768 - 80, type(window.pages.widget(i)).__name__
