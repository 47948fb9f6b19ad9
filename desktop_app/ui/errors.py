"""How the window says that something went wrong: one place for every page and dialog.

An expected failure (core's :class:`~desktop_app.core.errors.UserError`, or a file
the system would not read or write) is shown with its own Chinese message, which
names the file, row or field and what to do; it is not a bug and is not logged.
Anything else is a bug: it is written to the log (:mod:`desktop_app.core.logs`,
redacted) with its traceback, and the user gets a plain Chinese note that nothing
was half-written — never a value from the data — with a "复制错误信息" button (the
version, time, error type and traceback, without values) and the log folder.

:func:`install_excepthook` sends what nobody caught — in a slot, on any thread —
the same way. :func:`present` is the one place a box opens (tests replace it).
"""
from __future__ import annotations

import datetime as dt
import platform
import sys
import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QSize, Qt, QThread, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.errors import Cancelled, describe
from ..core.logs import current_log, format_exception, log_bug, user_data_folder
from .window_size import fit_window


def is_bug(error: BaseException) -> bool:
    """Whether ``error`` is unexpected (not a user's mistake, a file problem or 取消)."""
    return describe(error) is None and not isinstance(error, Cancelled)


def log_folder() -> Path:
    """The folder of the log file (where 帮助 → 打开日志文件夹 goes); not created here."""
    log = current_log()
    return log.parent if log is not None else user_data_folder() / "logs"


def failure_text(error: BaseException) -> str:
    """The Chinese text for ``error``: core's own message, or a note for a bug."""
    text = describe(error)
    if text is not None:
        return text
    return (f"操作没有完成：程序内部出错（{type(error).__name__}）。数据没有被部分写入，请重试；"
            "如果反复出现，请联系区里的技术人员（错误已记入日志：帮助 → 打开日志文件夹）。")


def error_report(error: BaseException) -> str:
    """What "复制错误信息" copies: version, time, system, error type and the traceback,
    without values (no exception message, numbers redacted, file names from the package on).
    """
    return "\n".join([
        f"民生实事台账 {__version__}",
        f"时间：{dt.datetime.now():%Y-%m-%d %H:%M:%S}",
        f"系统：{platform.system()} {platform.release()}，Python {platform.python_version()}",
        f"错误类型：{type(error).__name__}",
        "",
        format_exception(error, messages=False),
    ])


def log_failure(error: BaseException, where: str = "") -> bool:
    """Log ``error`` with its traceback if it is a bug (once); returns whether it is one."""
    if not is_bug(error):
        return False
    log_bug(error, where)
    return True


def show_error(error: BaseException, parent: QWidget | None = None, *, wait: bool = False) -> None:
    """Show ``error`` in a window-modal box that never blocks the caller (opened on the next
    turn of the event loop, deleted when closed); a bug is logged first. 取消 shows nothing."""
    if isinstance(error, Cancelled):
        return
    bug = log_failure(error)
    present(failure_text(error), parent, details=error_report(error) if bug else None, wait=wait)


def present(text: str, parent: QWidget | None = None, *, details: str | None = None,
            wait: bool = False) -> None:
    """Open the box: a warning with 确定, or — with ``details`` (a bug) — the
    :class:`BugDialog`. ``wait`` runs it to the end (when no event loop is running)."""
    if details is None:
        box = QMessageBox(QMessageBox.Warning, "出错了", text, QMessageBox.Ok, parent)
    else:
        if any(isinstance(b, BugDialog) for b in _open_boxes):
            return  # one bug box at a time: a bug repeating in every repaint is logged, not shown
        box = BugDialog(text, details, log_folder(), parent)
    if wait:
        box.exec()
        return
    box.setAttribute(Qt.WA_DeleteOnClose)
    _open_boxes.add(box)
    box.finished.connect(lambda *_: _open_boxes.discard(box))
    QTimer.singleShot(0, box.open)


_open_boxes: set = set()


class BugDialog(QDialog):
    """程序出错了: the note, the log folder, 复制错误信息 and 打开日志文件夹."""

    def __init__(self, text: str, details: str, folder: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("程序出错了")
        self.setWindowModality(Qt.WindowModal if parent is not None else Qt.ApplicationModal)
        self.details, self.folder = details, Path(folder)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.SP_MessageBoxCritical).pixmap(48, 48))
        self.message = QLabel(text)
        self.message.setWordWrap(True)
        self.where = QLabel(f"错误已记入日志文件夹：\n{self.folder}\n"
                            "日志里不含身份证号、电话等个人信息，可以发给技术人员。")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.copy_button = QPushButton("复制错误信息")
        self.copy_button.setAutoDefault(False)
        self.copy_button.clicked.connect(self.copy_details)
        self.folder_button = QPushButton("打开日志文件夹")
        self.folder_button.setAutoDefault(False)
        self.folder_button.clicked.connect(self.open_folder)
        buttons = QDialogButtonBox()
        buttons.addButton(self.copy_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.folder_button, QDialogButtonBox.ActionRole)
        close = buttons.addButton("确定", QDialogButtonBox.AcceptRole)
        close.setDefault(True)
        buttons.accepted.connect(self.accept)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignTop)
        text_box = QVBoxLayout()
        text_box.addWidget(self.message)
        text_box.addWidget(self.where)
        top.addLayout(text_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)
        fit_window(self, "bug", QSize(520, self.sizeHint().height()))

    def copy_details(self) -> None:
        """Put the error report (no values) on the clipboard."""
        QGuiApplication.clipboard().setText(self.details)
        self.copy_button.setText("已复制")

    def folder_url(self) -> QUrl:
        return QUrl.fromLocalFile(str(self.folder))

    def open_folder(self) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return QDesktopServices.openUrl(self.folder_url())


# ---------------------------------------------------------------- uncaught errors

class _Reporter(QObject):
    """Carries an uncaught error from any thread to the GUI thread."""

    caught = Signal(object)


_reporter: _Reporter | None = None


def report_uncaught(error: BaseException) -> None:
    """Log an error nobody caught (a bug) and show it on the GUI thread.

    On the GUI thread with no event loop running (start-up, or the loop has ended)
    the box is shown at once; otherwise it opens on the next turn of the loop.
    """
    log_failure(error, "未捕获")
    app = QApplication.instance()
    if app is None:  # no window at all: the log has it; a console, if any, gets one line
        if sys.stderr is not None:
            print(f"错误：{failure_text(error)}", file=sys.stderr)
        return
    here = QThread.currentThread()
    if here == app.thread() and here.loopLevel() == 0:
        show_error(error, wait=True)
    elif _reporter is not None:
        _reporter.caught.emit(error)


def install_excepthook() -> Callable[[], None]:
    """Route uncaught exceptions (``sys.excepthook`` and ``threading.excepthook``) to the log
    and the error box. Call on the GUI thread after the QApplication exists; returns a
    function that puts the previous hooks back."""
    global _reporter
    previous_sys, previous_thread = sys.excepthook, threading.excepthook
    _reporter = _Reporter()
    _reporter.caught.connect(lambda error: show_error(error), Qt.QueuedConnection)

    def sys_hook(exc_type, exc, tb):
        if issubclass(exc_type, (KeyboardInterrupt, SystemExit)) or exc is None:
            previous_sys(exc_type, exc, tb)
            return
        try:
            if exc.__traceback__ is None and tb is not None:
                exc = exc.with_traceback(tb)
            report_uncaught(exc)
        except BaseException:  # the error box itself failed: Python's own report, never a loop
            previous_sys(exc_type, exc, tb)

    def thread_hook(args):
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        try:
            report_uncaught(args.exc_value)
        except BaseException:
            previous_thread(args)

    sys.excepthook, threading.excepthook = sys_hook, thread_hook

    def restore() -> None:
        global _reporter
        sys.excepthook, threading.excepthook = previous_sys, previous_thread
        _reporter = None
    return restore
