"""Log-in, roles, lock screen, backups and restore in the window (no real modal dialogs)."""
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from support import TODAY, forget_key, make_id, raw_connect

from desktop_app.core.demo import DEMO_PASSWORD
from desktop_app.core.store import backup, users
from desktop_app.core.store.database import Store
from desktop_app.ui import startup
from desktop_app.ui.backup_dialog import BackupDialog
from desktop_app.ui.login_dialog import LoginDialog
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.tasks import TaskRunner

WAIT = 10_000


def session(path, name):
    with Store.open(path) as store:
        return users.login(store, name, DEMO_PASSWORD)


@pytest.fixture
def window_as(demo_path, qtbot):
    made = []

    def make(name):
        w = MainWindow(demo_path, session(demo_path, name))
        qtbot.addWidget(w)
        made.append(w)
        return w
    yield make
    for w in made:
        w.close_store()


def test_first_run_creates_the_admin_then_logs_in(tmp_path, qtbot):
    path = tmp_path / "t.sqlite3"
    Store.create(path, level="town", org="河坝镇", operator="张管理").close()

    def create(name, password):
        with Store.open(path) as store:
            users.add_user(store, name, password, "管理员")
            return users.login(store, name, password)
    dialog = LoginDialog(unit="河坝镇", attempt=None, create=create, first=True, user="张管理")
    qtbot.addWidget(dialog)
    dialog.password.setText("示例密码-2024")
    dialog.confirm.setText("不一样的密码")
    dialog.submit()
    assert dialog.session is None and "不一致" in dialog.message.text()
    dialog.password.setText("短")
    dialog.confirm.setText("短")
    dialog.submit()
    assert dialog.session is None and "至少 8 位" in dialog.message.text()
    dialog.password.setText("示例密码-2024")
    dialog.confirm.setText("示例密码-2024")
    dialog.submit()
    assert (dialog.session.user, dialog.session.role) == ("张管理", "管理员")

    def attempt(name, password):
        with Store.open(path) as store:
            return users.login(store, name, password)
    again = LoginDialog(unit="河坝镇", attempt=attempt)
    qtbot.addWidget(again)
    again.name.setText("张管理")
    again.password.setText("错误的密码")
    again.submit()
    assert again.session is None and "再错 4 次将锁定" in again.message.text()
    assert again.password.text() == ""
    again.password.setText("示例密码-2024")
    again.submit()
    assert again.session.role == "管理员"


def test_a_clerk_cannot_reveal_manage_users_restore_or_resolve(window_as):
    w = window_as("示例录入员")
    assert "示例录入员（录入员）" in w.windowTitle()
    assert not w.ledger_page.reveal.box.isEnabled()
    assert not w.security.users_action.isEnabled() and not w.security.backup_action.isEnabled()
    conflicts = w.sync_page.conflicts_tab
    assert conflicts.keep_mine_button.isHidden() and conflicts.take_theirs_button.isHidden()
    assert w.sync_page.peers_tab.import_profile_button.isHidden()
    w.ledger_page.show_ledger("two_cancer")
    w.ledger_page.reveal.set_purpose("电话回访")
    w.ledger_page.reveal.setChecked(True)
    assert not w.ledger_page.reveal.isChecked()


def test_a_reviewer_reveals_with_a_purpose_but_does_not_manage(window_as, qtbot, demo_path):
    w = window_as("示例审核员")
    assert w.ledger_page.reveal.box.isEnabled() and not w.security.users_action.isEnabled()
    assert not w.sync_page.conflicts_tab.keep_mine_button.isHidden()
    w.ledger_page.show_ledger("two_cancer")
    w.ledger_page.reveal.set_purpose("入户核查")
    with qtbot.waitSignal(w.ledger_page.reveal.changed, timeout=WAIT):
        w.ledger_page.reveal.setChecked(True)
    conn = raw_connect(demo_path)
    assert conn.execute("SELECT user, after FROM audit WHERE action = 'reveal'").fetchall() == [
        ("示例审核员", '{"purpose":"入户核查","rows":null}')]
    conn.close()


def test_lock_screen_and_idle_lock(window_as, qtbot):
    w = window_as("示例录入员")
    sec = w.security
    qtbot.waitUntil(lambda: sec.idle_limit == 600, timeout=WAIT)       # the default 10 minutes
    sec.check_idle(599)
    assert not sec.locked
    sec.check_idle(600)
    assert sec.locked and sec.stack.currentWidget() is sec.lock_page
    assert not w.menuBar().isEnabled() and "示例录入员" in sec.lock_page.title.text()
    sec.lock_page.password.setText("错误的密码")
    sec.lock_page.submit()
    qtbot.waitUntil(lambda: "密码不对" in sec.lock_page.message.text(), timeout=WAIT)
    assert sec.locked
    with qtbot.waitSignal(sec.locked_changed, timeout=WAIT) as blocker:
        sec.lock_page.password.setText(DEMO_PASSWORD)
        sec.lock_page.submit()
    assert blocker.args == [False] and sec.stack.currentIndex() == 0 and w.menuBar().isEnabled()


def test_no_session_never_locks(demo_path, qtbot):
    w = MainWindow(demo_path)
    qtbot.addWidget(w)
    w.security.idle_limit = 60
    w.security.check_idle(10_000)
    assert not w.security.locked
    w.close_store()


def test_admin_adds_a_user_and_sets_the_idle_lock(window_as, qtbot, qtmodeltester, demo_path):
    w = window_as("示例管理员")
    w.security.manage_users()
    dialog = w.security.users_dialog
    qtbot.waitUntil(lambda: dialog.users_model.rowCount() == 3, timeout=WAIT)
    qtmodeltester.check(dialog.users_model)
    with qtbot.waitSignal(dialog.changed, timeout=WAIT):
        dialog.add("示例新录入员", "录入员", "新用户密码123", "430971121")
    qtbot.waitUntil(lambda: dialog.users_model.rowCount() == 4, timeout=WAIT)
    assert dialog.users_model.cell(3, 0) == "示例新录入员" and dialog.users_model.cell(3, 2) == "河坝镇"
    dialog.add("示例", "录入员", "短")
    qtbot.waitUntil(lambda: "至少 8 位" in dialog.message.text(), timeout=WAIT)
    with qtbot.waitSignal(dialog.changed, timeout=WAIT):
        dialog.set_idle(5)
    qtbot.waitUntil(lambda: w.security.idle_limit == 300, timeout=WAIT)
    dialog.close()


def test_daily_backup_backup_now_and_restore_from_the_window(window_as, qtbot, demo_path):
    w = window_as("示例管理员")
    qtbot.waitUntil(lambda: [b.reason for b in backup.list_backups(demo_path)] == ["daily"],
                    timeout=WAIT)
    count = w.runner.call(lambda s: s.ledger("two_cancer").count())
    dialog = BackupDialog(w.runner, demo_path)
    qtbot.addWidget(dialog)
    w.runner.call(lambda s: s.ledger("two_cancer").delete(
        s.ledger("two_cancer").rows(limit=1)[0]["uuid"]))
    with qtbot.waitSignal(dialog.changed, timeout=WAIT):
        dialog.backup_now()
    assert dialog.backups_model.rowCount() == 2 and dialog.backups_model.cell(0, 1) == "手动备份"
    daily = backup.list_backups(demo_path)[1]
    with qtbot.waitSignal(w.security.restored, timeout=WAIT) as blocker:
        w.security.restore(daily.path, relogin=False)
    assert blocker.args[0].reason == "restore"
    with Store.open(demo_path) as store:
        assert store.ledger("two_cancer").count() == count


def test_a_second_window_on_the_same_store_is_refused(demo_path, qtbot, monkeypatch):
    w = MainWindow(demo_path)
    qtbot.addWidget(w)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    assert startup.open_store_or_explain(demo_path) is False
    assert "已被另一个程序窗口" in shown[0]
    second = TaskRunner(demo_path, exclusive=True)
    with pytest.raises(Exception, match="已被另一个程序窗口"):
        second.call(lambda s: None)
    second.shutdown()
    w.close_store()
    assert startup.open_store_or_explain(demo_path) is True


def test_a_damaged_store_is_restored_from_the_newest_good_backup(demo_path, monkeypatch):
    with Store.open(demo_path) as store:
        count = store.ledger("two_cancer").count()
        backup.make_backup(store, "manual")
    data = bytearray(demo_path.read_bytes())
    data[len(data) // 3:len(data) // 3 + 8192] = b"\x00" * 8192
    demo_path.write_bytes(bytes(data))
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a: asked.append(a[2]) or QMessageBox.Yes)
    monkeypatch.setattr(QMessageBox, "information", lambda *a: None)
    assert startup.open_store_or_explain(demo_path) is True
    assert "已损坏" in asked[0] and "手动备份" in asked[0]
    with Store.open(demo_path) as store:
        assert store.ledger("two_cancer").count() == count
    assert [b.reason for b in backup.list_backups(demo_path)][0] == "damaged"


def test_receiving_several_packages_backs_up_once(chain):
    from desktop_app.core import sync
    from desktop_app.core.batch import import_packages
    d, t, v, tmp = chain
    packages = []
    for i in range(3):
        v.ledger("two_cancer").add({"name": f"示例{i}", "id_number": make_id("19700312", 2 * i + 2),
                                    "phone": "13800000001", "population": "农村适龄"}, today=TODAY)
        packages.append(sync.export_package(v, tmp / "out").path)
    before = len(backup.list_backups(t.path))
    results = import_packages(t, packages).files
    assert [r.status for r in results] == ["imported"] * 3
    assert len(backup.list_backups(t.path)) == before + 1


# ------------------------------------------------------------ encryption: 恢复码, viewing copies

def test_the_recovery_code_is_shown_once_and_kept_before_going_on(qtbot):
    from desktop_app.ui.recovery_dialog import RecoveryCodeDialog
    dialog = RecoveryCodeDialog("ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2", unit="河坝镇")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.code_label.text() == "ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2"
    assert not dialog.continue_button.isEnabled()
    dialog.reject()                                   # Esc: not before it is kept
    assert dialog.isVisible()
    dialog.copy()
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == "ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2"
    assert "ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2" in dialog.document().toPlainText()
    dialog.saved.setChecked(True)
    assert dialog.continue_button.isEnabled()
    with qtbot.waitSignal(dialog.accepted):
        dialog.continue_button.click()


def test_the_recovery_code_resets_the_admin_password_from_the_log_in(tmp_path, qtbot):
    from desktop_app.ui.recovery_dialog import RecoverDialog
    path = tmp_path / "t.sqlite3"
    with Store.create(path, level="town", org="河坝镇", operator="张管理") as store:
        code = users.add_user(store, "张管理", "示例密码-2024", "管理员")
    forget_key(path)
    dialog = RecoverDialog(path)
    qtbot.addWidget(dialog)
    dialog.code.setText("ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2")
    dialog.password.setText("新的管理员密码1")
    dialog.confirm.setText("新的管理员密码1")
    dialog.submit()
    assert dialog.result is None and "恢复码不对" in dialog.message.text()
    dialog.code.setText(code.lower())
    dialog.submit()
    name, new_code = dialog.result
    assert name == "张管理" and new_code != code
    again = LoginDialog(unit="河坝镇", attempt=lambda n, p: Store.authenticate(path, n, p),
                        recover=lambda: "张管理")
    qtbot.addWidget(again)
    again.recover_button.click()
    assert again.name.text() == "张管理" and "新密码" in again.message.text()
    again.password.setText("新的管理员密码1")
    again.submit()
    assert again.session.role == "管理员"


def test_a_pdf_viewing_copy_is_deleted_when_its_editor_closes(qtbot, runner, reader, monkeypatch):
    from desktop_app.ui import attachment_editor
    from desktop_app.ui.record_form import RecordForm
    monkeypatch.setattr(attachment_editor.QDesktopServices, "openUrl", lambda url: None)
    pdf = Path(__file__).parent.parent / "fixtures" / "acceptance.pdf"
    uid = reader.ledger("barrier_free").rows()[0]["uuid"]
    form = RecordForm(runner, reader, "barrier_free", uuid=uid, today=TODAY)
    qtbot.addWidget(form)
    form.show()
    scan = form.editors["acceptance_scan"]
    with qtbot.waitSignal(scan.changed, timeout=WAIT):
        scan.add_files([pdf])
    path = scan.open_file(scan.refs[-1]["sha256"])
    assert path.read_bytes() == pdf.read_bytes() and (path.stat().st_mode & 0o077) == 0
    form.close()
    assert not path.exists() and not path.parent.exists()


def test_the_first_administrator_is_shown_the_recovery_code_then_logs_in(tmp_path, qtbot, monkeypatch):
    """startup.log_in on a store without users: the first 管理员, the 恢复码 once, and from then
    on the store needs a log-in (no real dialog: exec fills the form and submits)."""
    path = tmp_path / "t.sqlite3"
    Store.create(path, level="town", org="河坝镇", operator="张管理").close()
    shown = []
    monkeypatch.setattr(startup, "show_recovery_code", lambda code, unit="", parent=None: shown.append((code, unit)))

    def fill(dialog):
        dialog.password.setText("示例密码-2024")
        dialog.confirm.setText("示例密码-2024")
        dialog.submit()
        return dialog.result()
    monkeypatch.setattr(LoginDialog, "exec", fill)
    session = startup.log_in(path)
    assert (session.user, session.role) == ("张管理", "管理员")
    [(code, unit)] = shown
    assert len(code.replace("-", "")) == 24 and unit == "河坝镇"
    assert Store.needs_login(path) and Store.label(path) == {"unit": "河坝镇"}
    forget_key(path)

    def attempt(dialog):
        dialog.name.setText("张管理")
        dialog.password.setText("示例密码-2024")
        dialog.submit()
        return dialog.result()
    monkeypatch.setattr(LoginDialog, "exec", attempt)
    assert startup.log_in(path).role == "管理员" and shown == [(code, unit)]
    assert startup.check_after_login(path, session) is True


def test_a_disabled_user_is_enabled_again_only_with_a_new_password(window_as, qtbot, demo_path):
    w = window_as("示例管理员")
    w.security.manage_users()
    dialog = w.security.users_dialog
    qtbot.waitUntil(lambda: dialog.users_model.rowCount() == 3, timeout=WAIT)
    with qtbot.waitSignal(dialog.changed, timeout=WAIT):
        dialog.set_active("示例录入员", False, "")
    with pytest.raises(users.LoginError):
        Store.authenticate(demo_path, "示例录入员", DEMO_PASSWORD)     # her key is gone
    dialog.set_active("示例录入员", True, "")
    qtbot.waitUntil(lambda: "新密码" in dialog.message.text(), timeout=WAIT)
    with qtbot.waitSignal(dialog.changed, timeout=WAIT):
        dialog.set_active("示例录入员", True, "重新启用的密码1")
    assert Store.authenticate(demo_path, "示例录入员", "重新启用的密码1").role == "录入员"
    dialog.close()
