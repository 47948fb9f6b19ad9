"""How the window says that something went wrong: one place for every page and dialog.

An expected failure (core's :class:`~desktop_app.core.errors.UserError`, or a file
the system would not read or write) is shown with its own Chinese message, which
names the file, row or field and what to do. Anything else is a bug: the user gets
a plain Chinese note that nothing was half-written, never a value from the data.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from ..core.errors import describe


def failure_text(error: BaseException) -> str:
    """The Chinese text for ``error``: core's own message, or a note for a bug."""
    text = describe(error)
    if text is not None:
        return text
    return (f"操作没有完成：程序内部出错（{type(error).__name__}）。数据没有被部分写入，请重试；"
            "如果反复出现，请联系区里的技术人员。")


def show_error(error: BaseException, parent: QWidget | None = None) -> None:
    """Show ``error`` in a window-modal box that never blocks the caller (opened on the next
    turn of the event loop, deleted when closed)."""
    box = QMessageBox(QMessageBox.Warning, "出错了", failure_text(error), QMessageBox.Ok, parent)
    box.setAttribute(Qt.WA_DeleteOnClose)
    _open_boxes.add(box)
    box.finished.connect(lambda *_: _open_boxes.discard(box))
    QTimer.singleShot(0, box.open)


_open_boxes: set = set()
