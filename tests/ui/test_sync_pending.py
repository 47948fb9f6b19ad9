"""同步中心 (issue 15): pending units with their fingerprint and 确认指纹…, held packages with
their reason; confirming (the dialog injected) applies the held packages on the runner."""
import datetime as dt

import pytest
from support import init_below, install_below, phoned, screening

from desktop_app.core import sync
from desktop_app.core.store.database import Store
from desktop_app.core.sync import profiles
from desktop_app.core.sync.status import spaced_fingerprint
from desktop_app.ui.sync_page import SyncPage
from desktop_app.ui.tasks import TaskRunner

TODAY = dt.date(2024, 12, 31)
WAIT = 30000


@pytest.fixture
def world(tmp_path):
    """The district with 金盆镇 confirmed, and 千山红镇 whose profile and package wait there."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="区")
    install_below(d, tmp_path / "jp.sqlite3", level="town", org="金盆镇", operator="镇").close()
    qs = init_below(tmp_path / "qs.sqlite3", tmp_path / "d.msprofile", level="town", org="千山红镇", operator="镇")
    profile = profiles.export_profile(qs, tmp_path / "qs.msprofile")
    assert profiles.import_profile(d, profile)["status"] == "pending"
    qs.ledger("two_cancer").add(screening(1), org="千山红镇", today=TODAY)
    assert sync.import_package(d, sync.export_package(qs, tmp_path / "usb").path).status == "held"
    for s in (d, qs):
        s.close()
    return tmp_path


@pytest.fixture
def page(qtbot, world):
    runner = TaskRunner(world / "d.sqlite3")
    reader = Store.open_readonly(world / "d.sqlite3")
    p = SyncPage(runner, reader)
    p.resize(1366, 768)
    qtbot.addWidget(p)
    qtbot.waitUntil(lambda: p.state is not None, timeout=WAIT)
    yield p
    runner.shutdown()
    reader.close()


def rows(model) -> list[tuple]:
    return [tuple(model.cell(r, c) for c in range(model.columnCount())) for r in range(model.rowCount())]


def test_pending_units_and_held_packages_are_listed(qtmodeltester, page, world):
    tab = page.peers_tab
    [row] = rows(tab.pending_model)
    assert row == ("千山红镇", "镇级", spaced_fingerprint(phoned(world / "qs.msprofile")), row[3], "1 个", "新单位")
    assert page.tabs.tabText(0) == "单位与配置文件（1 待确认）"
    assert tab.confirm_button.text() == "确认指纹…" and tab.confirm_button.property("permission") == "admin"
    [held] = rows(page.receive_tab.held_model)
    assert held[1:4] == ("千山红镇", "1", "发送单位待确认指纹")
    assert "等待确认指纹" in page.receive_tab.held_model.items[0].message
    qtmodeltester.check(tab.pending_model)
    qtmodeltester.check(page.receive_tab.held_model)


def test_a_wrong_fingerprint_is_refused_on_the_page(qtbot, page, world):
    tab = page.peers_tab
    tab._ask_fingerprint = lambda peer: phoned(world / "d.msprofile")     # someone read the wrong one
    with qtbot.waitSignal(page.failed, timeout=WAIT) as blocker:
        tab._confirm_clicked()
    assert "指纹不符" in blocker.args[0] and "指纹不符" in tab.confirm_message.text()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        page.refresh()
    assert tab.pending_model.rowCount() == 1 and page.receive_tab.held_model.rowCount() == 1


def test_confirming_applies_the_held_packages(qtbot, page, world):
    tab = page.peers_tab
    asked = []
    tab._ask_fingerprint = lambda peer: asked.append(peer.org_name) or phoned(world / "qs.msprofile").lower()
    with qtbot.waitSignal(page.changed, timeout=WAIT), qtbot.waitSignal(page.peer_confirmed, timeout=WAIT) as blocker:
        tab._confirm_clicked()
    assert asked == ["千山红镇"]
    assert [a["status"] for a in blocker.args[0]["applied"]] == ["imported"]
    assert "已确认千山红镇的指纹" in tab.confirm_message.text() and "暂存的数据包 1 个" in tab.confirm_message.text()
    assert tab.pending_model.rowCount() == 0 and page.receive_tab.held_model.rowCount() == 0
    assert page.tabs.tabText(0) == "单位与配置文件"
    assert page.runner.call(lambda s: s.ledger("two_cancer").count()) == 1
    assert ("千山红镇", "镇级") == tuple(next(r for r in rows(tab.peers_model) if r[0] == "千山红镇")[:2])


def test_the_page_names_a_wrong_date(qtbot, page):
    page.runner.call(lambda s: setattr(s.clock, "wall", lambda: 1.0e9))         # the PC set back to 2001
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        page.refresh()
    assert page.clock_warning.isVisibleTo(page) and "请先校正电脑日期" in page.clock_warning.text()


def test_the_page_fits_an_office_screen_with_pending_units_and_held_packages(page):
    """1366×768 less a title bar and a task bar, as the main window's pages."""
    assert not page.peers_tab.pending_box.isHidden() and not page.receive_tab.held_box.isHidden()
    for tab in (page.peers_tab, page.receive_tab):
        page.tabs.setCurrentWidget(tab)
        hint = page.minimumSizeHint()
        assert hint.width() <= 1366 and hint.height() <= 768 - 80 - 60, type(tab).__name__
