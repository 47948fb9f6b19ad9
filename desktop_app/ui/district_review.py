"""重复计数核实 and 核实意见: the district's review of the towns' rows, with each row's provenance.

    dupes = DuplicatesPage(runner, reader)    # core.duplicates: pairs, decide
    dupes.changed.connect(window.data_changed)  # a decision changes progress
    reviews = ReviewsPage(runner, reader)     # core.reviews: flag, the towns' replies
    reviews.flag_row(ledger_id, row_uuid, note, status)
    view = ProvenanceView(reader)             # core Records.provenance of one row
    view.show(ledger_id, row_uuid)

A pair shows both rows side by side (台账, 姓名, 村/镇, date, status, 跨镇 / 跨年度)
with the ID number masked (:mod:`~desktop_app.core.store.masking`); the buttons record
core's decision ("same" keeping the left or the right row, or "different") on
the runner; decided pairs stay listed, greyed, with the decision. Sensitive
values follow the catalog (a ledger whose every field is sensitive shows *** for
names too). Provenance is a single-row read on the GUI thread's ``reader``.

For tests: ``DuplicatesPage.refresh``, ``select_pair``, ``decide_selected``,
``decide``; ``ReviewsPage.refresh``, ``select_review``, ``flag_row``; signals
``loaded``, ``decided``, ``flagged``, ``changed`` and ``failed``.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.district import REVIEW_STATUSES, DuplicatePair, decide, find_duplicates, flag, list_reviews
from ..core.errors import StoreError
from ..core.store import mask_value
from .district_pages import failure, fmt_time, title_label
from .style import BLUE, GREEN, GREY, RED
from .tables import RowsModel, make_table, message_label, say

KIND_WORDS = {"cross_town": "跨镇", "cross_year": "跨年度"}
KIND_TIPS = {"cross_town": "同一人同一年度在两个镇各计了一次",
             "cross_year": "这本台账每人只计一次（如两癌：上一年已检查的不再重复检查），"
                           "这个人在两个年度各有一条"}
PAIR_COLUMNS = ("台账", "类型", "身份证号", "左：姓名", "左：村/镇", "左：日期", "左：状态",
                "右：姓名", "右：村/镇", "右：日期", "右：状态", "核实结果")
OPEN_WORD = "待核实"
CHOICES = {"left": "同一人，保留左边", "right": "同一人，保留右边", "different": "不是重复"}
REVIEW_COLUMNS = ("时间", "台账", "记录", "单位", "核实状态", "核实意见", "镇的答复", "核实人")
STATUS_COLORS = {"待核实": BLUE, "退回修改": RED, "已核实": GREEN}
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


def _title(led, row: dict) -> str:
    """A row's name in lists: its title field (masked where the catalog says it is sensitive)."""
    fid = led.title_field or led.fields[0].id
    value = row.get(fid)
    if value is None:
        return row["uuid"][:8]
    return str(mask_value(led.field(fid).type, value) if led.is_sensitive(fid) else value)


class ProvenanceView(QWidget):
    """Where one row came from: 录入单位, 录入人, 录入时间, 经由的数据包 (core's provenance).

    ``show(ledger_id, row_uuid)`` fills it; ``show()`` without arguments is QWidget.show."""

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

    def show(self, ledger_id: str | None = None, row_uuid: str | None = None) -> None:  # noqa: A003
        if ledger_id is None and row_uuid is None:
            super().show()
            return
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
        self.values["记录"].setText(f"{records.ledger.label}：{_title(records.ledger, row)}{deleted}")
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
    link = led.persons[0]
    row = store.ledger(led.id).get(found["uuid"]) or {}
    id_field = link.fields.get("id_number")
    name_field = link.fields.get("name")
    number = row.get(id_field) if id_field else None
    name = row.get(name_field) if name_field else found.get("name")
    if name_field and name is not None and led.is_sensitive(name_field):
        name = mask_value(led.field(name_field).type, name)
    status = (found.get("status") or "—") + ("（待补充）" if found.get("incomplete") else "")
    return Side(found["uuid"], str(name or "—"),
                str(mask_value(led.field(id_field).type, number) or "—") if id_field else "—",
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
        hint = QLabel("同一人（按身份证号）在两个镇、或在只计一次的台账的两个年度各有一条记录。"
                      "确认是同一人时保留一条，另一条不再计入进度；记录本身不会删除。")
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color: {GREY}")
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
            self.left_view.show(v.pair.ledger, v.left.uuid)
            self.right_view.show(v.pair.ledger, v.right.uuid)
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


# ---------------------------------------------------------------- reviews

@dataclass(frozen=True)
class ReviewView:
    review: dict
    ledger_label: str
    title: str
    org_path: str

    @property
    def ledger_id(self) -> str:
        return self.review["ledger"]

    @property
    def row_uuid(self) -> str:
        return self.review["row_uuid"]


def read_reviews(store, open_only: bool = False) -> list[ReviewView]:
    """core's reviews with the row's name and place (store thread)."""
    out = []
    for r in list_reviews(store, open_only=open_only):
        led = store.catalog.find_ledger(r["ledger"])
        row = store.ledger(led.id).get(r["row_uuid"]) if led else None
        out.append(ReviewView(r, led.label if led else r["ledger"],
                              _title(led, row) if row else "（本机没有这条记录）",
                              store.orgs.path(r["org"]) if r["org"] else "—"))
    return out


def _review_cells(v: ReviewView) -> list[str]:
    r = v.review
    return [fmt_time(r["_updated"]), v.ledger_label, v.title, v.org_path, r["status"],
            r["note"] or "", r["reply"] or "（未答复）", r["reviewer"] or ""]


class ReviewsPage(QWidget):
    """核实意见: every review, the towns' replies, the form to write one, the row's provenance."""

    loaded = Signal()
    flagged = Signal(str)      # review id
    failed = Signal(str)

    def __init__(self, runner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.model = RowsModel(REVIEW_COLUMNS, _review_cells,
                               colors=lambda v: {4: STATUS_COLORS.get(v.review["status"]),
                                                 6: GREY if not v.review["reply"] else None},
                               tips=lambda v: {5: v.review["note"], 6: v.review["reply"]}, parent=self)
        self.summary = QLabel()
        self.open_only = QCheckBox("只看未核实完毕的")
        self.open_only.toggled.connect(lambda _on: self.refresh())
        self.refresh_button = QPushButton("刷新")
        self.refresh_button.clicked.connect(self.refresh)
        self.table = make_table(self.model, (130, 150, 90, 150, 70, 240, 200))
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self.status = QComboBox()
        self.status.addItems(REVIEW_STATUSES)
        self.note = QLineEdit()
        self.note.setPlaceholderText("核实意见：哪里有问题、应如何改正（“已核实”可不填）")
        self.note.returnPressed.connect(self._save_clicked)
        self.save_button = QPushButton("保存核实意见")
        self.save_button.setProperty("permission", "review")
        self.save_button.clicked.connect(self._save_clicked)
        self.message = message_label()
        form_box = QGroupBox("修改所选记录的核实意见（随下一个核实意见数据包发给该镇）")
        form = QHBoxLayout(form_box)
        form.addWidget(QLabel("核实状态"))
        form.addWidget(self.status)
        form.addWidget(self.note, 1)
        form.addWidget(self.save_button)
        self.provenance = ProvenanceView(reader)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(form_box)
        left_layout.addWidget(self.message)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self.provenance)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([860, 420])
        self.provenance.setMinimumWidth(320)
        top = QHBoxLayout()
        top.addWidget(title_label("核实意见"))
        top.addWidget(self.summary, 1)
        top.addWidget(self.open_only)
        top.addWidget(self.refresh_button)
        hint = QLabel("在台账中右键一条记录 →“写核实意见…”可对任何记录提出意见；镇改正后的答复随其数据包回来。")
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color: {GREY}")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint)
        layout.addWidget(split, 1)
        self._selected()

    # ------------------------------------------------------------ reading
    def refresh(self) -> None:
        open_only = self.open_only.isChecked()
        self.summary.setText("正在读取…")
        self.runner.run(lambda store, progress: read_reviews(store, open_only), on_done=self._loaded,
                        on_error=self._failed, label="正在读取核实意见…", parent=self)

    def _loaded(self, items: list[ReviewView]) -> None:
        keep = self.selected_review()
        self.model.load(items)
        replied = sum(1 for v in items if v.review["reply"])
        waiting = sum(1 for v in items if v.review["status"] != "已核实")
        self.summary.setText(f"共 {len(items)} 条，未核实完毕 {waiting} 条，镇已答复 {replied} 条")
        if keep is None or not self.select_review(keep.ledger_id, keep.row_uuid):
            self._selected()
        self.loaded.emit()

    def selected_review(self) -> ReviewView | None:
        return self.model.item_at(self.table.currentIndex().row())

    def select_review(self, ledger_id: str, row_uuid: str) -> bool:
        for row, v in enumerate(self.model.items):
            if v.ledger_id == ledger_id and v.row_uuid == row_uuid:
                self.table.selectRow(row)
                self._selected()
                return True
        return False

    def _selected(self) -> None:
        v = self.selected_review()
        self.save_button.setEnabled(v is not None)
        if v is None:
            self.provenance.clear()
            return
        self.status.setCurrentText(v.review["status"])
        self.note.setText(v.review["note"] or "")
        self.provenance.show(v.ledger_id, v.row_uuid)

    # ------------------------------------------------------------ writing
    def _save_clicked(self) -> None:
        v = self.selected_review()
        if v is not None:
            self.flag_row(v.ledger_id, v.row_uuid, self.note.text(), self.status.currentText())

    def flag_row(self, ledger_id: str, row_uuid: str, note: str, status: str = "待核实", *,
                 on_done=None, on_error=None) -> None:
        """Flag a row (or change its review) on the store thread; ``flagged(review_id)`` follows.
        ``on_done(review_id)`` / ``on_error(message)`` let a dialog follow its own request."""
        self.save_button.setEnabled(False)
        say(self.message, "正在保存…", GREY)

        def done(rid: str) -> None:
            say(self.message, f"已保存核实意见（{status}），将随下一个核实意见数据包发给该镇。", GREEN)
            self.refresh()
            self.flagged.emit(rid)
            if on_done is not None:
                on_done(rid)

        def failed(error: BaseException) -> None:
            self._failed(error)
            if on_error is not None:
                on_error(self.message.text())

        self.runner.run(lambda store, progress: flag(store, ledger_id, row_uuid,
                                                                  note=note, status=status),
                        on_done=done, on_error=failed, label="正在保存核实意见…", parent=self)

    def ask_flag(self, ledger_id: str, row_uuid: str, parent: QWidget | None = None) -> "ReviewDialog":
        """The small 写核实意见 dialog for a row (from the ledger's context menu)."""
        dialog = ReviewDialog(self, ledger_id, row_uuid, parent or self.window())
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(self.selected_review() is not None)
        if self.summary.text() == "正在读取…":
            self.summary.clear()
        text = failure(self.message, error, self)
        self.failed.emit(text or type(error).__name__)


class ReviewDialog(QDialog):
    """写核实意见 for one row: status and note; stays open with core's message if refused."""

    saved = Signal(str)   # review id

    def __init__(self, page: ReviewsPage, ledger_id: str, row_uuid: str, parent=None):
        super().__init__(parent)
        self.page, self.ledger_id, self.row_uuid = page, ledger_id, row_uuid
        self.setWindowTitle("写核实意见")
        self.setMinimumWidth(480)
        reader = page.reader
        records = reader.ledger(ledger_id)
        row = records.get(row_uuid)
        what = QLabel(f"{records.ledger.label}：{_title(records.ledger, row) if row else row_uuid[:8]}"
                      f"（{reader.orgs.path(row['org']) if row else '—'}）")
        what.setWordWrap(True)
        self.status = QComboBox()
        self.status.addItems(REVIEW_STATUSES)
        self.note = QLineEdit()
        self.note.setPlaceholderText("哪里有问题、应如何改正，例如：电话号码疑似错误，请核实")
        existing = list_reviews(reader, row_uuids=[row_uuid])
        if existing:
            self.status.setCurrentText(existing[0]["status"])
            self.note.setText(existing[0]["note"] or "")
        self.message = message_label()
        self.ok = QPushButton("保存")
        self.ok.setDefault(True)
        self.ok.clicked.connect(self._save)
        cancel = QPushButton("取消")
        cancel.clicked.connect(self.reject)
        form = QFormLayout()
        form.addRow("核实状态：", self.status)
        form.addRow("核实意见：", self.note)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.ok)
        buttons.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(what)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    _saving = False

    def _save(self) -> None:
        self._saving = True
        self.ok.setEnabled(False)
        say(self.message, "正在保存…", GREY)
        self.page.flag_row(self.ledger_id, self.row_uuid, self.note.text(), self.status.currentText(),
                           on_done=self._saved, on_error=self._refused)

    def reject(self) -> None:
        if not self._saving:   # the answer is on its way: wait for it
            super().reject()

    def _saved(self, rid: str) -> None:
        self._saving = False
        self.saved.emit(rid)
        self.accept()

    def _refused(self, text: str) -> None:
        self._saving = False
        self.ok.setEnabled(True)
        say(self.message, text or "没有保存", RED)
