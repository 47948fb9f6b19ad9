"""Every window and dialog fits an office screen with a task bar, and remembers its size.

The offscreen platform has one fixed screen: the tests replace
``window_size.available_geometry`` to open each window on a 1366×728 screen (1366×768
less a task bar) and on a 1280×680 one, and check that its frame (the window plus a
title bar and borders, :data:`~desktop_app.ui.window_size.FRAME`) fits — both the size it
opens at and the smallest size its layout allows.
"""
import datetime as dt
import doctest

import pytest
from PySide6.QtCore import QMargins, QRect, QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QWidget

from desktop_app.ui import window_size
from desktop_app.ui.window_size import FRAME, clamped, fitted_size, frame_margins

SCREENS = {"1366x728": QRect(0, 0, 1366, 728), "1280x680": QRect(0, 0, 1280, 680)}


@pytest.fixture(params=sorted(SCREENS))
def screen(request, monkeypatch):
    rect = SCREENS[request.param]
    monkeypatch.setattr(window_size, "available_geometry", lambda _w: QRect(rect))
    return rect


def photo() -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    pixmap = QPixmap(3000, 2000)
    pixmap.fill()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    pixmap.save(buffer, "PNG")
    return bytes(data)


def _main(ctx):
    from desktop_app.ui.main_window import MainWindow
    return MainWindow(ctx["path"])


def _setup(ctx):
    """At its tallest: a town from the district's profile, the fingerprint shown and matched."""
    from desktop_app.core.store import Store
    from desktop_app.core.sync import export_profile, read_profile
    from desktop_app.ui.setup_dialog import SetupDialog
    with Store.create(ctx["tmp"] / "区.sqlite3", level="district", org="430971", operator="区") as district:
        profile = export_profile(district, ctx["tmp"] / "区_配置.msprofile")
    dialog = SetupDialog(default_dir=ctx["tmp"])
    dialog.set_profile(profile)
    dialog.set_fingerprint(read_profile(profile).fingerprint)
    dialog.set_org("河坝镇")
    return dialog


def _login(_ctx):
    from desktop_app.ui.login_dialog import LoginDialog
    return LoginDialog(unit="河坝镇", attempt=lambda *_: None, first=True, user="示例",
                       hint="示例数据库：用户 示例管理员、示例审核员、示例录入员")


def _recovery_code(_ctx):
    from desktop_app.ui.recovery_dialog import RecoveryCodeDialog
    return RecoveryCodeDialog("ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2", unit="河坝镇")


def _recover(ctx):
    from desktop_app.ui.recovery_dialog import RecoverDialog
    return RecoverDialog(ctx["path"])


def _export(ctx):
    from desktop_app.ui.export_dialog import ExportDialog
    return ExportDialog(ctx["runner"], ctx["reader"], "data", ledger_id="two_cancer")


def _bug(ctx):
    from desktop_app.ui.errors import BugDialog
    return BugDialog("程序内部出错", "Traceback …\n" * 200, ctx["tmp"])


def _review(ctx):
    from desktop_app.ui.reviews_page import ReviewDialog, ReviewsPage
    page = ReviewsPage(ctx["runner"], ctx["reader"])
    ctx["keep"].append(page)
    uid = ctx["reader"].ledger("two_cancer").rows(limit=1)[0]["uuid"]
    return ReviewDialog(page, "two_cancer", uid)


def _help(_ctx):
    from desktop_app.ui.help_dialog import HelpDialog
    return HelpDialog()


def _users(ctx):
    from desktop_app.ui.users_dialog import UsersDialog
    return UsersDialog(ctx["runner"], [("430971", "大通湖区"), ("430971121", "河坝镇")])


def _password(ctx):
    from desktop_app.ui.users_dialog import PasswordDialog
    return PasswordDialog(ctx["runner"])


def _import(ctx):
    from desktop_app.ui.import_dialog import ImportDialog
    return ImportDialog(ctx["runner"], ctx["reader"])


def _image(_ctx):
    from desktop_app.ui.attachment_editor import ImageViewer
    return ImageViewer("照片.png", photo())


def _backup(ctx):
    from desktop_app.ui.backup_dialog import BackupDialog
    return BackupDialog(ctx["runner"], ctx["path"])


def _record(ctx):
    from desktop_app.ui.record_form import RecordForm
    return RecordForm(ctx["runner"], ctx["reader"], "two_cancer", today=dt.date(2024, 6, 30))


def _wide_record(ctx):
    from desktop_app.ui.record_form import RecordForm
    widest = max(ctx["reader"].catalog.ledgers, key=lambda led: len(led.fields))
    return RecordForm(ctx["runner"], ctx["reader"], widest.id, today=dt.date(2024, 6, 30))


def _explain(ctx):
    from desktop_app.ui.explain_dialog import ExplainDialog
    return ExplainDialog(ctx["reader"], "two_cancer_screening", dt.date(2024, 6, 30), "430971")


def _monthly(ctx):
    from desktop_app.ui.district_pages import MonthlyReportDialog
    return MonthlyReportDialog(ctx["runner"], ctx["reader"], today=dt.date(2024, 6, 30))


WINDOWS = {"主窗口": _main, "新建数据文件": _setup, "登录": _login, "恢复码": _recovery_code,
           "用恢复码重设密码": _recover, "导出": _export, "程序出错了": _bug, "写核实意见": _review,
           "使用说明": _help, "用户管理": _users, "修改密码": _password, "从 Excel 导入": _import,
           "照片": _image, "备份与恢复": _backup, "记录": _record, "字段最多的记录": _wide_record,
           "计数说明": _explain, "月度调度报告": _monthly}


def frame_of(size: QSize) -> QSize:
    return QSize(size.width() + FRAME.left() + FRAME.right(), size.height() + FRAME.top() + FRAME.bottom())


@pytest.mark.parametrize("name", list(WINDOWS))
def test_every_window_fits_the_screen_with_a_task_bar(qtbot, screen, name, runner, reader,
                                                      demo_path, tmp_path):
    ctx = {"path": demo_path, "runner": runner, "reader": reader, "tmp": tmp_path, "keep": []}
    window = WINDOWS[name](ctx)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    frame, least = frame_of(window.size()), frame_of(window.minimumSizeHint())
    assert frame.width() <= screen.width() and frame.height() <= screen.height(), (name, frame)
    assert least.width() <= screen.width() and least.height() <= screen.height(), (name, least)
    assert screen.contains(window.geometry().marginsAdded(FRAME)), (name, window.geometry())
    if hasattr(window, "close_store"):
        window.close_store()


def test_the_main_window_comes_back_where_it_was_left_clamped_to_a_smaller_screen(
        qtbot, monkeypatch, demo_path):
    from desktop_app.ui.main_window import MainWindow
    big = QRect(0, 0, 1920, 1040)
    monkeypatch.setattr(window_size, "available_geometry", lambda _w: QRect(big))
    window = MainWindow(demo_path)
    qtbot.addWidget(window)
    window.show()
    window.setGeometry(QRect(300, 200, 1500, 800))
    window.close()
    again = MainWindow(demo_path)          # the same screen: the same place and size
    qtbot.addWidget(again)
    assert again.geometry() == QRect(300, 200, 1500, 800)
    again.close()
    small = QRect(0, 0, 1366, 728)         # a smaller screen since: fitted and moved onto it
    monkeypatch.setattr(window_size, "available_geometry", lambda _w: QRect(small))
    third = MainWindow(demo_path)
    qtbot.addWidget(third)
    assert third.geometry() == QRect(8, 31, 1350, 689)
    third.close()


def test_a_dialog_remembers_its_size(qtbot, screen, runner, reader):
    from desktop_app.ui.import_dialog import ImportDialog
    parent = QWidget()
    qtbot.addWidget(parent)
    first = ImportDialog(runner, reader, parent=parent)
    first.show()
    first.resize(900, 600)
    first.reject()
    again = ImportDialog(runner, reader, parent=parent)
    assert again.size() == QSize(900, 600)
    again.reject()


def test_fitting_arithmetic():
    result = doctest.testmod(window_size, optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed
    assert fitted_size(QSize(1080, 720), SCREENS["1280x680"]) == QSize(1080, 641)
    assert clamped(QRect(-2000, -50, 600, 400), SCREENS["1366x728"]) == QRect(8, 31, 600, 400)


def test_a_frame_taller_than_assumed_is_pulled_back_onto_the_screen():
    screen = SCREENS["1366x728"]
    inside = QRect(8, 31, 1350, 689)                  # fitted with the assumed frame
    frame = QRect(0, 0, 1366, 689 + 40 + 8)           # a 40-pixel title bar: 9 pixels too tall
    margins = frame_margins(frame, inside.translated(0, 9))
    assert margins == QMargins(8, 40, 8, 8)
    assert clamped(inside, screen, margins) == QRect(8, 40, 1350, 680)


def test_a_maximized_main_window_opens_maximized_again(qtbot, screen, demo_path):
    from desktop_app.ui.main_window import MainWindow
    window = MainWindow(demo_path)
    qtbot.addWidget(window)
    window.show()
    window.setGeometry(QRect(100, 40, 1100, 600))
    window.showMaximized()
    qtbot.waitUntil(window.isMaximized)
    window.close()
    again = MainWindow(demo_path)
    qtbot.addWidget(again)
    assert again.windowState() & Qt.WindowMaximized
    again.showNormal()
    assert again.normalGeometry() == QRect(100, 40, 1100, 600)
    again.close()


@pytest.mark.parametrize("level", ["district", "town"])
def test_every_page_of_the_main_window_fits(qtbot, screen, level, demo_path, town):
    from desktop_app.ui.main_window import MainWindow
    path = demo_path if level == "district" else town.path
    if level == "town":
        town.close()
    window = MainWindow(path)
    qtbot.addWidget(window)
    window.show()
    for i in range(window.pages.count()):
        window.pages.setCurrentIndex(i)
        least = frame_of(window.minimumSizeHint())
        assert least.width() <= screen.width() and least.height() <= screen.height(), \
            type(window.pages.widget(i)).__name__
    window.close()
