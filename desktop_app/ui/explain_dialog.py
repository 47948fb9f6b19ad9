"""未计入的记录及原因: the drill-down's other half. For one indicator, its counting rule, how
many rows counted, and the rows it left out with the reason (core ``district.explain``;
masked by the session's policy). Double-clicking a row opens it (``row_chosen(uuid)``).
"""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..core.district import EXPLAIN_REASONS as REASONS
from ..core.district import explain
from .window_size import fit_window


class ExplainDialog(QDialog):
    row_chosen = Signal(str)

    def __init__(self, reader, indicator_id: str, as_of: dt.date, scope: str, parent=None,
                 limit: int = 500):
        super().__init__(parent)
        result = explain(reader, indicator_id, as_of, scope=scope, limit=limit)
        self.result = result
        ind = result.indicator
        self.setWindowTitle(f"{ind['name']}：计入与未计入的记录")
        fit_window(self, "explain", QSize(820, 520))
        summary = (f"<b>{ind['name']}</b>（截至 {as_of:%Y-%m-%d}）<br>计数规则：{ind['counting']}<br>"
                   f"计入 {result.counted_total} 行，未计入 {result.excluded_total} 行"
                   + ("：" + "，".join(f"{REASONS.get(k, k)} {n}" for k, n in result.by_reason.items())
                      if result.by_reason else ""))
        waiting = sum(1 for row in result.counted if row.get("reason_text"))
        if waiting:   # households counted by their own person: 户主 to fill in
            summary += f"<br>其中 {waiting} 行未填户主，暂按本人计为一户（见命令行 progress --explain）"
        if result.excluded_total > len(result.excluded):
            summary += f"（只列出前 {len(result.excluded)} 行）"
        self.summary = QLabel(summary)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.table = QTableWidget(len(result.excluded), 3)
        self.table.setHorizontalHeaderLabels(["所属单位", "原因", "说明"])
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        tree = reader.orgs
        for r, row in enumerate(result.excluded):
            org = tree.get(row["org"])
            cells = [org.name if org else row["org"], REASONS.get(row["reason"], row["reason"]),
                     row["reason_text"]]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, row["uuid"])
                self.table.setItem(r, c, item)
        self.table.doubleClicked.connect(
            lambda index: self.row_chosen.emit(self.table.item(index.row(), 0).data(Qt.UserRole)))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("未计入的记录（双击打开）："))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
