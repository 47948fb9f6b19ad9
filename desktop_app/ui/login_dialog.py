"""Log-in at start, or the first 管理员 for a store that has no users yet.

The dialog holds no rules: ``attempt(name, password)`` and ``create(name,
password)`` are core calls supplied by the caller (:func:`.startup.log_in`);
they return the :class:`~desktop_app.core.store.users.Session` or raise with the
Chinese message shown under the fields. ``recover()`` (optional) runs 用恢复码重设管理员密码
and returns the 管理员's name (put in the name field) or None.

For tests (no real modal dialog): ``name``, ``password``, ``confirm`` are the
line edits; ``submit()`` tries; ``session`` holds the result and ``accepted``
fires.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from ..core.errors import StoreError
from ..core.store import MIN_PASSWORD
from .window_size import fit_window


class LoginDialog(QDialog):
    def __init__(self, *, unit: str, attempt, create=None, first: bool = False,
                 user: str = "", hint: str = "", recover=None, parent=None):
        super().__init__(parent)
        self.attempt, self.create, self.first, self.recover = attempt, create, first, recover
        self.session = None
        self.setWindowTitle("创建管理员" if first else "登录")
        self.setMinimumWidth(420)
        head = QLabel(f"<b>{unit}</b>")
        head.setAlignment(Qt.AlignCenter)
        intro = QLabel("这是第一次使用这个数据库：请设置管理员的用户名和密码。管理员可以添加录入员、"
                       "审核员，恢复备份。密码就是打开数据的钥匙：请牢记，忘记后由其他管理员重设，"
                       "或用接下来显示的恢复码重设。" if first else
                       "请输入用户名和密码。连续输错 5 次将锁定 15 分钟。")
        intro.setWordWrap(True)
        self.name = QLineEdit(user)
        self.name.setPlaceholderText("用户名")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.Password)
        self.password.setPlaceholderText(f"至少 {MIN_PASSWORD} 位" if first else "密码")
        self.confirm = QLineEdit()
        self.confirm.setEchoMode(QLineEdit.Password)
        self.confirm.setPlaceholderText("再输入一次")
        form = QFormLayout()
        form.addRow("用户名", self.name)
        form.addRow("密码", self.password)
        if first:
            form.addRow("确认密码", self.confirm)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c0392b")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("创建并进入" if first else "登录")
        buttons.button(QDialogButtonBox.Cancel).setText("退出")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(intro)
        layout.addLayout(form)
        if hint:
            tip = QLabel(hint)
            tip.setWordWrap(True)
            tip.setStyleSheet("color: #607d8b")
            layout.addWidget(tip)
        layout.addWidget(self.message)
        if recover is not None and not first:
            self.recover_button = QPushButton("忘记密码？用恢复码重设管理员密码…")
            self.recover_button.setFlat(True)
            self.recover_button.clicked.connect(self._recover)
            layout.addWidget(self.recover_button)
        layout.addWidget(buttons)
        (self.password if user else self.name).setFocus()
        fit_window(self, "login")

    def _recover(self) -> None:
        name = self.recover()
        if name:
            self.name.setText(name)
            self.password.clear()
            self.message.setText("已重设管理员密码：请用新密码登录")
            self.password.setFocus()

    def submit(self) -> None:
        name, password = self.name.text().strip(), self.password.text()
        if not name:
            self.message.setText("请填写用户名")
            return
        if self.first and password != self.confirm.text():
            self.message.setText("两次输入的密码不一致")
            return
        try:
            self.session = (self.create if self.first else self.attempt)(name, password)
        except StoreError as exc:
            self.message.setText(str(exc))
            self.password.clear()
            self.confirm.clear()
            self.password.setFocus()
            return
        self.accept()
