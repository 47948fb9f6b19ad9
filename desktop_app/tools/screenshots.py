"""python -m desktop_app.tools.screenshots OUTDIR — PNGs of the main screens on a demo store.

Run it under a virtual screen with a CJK font, e.g.
    xvfb-run -a -s "-screen 0 1366x768x24" python -m desktop_app.tools.screenshots docs/screenshots
(QT_QPA_PLATFORM=offscreen works too). Saves setup, dashboard, ledger, record form,
person page, log-in, the 恢复码 shown once, backups and the lock screen; the README shows them.
Windows are sized as on the most common office screen: 1366×768 less a task bar.
"""
from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QDate, QRect, QSize
from PySide6.QtWidgets import QApplication, QWidget

AS_OF = dt.date(2024, 9, 30)
OFFICE_SCREEN = QRect(0, 0, 1366, 728)   # 1366×768 less a task bar


def _office(width: int, height: int) -> QSize:
    from ..ui.window_size import fitted_size
    return fitted_size(QSize(width, height), OFFICE_SCREEN)


def _wait(cond, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not cond():
        QApplication.processEvents()
        if time.monotonic() > end:
            raise TimeoutError("界面没有在预期时间内完成加载")
        time.sleep(0.01)


def _settle(ms: int = 300) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def _save(widget: QWidget, out: Path, name: str) -> Path:
    _settle()
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    print(path)
    return path


def _save_recovery_code(out: Path) -> Path:
    """The 恢复码 dialog as the first 管理员 sees it (a made-up code)."""
    from ..ui.recovery_dialog import RecoveryCodeDialog
    dialog = RecoveryCodeDialog("7KQM-2XRD-HP4T-W9CE-NJ6B-3FZA", unit="河坝镇")
    dialog.show()
    dialog.saved.setChecked(True)
    path = _save(dialog, out, "10_recovery_code")
    dialog.accept()
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    from ..core.demo import create_demo
    from ..ui.app import make_app
    from ..ui.main_window import MainWindow
    from ..ui.setup_dialog import SetupDialog
    app = make_app(["screenshots"])
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "示例数据.sqlite3"
    create_demo(path).close()

    from ..core.store import Store
    from ..core.sync import export_profile, read_profile
    with Store.create(tmp / "区.sqlite3", level="district", org="430971", operator="示例") as district:
        profile = export_profile(district, tmp / "大通湖区_配置.msprofile")
    setup = SetupDialog(default_dir=tmp)     # a town from the district's profile, fingerprint checked
    setup.set_level("town")
    setup.set_profile(profile)
    setup.set_fingerprint(read_profile(profile).fingerprint)
    setup.set_org("430971121")
    setup.set_operator("示例录入员")
    setup.set_villages("示例村一\n示例村二\n示例社区")
    setup.show()
    setup.can_accept()
    _save(setup, out, "01_setup")
    setup.close()

    from ..core.demo import DEMO_PASSWORD, DEMO_USERS
    from ..core.store import login
    from ..ui.login_dialog import LoginDialog
    dialog = LoginDialog(unit="大通湖区", attempt=None, user=DEMO_USERS[0][0],
                         hint=f"示例数据库：用户 {'、'.join(n for n, _ in DEMO_USERS)}（管理员、审核员、"
                              f"录入员），密码都是 {DEMO_PASSWORD}")
    dialog.show()
    _save(dialog, out, "06_login")
    dialog.close()
    _save_recovery_code(out)
    with Store.open(path) as store:
        session = login(store, DEMO_USERS[0][0], DEMO_PASSWORD)

    window = MainWindow(path, session)
    window.resize(_office(1366, 768))
    window.show()
    window.as_of.setDate(QDate(AS_OF.year, AS_OF.month, AS_OF.day))
    _wait(lambda: window.dashboard.report is not None and window.dashboard.report.as_of == AS_OF)
    _save(window, out, "02_dashboard")

    window.nav.setCurrentItem(window._ledger_items["two_cancer"])
    page = window.ledger_page
    _wait(lambda: page.count_label.text().startswith("共"))
    page.table.selectRow(2)
    _save(window, out, "03_ledger")

    uid = page.selected_uuid()
    page.open_record(uid)
    form = page.form
    form.resize(_office(980, 760))
    _save(form, out, "04_record_form")
    form.close()

    window.nav.setCurrentItem(window._ledger_items["barrier_free"])
    _wait(lambda: page.count_label.text().startswith("共"))
    with_photos = next(r["uuid"] for r in window.reader.ledger("barrier_free").rows() if r["photos_before"])
    page.open_record(with_photos)
    photos = page.form
    photos.resize(_office(980, 760))
    editor = photos.editors["photos_after"]
    photos.scroll.ensureWidgetVisible(editor)
    _wait(lambda: all(not editor.list.item(i).icon().isNull() for i in range(editor.list.count())))
    _settle(800)
    _save(photos, out, "09_photos")
    photos.close()

    row = window.reader.ledger("two_cancer").get(uid)
    window.open_person(row["person_id"])
    _save(window, out, "05_person")

    window.security.manage_backups()
    dialog = window.security.backup_dialog
    _wait(lambda: dialog.backups_model.rowCount() > 0)
    _save(dialog, out, "07_backups")
    dialog.close()
    window.security.lock()
    _save(window, out, "08_locked")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
