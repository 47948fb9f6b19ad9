"""The lock screen: shown over the window after the idle time, or on 锁定 (Ctrl+L).

Nothing of the data stays visible; the same user unlocks with their password
(wrong passwords count towards the lock-out like at log-in). For tests:
``password.setText(...)``, ``submit()``; ``unlocked`` fires.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget


class LockPage(QWidget):
    unlocked = Signal()
    switch_user = Signal()

    def __init__(self, runner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignCenter)
        self.title.setStyleSheet("font-size: 18pt")
        note = QLabel("为保护个人信息，程序已锁定。请输入密码继续。")
        note.setAlignment(Qt.AlignCenter)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.Password)
        self.password.setPlaceholderText("密码")
        self.password.setMaximumWidth(260)
        self.password.returnPressed.connect(self.submit)
        self.button = QPushButton("解锁")
        self.button.clicked.connect(self.submit)
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setStyleSheet("color: #c0392b")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.password)
        row.addWidget(self.button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.title)
        layout.addWidget(note)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addStretch(3)

    def show_for(self, user: str) -> None:
        self.title.setText(f"已锁定：{user}")
        self.password.clear()
        self.message.clear()
        self.password.setFocus()

    def submit(self) -> None:
        from ..core.store import check_password
        password = self.password.text()
        self.password.clear()
        self.button.setEnabled(False)

        def done(ok: bool) -> None:
            self.button.setEnabled(True)
            if ok:
                self.unlocked.emit()
            else:
                self.message.setText("密码不对（连续输错 5 次将锁定 15 分钟）")

        def failed(error) -> None:
            self.button.setEnabled(True)
            self.message.setText(str(error))
        self.runner.run(lambda store, progress: check_password(store, password),
                        on_done=done, on_error=failed)
