"""同步中心: a held package discarded (接收 → 暂存的数据包 → 丢弃…) and a pending profile
rejected (单位与配置文件 → 拒绝…); the buttons only call core, the tables show the result."""
import datetime as dt
from pathlib import Path

import pytest
from support import init_below, install_below, screening

from desktop_app.core import sync
from desktop_app.core.store.database import Store
from desktop_app.core.sync import profiles
from desktop_app.ui.sync_page import SyncPage
from desktop_app.ui.tasks import TaskRunner

TODAY = dt.date(2024, 12, 31)
WAIT = 30000


@pytest.fixture
def district(tmp_path, qtbot):
    """The district's page; 河坝镇's new PC is pending there with two packages held."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="区")
    install_below(d, tmp_path / "t.sqlite3", level="town", org="河坝镇", operator="镇").close()
    new_pc = init_below(tmp_path / "t2.sqlite3", tmp_path / "d.msprofile", level="town", org="河坝镇",
                        operator="新电脑")
    profiles.import_profile(d, profiles.export_profile(new_pc, tmp_path / "t2.msprofile"))
    for i in range(2):
        new_pc.ledger("two_cancer").add(screening(i + 1), org="河坝镇", today=TODAY)
        assert sync.import_package(d, sync.export_package(new_pc, tmp_path / "usb").path).status == "held"
    new_pc.close()
    d.close()
    runner, reader = TaskRunner(tmp_path / "d.sqlite3"), Store.open_readonly(tmp_path / "d.sqlite3")
    page = SyncPage(runner, reader)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.state is not None, timeout=WAIT)
    yield page, tmp_path
    runner.shutdown()
    reader.close()


def test_a_held_package_is_discarded_from_the_receive_tab(qtbot, qtmodeltester, district, monkeypatch):
    page, tmp = district
    tab = page.receive_tab
    assert tab.held_model.rowCount() == 2 and not tab.held_box.isHidden()
    qtmodeltester.check(tab.held_model)
    first = tab.held_model.items[0]
    tab.held_table.selectRow(0)
    asked = []
    monkeypatch.setattr(tab, "_ask_discard", lambda package: asked.append(package.package_id) or True)
    with qtbot.waitSignal(tab.held_discarded, timeout=WAIT) as blocker:
        tab.discard_button.click()
    assert asked == [first.package_id] and blocker.args[0].package_id == first.package_id
    assert [h.package_id for h in tab.held_model.items] == [page.state.held[0].package_id] != [first.package_id]
    assert f"已丢弃暂存的数据包 {first.file}" in tab.result_notes.text()
    assert page.peers_tab.pending_model.items[0].held == 1


def test_nothing_is_discarded_without_a_selection_or_a_yes(qtbot, district, monkeypatch):
    page, tmp = district
    tab = page.receive_tab
    tab.discard_button.click()
    assert "请先在“暂存的数据包”中选择" in tab.result_notes.text()
    tab.held_table.selectRow(0)
    monkeypatch.setattr(tab, "_ask_discard", lambda package: False)
    tab.discard_button.click()
    assert not page.jobs.busy and tab.held_model.rowCount() == 2


def test_a_pending_profile_is_rejected_and_its_held_packages_go(qtbot, district, monkeypatch):
    page, tmp = district
    tab = page.peers_tab
    assert [p.org_name for p in tab.pending_model.items] == ["河坝镇"]
    tab.pending_table.selectRow(0)
    monkeypatch.setattr(tab, "_ask_reject", lambda peer: True)
    with qtbot.waitSignal(tab.peer_rejected, timeout=WAIT) as blocker:
        tab.reject_button.click()
    assert len(blocker.args[0]["discarded"]) == 2
    assert tab.pending_model.rowCount() == 0 and page.receive_tab.held_model.rowCount() == 0
    assert "已拒绝河坝镇待确认的配置文件，它暂存的 2 个数据包已丢弃" in tab.confirm_message.text()
    assert page.receive_tab.held_box.isHidden()
    assert not list(Path(str(tmp / "d.sqlite3") + ".held").iterdir())
