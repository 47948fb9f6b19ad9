"""核实意见: the district flags rows of the towns; a town answers each flag.

    reviews = ReviewsPage(runner, reader)     # core.district: flag, reply, list_reviews
    reviews.flag_row(ledger_id, row_uuid, note, status)    # the district
    reviews.reply_row(ledger_id, row_uuid, text)           # a town

At the district the page lists every review with the towns' replies and a form to
write or change one (审核员); at a town it lists the district's reviews of the town's
rows with a form to answer them (the answer travels up in the town's next package).
Each review shows the row's provenance beside it.

For tests: ``refresh``, ``select_review``, ``flag_row``, ``reply_row``; signals
``loaded``, ``flagged``, ``replied`` and ``failed``.
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

from ..core.district import REVIEW_STATUSES, flag, list_reviews, reply
from .district_pages import failure, fmt_time, title_label
from .district_review import ProvenanceView, row_title
from .style import BLUE, GREEN, GREY, RED
from .tables import RowsModel, hint_label, make_table, message_label, say
from .window_size import fit_window

REVIEW_COLUMNS = ("时间", "台账", "记录", "单位", "核实状态", "核实意见", "镇的答复", "核实人")
STATUS_COLORS = {"待核实": BLUE, "退回修改": RED, "已核实": GREEN}


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
                              row_title(led, row) if row else "（本机没有这条记录）",
                              store.orgs.path(r["org"]) if r["org"] else "—"))
    return out


def _review_cells(v: ReviewView) -> list[str]:
    r = v.review
    return [fmt_time(r["_updated"]), v.ledger_label, v.title, v.org_path, r["status"],
            r["note"] or "", r["reply"] or "（未答复）", r["reviewer"] or ""]


class ReviewsPage(QWidget):
    """核实意见: the reviews with the towns' replies and the row's provenance; at the district a
    form to write or change a review, at a town a form to answer one."""

    loaded = Signal()
    flagged = Signal(str)      # review id
    replied = Signal(str)      # row uuid
    failed = Signal(str)

    def __init__(self, runner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.district = reader.node.level == "district"
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
        self.note.returnPressed.connect(self._save_clicked)
        self.save_button = QPushButton()
        self.save_button.clicked.connect(self._save_clicked)
        self.message = message_label()
        form_box = QGroupBox()
        form = QHBoxLayout(form_box)
        if self.district:
            self.note.setPlaceholderText("核实意见：哪里有问题、应如何改正（“已核实”可不填）")
            self.save_button.setText("保存核实意见")
            self.save_button.setProperty("permission", "review")
            form_box.setTitle("修改所选记录的核实意见（随下一个核实意见数据包发给该镇）")
            form.addWidget(QLabel("核实状态"))
            form.addWidget(self.status)
        else:
            self.note.setPlaceholderText("答复：已如何改正，或为什么不需要改，例如“已改正联系电话”")
            self.save_button.setText("保存答复")
            self.save_button.setProperty("permission", "edit")
            form_box.setTitle("答复所选的核实意见（随下一个数据包报给区里）")
            self.status.hide()
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
        top.addWidget(title_label("核实意见" if self.district else "区里的核实意见"))
        top.addWidget(self.summary, 1)
        top.addWidget(self.open_only)
        top.addWidget(self.refresh_button)
        hint = hint_label("在台账中右键一条记录 →“写核实意见…”可对任何记录提出意见；镇改正后的答复随其数据包回来。"
                          if self.district else
                          "区里对本单位记录的核实意见随区里发来的数据包到达。请在台账中改正记录，再在这里写明答复；"
                          "改正和答复随本单位下一个数据包报给区里。")
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
        self.summary.setText(f"共 {len(items)} 条，未核实完毕 {waiting} 条，"
                             f"{'镇已答复' if self.district else '已答复'} {replied} 条")
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
        self.note.setText((v.review["note"] if self.district else v.review["reply"]) or "")
        self.provenance.show_row(v.ledger_id, v.row_uuid)

    # ------------------------------------------------------------ writing
    def _save_clicked(self) -> None:
        v = self.selected_review()
        if v is None:
            return
        if self.district:
            self.flag_row(v.ledger_id, v.row_uuid, self.note.text(), self.status.currentText())
        else:
            self.reply_row(v.ledger_id, v.row_uuid, self.note.text())

    def flag_row(self, ledger_id: str, row_uuid: str, note: str, status: str = "待核实", *,
                 on_done=None, on_error=None) -> None:
        """Flag a row (or change its review) on the store thread; ``flagged(review_id)`` follows.
        ``on_done(review_id)`` / ``on_error(message)`` let a dialog follow its own request."""
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

        self._write(lambda store, progress: flag(store, ledger_id, row_uuid, note=note, status=status),
                    done, failed, "正在保存核实意见…")

    def reply_row(self, ledger_id: str, row_uuid: str, text: str) -> None:
        """Answer the district's review of a row (store thread); ``replied(row_uuid)`` follows."""
        def done(_result) -> None:
            say(self.message, "已保存答复，将随本单位下一个数据包报给区里。", GREEN)
            self.refresh()
            self.replied.emit(row_uuid)

        self._write(lambda store, progress: reply(store, ledger_id, row_uuid, text), done,
                    self._failed, "正在保存答复…")

    def _write(self, work, done, failed, label: str) -> None:
        self.save_button.setEnabled(False)
        say(self.message, "正在保存…", GREY)
        self.runner.run(work, on_done=done, on_error=failed, label=label, parent=self)

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
        what = QLabel(f"{records.ledger.label}：{row_title(records.ledger, row) if row else row_uuid[:8]}"
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
        fit_window(self, "review")

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
