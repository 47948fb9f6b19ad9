"""The 恢复码: shown once to print and lock away, and used when every 管理员 password is lost.

:class:`RecoveryCodeDialog` shows a new code (after the first 管理员 is set up, after a
recovery, or when a 管理员 makes a new one) with 打印 and 复制; 继续 stays disabled
until "我已妥善保存" is ticked. :class:`RecoverDialog` (用恢复码重设管理员密码, from the
log-in dialog) takes the code and a new password and calls
:func:`desktop_app.core.store.recover_with_code`.

For tests (no real modal dialogs): ``RecoveryCodeDialog.saved`` (the checkbox),
``continue_button``, ``copy()``; ``RecoverDialog.code``/``user``/``password``/``confirm``,
``submit()``, ``result`` (name, new code) and ``accepted``.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from ..core.errors import StoreError
from ..core.store import MIN_PASSWORD, recover_with_code
from .window_size import fit_window


class RecoveryCodeDialog(QDialog):
    def __init__(self, code: str, *, unit: str = "", parent=None):
        super().__init__(parent)
        self.code, self.unit = code, unit
        self.setWindowTitle("恢复码（只显示这一次）")
        self.setMinimumWidth(520)
        intro = QLabel("这是这个数据库的<b>恢复码</b>。所有管理员都忘记密码时，只有用它才能重新打开数据库"
                       "（登录窗口 → 用恢复码重设管理员密码）。<br><br>请现在<b>打印或抄写</b>下来，"
                       "和公章一样锁进柜子；不要拍照、不要存在这台电脑或网盘上。它只显示这一次，"
                       "本程序不保存它的原文。")
        intro.setWordWrap(True)
        self.code_label = QLabel(code)
        font = QFont("monospace")
        font.setStyleHint(QFont.Monospace)
        font.setPointSize(18)
        font.setBold(True)
        self.code_label.setFont(font)
        self.code_label.setAlignment(Qt.AlignCenter)
        self.code_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        print_button = QPushButton("打印…")
        print_button.clicked.connect(self.print_code)
        copy_button = QPushButton("复制")
        copy_button.clicked.connect(self.copy)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(print_button)
        row.addWidget(copy_button)
        self.saved = QCheckBox("我已妥善保存恢复码（打印或抄写并锁好）")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok)
        self.continue_button = buttons.button(QDialogButtonBox.Ok)
        self.continue_button.setText("继续")
        self.continue_button.setEnabled(False)
        self.saved.toggled.connect(self.continue_button.setEnabled)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.code_label)
        layout.addLayout(row)
        layout.addWidget(self.saved)
        layout.addWidget(buttons)
        fit_window(self, "recovery_code")

    def reject(self) -> None:   # Esc or the close box: the code must be kept first
        if self.saved.isChecked():
            super().reject()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code)

    def document(self) -> QTextDocument:
        doc = QTextDocument()
        doc.setHtml(f"<h2>民生实事台账 恢复码</h2><p>{self.unit}</p>"
                    f"<p style='font-size:20pt; font-family:monospace'><b>{self.code}</b></p>"
                    "<p>所有管理员都忘记密码时，在登录窗口选择“用恢复码重设管理员密码”，输入这组恢复码。"
                    "请锁进柜子妥善保管；用过之后程序会给出新的恢复码。</p>")
        return doc

    def print_code(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter
        printer = QPrinter()
        if QPrintDialog(printer, self).exec() == QDialog.Accepted:
            self.document().print_(printer)


class RecoverDialog(QDialog):
    """用恢复码重设管理员密码: the code, the 管理员 (blank: the first) and a new password."""

    def __init__(self, db: Path, parent=None):
        super().__init__(parent)
        self.db = Path(db)
        self.result: tuple[str, str] | None = None
        self.setWindowTitle("用恢复码重设管理员密码")
        self.setMinimumWidth(460)
        intro = QLabel("所有管理员都忘记密码时使用：输入打印的恢复码（6 组，每组 4 个字母或数字），"
                       "为管理员设置新密码。用过的恢复码随即作废，程序会给出新的恢复码。")
        intro.setWordWrap(True)
        self.code = QLineEdit()
        self.code.setPlaceholderText("例如 ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2")
        self.user = QLineEdit()
        self.user.setPlaceholderText("留空：第一个管理员")
        self.password, self.confirm = QLineEdit(), QLineEdit()
        for w in (self.password, self.confirm):
            w.setEchoMode(QLineEdit.Password)
        self.password.setPlaceholderText(f"至少 {MIN_PASSWORD} 位")
        form = QFormLayout()
        form.addRow("恢复码", self.code)
        form.addRow("管理员", self.user)
        form.addRow("新密码", self.password)
        form.addRow("再输入一次", self.confirm)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c0392b")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("重设密码")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        fit_window(self, "recover")

    def submit(self) -> None:
        if self.password.text() != self.confirm.text():
            self.message.setText("两次输入的新密码不一致")
            return
        try:
            self.result = recover_with_code(self.db, self.code.text(), self.password.text(),
                                            user=self.user.text().strip() or None)
        except StoreError as exc:
            self.message.setText(str(exc))
            return
        self.accept()
