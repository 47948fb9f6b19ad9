"""One person and every ledger row about them (一张表).

Search by name (any part), ID number or phone (the whole number; a role that may
reveal also its last digits); the person's details are shown as core's policy shows
them (:func:`~desktop_app.core.store.policy_for`): masked unless :meth:`PersonPage.set_reveal`
is on (after an audited reveal, for a role that may). A user bound to a unit finds the
persons of that unit and sees only its rows of them. A double click (or Enter) on a
ledger row emits ``open_record(ledger id, uuid)``. All reads are instant reads on the
read-only ``reader``.
"""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core.store import PERSON_FIELDS, policy_for
from .tables import ITEM_ROLE, RowsModel, make_table

SEARCH_DELAY_MS = 250
SEARCH_LIMIT = 50
RESULT_FIELDS = ("name", "id_number", "sex", "birth_date")
APPEARANCE_COLUMNS = ("台账", "角色", "所属单位", "事件日期", "状态", "待补充")
_BY_ID = {f.id: f for f in PERSON_FIELDS}


class AppearanceModel(RowsModel):
    """Rows of :meth:`PersonMaster.appearances`, one per ledger row (deleted rows greyed)."""

    def __init__(self, reader, parent=None):
        super().__init__(APPEARANCE_COLUMNS, self._cells, tips=self._tips,
                         dimmed=lambda item: item["row"]["_deleted"], parent=parent)
        self.reader = reader
        self.reveal = False
        self.policy = policy_for(reader)

    def set_reveal(self, reveal: bool) -> None:
        self.reveal = reveal
        self.policy = policy_for(self.reader).for_screen() if reveal else policy_for(self.reader)
        self.refresh_cells()

    def _cells(self, item: dict) -> list[str]:
        row = item["row"]
        led = self.reader.catalog.ledger(item["ledger"])
        date = self.policy.text(led, led.date_field, row[led.date_field])
        return [item["ledger_label"], item["role"], self.reader.orgs.path(row["org"]), date,
                (row["status"] or "") + ("（已删除）" if row["_deleted"] else ""),
                "待补充" if row["_incomplete"] else ""]

    def _tips(self, item: dict) -> dict:
        row = item["row"]
        if not row["_incomplete"]:
            return {}
        led = self.reader.catalog.ledger(item["ledger"])
        missing = [led.field(f).label if led.has_field(f) else f
                   for f in (row["_missing"] or "").split("、") if f]
        return {5: "缺：" + "、".join(missing)}

    def record_at(self, row: int) -> tuple[str, str]:
        """(ledger id, row uuid) of a table row."""
        item = self.item_at(row)
        return item["ledger"], item["row"]["uuid"]


class PersonPage(QWidget):
    """The person master page: search, details, every ledger row about the person."""

    open_record = Signal(str, str)  # ledger id, row uuid

    def __init__(self, reader, parent=None):
        super().__init__(parent)
        self.reader = reader
        self.reveal = False
        self.policy = policy_for(reader)   # masked; for_screen once revealed
        self.person: dict | None = None
        self.matches: list[dict] = []
        self._build()

    def _build(self) -> None:
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText(f"输入{self.policy.search_prompt()}")
        self.search_box.setClearButtonEnabled(True)
        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(lambda: self.search(self.search_box.text()))
        self.search_box.textChanged.connect(lambda _t: self._timer.start())
        self.search_box.returnPressed.connect(lambda: self.search(self.search_box.text()))
        self.results_model = QStandardItemModel(0, len(RESULT_FIELDS), self)
        self.results_model.setHorizontalHeaderLabels([_BY_ID[f].label for f in RESULT_FIELDS])
        self.results = self._table(self.results_model)
        self.results.selectionModel().currentRowChanged.connect(self._result_chosen)
        self.result_count = QLabel()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.search_box)
        left_layout.addWidget(self.result_count)
        left_layout.addWidget(self.results, 1)

        self.title = QLabel("请在左侧搜索并选择一个人")
        self.title.setStyleSheet("font-size: 16px; font-weight: bold")
        self.detail_labels: dict[str, QLabel] = {}
        details = QGroupBox("人员信息（人员主档）")
        form = QFormLayout(details)
        for f in PERSON_FIELDS:
            self.detail_labels[f.id] = QLabel()
            form.addRow(f"{f.label}：", self.detail_labels[f.id])
        self.detail_labels["org"] = QLabel()
        form.addRow("所属单位：", self.detail_labels["org"])
        for label in self.detail_labels.values():
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.appearance_model = AppearanceModel(self.reader, self)
        self.appearances = self._table(self.appearance_model)
        self.appearances.activated.connect(self._open)
        self.appearance_count = QLabel()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.title)
        right_layout.addWidget(details)
        right_layout.addWidget(self.appearance_count)
        right_layout.addWidget(self.appearances, 1)
        hint = QLabel("双击一条记录（或按回车）打开该台账记录。")
        hint.setStyleSheet("color: #666")
        right_layout.addWidget(hint)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 2)
        split.setSizes([380, 720])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    @staticmethod
    def _table(model) -> QTableView:
        table = make_table(model)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        return table

    def _shown(self, field_id: str, value) -> str:
        return self.policy.text(None, field_id, value)

    # ------------------------------------------------------------ search
    def search(self, text: str) -> None:
        """List the persons whose name, ID number or phone contains ``text``;
        a single match is shown at once."""
        self._timer.stop()
        text = text.strip()
        self.matches = self.reader.persons.search(text, limit=SEARCH_LIMIT) if text else []
        self._fill_results()
        if not text:
            self.result_count.clear()
        elif not self.matches:
            hint = self.policy.search_miss(text)
            self.result_count.setText(f"没有找到“{text}”" + (f"（{hint}）" if hint else ""))
        else:
            more = len(self.matches) >= SEARCH_LIMIT
            self.result_count.setText(f"找到 {len(self.matches)} 人" +
                                      (f"（只列出前 {SEARCH_LIMIT} 人，请输入更多）" if more else ""))
        if len(self.matches) == 1:
            self.results.selectRow(0)

    def _fill_results(self) -> None:
        self.results_model.removeRows(0, self.results_model.rowCount())
        for person in self.matches:
            items = [QStandardItem() for _ in RESULT_FIELDS]
            for item in items:
                item.setEditable(False)
                item.setData(person["uuid"], ITEM_ROLE)
            self.results_model.appendRow(items)
        self._label_results()

    def _label_results(self) -> None:
        for r, person in enumerate(self.matches):
            for c, f in enumerate(RESULT_FIELDS):
                self.results_model.item(r, c).setText(self._shown(f, person[f]))

    def _result_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.show_person(current.data(ITEM_ROLE))

    # ------------------------------------------------------------ one person
    def show_person(self, person_uuid: str) -> None:
        """Show one person's details and every ledger row about them."""
        self.person = self.reader.persons.visible(person_uuid)   # (another unit's person: none)
        if self.person is None:
            self.title.setText("人员主档中没有此人")
            for label in self.detail_labels.values():
                label.clear()
            self.appearance_model.load([])
            self.appearance_count.clear()
            return
        self._show_details()
        found = self.reader.persons.appearances(person_uuid)
        self.appearance_model.load(found)
        ledgers = len({a["ledger"] for a in found})
        self.appearance_count.setText(f"出现在 {ledgers} 个台账的 {len(found)} 条记录中"
                                      if found else "还没有任何台账记录")

    def _show_details(self) -> None:
        person = self.person
        self.title.setText(person["name"] or "（未填姓名）")
        for f in PERSON_FIELDS:
            self.detail_labels[f.id].setText(self._shown(f.id, person[f.id]) or "—")
        self.detail_labels["org"].setText(self.reader.orgs.path(person["org"]) if person["org"]
                                          else "—")

    def set_reveal(self, reveal: bool) -> None:
        """Show (True) or mask (False) ID numbers, phones and other sensitive values."""
        self.reveal = reveal
        self.policy = policy_for(self.reader).for_screen() if reveal else policy_for(self.reader)
        self.appearance_model.set_reveal(reveal)
        self._label_results()
        if self.person is not None:
            self._show_details()

    def _open(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_record.emit(*self.appearance_model.record_at(index.row()))
