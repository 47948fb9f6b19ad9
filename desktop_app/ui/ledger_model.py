"""The ledger table model: an id list plus a lazy block cache.

``rowCount`` is the length of the rowid list of the current view; rows are read
from the (read-only, GUI-thread) store in blocks of ``BLOCK`` when first shown,
so a million-row ledger opens and scrolls without reading it all. Each column
has one precomputed formatter (calibre's idea), so ``data()`` stays cheap.
Sensitive columns are shown as core's policy shows them (:func:`~desktop_app.core.store.policy_for`):
masked unless revealed (an audited reveal, for a role that may); the view's rows already
come masked for a role that may not.
"""
from __future__ import annotations

from array import array
from collections import OrderedDict
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from ..core.catalog import Field, Ledger, OrgTree
from ..core.store import LedgerView, Policy, policy_for

BLOCK = 256
MAX_BLOCKS = 64
INCOMPLETE = QColor("#b26a00")
UUID_ROLE = Qt.UserRole + 1


class Column:
    def __init__(self, key: str, label: str, fmt: Callable[[dict], str], sensitive: bool = False,
                 sort_key: str | None = None):
        self.key, self.label, self.fmt, self.sensitive = key, label, fmt, sensitive
        self.sort_key = sort_key or key


def _field_column(ledger: Ledger, f: Field) -> Column:
    sensitive = ledger.is_sensitive(f.id)

    def fmt(row: dict, policy: Policy, f=f) -> str:
        return policy.text(ledger, f.id, row.get(f.id))
    label = f.label + (f"（{f.unit}）" if f.unit else "")
    return Column(f.id, label, fmt, sensitive)


class LedgerTableModel(QAbstractTableModel):
    """Rows of one :class:`LedgerView`; call :meth:`reset` with the view's id list."""

    sort_requested = Signal(str, bool)  # column key, descending

    def __init__(self, reader, parent=None):
        super().__init__(parent)
        self.reader = reader
        self.view: LedgerView | None = None
        self.ids = array("q")
        self.columns: list[Column] = []
        self.reveal = False
        self.policy = policy_for(reader)       # masked
        self.shown = self.policy               # as shown now (for_screen once revealed)
        self._blocks: OrderedDict[int, dict[int, dict]] = OrderedDict()
        self.tree: OrgTree = reader.orgs

    # -- set up
    def set_ledger(self, ledger: Ledger) -> None:
        tree = self.tree

        def org_name(row, policy):
            return tree.path(row["org"]) if row.get("org") else ""

        def pending(row, policy):
            if not row.get("_incomplete"):
                return ""
            labels = [ledger.field(f).label for f in (row.get("_missing") or "").split("、")
                      if f and ledger.has_field(f)]
            return "待补充：" + "、".join(labels)
        self.beginResetModel()
        self.columns = ([Column("org", "村（社区）", org_name)] +
                        [_field_column(ledger, f) for f in ledger.fields] +
                        [Column("_incomplete", "待补充", pending)])
        self.ids = array("q")
        self._blocks.clear()
        self.view = None
        self.endResetModel()

    def reset(self, view: LedgerView, ids: array) -> None:
        self.beginResetModel()
        self.view, self.ids = view, ids
        self._blocks.clear()
        self.endResetModel()

    def extend(self, view: LedgerView, ids: array) -> None:
        """Grow a first batch to the full id list (or reset if the data changed meanwhile)."""
        n = len(self.ids)
        if view is not self.view or ids[:n] != self.ids:
            self.reset(view, ids)
            return
        if len(ids) > n:
            self.beginInsertRows(QModelIndex(), n, len(ids) - 1)
            self.ids = ids
            self.endInsertRows()

    def set_reveal(self, reveal: bool) -> None:
        """Show values in full (True: after the page's audited reveal) or masked."""
        self.reveal = reveal
        self.shown = self.policy.for_screen() if reveal else self.policy
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))

    def invalidate(self) -> None:
        """Forget cached rows (after an edit); they are re-read when painted."""
        self._blocks.clear()
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))

    # -- Qt model API
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation, role=Qt.DisplayRole):
        if role != Qt.DisplayRole:
            return None
        if orientation == Qt.Horizontal:
            return self.columns[section].label if 0 <= section < len(self.columns) else None
        return str(section + 1)

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self.ids)):
            return None
        if role not in (Qt.DisplayRole, Qt.ToolTipRole, Qt.ForegroundRole, UUID_ROLE):
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        if role == UUID_ROLE:
            return row["uuid"]
        if role == Qt.ForegroundRole:
            return QBrush(INCOMPLETE) if row.get("_incomplete") else None
        text = self.columns[index.column()].fmt(row, self.shown)
        if role == Qt.ToolTipRole:
            return text if len(text) > 12 or row.get("_incomplete") else None
        return text

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        if 0 <= column < len(self.columns):
            self.sort_requested.emit(self.columns[column].sort_key, order == Qt.DescendingOrder)

    # -- rows
    def row_at(self, row: int) -> dict | None:
        block = row // BLOCK
        cached = self._blocks.get(block)
        if cached is None:
            cached = self._load_block(block)
        else:
            self._blocks.move_to_end(block)
        return cached.get(self.ids[row])

    def _load_block(self, block: int) -> dict[int, dict]:
        start = block * BLOCK
        rows = self.view.fetch(self.ids[start:start + BLOCK]) if self.view else {}
        self._blocks[block] = rows
        if len(self._blocks) > MAX_BLOCKS:
            self._blocks.popitem(last=False)
        return rows

    def uuid_at(self, row: int) -> str | None:
        data = self.row_at(row)
        return data["uuid"] if data else None
