"""重复计数核实 and each row's provenance: the district's review of the towns' rows.

    dupes = DuplicatesPage(runner, reader)    # core.duplicates: pairs, decide
    dupes.changed.connect(window.data_changed)  # a decision changes progress
    view = ProvenanceView(reader)             # core Records.provenance of one row
    view.show_row(ledger_id, row_uuid)

A pair shows both rows side by side (台账, 姓名, 村/镇, date, status, 跨镇 / 跨年度)
with the ID number masked (core's policy, :func:`~desktop_app.core.store.policy_for`;
a user bound to a unit sees the pairs of that unit); the buttons record
core's decision ("same" keeping the left or the right row, or "different") on
the runner; decided pairs stay listed, greyed, with the decision. Sensitive
values follow the catalog (a ledger whose every field is sensitive shows *** for
names too). Provenance is a single-row read on the GUI thread's ``reader``.

For tests: ``DuplicatesPage.refresh``, ``select_pair``, ``decide_selected``,
``decide``; signals ``loaded``, ``decided``, ``changed`` and ``failed``. The 核实意见
page is :mod:`.reviews_page`.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.district import KIND_TIPS, KIND_WORDS, DuplicatePair, decide, find_duplicates
from ..core.errors import StoreError
from ..core.store import Policy, policy_for
from .district_pages import failure, fmt_time, title_label
from .style import BLUE, GREEN, GREY
from .tables import RowsModel, hint_label, make_table, message_label, say

PAIR_COLUMNS = ("台账", "类型", "身份证号/识别信息", "左：姓名", "左：村/镇", "左：日期", "左：状态",
                "右：姓名", "右：村/镇", "右：日期", "右：状态", "核实结果")
OPEN_WORD = "待核实"
CHOICES = {"left": "同一人，保留左边", "right": "同一人，保留右边", "different": "不是重复"}
VIA = {"screen": "在本程序中录入", "cli": "命令行", "excel": "Excel 导入", "demo": "示例数据",
       "undo": "撤销导入", "export": "导出"}
PROVENANCE_FIELDS = ("记录", "所在单位", "录入单位", "录入人", "录入时间", "录入方式", "经由的数据包")


# ---------------------------------------------------------------- provenance

def via_text(source: str | None) -> str:
    if not source:
        return "—"
    kind, _, detail = source.partition(":")
    word = VIA.get(kind, kind)
    return f"{word}（{detail}）" if kind == "excel" and detail else word


def row_title(led, row: dict) -> str:
    """A row's name in lists: its title field (masked where the catalog says it is sensitive)."""
    fid = led.title_field or led.fields[0].id
    value = row.get(fid)
    if value is None:
        return row["uuid"][:8]
    return Policy().text(led, fid, value)   # masked where sensitive, whoever reads it


class ProvenanceView(QWidget):
    """Where one row came from: 录入单位, 录入人, 录入时间, 经由的数据包 (core's provenance).

    ``show_row(ledger_id, row_uuid)`` fills it."""

    def __init__(self, reader, parent=None, *, title: str = "记录来历"):
        super().__init__(parent)
        self.reader = reader
        self.provenance: dict | None = None
        self.values: dict[str, QLabel] = {}
        box = QGroupBox(title)
        form = QFormLayout(box)
        for name in PROVENANCE_FIELDS:
            label = QLabel("—")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
            self.values[name] = label
            form.addRow(f"{name}：", label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

    def show_row(self, ledger_id: str, row_uuid: str) -> None:
        self.clear()
        try:
            records = self.reader.ledger(ledger_id)
        except StoreError as exc:       # a ledger of another plan
            self.values["记录"].setText(str(exc))
            return
        row = records.get(row_uuid)
        if row is None:
            self.values["记录"].setText("本机没有这条记录（可能尚未收到，或已被清理）")
            return
        p = records.provenance(row_uuid)
        self.provenance = p
        deleted = "（已删除，在回收站中）" if row.get("_deleted") else ""
        self.values["记录"].setText(f"{records.ledger.label}：{row_title(records.ledger, row)}{deleted}")
        self.values["所在单位"].setText(p["org_path"] or "—")
        self.values["录入单位"].setText(p["entered_at_org"] or "—")
        self.values["录入人"].setText(p["entered_by"] or "（不详）")
        self.values["录入时间"].setText(fmt_time(p["entered_on"]))
        self.values["录入方式"].setText(via_text(p["entered_via"]))
        packages = [f"{pkg['from']} 第 {pkg['seq']} 号，{fmt_time(pkg['received'])} 收到（{pkg['file']}）"
                    for pkg in p["packages"]]
        self.values["经由的数据包"].setText("\n".join(packages) or "没有经过数据包（在本机录入）")

    def value(self, name: str) -> str:
        return self.values[name].text()

    def clear(self) -> None:
        self.provenance = None
        for label in self.values.values():
            label.setText("—")


# ---------------------------------------------------------------- duplicates

@dataclass(frozen=True)
class Side:
    uuid: str
    name: str
    id_number: str      # masked
    org_path: str
    date: str
    status: str


@dataclass(frozen=True)
class PairView:
    pair: DuplicatePair
    ledger_label: str
    left: Side
    right: Side

    @property
    def key(self) -> tuple[str, str, str]:
        return self.pair.ledger, self.pair.a["uuid"], self.pair.b["uuid"]

    @property
    def decision_text(self) -> str:
        p = self.pair
        if p.decision is None:
            return OPEN_WORD
        if p.decision == "different":
            return CHOICES["different"]
        return CHOICES["left"] if p.keep == p.a["uuid"] else CHOICES["right"]


def _side(store, led, found: dict) -> Side:
    policy = policy_for(store)      # masked: the page has no reveal
    row = policy.row(led, store.ledger(led.id).get(found["uuid"]) or {})
    status = (found.get("status") or "—") + ("（待补充）" if found.get("incomplete") else "")
    if not led.persons:             # an institution: its natural key (masked where sensitive)
        key = "＋".join(str(row.get(k.removeprefix("year:")) or "—") for k in led.natural_key)
        return Side(found["uuid"], str(found.get("name") or "—"), key,
                    store.orgs.path(found["org"]), found.get("date") or "—", status)
    link = led.persons[0]
    id_field = link.fields.get("id_number")
    name_field = link.fields.get("name")
    number = row.get(id_field) if id_field else None
    name = row.get(name_field) if name_field else found.get("name")
    return Side(found["uuid"], str(name or "—"),
                (policy.text(led, id_field, number) or "—") if id_field else "—",
                store.orgs.path(found["org"]), found.get("date") or "—", status)


def read_pairs(store) -> list[PairView]:
    """core's pairs with what the page shows of each row (store thread)."""
    out = []
    for p in find_duplicates(store):
        led = store.catalog.ledger(p.ledger)
        out.append(PairView(p, led.label, _side(store, led, p.a), _side(store, led, p.b)))
    return out


def _pair_cells(v: PairView) -> list[str]:
    left, right = v.left, v.right
    return [v.ledger_label, KIND_WORDS.get(v.pair.kind, v.pair.kind), left.id_number,
            left.name, left.org_path, left.date, left.status,
            right.name, right.org_path, right.date, right.status, v.decision_text]


class DuplicatesPage(QWidget):
    """重复计数核实: one person counted twice; the reviewer keeps one row or says "different"."""

    loaded = Signal()
    decided = Signal(str, str, str, str)   # ledger, uuid_a, uuid_b, decision ("same" / "different")
    changed = Signal()                     # progress changed (a row stopped or started counting)
    failed = Signal(str)

    def __init__(self, runner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.pairs: list[PairView] = []
        self.model = RowsModel(PAIR_COLUMNS, _pair_cells,
                               tips=lambda v: {1: KIND_TIPS.get(v.pair.kind)},
                               colors=lambda v: {11: BLUE if v.pair.decision is None else GREY},
                               dimmed=lambda v: v.pair.decision is not None, parent=self)
        self.summary = QLabel()
        self.open_only = QCheckBox("只看待核实")
        self.open_only.toggled.connect(lambda _on: self._show())
        self.refresh_button = QPushButton("刷新")
        self.refresh_button.clicked.connect(self.refresh)
        self.table = make_table(self.model, (150, 60, 150, 70, 150, 90, 70, 70, 150, 90, 70))
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self.buttons = {}
        row = QHBoxLayout()
        for choice, text in CHOICES.items():
            button = QPushButton(text)
            button.setProperty("permission", "review")
            button.clicked.connect(lambda _c=False, choice=choice: self.decide_selected(choice))
            self.buttons[choice] = button
            row.addWidget(button)
        self.message = message_label()
        row.addWidget(self.message, 1)
        self.left_view = ProvenanceView(reader, title="左边这条的来历")
        self.right_view = ProvenanceView(reader, title="右边这条的来历")
        sides = QHBoxLayout()
        sides.addWidget(self.left_view)
        sides.addWidget(self.right_view)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(row)
        lower_layout.addLayout(sides)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        top = QHBoxLayout()
        top.addWidget(title_label("重复计数核实"))
        top.addWidget(self.summary, 1)
        top.addWidget(self.open_only)
        top.addWidget(self.refresh_button)
        hint = hint_label("同一人（按身份证号）在两个镇、或在只计一次的台账的两个年度各有一条记录；"
                          "同一机构（按统一社会信用代码等）由两个镇各报一条（未核实时只计先录入的一条）。"
                          "确认重复时保留一条，另一条不再计入进度；记录本身不会删除。")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint)
        layout.addWidget(split, 1)
        self._enable()

    # ------------------------------------------------------------ reading
    def refresh(self) -> None:
        """Find the pairs again on the store thread."""
        self.summary.setText("正在查找…")
        self.runner.run(lambda store, progress: read_pairs(store), on_done=self._loaded,
                        on_error=self._failed, label="正在查找重复计数…", parent=self)

    def _loaded(self, pairs: list[PairView]) -> None:
        self.pairs = pairs
        open_count = sum(1 for v in pairs if v.pair.decision is None)
        self.summary.setText(f"共 {len(pairs)} 对，待核实 {open_count} 对")
        self._show()
        self.loaded.emit()

    def shown_pairs(self) -> list[PairView]:
        return [v for v in self.pairs if not self.open_only.isChecked() or v.pair.decision is None]

    def _show(self) -> None:
        keep = self.selected_pair()
        self.model.load(self.shown_pairs())
        if keep is None or not self.select_pair(*keep.key):
            self._selected()

    def selected_pair(self) -> PairView | None:
        return self.model.item_at(self.table.currentIndex().row())

    def select_pair(self, ledger_id: str, uuid_a: str, uuid_b: str) -> bool:
        wanted = (ledger_id, *sorted((uuid_a, uuid_b)))
        for row, v in enumerate(self.model.items):
            if v.key == wanted:
                self.table.selectRow(row)
                self._selected()
                return True
        return False

    def _selected(self) -> None:
        v = self.selected_pair()
        if v is None:
            self.left_view.clear()
            self.right_view.clear()
        else:
            self.left_view.show_row(v.pair.ledger, v.left.uuid)
            self.right_view.show_row(v.pair.ledger, v.right.uuid)
        self._enable()

    def _enable(self, busy: bool = False) -> None:
        for button in self.buttons.values():
            button.setEnabled(not busy and self.selected_pair() is not None)

    # ------------------------------------------------------------ deciding
    def decide_selected(self, choice: str) -> None:
        """``left`` / ``right``: same person, keep that row; ``different``: not a duplicate."""
        v = self.selected_pair()
        if v is None:
            return
        if choice == "different":
            self.decide(*v.key, "different")
        else:
            self.decide(*v.key, "same", keep=v.left.uuid if choice == "left" else v.right.uuid)

    def decide(self, ledger_id: str, uuid_a: str, uuid_b: str, decision: str,
               keep: str | None = None) -> None:
        """Record core's decision for a pair on the store thread; ``decided`` follows."""
        self._enable(busy=True)
        say(self.message, "正在保存…", GREY)
        self.runner.run(lambda store, progress: decide(store, ledger_id, uuid_a, uuid_b, decision, keep=keep),
                        on_done=lambda _r: self._decided(ledger_id, uuid_a, uuid_b, decision, keep),
                        on_error=self._failed, label="正在保存核实结果…", parent=self)

    def _decided(self, ledger_id, uuid_a, uuid_b, decision, keep) -> None:
        if decision == "different":
            text = "已记为“不是重复”，两条记录都计入进度。"
        else:
            text = "已记为同一人：保留的一条计入进度，另一条不再计入。"
        say(self.message, text, GREEN)
        self.refresh()
        self.decided.emit(ledger_id, uuid_a, uuid_b, decision)
        self.changed.emit()

    def _failed(self, error: BaseException) -> None:
        self._enable()
        if self.summary.text() == "正在查找…":
            self.summary.clear()
        text = failure(self.message, error, self)
        self.failed.emit(text or type(error).__name__)
