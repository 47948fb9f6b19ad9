"""Read-only tables and inline messages shared by the pages and dialogs.

    model = RowsModel(("单位", "状态"), lambda item: (item.name, item.status),
                      colors=lambda item: {1: RED} if item.late else {})
    table = make_table(model, widths=(160, 90))
    model.load(items)                 # texts are computed once per load
    model.refresh_cells()             # … or again, when a setting changed (revealing values)
    say(message, "已保存", GREEN)     # a message on the page, not a modal box
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView

from .style import GREY

ITEM_ROLE = Qt.UserRole + 1
DIMMED = "#9e9e9e"


def message_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def hint_label(text: str) -> QLabel:
    """A grey explanation under a page's title (wraps to the page's width)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {GREY}")
    return label


def selected_item(view):
    """The item of a :class:`RowsModel` table's selected row, or None."""
    rows = view.selectionModel().selectedRows()
    return view.model().item_at(rows[0].row()) if rows else None


def say(label: QLabel, text: str, color: str = GREY) -> None:
    label.setTextFormat(Qt.PlainText)
    label.setText(text)
    label.setStyleSheet(f"color: {color}")


# ---------------------------------------------------------------- a read-only table

class RowsModel(QAbstractTableModel):
    """Read-only rows of items. ``cells(item)`` gives a row's texts; the optional
    ``colors(item)`` {column: colour}, ``tips(item)`` {column: tooltip} and
    ``icons(item)`` {column: QIcon}; ``dimmed(item)`` greys the whole row
    (a decided pair). ``ITEM_ROLE`` returns the item itself."""

    def __init__(self, columns: tuple[str, ...], cells: Callable, *, colors: Callable | None = None,
                 tips: Callable | None = None, icons: Callable | None = None,
                 dimmed: Callable | None = None, right: tuple[int, ...] = (), parent=None):
        super().__init__(parent)
        self.columns = tuple(columns)
        self.items: list = []
        self._cells, self._colors, self._tips = cells, colors, tips
        self._icons, self._dimmed, self._right = icons, dimmed, set(right)
        self._texts: list[list[str]] = []

    def load(self, items) -> None:
        self.beginResetModel()
        self.items = list(items)
        self._texts = [list(self._cells(i)) for i in self.items]
        self.endResetModel()

    def refresh_cells(self) -> None:
        """The texts depend on a setting that changed (e.g. revealing sensitive values)."""
        self._texts = [list(self._cells(i)) for i in self.items]
        if self.items:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.items) - 1, len(self.columns) - 1))

    def item_at(self, row: int):
        return self.items[row] if 0 <= row < len(self.items) else None

    def cell(self, row: int, column: int) -> str:
        return self._texts[row][column]

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role != Qt.DisplayRole:
            return None
        if orientation == Qt.Horizontal:
            return self.columns[section] if 0 <= section < len(self.columns) else None
        return section + 1

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        item, col = self.items[index.row()], index.column()
        if role == Qt.DisplayRole:
            return self._texts[index.row()][col]
        if role == ITEM_ROLE:
            return item
        if role == Qt.ForegroundRole:
            if self._dimmed is not None and self._dimmed(item):
                return QBrush(QColor(DIMMED))
            color = self._colors(item).get(col) if self._colors is not None else None
            return QBrush(QColor(color)) if color else None
        if role == Qt.ToolTipRole and self._tips is not None:
            return self._tips(item).get(col)
        if role == Qt.DecorationRole and self._icons is not None:
            return self._icons(item).get(col)
        if role == Qt.TextAlignmentRole and col in self._right:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None


def make_table(model: QAbstractTableModel, widths: tuple[int, ...] = ()) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.Interactive)
    header.setStretchLastSection(True)
    for col, width in enumerate(widths):
        table.setColumnWidth(col, width)
    return table
