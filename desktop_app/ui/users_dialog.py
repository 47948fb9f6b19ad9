"""用户管理 (管理员): add users with a role, reset passwords, disable (enabling again takes
a new password), the idle lock, the long edge photos are scaled down to.

Everything goes through core (:mod:`desktop_app.core.store.users`), which checks the
role again. For tests: ``add(name, role, password, unit)``, ``reset_password``,
``set_active``, ``set_idle``, ``set_photo_edge``; ``changed`` fires after each success and
``users_model`` holds the list.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from ..core.store import (
    MIN_PASSWORD,
    ROLES,
    LoginError,
    add_user,
    check_password,
    idle_minutes,
    list_users,
    photo_max_edge,
    set_active,
    set_idle_minutes,
    set_password,
    set_photo_max_edge,
)
from .style import GREEN, RED
from .tables import RowsModel, make_table, message_label, say, selected_item
from .window_size import fit_window

COLUMNS = ("用户名", "角色", "负责单位", "状态", "创建时间")


class UsersDialog(QDialog):
    changed = Signal()

    def __init__(self, runner, units: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.runner = runner
        self.unit_names = dict(units)
        self.setWindowTitle("用户管理")
        fit_window(self, "users", QSize(760, 520))
        self.users_model = RowsModel(COLUMNS, self._cells, parent=self)
        self.table = make_table(self.users_model, (120, 80, 160, 140))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.name = QLineEdit()
        self.role = QComboBox()
        self.role.addItems(ROLES)
        self.unit = QComboBox()
        self.unit.addItem("（本机全部单位）", None)
        for code, name in units:
            self.unit.addItem(name, code)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.Password)
        self.password.setPlaceholderText(f"至少 {MIN_PASSWORD} 位")
        self.add_button = QPushButton("添加用户")
        self.add_button.clicked.connect(lambda: self.add(self.name.text(), self.role.currentText(),
                                                         self.password.text(), self.unit.currentData()))
        self.reset_button = QPushButton("重设所选用户的密码")
        self.reset_button.clicked.connect(lambda: self._selected() and self.reset_password(
            self._selected()["name"], self.password.text()))
        self.active_button = QPushButton("停用所选用户")
        self.active_button.clicked.connect(lambda: self._selected() and self.set_active(
            self._selected()["name"], not self._selected()["active"]))
        self.idle = QSpinBox()
        self.idle.setRange(0, 240)
        self.idle.setSuffix(" 分钟")
        self.idle.setSpecialValueText("不自动锁定")
        self.idle_button = QPushButton("保存")
        self.idle_button.clicked.connect(lambda: self.set_idle(self.idle.value()))
        self.photo_edge = QSpinBox()
        self.photo_edge.setRange(0, 10_000)
        self.photo_edge.setSingleStep(320)
        self.photo_edge.setSuffix(" 像素")
        self.photo_edge.setSpecialValueText("保留原图")
        self.photo_edge.setToolTip("添加照片时，长边超过这个像素数的照片会缩小（录入时可勾选“保留原图”）")
        self.photo_button = QPushButton("保存")
        self.photo_button.clicked.connect(lambda: self.set_photo_edge(self.photo_edge.value()))
        self.message = message_label()
        form = QFormLayout()
        form.addRow("用户名", self.name)
        form.addRow("角色", self.role)
        form.addRow("负责单位", self.unit)
        form.addRow("密码", self.password)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.reset_button, self.active_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        idle_row = QHBoxLayout()
        idle_row.addWidget(self.idle)
        idle_row.addWidget(self.idle_button)
        idle_row.addStretch(1)
        form.addRow("空闲自动锁定", idle_row)
        photo_row = QHBoxLayout()
        photo_row.addWidget(self.photo_edge)
        photo_row.addWidget(self.photo_button)
        photo_row.addStretch(1)
        form.addRow("照片长边上限", photo_row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.refresh()

    def _cells(self, u: dict) -> list[str]:
        state = "已停用" if not u["active"] else "需重设密码" if u.get("needs_password") else (
            f"锁定至 {u['locked_until'][11:16]}" if u["locked_until"] else "正常")
        unit = self.unit_names.get(u["unit"], u["unit"] or "全部")
        return [u["name"], u["role"], unit, state, (u["created"] or "")[:16].replace("T", " ")]

    def _selected(self) -> dict | None:
        return selected_item(self.table)

    def _update(self) -> None:
        u = self._selected()
        self.reset_button.setEnabled(u is not None)
        self.active_button.setEnabled(u is not None)
        self.active_button.setText("启用所选用户" if u and not u["active"] else "停用所选用户")
        self.active_button.setToolTip("重新启用须先在“密码”栏填写新密码（停用时已删除他的钥匙）"
                                      if u and not u["active"] else "")

    def refresh(self) -> None:
        def load(store, progress):
            return list_users(store), idle_minutes(store), photo_max_edge(store)

        def show(result):
            rows, minutes, edge = result
            self.users_model.load(rows)
            self.idle.setValue(minutes)
            self.photo_edge.setValue(edge)
            self._update()
        self.runner.run(load, on_done=show, on_error=self._failed)

    def _run(self, work, done_text: str) -> None:
        def done(_r):
            say(self.message, done_text, GREEN)
            self.password.clear()
            self.refresh()
            self.changed.emit()
        self.runner.run(lambda store, progress: work(store), on_done=done, on_error=self._failed)

    def _failed(self, error) -> None:
        say(self.message, str(error), RED)

    # -- actions (also the test surface)
    def add(self, name: str, role: str, password: str, unit: str | None = None) -> None:
        self._run(lambda store: add_user(store, name, password, role, unit=unit),
                  f"已添加用户“{name.strip()}”（{role}）")

    def reset_password(self, name: str, password: str) -> None:
        self._run(lambda store: set_password(store, name, password), f"已重设“{name}”的密码")

    def set_active(self, name: str, active: bool, password: str | None = None) -> None:
        """Disable, or enable again: a disabled user's key was removed, so enabling takes a
        new password (the 密码 field)."""
        password = self.password.text() if password is None else password

        def work(store):
            if active and password:
                set_password(store, name, password)
            set_active(store, name, active)
        self._run(work, f"已{'启用' if active else '停用'}用户“{name}”" +
                  ("，新密码已生效" if active and password else ""))

    def set_idle(self, minutes: int) -> None:
        self._run(lambda store: set_idle_minutes(store, minutes),
                  "已保存：" + (f"空闲 {minutes} 分钟后自动锁定" if minutes else "不自动锁定"))

    def set_photo_edge(self, pixels: int) -> None:
        self._run(lambda store: set_photo_max_edge(store, pixels),
                  "已保存：" + (f"照片长边超过 {pixels} 像素时缩小" if pixels else "照片保留原图"))


class PasswordDialog(QDialog):
    """修改密码: the logged-in user changes their own (old password checked first)."""
    changed = Signal()

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.setWindowTitle("修改密码")
        self.old, self.new, self.again = QLineEdit(), QLineEdit(), QLineEdit()
        for w in (self.old, self.new, self.again):
            w.setEchoMode(QLineEdit.Password)
        self.new.setPlaceholderText(f"至少 {MIN_PASSWORD} 位")
        self.message = message_label()
        ok = QPushButton("修改")
        ok.clicked.connect(self.submit)
        form = QFormLayout(self)
        form.addRow("原密码", self.old)
        form.addRow("新密码", self.new)
        form.addRow("再输入一次", self.again)
        form.addRow(ok)
        form.addRow(self.message)
        fit_window(self, "password")

    def submit(self) -> None:
        old, new = self.old.text(), self.new.text()
        if new != self.again.text():
            say(self.message, "两次输入的新密码不一致", RED)
            return

        def work(store, progress):
            if not check_password(store, old):
                raise LoginError("原密码不对")
            set_password(store, store.session.user, new)

        def done(_r):
            self.changed.emit()
            self.accept()
        self.runner.run(work, on_done=done, on_error=lambda e: say(self.message, str(e), RED))
