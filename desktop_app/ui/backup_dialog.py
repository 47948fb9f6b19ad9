"""备份与恢复 (管理员): the automatic backups, a backup now, a copy elsewhere, restore.

Restoring replaces the open store, so the dialog only asks for it
(``restore_requested(file)``); the main window closes the store, restores
(:func:`desktop_app.core.store.restore_store`, which backs up the current state
first) and asks for the log-in again. For tests: ``backup_now()``,
``save_copy(path)``, ``request_restore(path, confirm=False)``; ``backups_model``.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QDialog, QFileDialog, QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout

from ..core.store import BACKUPS_KEPT, BackupError, backup_dir, check_backup_file, copy_to, list_backups, make_backup
from .style import GREEN, RED
from .tables import RowsModel, make_table, message_label, say, selected_item
from .window_size import fit_window

COLUMNS = ("备份时间", "原因", "大小", "文件")


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(1, n // 1024)} KB"


class BackupDialog(QDialog):
    restore_requested = Signal(Path)
    changed = Signal()

    def __init__(self, runner, db: Path, parent=None):
        super().__init__(parent)
        self.runner, self.db = runner, Path(db)
        self.setWindowTitle("备份与恢复")
        fit_window(self, "backup", QSize(820, 480))
        note = QLabel(f"每次导入表格、导入数据包和程序升级之前，以及每天第一次打开时，程序会自动备份，"
                      f"保留最近 {BACKUPS_KEPT} 份，每份都经过完整性检查。备份文件夹：{backup_dir(self.db)}")
        note.setWordWrap(True)
        self.backups_model = RowsModel(COLUMNS, lambda b: [
            f"{b.created:%Y-%m-%d %H:%M:%S}", b.label, _size(b.size), b.path.name], parent=self)
        self.table = make_table(self.backups_model, (160, 150, 80))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.now_button = QPushButton("立即备份")
        self.now_button.clicked.connect(self.backup_now)
        self.copy_button = QPushButton("另存一份到…")
        self.copy_button.setToolTip("例如存到 U 盘；备份已加密（连同 .keys 密钥文件一起保存），仍请妥善保管")
        self.copy_button.clicked.connect(self._copy_clicked)
        self.restore_button = QPushButton("从所选备份恢复…")
        self.restore_button.clicked.connect(
            lambda: self._selected() and self.request_restore(self._selected().path))
        self.file_button = QPushButton("从备份文件恢复…")
        self.file_button.clicked.connect(self._restore_file_clicked)
        self.message = message_label()
        buttons = QHBoxLayout()
        for b in (self.now_button, self.copy_button, self.restore_button, self.file_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.refresh()

    def _selected(self):
        return selected_item(self.table)

    def _update(self) -> None:
        self.restore_button.setEnabled(self._selected() is not None)

    def refresh(self) -> None:
        self.backups_model.load(list_backups(self.db))
        self._update()

    def _done(self, text: str) -> None:
        say(self.message, text, GREEN)
        self.refresh()
        self.changed.emit()

    def backup_now(self) -> None:
        def work(store, progress):
            store.require("admin")
            return make_backup(store, "manual", force=True)
        self.runner.run(work, on_done=lambda b: self._done(f"已备份（{_size(b.size)}，已通过完整性检查）"),
                        on_error=lambda e: say(self.message, str(e), RED),
                        label="正在备份…", parent=self)

    def _copy_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "另存备份", str(Path.home() / f"{self.db.stem}-备份.sqlite3"),
                                              "台账数据库 (*.sqlite3)")
        if path:
            self.save_copy(Path(path))

    def save_copy(self, path: Path) -> None:
        self.runner.run(lambda store, progress: copy_to(store, path),
                        on_done=lambda p: self._done(f"已另存到 {p}（已加密，已通过完整性检查）。旁边的密钥文件 "
                                                     f"{p.name}.keys 必须和它放在一起：恢复时要用到，"
                                                     "并用备份时有效的管理员密码或恢复码打开"),
                        on_error=lambda e: say(self.message, str(e), RED),
                        label="正在另存备份…", parent=self)

    def _restore_file_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "选择备份文件", str(self.db.parent),
                                              "台账数据库 (*.sqlite3);;所有文件 (*)")
        if path:
            self.request_restore(Path(path))

    def request_restore(self, path: Path, *, confirm: bool = True) -> None:
        """Check the file, ask, then hand over to the main window."""
        try:
            check_backup_file(path)
        except BackupError as exc:
            say(self.message, str(exc), RED)
            return
        if confirm and QMessageBox.question(
                self, "从备份恢复",
                f"用 {Path(path).name} 替换当前数据？\n\n恢复前会先自动备份当前数据，需要时可以再恢复回来。"
                "恢复后需要重新登录。已经发出的数据包不会撤回。") != QMessageBox.Yes:
            return
        self.restore_requested.emit(Path(path))
        self.accept()
