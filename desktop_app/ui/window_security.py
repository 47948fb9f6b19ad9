"""The main window's side of log-in: the 用户 menu, lock screen and idle lock, the
daily backup, backups and restore, user management, and controls a role may not use.

Core checks every permission again; this only keeps the window honest about
what the logged-in user can do. A window without a session (a store without
users opened by a test or a script) is not restricted and never locks.

For tests: ``lock()``, ``lock_page.password`` + ``lock_page.submit()``,
``check_idle(seconds_idle)``, ``restore(file, relogin=False)`` then ``restored``.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDockWidget, QMenu, QMessageBox, QStackedWidget, QToolBar, QWidget

from ..core.store import WHAT, allowed, daily_backup, idle_minutes
from .lock_page import LockPage

INPUT_EVENTS = {QEvent.KeyPress, QEvent.MouseButtonPress, QEvent.MouseMove, QEvent.Wheel,
                QEvent.TouchBegin}
PERMISSION = "permission"  # a widget property: the permission its action needs


class WindowSecurity(QObject):
    restored = Signal(object)   # the backup of the state before the restore (or None)
    locked_changed = Signal(bool)

    def __init__(self, window):
        super().__init__(window)
        self.window, self.session = window, window.session
        self.locked = False
        self.idle_limit = 0
        self._last_input = time.monotonic()
        self._hidden: list[QWidget] = []
        self.lock_page = LockPage(window.runner)
        self.lock_page.unlocked.connect(self.unlock)
        self.timer = QTimer(self, interval=20_000)
        self.timer.timeout.connect(lambda: self.check_idle(time.monotonic() - self._last_input))

    def install(self) -> None:
        """Wrap the central widget with the lock screen; start the idle watch and daily backup."""
        w = self.window
        body = w.takeCentralWidget()
        self.stack = QStackedWidget()
        self.stack.addWidget(body)
        self.stack.addWidget(self.lock_page)
        w.setCentralWidget(self.stack)
        self.apply_roles()
        if self.session is not None:
            w.runner.run(lambda store, progress: idle_minutes(store), on_done=self._set_idle,
                         on_error=lambda e: None)
            QApplication.instance().installEventFilter(self)
            self.timer.start()
        w.runner.run(lambda store, progress: daily_backup(store), on_done=self._backed_up,
                     on_error=lambda e: w.statusBar().showMessage(f"每日自动备份没有完成：{e}"))

    def _set_idle(self, minutes: int) -> None:
        self.idle_limit = minutes * 60

    def _backed_up(self, made) -> None:
        if made is not None:
            self.window.statusBar().showMessage(f"已自动备份（{made.created:%H:%M}）", 8000)

    # ------------------------------------------------------------ menu and roles
    def fill_menu(self, menu: QMenu) -> None:
        w = self.window
        who = f"{self.session.user}（{self.session.role}）" if self.session else "未设置用户"
        me = QAction(f"当前用户：{who}", w)
        me.setEnabled(False)
        menu.addAction(me)
        menu.addSeparator()
        self.lock_action = QAction("锁定(&L)", w)
        self.lock_action.setShortcut("Ctrl+L")
        self.lock_action.setEnabled(self.session is not None)
        self.lock_action.triggered.connect(self.lock)
        menu.addAction(self.lock_action)
        password = QAction("修改密码(&P)…", w)
        password.setEnabled(self.session is not None)
        password.triggered.connect(self.change_password)
        menu.addAction(password)
        menu.addSeparator()
        self.users_action = QAction("用户管理(&U)…", w)
        self.users_action.setProperty(PERMISSION, "admin")
        self.users_action.triggered.connect(self.manage_users)
        menu.addAction(self.users_action)
        self.backup_action = QAction("备份与恢复(&B)…", w)
        self.backup_action.setProperty(PERMISSION, "admin")
        self.backup_action.triggered.connect(self.manage_backups)
        menu.addAction(self.backup_action)
        self.recovery_action = QAction("生成新的恢复码(&R)…", w)
        self.recovery_action.setProperty(PERMISSION, "admin")
        self.recovery_action.setToolTip("旧的恢复码随即作废；新的只显示一次，请打印后锁好")
        self.recovery_action.setEnabled(self.session is not None)
        self.recovery_action.triggered.connect(self.new_recovery_code)
        menu.addAction(self.recovery_action)

    def can(self, permission: str) -> bool:
        return self.session is None or allowed(self.session.role, permission)

    def apply_roles(self) -> None:
        """Hide every button and disable every menu action whose permission the role lacks
        (hidden, not disabled: pages enable their buttons by selection)."""
        w = self.window
        for item in w.findChildren(QWidget) + w.findChildren(QAction):
            need = item.property(PERMISSION)
            if need and not self.can(need):
                item.setToolTip(f"{self.session.role}不能{WHAT[need]}")
                if isinstance(item, QAction):
                    item.setEnabled(False)
                else:
                    item.setVisible(False)
                    item.setEnabled(False)

    # ------------------------------------------------------------ lock
    def eventFilter(self, obj, event) -> bool:
        if event.type() in INPUT_EVENTS:
            self._last_input = time.monotonic()
        return False

    def check_idle(self, idle_seconds: float) -> None:
        if self.session is not None and not self.locked and self.idle_limit and \
                idle_seconds >= self.idle_limit:
            self.lock()

    def lock(self) -> None:
        if self.session is None or self.locked:
            return
        self.locked = True
        w = self.window
        # dialogs, floating and docked panels: nothing of the data stays on screen
        self._hidden = [d for d in w.findChildren(QWidget) if d.isVisible() and
                        (d.isWindow() or isinstance(d, QDockWidget))]
        for d in self._hidden:
            d.hide()
        w.menuBar().setEnabled(False)
        for bar in w.findChildren(QToolBar):
            bar.setEnabled(False)
        self.stack.setCurrentWidget(self.lock_page)
        self.lock_page.show_for(self.session.user)
        self.locked_changed.emit(True)

    def unlock(self) -> None:
        self.locked = False
        w = self.window
        w.menuBar().setEnabled(True)
        for bar in w.findChildren(QToolBar):
            bar.setEnabled(True)
        self.stack.setCurrentIndex(0)
        for d in self._hidden:
            d.show()
        self._hidden = []
        self._last_input = time.monotonic()
        self.locked_changed.emit(False)

    # ------------------------------------------------------------ dialogs
    def change_password(self) -> None:
        from .users_dialog import PasswordDialog
        dialog = PasswordDialog(self.window.runner, self.window)
        dialog.changed.connect(lambda: self.window.statusBar().showMessage("密码已修改", 8000))
        self.password_dialog = dialog
        dialog.open()

    def manage_users(self) -> None:
        from .users_dialog import UsersDialog
        w = self.window
        units = [(o.code, o.name) for o in w.tree if o.code != w.node.org
                 and w.tree.is_within(o.code, w.node.org) and o.level != "village"] or \
            [(o.code, o.name) for o in w.tree.children(w.node.org)]
        dialog = UsersDialog(w.runner, units, w)
        dialog.changed.connect(lambda: w.runner.run(lambda s, p: idle_minutes(s), on_done=self._set_idle))
        self.users_dialog = dialog
        dialog.open()

    def manage_backups(self) -> None:
        from .backup_dialog import BackupDialog
        dialog = BackupDialog(self.window.runner, self.window.path, self.window)
        dialog.restore_requested.connect(self.restore)
        self.backup_dialog = dialog
        dialog.open()

    def new_recovery_code(self, *, show=None) -> None:
        """A new 恢复码 (the old one stops working), shown once (``show(code)``: tests)."""
        from ..core.store import new_recovery_code
        from .startup import show_recovery_code
        w = self.window
        if QMessageBox.question(w, "生成新的恢复码", "生成新的恢复码后，原来打印的恢复码就不能再用了。"
                                "新的恢复码只显示一次，请准备好打印或抄写。要继续吗？") != QMessageBox.Yes:
            return
        w.runner.run(lambda store, progress: new_recovery_code(store),
                     on_done=show or (lambda code: show_recovery_code(code, parent=w)))

    # ------------------------------------------------------------ restore
    def restore(self, file: Path, *, relogin: bool = True) -> None:
        """Close this window's store, restore ``file`` over it, then log in again."""
        from ..core.errors import StoreError
        from ..core.store import restore_store
        from .startup import run_with_progress
        w = self.window
        path = w.path
        app = QApplication.instance()
        app.setQuitOnLastWindowClosed(False)  # the next window comes after the log-in
        w.close_store()
        kept, error = None, None
        try:
            kept = run_with_progress("正在从备份恢复…",
                                     lambda: restore_store(path, file, session=w.session))
        except StoreError as exc:
            error = exc
        self.restored.emit(kept)
        w.close()
        if error is not None:
            QMessageBox.critical(None, "无法恢复", f"{error}\n\n数据库没有改动。")
        elif relogin:
            QMessageBox.information(None, "已恢复", f"已从 {Path(file).name} 恢复。恢复前的数据已备份"
                                    + (f"为 {kept.path.name}" if kept else "") + "。请重新登录。")
        if relogin:
            from .main_window import open_window
            if open_window(path) is None:
                app.quit()
        app.setQuitOnLastWindowClosed(True)
