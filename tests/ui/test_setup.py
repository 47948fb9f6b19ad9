"""First-run setup dialog: inline validation, creation off the GUI thread, nothing half-made."""
from __future__ import annotations

import threading

import datetime as dt

import pytest
from support import MALFORMED_PROFILES, make_chain, resigned_town_profile, screening, trust_profile
from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QDialog, QFileDialog

from desktop_app.core import sync
from desktop_app.core.catalog import load_choices, save_choices
from desktop_app.core.catalog.model import read_catalog_files
from desktop_app.core.district import reviews
from desktop_app.core.store.database import Store, StoreError
from desktop_app.core.sync import export_profile, peer_list, pending_peers, read_profile, spaced_fingerprint
from desktop_app.core.sync.package_file import PackageError
from desktop_app.ui import setup_dialog
from desktop_app.ui.setup_dialog import VILLAGE_TOOLTIP, SetupDialog
from desktop_app.ui.style import RED

TODAY = dt.date(2024, 6, 30)


@pytest.fixture(autouse=True)
def no_real_modals(monkeypatch):
    """A test that reached a real file chooser would hang: fail instead."""
    def refuse(*_a, **_k):
        raise AssertionError("a real QFileDialog was opened in a test")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", refuse)


@pytest.fixture
def dialog(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # data_dir() under tmp, never ~
    dlg = SetupDialog()
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def create(qtbot, dlg):
    with qtbot.waitSignal(dlg.finished_setup, timeout=20000) as blocker:
        dlg.accept_setup()
    return blocker.args[0]


def test_town_setup_creates_store_with_villages(qtbot, dialog, tmp_path):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    path = tmp_path / "河坝镇.sqlite3"
    dialog.set_level("town")
    dialog.set_org("430971121")
    dialog.set_operator("  示例录入员 ")
    dialog.set_villages("示例村一\n\n 示例社区 \n")
    dialog.set_path(path)
    assert dialog.can_accept()
    assert dialog.ok_button.isEnabled()

    assert create(qtbot, dialog) == path
    assert dialog.created_path() == path == dialog.result_path()
    assert dialog.result() == QDialog.Accepted
    with Store.open_readonly(path) as store:
        assert (store.node.level, store.node.org, store.node.operator) == \
            ("town", "430971121", "示例录入员")
        villages = store.orgs.children("430971121")
        assert [(o.code, o.name) for o in villages] == \
            [("430971121001", "示例村一"), ("430971121002", "示例社区")]
    assert not path.with_name(path.name + ".creating").exists()


def test_default_path_follows_unit_until_user_chooses(dialog, tmp_path):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    assert dialog.org() is None  # several towns: no silent default
    assert not dialog.can_accept()
    assert dialog.org_error.text() == "请选择单位"
    dialog.set_org("南湾湖办事处")  # the plan's name is an alias
    assert dialog.org().name == "南湾湖管理处"
    assert dialog.path() == tmp_path / "xdg" / "minsheng-taizhang" / "南湾湖管理处.sqlite3"
    dialog.set_path(tmp_path / "mine.sqlite3")
    dialog.set_org("金盆镇")
    assert dialog.path() == tmp_path / "mine.sqlite3"


def test_town_combo_lists_the_five_towns(dialog):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    dialog.set_level("town")
    names = [dialog.org_combo.itemText(i) for i in range(dialog.org_combo.count())]
    assert names == ["河坝镇", "金盆镇", "北洲子镇", "千山红镇", "南湾湖管理处"]


def test_operator_required(qtbot, dialog, tmp_path):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    dialog.set_org("河坝镇")
    dialog.set_path(tmp_path / "t.sqlite3")
    dialog.set_operator("   ")
    assert not dialog.can_accept()
    assert not dialog.ok_button.isEnabled()
    assert "请填写操作员姓名" in dialog.operator_error.text()
    assert not dialog.operator_error.isHidden()
    assert create(qtbot, dialog) is None  # refused at once, nothing started
    assert not (tmp_path / "t.sqlite3").exists()
    dialog.set_operator("张三")
    assert dialog.can_accept()
    assert dialog.operator_error.isHidden()


def test_existing_path_refused_with_message(qtbot, dialog, tmp_path):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    path = tmp_path / "已有.sqlite3"
    path.write_bytes(b"keep me")
    dialog.set_org("河坝镇")
    dialog.set_operator("张三")
    dialog.set_path(path)
    assert not dialog.can_accept()
    msg = dialog.path_error.text()
    assert "已经存在" in msg and "文件 → 打开" in msg and "换一个文件名" in msg
    assert not dialog.open_existing_button.isHidden()
    assert path.read_bytes() == b"keep me"
    # the offered way out: open it instead (result_path, not created_path)
    dialog.open_existing_button.click()
    assert dialog.result() == QDialog.Accepted
    assert dialog.result_path() == path and dialog.created_path() is None


def test_folder_or_relative_path_refused(dialog, tmp_path):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    dialog.set_org("河坝镇")
    dialog.set_operator("张三")
    dialog.set_path(tmp_path)
    assert not dialog.can_accept() and "文件夹" in dialog.path_error.text()
    dialog.set_path("相对.sqlite3")
    assert not dialog.can_accept() and "完整路径" in dialog.path_error.text()
    dialog.set_path(tmp_path / "新" / "子目录" / "t.sqlite3")  # missing folders are made
    assert dialog.can_accept()


def test_district_setup(qtbot, dialog, tmp_path):
    path = tmp_path / "区.sqlite3"
    dialog.set_level("district")
    assert dialog.org().code == "430971"  # the only district: chosen
    assert dialog.villages_row.isHidden()
    dialog.set_villages("不应使用")  # hidden and ignored for the district
    dialog.set_operator("示例专班")
    dialog.set_path(path)
    assert create(qtbot, dialog) == path
    with Store.open_readonly(path) as store:
        assert (store.node.level, store.node.org) == ("district", "430971")
        assert all(o.level != "village" for o in store.orgs)


@pytest.fixture
def town_profile(tmp_path):
    """河坝镇's profile with its two villages, as the town exports it for them."""
    store = Store.create(tmp_path / "town" / "河坝镇.sqlite3", level="town", org="河坝镇", operator="镇")
    store.add_villages(["示例村一", "示例村二"])
    path = export_profile(store, tmp_path / "河坝镇_配置.msprofile")
    store.close()
    return path


def test_a_village_sets_up_from_its_towns_profile_with_the_fingerprint_read_back(qtbot, dialog, tmp_path,
                                                                                 town_profile):
    dialog.set_level("village")
    assert dialog.level_buttons["village"].isEnabled() and dialog.village_note.text() == VILLAGE_TOOLTIP
    assert dialog.profile_rows.edit.isVisibleTo(dialog) and dialog.villages_row.isHidden()
    assert not dialog.can_accept()
    assert dialog.profile_rows.error.text().startswith("请选择镇发来的配置文件")
    assert dialog.org_combo.count() == 0

    dialog.set_profile(town_profile)
    fp = read_profile(town_profile).fingerprint
    shown = dialog.profile_rows.shown.text()
    assert shown == spaced_fingerprint(fp) and not dialog.profile_rows.shown.isHidden()
    assert shown.count(" ") > 4 and "-" not in shown      # read aloud in groups, as everywhere
    assert dialog.profile_rows.info.text() == "河坝镇（430971121）的配置文件，列有 2 个村（社区）。"
    assert "请打电话给河坝镇" in dialog.profile_rows.hint.text()
    assert [dialog.org_combo.itemText(i) for i in range(dialog.org_combo.count())] == ["示例村一", "示例村二"]
    assert dialog.org() is None                            # two villages: the user chooses
    dialog.set_org("示例村二")
    dialog.set_operator("村录入员")
    assert dialog.path() == tmp_path / "xdg" / "minsheng-taizhang" / "示例村二.sqlite3"
    assert not dialog.can_accept()                         # no fingerprint typed yet

    dialog.set_fingerprint(fp[:9])
    assert not dialog.can_accept() and "已输入 8 位" in dialog.profile_rows.fingerprint_message.text()
    assert RED not in dialog.profile_rows.fingerprint_message.styleSheet()       # still typing: not an error yet
    wrong = ("0" if fp[0] != "0" else "1") + fp[1:]
    dialog.set_fingerprint(wrong)
    assert not dialog.can_accept() and not dialog.ok_button.isEnabled()
    assert "与河坝镇配置文件的指纹不符" in dialog.profile_rows.fingerprint_message.text()
    assert RED in dialog.profile_rows.fingerprint_message.styleSheet()
    dialog.set_fingerprint(" " + fp.lower().replace("-", " – ") + " ")   # as typed from a call
    assert dialog.profile_rows.fingerprint_message.text() == "✔ 指纹一致"
    assert dialog.can_accept()

    path = dialog.path()
    assert create(qtbot, dialog) == path
    with Store.open_readonly(path) as store:
        assert (store.node.level, store.node.org, store.node.operator) == ("village", "430971121002", "村录入员")
        town = [p for p in peer_list(store) if p.org == "430971121"]
        assert len(town) == 1 and town[0].active and town[0].fingerprint == fp   # trusted at once
        assert pending_peers(store) == []


@pytest.mark.parametrize("kind, message", [
    ("district", "是大通湖区（区级）的配置文件；村（社区）请使用所属镇发来的配置文件"),
    ("empty_town", "金盆镇的配置文件（金盆镇_配置.msprofile）里还没有村（社区）名单：请金盆镇先添加本村（社区）"),
    ("garbage", "不是本程序的配置文件，或已损坏"),
    ("missing", "找不到配置文件"),
])
def test_a_profile_a_village_cannot_start_from_is_explained(dialog, tmp_path, kind, message):
    if kind == "district":
        store = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="区")
        path = export_profile(store, tmp_path / "区_配置.msprofile")
        store.close()
    elif kind == "empty_town":
        store = Store.create(tmp_path / "j.sqlite3", level="town", org="金盆镇", operator="镇")
        path = export_profile(store, tmp_path / "金盆镇_配置.msprofile")
        store.close()
    else:
        path = tmp_path / "坏.msprofile"
        if kind == "garbage":
            path.write_text("不是配置文件", encoding="utf-8")
    dialog.set_level("village")
    dialog.set_profile(path)
    dialog.set_operator("张三")
    assert not dialog.can_accept()
    assert message in dialog.profile_rows.error.text() and not dialog.profile_rows.error.isHidden()
    assert dialog.profile_rows.shown.isHidden() and dialog.org_combo.count() == 0


@pytest.mark.parametrize("change, problem", MALFORMED_PROFILES.values(), ids=MALFORMED_PROFILES)
def test_a_signed_but_malformed_profile_is_refused_under_the_field(dialog, tmp_path, change, problem):
    dialog.set_level("village")
    dialog.set_profile(resigned_town_profile(tmp_path, change))
    assert dialog.profile_rows.error.text() == (
        f"河坝镇_配置.msprofile 不是本程序的配置文件，或已损坏（{problem}）；请向发出单位重新索取")
    assert not dialog.profile_rows.error.isHidden() and not dialog.can_accept()
    assert dialog.profile_rows.shown.isHidden() and dialog.org_combo.count() == 0


def test_a_wrong_fingerprint_at_creation_is_refused_inline_and_leaves_no_file(qtbot, dialog, tmp_path,
                                                                             town_profile, monkeypatch):
    dialog.set_level("village")
    dialog.set_profile(town_profile)
    dialog.set_org("示例村一")
    dialog.set_operator("张三")
    dialog.set_path(tmp_path / "v.sqlite3")
    dialog.set_fingerprint("0000 " * 8)
    monkeypatch.setattr(dialog, "_validate", lambda: True)   # as if the check were skipped
    assert create(qtbot, dialog) is None
    assert "与河坝镇配置文件的指纹不符" in dialog.error_label.text()
    assert list(tmp_path.glob("v.sqlite3*")) == []


def test_browse_for_the_profile_uses_the_chooser_method(dialog, town_profile, monkeypatch):
    dialog.set_level("village")
    monkeypatch.setattr(dialog.profile_rows, "_ask_profile_path", lambda start: str(town_profile))
    dialog.profile_rows.browse.click()
    assert dialog.profile_rows.edit.text() == str(town_profile) and dialog.org_combo.count() == 2
    dialog.set_level("town")               # a town starts from the district's profile: not this one
    assert dialog.profile_rows.edit.isVisibleTo(dialog) and dialog.org_combo.count() == 0
    assert "是河坝镇（镇级）的配置文件；镇请使用所属区发来的配置文件" in dialog.profile_rows.error.text()
    dialog.set_without_profile()           # 还没有区的配置文件: the plan's towns, no profile rows
    assert not dialog.profile_rows.edit.isVisibleTo(dialog) and dialog.org_combo.count() == 5
    dialog.set_level("village")            # the town's profile again, for the village
    assert dialog.profile_rows.edit.isVisibleTo(dialog) and dialog.org_combo.count() == 2


def test_duplicate_village_names_refused(qtbot, dialog, tmp_path):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    dialog.set_org("河坝镇")
    dialog.set_operator("张三")
    dialog.set_path(tmp_path / "t.sqlite3")
    dialog.set_villages("示例村一\n示例村二\n 示例村一 ")
    assert not dialog.can_accept()
    assert "第 3 行“示例村一”与第 1 行重复" in dialog.villages_error.text()
    dialog.set_villages("示例村１\n示例村1")  # full-width digit: the same name
    assert not dialog.can_accept()
    dialog.set_villages("示例村一\n示例村二")
    assert dialog.can_accept()


def test_add_villages_failure_leaves_no_file(qtbot, dialog, tmp_path, monkeypatch):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    def fail(self, names, town=None):
        raise StoreError("河坝镇已经有“示例村一”，未添加任何村（社区）", 1)
    monkeypatch.setattr(Store, "add_villages", fail)
    path = tmp_path / "t.sqlite3"
    dialog.set_org("河坝镇")
    dialog.set_operator("张三")
    dialog.set_villages("示例村一")
    dialog.set_path(path)
    assert create(qtbot, dialog) is None
    assert not path.exists() and list(tmp_path.glob("t.sqlite3*")) == []
    assert "未添加任何村（社区）" in dialog.error_label.text()  # inside the dialog, no modal
    assert not dialog.error_label.isHidden()
    assert dialog.isVisible() and dialog.result() != QDialog.Accepted
    assert dialog.created_path() is None
    assert dialog.ok_button.isEnabled() and dialog.form.isEnabled()  # can try again


def test_store_error_shown_inline(qtbot, dialog, tmp_path, monkeypatch):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    path = tmp_path / "t.sqlite3"
    dialog.set_org("河坝镇")
    dialog.set_operator("张三")
    dialog.set_path(path)
    path.write_bytes(b"")  # appears between validation and creation
    monkeypatch.setattr(dialog, "_validate", lambda: True)
    assert create(qtbot, dialog) is None
    assert "已经存在" in dialog.error_label.text()
    assert path.read_bytes() == b""


def test_dialog_never_blocks(qtbot, dialog, tmp_path, monkeypatch):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    release = threading.Event()
    real = setup_dialog.create_store

    def slow(*args, **kwargs):
        assert release.wait(10)
        return real(*args, **kwargs)
    monkeypatch.setattr(setup_dialog, "create_store", slow)
    path = tmp_path / "t.sqlite3"
    dialog.set_org("千山红镇")
    dialog.set_operator("张三")
    dialog.set_path(path)

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    with qtbot.waitSignal(dialog.finished_setup, timeout=20000) as blocker:
        assert dialog.accept_setup() is True  # returns at once
        assert dialog.is_busy()
        assert not dialog.ok_button.isEnabled() and not dialog.cancel_button.isEnabled()
        assert not dialog.form.isEnabled() and not dialog.busy_bar.isHidden()
        assert dialog.accept_setup() is False  # a second 确定 is ignored
        qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=5000)  # the event loop runs meanwhile
        dialog.reject()  # 取消/Esc while creating is ignored
        assert dialog.isVisible()
        release.set()
    timer.stop()
    assert blocker.args == [path]
    assert not dialog.is_busy() and dialog.busy_bar.isHidden()
    with Store.open_readonly(path) as store:
        assert store.node.org == "430971130"


def test_browse_uses_the_chooser_method(dialog, tmp_path, monkeypatch):
    monkeypatch.setattr(dialog, "_ask_save_path", lambda start: str(tmp_path / "选的"))
    dialog.browse_button.click()
    assert dialog.path() == tmp_path / "选的.sqlite3"  # suffix added
    monkeypatch.setattr(dialog, "_ask_save_path", lambda start: "")  # chooser cancelled
    dialog.browse_button.click()
    assert dialog.path() == tmp_path / "选的.sqlite3"


def test_cancel_rejects(dialog):
    dialog.cancel_button.click()
    assert dialog.result() == QDialog.Rejected
    assert dialog.result_path() is None


def test_unexpected_failure_is_shown_inline_and_logged_without_values(qtbot, dialog, tmp_path,
                                                                      monkeypatch):
    dialog.set_without_profile()   # 还没有区的配置文件: the plan's towns
    from desktop_app.core.logs import setup_logging, stop_logging
    log = setup_logging(tmp_path / "logs")
    threads = []

    def broken(*args, **_kwargs):
        threads.append(threading.current_thread())
        raise KeyError("43090219710916154X")
    monkeypatch.setattr(setup_dialog, "create_store", broken)
    dialog.set_org("河坝镇")
    dialog.set_operator("张三")
    dialog.set_path(tmp_path / "t.sqlite3")
    try:
        assert create(qtbot, dialog) is None
        written = log.read_text(encoding="utf-8")
    finally:
        stop_logging()
    text = dialog.error_label.text()
    assert "程序内部出错（KeyError）" in text and str(tmp_path / "logs") in text
    assert "KeyError: '[身份证号]'" in written and "in broken" in written
    assert "43090219710916154X" not in text + written
    assert threads and threads[0] is not threading.main_thread()   # the one task runner's thread
    assert threads[0].name.startswith("store") and dialog.ok_button.isEnabled()


# ---------------------------------------------------------------- a town from the district's profile

@pytest.fixture
def district(tmp_path):
    """The district's install with its own plan (version 2024.99, a 筛查编号 field more), a
    quota for 河坝镇 and a lead unit of its choosing, and the profile it hands the towns."""
    files = read_catalog_files()
    name = next(n for n in files if "two_cancer" in n)
    [ledger] = [led for led in files[name]["ledgers"] if led["id"] == "two_cancer"]
    ledger["fields"].append({"id": "screening_no", "label": "筛查编号", "type": "text"})
    files[next(n for n in files if "catalog" in files[n])]["catalog"]["version"] = "2024.99"
    store = Store.create(tmp_path / "district" / "区.sqlite3", level="district", org="430971", operator="区",
                         catalog_files=files)
    store.set_quota("two_cancer_screening", "430971121", 600)
    save_choices(store, load_choices(store).with_leads(store.catalog, "barrier_free_households", ["区妇联"]))
    profile = export_profile(store, tmp_path / "大通湖区_配置.msprofile")
    yield store, profile
    store.close()


def test_a_town_sets_up_from_the_districts_profile_and_trusts_the_district(qtbot, dialog, tmp_path, district):
    d, profile = district
    assert dialog.level() == "town" and not dialog.without_profile.isChecked()   # the way a town starts
    assert dialog.profile_rows.file_label.text() == "区的配置文件(&F)："
    assert dialog.town_note.text() == "镇用区发来的配置文件开始：与区电话核对指纹后，从区的名单中选择本镇"
    assert dialog.org_combo.count() == 0 and not dialog.can_accept()
    assert dialog.profile_rows.error.text() == "请选择区发来的配置文件（区在“同步中心 → 单位与配置文件”导出）"

    dialog.set_profile(profile)
    fp = read_profile(profile).fingerprint
    assert dialog.profile_rows.shown.text() == spaced_fingerprint(fp)
    assert dialog.profile_rows.info.text() == "大通湖区（430971）的配置文件，列有 5 个镇。"
    assert "请打电话给大通湖区" in dialog.profile_rows.hint.text()
    assert [dialog.org_combo.itemText(i) for i in range(dialog.org_combo.count())] == \
        ["河坝镇", "金盆镇", "北洲子镇", "千山红镇", "南湾湖管理处"]
    assert dialog.org() is None and dialog.org_error.text() == "请从区的名单中选择本镇"
    dialog.set_org("河坝镇")
    dialog.set_operator("镇录入员")
    dialog.set_villages("示例村一")
    assert not dialog.can_accept()
    assert dialog.profile_rows.fingerprint_message.text() == "请与区电话核对指纹后，在这里输入对方读出的指纹"
    dialog.set_fingerprint(fp.replace("-", " "))
    assert dialog.profile_rows.fingerprint_message.text() == "✔ 指纹一致" and dialog.can_accept()

    path = dialog.path()
    assert path.name == "河坝镇.sqlite3" and create(qtbot, dialog) == path
    town = Store.open(path)
    try:
        assert (town.node.level, town.node.org, town.node.operator) == ("town", "430971121", "镇录入员")
        assert [p.fingerprint for p in peer_list(town) if p.org == "430971" and p.active] == [fp]
        assert pending_peers(town) == []
        # the district's plan, quota and counting choices, without importing its profile again
        assert town.catalog.version == "2024.99"
        assert "screening_no" in [f.id for f in town.catalog.ledger("two_cancer").fields]
        assert town.quotas() == {("two_cancer_screening", "430971121"): 600}
        assert load_choices(town).leads == {"barrier_free_households": ("区妇联",)}
        assert [o.name for o in town.orgs.children("430971121")] == ["示例村一"]
        # packages both ways with no further step at the town: the district registers the town
        # (its profile, fingerprint by phone) and its 核实意见 arrives at once
        row = town.ledger("two_cancer").add(screening(1), org="示例村一", today=TODAY).uuid
        trust_profile(d, export_profile(town, tmp_path / "河坝镇_配置.msprofile"))
        sync.import_package(d, sync.export_package(town, tmp_path / "up").path)
        reviews.flag(d, "two_cancer", row, note="请核实联系电话")
        down = sync.import_package(town, sync.export_package(d, tmp_path / "down", to="河坝镇").path)
        assert down.status == "imported"
        assert [r["note"] for r in reviews.list_reviews(town, open_only=True)] == ["请核实联系电话"]
    finally:
        town.close()


def test_a_town_without_the_districts_profile_does_not_trust_the_district(qtbot, dialog, tmp_path, district):
    d, _profile = district
    dialog.set_without_profile()
    assert not dialog.profile_rows.edit.isVisibleTo(dialog) and dialog.town_note.isHidden()
    assert dialog.without_profile_note.text().startswith("这样建好的数据库还不认得区的钥匙")
    dialog.set_org("河坝镇")
    dialog.set_operator("镇录入员")
    dialog.set_path(tmp_path / "河坝镇.sqlite3")
    assert create(qtbot, dialog) == tmp_path / "河坝镇.sqlite3"
    with Store.open(tmp_path / "河坝镇.sqlite3") as town:
        assert peer_list(town) == [] and town.quotas() == {} and town.catalog.version != "2024.99"
        trust_profile(d, export_profile(town, tmp_path / "河坝镇_配置.msprofile"))
        with pytest.raises(PackageError, match="来自未登记的单位或电脑（自称大通湖区）"):
            sync.import_package(town, sync.export_package(d, tmp_path / "down", to="河坝镇").path)


def test_a_wrong_district_fingerprint_keeps_ok_disabled_with_the_message(qtbot, dialog, tmp_path, district):
    _d, profile = district
    dialog.set_profile(profile)
    dialog.set_org("金盆镇")
    dialog.set_operator("张三")
    dialog.set_path(tmp_path / "金盆镇.sqlite3")
    fp = read_profile(profile).fingerprint
    dialog.set_fingerprint(("0" if fp[0] != "0" else "1") + fp[1:])
    assert not dialog.can_accept() and not dialog.ok_button.isEnabled()
    message = dialog.profile_rows.fingerprint_message
    assert message.text().startswith("输入的指纹与大通湖区配置文件的指纹不符，没有确认。请再与大通湖区电话核对")
    assert RED in message.styleSheet() and not message.isHidden()
    assert create(qtbot, dialog) is None and dialog.error_label.text() == setup_dialog.FIX_FIRST
    assert list(tmp_path.glob("金盆镇.sqlite3*")) == []


@pytest.mark.parametrize("kind, message", [
    ("village", "v.msprofile 是示例村一（村（社区）级）的配置文件；镇请使用所属区发来的配置文件"),
    ("town", "t.msprofile 是河坝镇（镇级）的配置文件；镇请使用所属区发来的配置文件"),
])
def test_a_profile_not_from_the_district_is_refused_at_the_town_level(dialog, tmp_path, kind, message):
    stores = make_chain(tmp_path / "chain")
    for store in stores:
        store.close()
    dialog.set_level("town")
    dialog.set_profile(tmp_path / "chain" / f"{kind[0]}.msprofile")
    dialog.set_operator("张三")
    assert not dialog.can_accept()
    assert dialog.profile_rows.error.text() == message and not dialog.profile_rows.error.isHidden()
    assert dialog.profile_rows.shown.isHidden() and dialog.org_combo.count() == 0


def test_rows_that_appear_after_the_dialog_was_sized_never_overlap(qtbot, tmp_path, district):
    _d, profile = district
    dlg = SetupDialog(default_dir=tmp_path)   # sized for the empty town rows
    qtbot.addWidget(dlg)
    dlg.set_profile(profile)                  # then the fingerprint, its two-line hint and the towns
    dlg.set_fingerprint(read_profile(profile).fingerprint)
    dlg.set_org("河坝镇")
    dlg.show()
    edit, hint = dlg.villages_edit, dlg.villages_hint

    def apart():
        return hint.mapTo(dlg, QPoint(0, 0)).y() >= edit.mapTo(dlg, QPoint(0, edit.height())).y()
    qtbot.waitUntil(apart, timeout=5000)
    assert dlg.height() >= dlg.layout().totalHeightForWidth(dlg.width())
