"""同步中心: profiles with a phone-checked fingerprint, packages sent and received,
refusals, gaps and the conflicts queue — the page shows what core decided."""
import datetime as dt
import json
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QLabel
from support import copy_store, install_below, logical_dump, phoned, screening

from desktop_app.cli import main
from desktop_app.core.store.crypto import fingerprint
from desktop_app.core.store.database import Store
from desktop_app.core import sync
from desktop_app.core.sync import profiles
from desktop_app.core.sync.status import spaced_fingerprint
from desktop_app.ui.sync_conflicts import DELETE_NOTE
from desktop_app.ui.sync_page import SyncPage
from desktop_app.ui.sync_receive import RESULT_COLUMNS
from desktop_app.ui.tasks import TaskRunner

TODAY = dt.date(2024, 12, 31)
WAIT = 30000
COUNT_COLUMNS = RESULT_COLUMNS[3:]    # 新增 … 拒收, in core's COUNTS order


@pytest.fixture
def chain(tmp_path):
    """District, town (河坝镇), villages 示例村一 (profiles exchanged both ways) and
    示例村二 (set up from the town's profile; the town has not imported its profile yet).
    The stores are closed: each test opens what it uses."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="区")
    t = install_below(d, tmp_path / "t.sqlite3", level="town", org="河坝镇", operator="镇",
                      villages=["示例村一", "示例村二"])
    v = install_below(t, tmp_path / "v.sqlite3", level="village", org="示例村一", operator="村")
    v2 = install_below(t, tmp_path / "v2.sqlite3", level="village", org="示例村二", operator="村二",
                       register=False)
    for s in (d, t, v, v2):
        s.close()
    return tmp_path


@contextmanager
def opened(path: Path):
    store = Store.open(path)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def open_page(qtbot):
    """``open_page(db)``: a SyncPage on its own runner and reader. Direct edits to that
    install go through ``page.runner.call`` (the store thread), never a second writer."""
    made = []

    def make(path: Path) -> SyncPage:
        runner = TaskRunner(path)
        reader = Store.open_readonly(path)
        page = SyncPage(runner, reader)
        qtbot.addWidget(page)
        made.append((runner, reader))
        qtbot.waitUntil(lambda: page.state is not None, timeout=WAIT)   # read off the GUI thread
        return page
    yield make
    for runner, reader in made:
        runner.shutdown()
        reader.close()


def import_packages(qtbot, page, paths, dry_run=False):
    with qtbot.waitSignal(page.packages_imported, timeout=WAIT) as blocker:
        page.import_packages(paths, dry_run=dry_run)
    return blocker.args[0]


def import_profiles(qtbot, page, paths):
    with qtbot.waitSignal(page.profiles_imported, timeout=WAIT) as blocker:
        page.import_profiles(paths)
    return blocker.args[0]


def confirm(qtbot, page, org, typed):
    with qtbot.waitSignal(page.peer_confirmed, timeout=WAIT) as blocker:
        page.confirm_fingerprint(org, typed)
    return blocker.args[0]


def export_package(qtbot, page, folder, **kw):
    with qtbot.waitSignal(page.package_exported, timeout=WAIT) as blocker:
        page.export_package_to(folder, **kw)
    return blocker.args[0]


def refresh(qtbot, page):
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        page.refresh()


def shown_rows(model) -> list[tuple]:
    return [tuple(model.cell(r, c) for c in range(model.columnCount())) for r in range(model.rowCount())]


def shown_counts(page, file: str) -> dict[str, dict[str, int]]:
    """The counts the receive table shows for a file: {ledger label: {count label: n}}."""
    return {row[2]: {label: int(row[3 + i].replace(",", "")) for i, label in enumerate(COUNT_COLUMNS)}
            for row in shown_rows(page.receive_tab.result_model) if row[0] == file and row[2]}


def test_profile_and_package_travel_between_pages(qtbot, qtmodeltester, chain, open_page):
    village = open_page(chain / "v2.sqlite3")
    town = open_page(chain / "t.sqlite3")
    with opened(chain / "v2.sqlite3") as v2:
        own = fingerprint(v2.keys().sign_public)
    assert village.peers_tab.unit_label.text() == "示例村二（村（社区）级）"
    assert village.peers_tab.own_fingerprint.text() == spaced_fingerprint(own)
    # the village's page writes its profile; the town's page registers it
    with qtbot.waitSignal(village.profile_exported, timeout=WAIT) as blocker:
        village.export_profile_to(chain / "usb")
    profile = Path(blocker.args[0])
    assert profile.parent == chain / "usb" and str(profile) in village.peers_tab.profile_message.text()
    [outcome] = import_profiles(qtbot, town, [profile])
    assert (outcome.status, outcome.status_text, outcome.fingerprint) == ("pending", "待确认指纹", own)
    assert shown_rows(town.peers_tab.pending_model)[0][:3] == ("示例村二", "村（社区）级", spaced_fingerprint(own))
    confirm(qtbot, town, "示例村二", phoned(profile))
    assert town.peers_tab.pending_model.rowCount() == 0
    peers = {row[0]: row for row in shown_rows(town.peers_tab.peers_model)}
    assert peers["示例村二"][2] == spaced_fingerprint(own) and peers["示例村二"][4] == "在用"
    assert set(peers) == {"大通湖区", "示例村一", "示例村二"}
    qtmodeltester.check(town.peers_tab.peers_model)
    # the village sends its first package to the default destination, the town above
    village.runner.call(lambda s: s.ledger("two_cancer").add(screening(1), today=TODAY))
    refresh(qtbot, village)
    [dest] = village.send_tab.dest_model.items
    assert dest.is_default and dest.peer.org_name == "河坝镇" and dest.last_seq == 0
    exported = export_package(qtbot, village, chain / "usb")
    assert exported.path.parent == chain / "usb" and exported.manifest["seq_from"] == 1
    sent = village.send_tab.send_message.text()
    assert str(exported.path) in sent and "共 2 行" in sent
    row = shown_rows(village.send_tab.dest_model)[0]
    assert row[0] == "河坝镇（默认）" and row[2] == "第 1 号" and row[4] == exported.path.name and row[5] == "2"
    qtmodeltester.check(village.send_tab.dest_model)
    # the town's page imports it: the counts shown are core's (its dry run says the same)
    expected = town.runner.call(lambda s: sync.import_package(s, exported.path, dry_run=True))
    with qtbot.waitSignal(town.changed, timeout=WAIT):
        [summary] = import_packages(qtbot, town, [exported.path])
    assert summary.status == "imported" and summary.counts == expected.counts
    labels = {"persons": "人员主档", "two_cancer": "两癌检查台账"}
    assert shown_counts(town, exported.path.name) == {
        labels[k]: {label: c[k] for label, k in zip(COUNT_COLUMNS, sync.COUNTS)}
        for k, c in expected.counts.items()} | {
        "合计": {label: expected.totals()[k] for label, k in zip(COUNT_COLUMNS, sync.COUNTS)}}
    assert expected.totals()["new"] == 2
    assert shown_rows(town.receive_tab.result_model)[0][1] == "已导入"
    qtmodeltester.check(town.receive_tab.result_model)
    [history] = shown_rows(town.receive_tab.history_model)
    assert history[1:6] == ("示例村二", "1", "增量", "已导入", "2")
    assert shown_rows(town.receive_tab.sources_model) == [("示例村二", "1", "无")]
    qtmodeltester.check(town.receive_tab.history_model)
    qtmodeltester.check(town.receive_tab.sources_model)
    # importing it again changes nothing and says so
    before = logical_dump(chain / "t.sqlite3")
    [again] = import_packages(qtbot, town, [exported.path])
    assert again.status == "already" and shown_rows(town.receive_tab.result_model)[0][1] == "已导入过"
    assert "以前已经导入过" in town.receive_tab.result_notes.text()
    assert logical_dump(chain / "t.sqlite3") == before


def test_a_tampered_package_is_refused_and_the_others_go_ahead(qtbot, chain, open_page):
    with opened(chain / "v.sqlite3") as v:
        v.ledger("two_cancer").add(screening(1), today=TODAY)
        good = sync.export_package(v, chain / "usb").path
    raw = bytearray(good.read_bytes())
    raw[len(raw) - 5] ^= 0x01
    tampered = chain / "usb" / "tampered.mstz"
    tampered.write_bytes(bytes(raw))
    town = open_page(chain / "t.sqlite3")
    before = logical_dump(chain / "t.sqlite3")
    [refused] = import_packages(qtbot, town, [tampered])
    assert refused.status == "refused" and "内容与清单不符" in refused.message
    assert shown_rows(town.receive_tab.result_model)[0][:2] == ("tampered.mstz", "已拒收")
    notes = town.receive_tab.result_notes.text()
    assert "tampered.mstz：已拒收。" in notes and "#c62828" in notes
    assert logical_dump(chain / "t.sqlite3") == before
    assert town.receive_tab.history_model.rowCount() == 0
    # in one batch, the refused file does not stop the good one
    first, second = import_packages(qtbot, town, [tampered, good])
    assert (first.status, second.status) == ("refused", "imported")
    assert second.totals()["new"] == 2 and town.receive_tab.history_model.rowCount() == 1


def test_the_page_and_the_command_line_give_the_same_summary(qtbot, chain, open_page, capsys):
    with opened(chain / "v.sqlite3") as v:
        paths = []
        for i in (1, 2):
            v.ledger("two_cancer").add(screening(i), today=TODAY)
            paths.append(sync.export_package(v, chain / "usb").path)
    stray = chain / "usb" / "坏.mstz"
    stray.write_bytes(b"not a package")
    files = [paths[1], stray, paths[0]]           # out of order: package 2 first shows a gap
    cli_db = chain / "t_cli.sqlite3"
    copy_store(chain / "t.sqlite3", cli_db)
    town = open_page(chain / "t.sqlite3")
    for dry_run in (True, False):
        shown = import_packages(qtbot, town, files, dry_run=dry_run)
        argv = ["import-package", "--db", str(cli_db), *map(str, files), "--json"] + ["--dry-run"] * dry_run
        assert main(argv) == 2
        assert [s.to_json() for s in shown] == json.loads(capsys.readouterr().out)["files"]
    assert [s.status for s in shown] == ["imported", "refused", "imported"]
    assert shown[0].gaps == ["示例村一：第 1 号数据包缺失"] and shown[2].gaps == []


def test_a_gap_is_shown_until_the_missing_package_arrives(qtbot, chain, open_page):
    paths = []
    with opened(chain / "v.sqlite3") as v:
        for i in (1, 2):
            v.ledger("two_cancer").add(screening(i), today=TODAY)
            paths.append(sync.export_package(v, chain / "usb").path)
    town = open_page(chain / "t.sqlite3")
    # a dry run of package 2 shows the gap and writes nothing
    before = logical_dump(chain / "t.sqlite3")
    [dry] = import_packages(qtbot, town, [paths[1]], dry_run=True)
    assert dry.status == "dry-run" and dry.gaps == ["示例村一：第 1 号数据包缺失"]
    assert shown_rows(town.receive_tab.result_model)[0][1] == "试导入（未写入）"
    assert logical_dump(chain / "t.sqlite3") == before
    [late] = import_packages(qtbot, town, [paths[1]])
    notes = town.receive_tab.result_notes.text()
    assert late.gaps == ["示例村一：第 1 号数据包缺失"]
    assert "<span style='color: #c62828'>" + f"{paths[1].name}：示例村一：第 1 号数据包缺失" in notes
    assert shown_rows(town.receive_tab.sources_model) == [("示例村一", "2", "示例村一：第 1 号数据包缺失")]
    import_packages(qtbot, town, [paths[0]])
    assert shown_rows(town.receive_tab.sources_model) == [("示例村一", "1–2", "无")]
    assert [row[2] for row in shown_rows(town.receive_tab.history_model)] == ["1", "2"]   # newest first


def test_a_same_field_conflict_is_queued_masked_and_resolved(qtbot, qtmodeltester, chain, open_page):
    town = open_page(chain / "t.sqlite3")
    with opened(chain / "v.sqlite3") as v:
        uid = v.ledger("two_cancer").add(screening(1), today=TODAY).uuid
        import_packages(qtbot, town, [sync.export_package(v, chain / "usb").path])
        v.clock.wall = lambda: time.time() - 3600   # the village's edit is the older one, whatever the timing
        v.ledger("two_cancer").update(uid, {"phone": "13900000009"}, today=TODAY)
        town.runner.call(lambda s: s.ledger("two_cancer").update(uid, {"phone": "13700000007"}, today=TODAY))
        later = sync.export_package(v, chain / "usb").path
    [summary] = import_packages(qtbot, town, [later])
    assert summary.totals()["conflicts"] == 1
    assert shown_counts(town, later.name)["两癌检查台账"]["冲突"] == 1
    assert town.tabs.tabText(town.tabs.indexOf(town.conflicts_tab)) == "冲突（1）"
    [row] = shown_rows(town.conflicts_tab.conflict_model)
    assert row[:5] == ("两癌检查台账", "示例1", "联系电话", "137****0007", "139****0009")
    qtmodeltester.check(town.conflicts_tab.conflict_model)
    town.set_reveal(True, purpose="核实身份信息")  # shown in full once the reveal is audited
    qtbot.waitUntil(lambda: shown_rows(town.conflicts_tab.conflict_model)[0][3:5] == ("13700000007", "13900000009"))
    assert town.runner.call(lambda s: s.conn.execute(      # revealing is audited (same thread, in order)
        "SELECT tbl FROM audit WHERE action = 'reveal' AND source = 'screen:conflicts'").fetchall()) == \
        [("ledger_two_cancer",)]
    town.set_reveal(False)
    [conflict] = town.conflicts_tab.items
    with qtbot.waitSignal(town.changed, timeout=WAIT), \
            qtbot.waitSignal(town.resolved, timeout=WAIT) as blocker:
        town.resolve(conflict.id, "theirs")
    assert blocker.args == [conflict.id]
    assert town.conflicts_tab.conflict_model.rowCount() == 0
    assert town.tabs.tabText(town.tabs.indexOf(town.conflicts_tab)) == "冲突"
    assert "采用了对方的值" in town.conflicts_tab.conflict_message.text()
    assert town.runner.call(lambda s: s.ledger("two_cancer").get(uid)["phone"]) == "13900000009"
    # the same conflict again is core's refusal, shown on the page
    with qtbot.waitSignal(town.failed, timeout=WAIT):
        town.resolve(conflict.id, "mine")
    assert "没有编号为" in town.conflicts_tab.conflict_message.text()


def test_an_edit_around_a_delete_says_so(qtbot, chain, open_page):
    town = open_page(chain / "t.sqlite3")
    with opened(chain / "v.sqlite3") as v:
        uid = v.ledger("two_cancer").add(screening(1), today=TODAY).uuid
        import_packages(qtbot, town, [sync.export_package(v, chain / "usb").path])
        town.runner.call(lambda s: s.ledger("two_cancer").delete(uid))
        v.ledger("two_cancer").update(uid, {"phone": "13900000009"}, today=TODAY)
        import_packages(qtbot, town, [sync.export_package(v, chain / "usb").path])
    [row] = shown_rows(town.conflicts_tab.conflict_model)
    assert row[5] == DELETE_NOTE and row[4] == "139****0009"
    assert DELETE_NOTE in town.conflicts_tab.conflict_detail.text()
    with qtbot.waitSignal(town.resolved, timeout=WAIT):
        town.resolve(town.conflicts_tab.items[0].id, "mine")        # the row stays deleted
    assert town.conflicts_tab.conflict_model.rowCount() == 0
    assert town.runner.call(lambda s: s.ledger("two_cancer").get(uid)["_deleted"]) == 1


def test_a_changed_key_waits_for_the_phone_check(qtbot, qtmodeltester, chain, open_page):
    with opened(chain / "t.sqlite3") as t:
        old = fingerprint(t.keys().sign_public)
    t2 = Store.create(chain / "t2.sqlite3", level="town", org="河坝镇", operator="镇")
    new = fingerprint(t2.keys().sign_public)
    profiles.export_profile(t2, chain / "t2.msprofile")
    t2.close()
    district = open_page(chain / "d.sqlite3")
    [outcome] = import_profiles(qtbot, district, [chain / "t2.msprofile"])
    assert outcome.status == "pending" and outcome.fingerprint == new and "新电脑" in outcome.message
    texts = [w.text() for w in district.peers_tab.profile_results.findChildren(QLabel)]
    assert spaced_fingerprint(new) in texts and any(outcome.message in t for t in texts)
    peers = [(row[0], row[2], row[4]) for row in shown_rows(district.peers_tab.peers_model)]
    assert peers == [("河坝镇", spaced_fingerprint(old), "在用")]
    confirm(qtbot, district, "河坝镇", new)
    peers = [(row[0], row[2], row[4]) for row in shown_rows(district.peers_tab.peers_model)]
    assert peers == [("河坝镇", spaced_fingerprint(new), "在用"), ("河坝镇", spaced_fingerprint(old), "已更换电脑")]
    qtmodeltester.check(district.peers_tab.peers_model)


def test_sending_full_resend_and_refusals(qtbot, qtmodeltester, chain, open_page):
    town = open_page(chain / "t.sqlite3")
    town.runner.call(lambda s: s.ledger("two_cancer").add(screening(3), today=TODAY))
    names = [d.peer.org_name for d in town.send_tab.dest_model.items]
    assert names[0] == "大通湖区" and town.send_tab.dest_model.items[0].is_default and "示例村一" in names
    assert not town.send_tab.resend_button.isEnabled()                # nothing sent yet
    first = export_package(qtbot, town, chain / "usb")
    assert first.manifest["dest"]["org"] == "430971" and first.manifest["kind"] == "incremental"
    full = export_package(qtbot, town, chain / "usb", full=True)
    assert full.manifest["kind"] == "full" and "全量" in full.path.name
    assert "全量数据包" in town.send_tab.send_message.text()
    assert town.send_tab.resend_button.isEnabled() and town.send_tab.resend_from.maximum() == 2
    resent = export_package(qtbot, town, chain / "usb", resend=(1, 1))
    assert resent.manifest["kind"] == "resend" and "重发" in resent.path.name
    row = shown_rows(town.send_tab.dest_model)[0]
    assert row[2] == "第 2 号" and row[4] == resent.path.name
    qtmodeltester.check(town.send_tab.dest_model)
    with opened(chain / "d.sqlite3") as d:
        assert sync.import_package(d, first.path).totals()["new"] == 2
    # core refuses a resend of packages never sent to that unit: said on the page
    with qtbot.waitSignal(town.failed, timeout=WAIT):
        town.export_package_to(chain / "usb", resend=(1, 1), to="示例村一")
    assert "没有发给该单位的第 1–1 号数据包记录" in town.send_tab.send_message.text()
    assert town.send_tab.incremental_button.isEnabled()


def test_dropped_packages_and_profiles_are_imported(qtbot, chain, open_page):
    with opened(chain / "v.sqlite3") as v:
        v.ledger("two_cancer").add(screening(1), today=TODAY)
        package = sync.export_package(v, chain / "usb").path
    town = open_page(chain / "t.sqlite3")
    note = chain / "说明.txt"
    note.write_text("x")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in (note, chain / "v2.sqlite3", package)])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    town.receive_tab.dry_run.setChecked(True)
    with qtbot.waitSignal(town.packages_imported, timeout=WAIT) as blocker:
        town.dropEvent(event)
    assert event.isAccepted() and town.tabs.currentWidget() is town.receive_tab
    assert [(s.file, s.status) for s in blocker.args[0]] == [(package.name, "dry-run")]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(chain / "v.msprofile"))])
    with qtbot.waitSignal(town.profiles_imported, timeout=WAIT) as blocker:
        town.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert [o.status_text for o in blocker.args[0]] == ["已是最新"]
    assert town.tabs.currentWidget() is town.peers_tab
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(note))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    town.dropEvent(event)
    assert not event.isAccepted()
