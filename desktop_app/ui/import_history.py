"""导入记录: every Excel import of this store, newest first, and taking one back.

    page = ImportHistoryPage(runner, reader)
    page.changed.connect(window.data_changed)   # an undo wrote rows
    page.refresh()

The rows are read on the GUI thread through the read-only ``reader`` (the
history is one row per imported file). 撤销这次导入 runs
:func:`~desktop_app.core.excel.importer.undo_import` on the runner's store thread;
when core refuses (already undone, or rows edited since), its message is shown
under the table, not in a modal box.

For tests (no real modal dialogs): ``refresh``, ``select_batch``,
``undo_selected`` and the ``changed`` / ``undo_finished`` signals; the
confirmation before an undo is the small method ``_confirm_undo``.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ..core.excel import UndoRefused, import_history, undo_import
from .errors import show_error
from .import_dialog import RESULT_COLORS, RESULT_LABELS, counts_text
from .style import GREEN, GREY, RED
from .tables import RowsModel, make_table, message_label, selected_item

COLUMNS = ("时间", "文件", "工作表", "台账", "操作人", "结果", "行数", "批次")
UNDONE_LABEL = "已撤销"
UNDOABLE = frozenset({"imported", "partial"})   # the statuses that wrote rows


@dataclass(frozen=True)
class HistoryEntry:
    batch: str
    ts: str
    file: str
    sheet: str
    ledger: str           # the ledger's label
    user: str
    status: str           # imported, partial, refused, unusable
    summary: str          # the counts, or why the file could not be used
    undone_at: str | None

    @property
    def status_text(self) -> str:
        return UNDONE_LABEL if self.undone_at else RESULT_LABELS[self.status]

    @property
    def color(self) -> str:
        return GREY if self.undone_at else RESULT_COLORS[self.status]


def read_history(reader) -> list[HistoryEntry]:
    """The import history, newest first."""
    catalog = reader.catalog
    out = []
    for item in import_history(reader):
        led = catalog.find_ledger(item["ledger"]) if item["ledger"] else None
        data = item["counts"]
        summary = data["message"] if "message" in data else counts_text(data)
        out.append(HistoryEntry(item["batch"], item["ts"].replace("T", " "), item["file"],
                                item["sheet"] or "", led.label if led else (item["ledger"] or ""),
                                item["user"], item["status"], summary, item["undone_at"]))
    return out


def _cells(e: HistoryEntry) -> tuple:
    return e.ts, e.file, e.sheet, e.ledger, e.user, e.status_text, e.summary, e.batch


def _tips(e: HistoryEntry) -> dict:
    return {5: f"已于 {e.undone_at.replace('T', ' ')} 撤销" if e.undone_at else None, 6: e.summary}


class ImportHistoryPage(QWidget):
    """The import history with 撤销这次导入; ``changed`` after a successful undo."""

    changed = Signal()              # an undo wrote rows (counts and progress are stale)
    undo_finished = Signal(bool)    # True: undone; False: refused (the message is shown)

    def __init__(self, runner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.model = RowsModel(COLUMNS, _cells, colors=lambda e: {5: e.color, 6: e.color}, tips=_tips,
                               parent=self)
        self._undoing = False
        title = QLabel("导入记录")
        title.setStyleSheet("font-size: 16px; font-weight: bold")
        self.refresh_button = QPushButton("刷新")
        self.refresh_button.clicked.connect(self.refresh)
        self.undo_button = QPushButton("撤销这次导入")
        self.undo_button.setToolTip("这次导入新增的行移到回收站，修改过的行恢复原值；"
                                    "导入后又被修改过的行会阻止撤销")
        self.undo_button.clicked.connect(self._undo_clicked)
        self.table = make_table(self.model, (150, 220, 90, 140, 80, 80, 300))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.message = message_label()
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.undo_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        self.refresh()

    def refresh(self) -> None:
        """Read the history again, keeping the selected import selected."""
        keep = self.selected_entry()
        self.model.load(read_history(self.reader))
        if keep is not None:
            self.select_batch(keep.batch)
        self._update()

    def select_batch(self, batch: str) -> bool:
        for row, e in enumerate(self.model.items):
            if e.batch == batch:
                self.table.selectRow(row)
                return True
        return False

    def selected_entry(self) -> HistoryEntry | None:
        return selected_item(self.table)

    def _update(self) -> None:
        e = self.selected_entry()
        self.undo_button.setEnabled(not self._undoing and e is not None and e.status in UNDOABLE)

    def _undo_clicked(self) -> None:
        e = self.selected_entry()
        if e is not None and self._confirm_undo(e):
            self.undo_selected()

    def _confirm_undo(self, e: HistoryEntry) -> bool:
        """Ask before taking an import back (tests never reach it)."""
        answer = QMessageBox.question(
            self, "撤销这次导入",
            f"撤销 {e.ts} 导入的 {e.file}（{e.ledger}）？\n\n这次导入新增的行将移到回收站，"
            "修改过的行恢复为导入前的值。", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def undo_selected(self) -> None:
        """Undo the selected import on the store thread; ``undo_finished`` follows."""
        e = self.selected_entry()
        if e is None:
            return
        batch = e.batch
        self._undoing = True
        self._update()
        self.message.setText("正在撤销…")
        self.message.setStyleSheet(f"color: {GREY}")
        self.runner.run(lambda store, progress: undo_import(store, batch),
                        on_done=lambda done: self._undone(e, done), on_error=self._refused,
                        label="正在撤销导入…", parent=self)

    def _undone(self, e: HistoryEntry, done: dict) -> None:
        self._undoing = False
        self.message.setText(f"已撤销 {e.ts} 导入的 {e.file}：移到回收站 "
                             f"{done.get('deleted', 0)} 行，恢复原值 {done.get('restored', 0)} 行。")
        self.message.setStyleSheet(f"color: {GREEN}")
        self.refresh()
        self.changed.emit()
        self.undo_finished.emit(True)

    def _refused(self, error: BaseException) -> None:
        self._undoing = False
        self._update()
        if isinstance(error, UndoRefused):
            self.message.setText(f"没有撤销：{error}")
            self.message.setStyleSheet(f"color: {RED}")
        else:
            self.message.clear()
            show_error(error, self)
        self.undo_finished.emit(False)
