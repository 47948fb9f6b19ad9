"""The 接收 tab of the 同步中心: package files picked or dropped on the page, imported
(or dry-run) through core's batch import (:func:`~desktop_app.core.batch.import_packages`,
as the command line does: one backup, each file in its own transaction, a refused
file is that file's result and the others go ahead); then the import history and,
per source, the numbers received and the gaps. Packages held (not applied yet) are
listed with their reason; a 管理员 may discard one (丢弃…, core's ``discard_held``).

For tests: ``discard_held_package(package_id)`` and the signal ``held_discarded``; the
question before discarding is the small method ``_ask_discard``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.batch import BatchSummary, import_packages
from ..core.sync import (
    COUNTS,
    PACKAGE_SUFFIX,
    HeldPackage,
    ImportSummary,
    ReceivedPackage,
    SourceStatus,
    counts_text,
    discard_held,
    ledger_label,
    ranges_text,
)
from .style import AMBER, BLUE, GREEN, GREY, RED
from .sync_state import SyncJobs, SyncState, short_time
from .tables import RowsModel, make_table, message_label, say, selected_item

COUNT_LABELS = {"new": "新增", "updated": "更新", "unchanged": "未变", "older": "较旧",
                "deleted": "删除", "conflicts": "冲突", "rejected": "拒收"}
RESULT_COLUMNS = ("文件", "结果", "台账", *(COUNT_LABELS[k] for k in COUNTS))
HISTORY_COLUMNS = ("时间", "来源单位", "序号", "类型", "结果", "行数", "文件")
SOURCE_COLUMNS = ("来源单位", "已收到的序号", "缺失")
HELD_COLUMNS = ("文件", "来源单位", "序号", "暂存原因", "暂存时间")
TOTAL_LABEL = "合计"
PACKAGE_RESULTS = {"imported": ("已导入", GREEN), "dry-run": ("试导入（未写入）", BLUE),
                   "already": ("已导入过", GREY), "refused": ("已拒收", RED),
                   "held": ("已暂存，未导入", AMBER),
                   "failed": ("出错，未导入", RED), "cancelled": ("已取消，未导入", GREY)}
HISTORY_STATUS = {"imported": "已导入"}
PACKAGE_FILTER = f"数据包 (*{PACKAGE_SUFFIX});;所有文件 (*)"


@dataclass(frozen=True)
class ResultRow:
    """One line of the receive results: a file's counts for one ledger, its total, or its status."""

    summary: ImportSummary
    ledger: str | None = None           # ledger label, 合计, or None for a file without counts
    counts: dict | None = None


def result_rows(reader, summaries: list[ImportSummary]) -> list[ResultRow]:
    rows = []
    for s in summaries:
        if not s.counts:
            rows.append(ResultRow(s))
            continue
        rows += [ResultRow(s, ledger_label(reader, key), c) for key, c in s.counts.items()]
        if len(s.counts) > 1:
            rows.append(ResultRow(s, TOTAL_LABEL, s.totals()))
    return rows


def package_notes(summaries: list[ImportSummary]) -> list[str]:
    """Per file: refusals and gaps in red, warnings in amber, other messages plain (rich text)."""
    def line(text: str, color: str) -> str:
        return f"<span style='color: {color}'>{html.escape(text)}</span>"
    out = []
    for s in summaries:
        if s.status == "refused":
            out.append(line(f"{s.file}：已拒收。{s.message}", RED))
        elif s.status == "held":
            out.append(line(f"{s.file}：已暂存，未导入。{s.message}", AMBER))
        elif s.status == "dry-run":
            out.append(line(f"{s.file}：试导入，没有写入任何内容。", BLUE))
        elif s.status != "imported":
            out.append(line(f"{s.file}：{s.message}", PACKAGE_RESULTS[s.status][1]))
        if s.files:
            verb = "带有" if s.status == "dry-run" else "收到"
            out.append(line(f"{s.file}：{verb}附件（照片、扫描件）{s.files} 个，均已核对校验值。", GREEN))
        out += [line(f"{s.file}：{g}", RED) for g in s.gaps]
        out += [line(f"{s.file}：{w}", AMBER) for w in s.warnings]
    return out


class ReceiveTab(QWidget):
    """接收."""

    packages_imported = Signal(object)      # list[core.sync.ImportSummary]
    held_discarded = Signal(object)         # core.sync.HeldPackage discarded

    def __init__(self, jobs: SyncJobs, reader, ask_files, parent=None):
        """``ask_files(title, filter)`` is the page's file chooser."""
        super().__init__(parent)
        self.jobs, self.reader = jobs, reader
        self._ask_files = ask_files
        self.receive_button = QPushButton("导入数据包…")
        self.receive_button.setToolTip("可一次选多个数据包；每个文件单独导入，一个被拒收不影响其他文件")
        self.receive_button.clicked.connect(self._import_packages_clicked)
        self.dry_run = QCheckBox("试导入（只显示结果，不写入）")
        drop_hint = QLabel(f"也可以把数据包文件（{PACKAGE_SUFFIX}）拖到这一页上。")
        drop_hint.setStyleSheet(f"color: {GREY}")
        row = QHBoxLayout()
        row.addWidget(self.receive_button)
        row.addWidget(self.dry_run)
        row.addWidget(drop_hint)
        row.addStretch(1)
        self.result_model = RowsModel(RESULT_COLUMNS, self._result_cells, colors=self._result_colors,
                                      tips=self._result_tips, parent=self)
        self.result_table = make_table(self.result_model)
        self.result_table.setColumnWidth(0, 320)
        self.result_table.setColumnWidth(2, 140)
        self.result_notes = message_label()
        self.result_notes.setTextFormat(Qt.RichText)
        results = QGroupBox("本次导入的结果")
        box = QVBoxLayout(results)
        box.addWidget(self.result_table, 1)
        box.addWidget(self.result_notes)
        self.history_model = RowsModel(HISTORY_COLUMNS, self._history_cells, tips=self._history_tips,
                                       parent=self)
        self.history_table = make_table(self.history_model, widths=(150, 140, 80, 80, 80, 260))
        history = QGroupBox("导入记录")
        QVBoxLayout(history).addWidget(self.history_table)
        self.sources_model = RowsModel(SOURCE_COLUMNS, self._source_cells, colors=self._source_colors,
                                       parent=self)
        self.sources_table = make_table(self.sources_model, widths=(160, 200))
        received = QGroupBox("各单位已收到的数据包")
        QVBoxLayout(received).addWidget(self.sources_table)
        self.held_model = RowsModel(HELD_COLUMNS, self._held_cells, tips=self._held_tips, parent=self)
        self.held_table = make_table(self.held_model, widths=(260, 120, 60, 140))
        self.held_box = QGroupBox("暂存的数据包（未导入；原因消除后自动导入）")
        self.discard_button = QPushButton("丢弃…")
        self.discard_button.setProperty("permission", "admin")
        self.discard_button.setToolTip("管理员：丢弃选中的暂存数据包（记入审计日志）；需要时请对方重发")
        self.discard_button.clicked.connect(self._discard_clicked)
        box = QHBoxLayout(self.held_box)         # the button beside the table: the page stays as tall
        box.addWidget(self.held_table, 1)
        side = QVBoxLayout()
        side.addWidget(self.discard_button)
        side.addStretch(1)
        box.addLayout(side)
        self.held_box.hide()                     # shown while packages are held
        split = QSplitter(Qt.Vertical)
        for w in (results, self.held_box, history, received):
            split.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        jobs.state_read.connect(self.show_state)
        jobs.busy_changed.connect(self._set_busy)

    def _set_busy(self, busy: bool) -> None:
        self.receive_button.setEnabled(not busy)
        self.discard_button.setEnabled(not busy)

    # ------------------------------------------------------------ shown
    def show_state(self, state: SyncState) -> None:
        self.history_model.load(state.received)
        self.sources_model.load(state.sources)
        self.held_model.load(list(state.held))
        self.held_box.setVisible(bool(state.held))

    def _held_cells(self, h: HeldPackage) -> tuple:
        org = self.reader.orgs.get(h.source_org)
        seqs = "" if h.seq_from is None else (str(h.seq_from) if h.seq_from == h.seq_to else f"{h.seq_from}–{h.seq_to}")
        return (h.file, org.name if org else h.source_org, seqs, h.reason_text, short_time(h.held))

    @staticmethod
    def _held_tips(h: HeldPackage) -> dict:
        return {3: h.message, 0: h.message}

    @staticmethod
    def _result_cells(r: ResultRow) -> tuple:
        counts = tuple(f"{r.counts[k]:,}" for k in COUNTS) if r.counts is not None else ("",) * len(COUNTS)
        return (r.summary.file, PACKAGE_RESULTS[r.summary.status][0], r.ledger or "", *counts)

    @staticmethod
    def _result_colors(r: ResultRow) -> dict:
        colors = {1: PACKAGE_RESULTS[r.summary.status][1]}
        if r.counts is not None:
            first = 3
            if r.counts["conflicts"]:
                colors[first + COUNTS.index("conflicts")] = AMBER
            if r.counts["rejected"]:
                colors[first + COUNTS.index("rejected")] = RED
        return colors

    @staticmethod
    def _result_tips(r: ResultRow) -> dict:
        return {1: r.summary.message} if r.summary.message else {}

    @staticmethod
    def _history_cells(p: ReceivedPackage) -> tuple:
        return (short_time(p.handled), p.source, p.seqs, p.kind, HISTORY_STATUS.get(p.status, p.status),
                f"{sum(p.counts.values()):,}", p.file)

    def _history_tips(self, p: ReceivedPackage) -> dict:
        return {5: counts_text(self.reader, p.counts), 6: p.file}

    @staticmethod
    def _source_cells(s: SourceStatus) -> tuple:
        return (s.org_name, ranges_text(s.received), "；".join(s.gaps) or ("不再报缺" if s.replaced else "无"))

    @staticmethod
    def _source_colors(s: SourceStatus) -> dict:
        return {2: GREY if s.replaced else RED if s.gaps else GREEN}

    # ------------------------------------------------------------ discarding a held package
    def selected_held(self) -> HeldPackage | None:
        return selected_item(self.held_table)

    def _discard_clicked(self) -> None:
        package = self.selected_held()
        if package is None:
            say(self.result_notes, "请先在“暂存的数据包”中选择要丢弃的数据包", RED)
            return
        if self._ask_discard(package):
            self.discard_held_package(package.package_id)

    def _ask_discard(self, package: HeldPackage) -> bool:
        """Whether to discard ``package`` (tests replace it)."""
        return QMessageBox.question(
            self, "丢弃暂存的数据包", f"丢弃暂存的数据包 {package.file}（{package.reason_text}）？\n\n"
            "丢弃后其中的数据不会导入；需要时请对方重发。") == QMessageBox.Yes

    def discard_held_package(self, package_id: str) -> None:
        """Discard a held package on the store thread; ``held_discarded(package)`` follows."""
        self.jobs.run(lambda store, progress: discard_held(store, package_id), on_done=self._discarded,
                      on_error=lambda e: self.jobs.fail(self.result_notes, e), label="正在丢弃…", parent=self)

    def _discarded(self, package: HeldPackage) -> None:
        say(self.result_notes, f"已丢弃暂存的数据包 {package.file}。", AMBER)
        self.jobs.changed.emit()
        self.held_discarded.emit(package)

    # ------------------------------------------------------------ receiving
    def _import_packages_clicked(self) -> None:
        paths = self._ask_files("选择要导入的数据包", PACKAGE_FILTER)
        if paths:
            self.import_packages(paths, dry_run=self.dry_run.isChecked())

    def import_packages(self, paths, dry_run: bool = False) -> None:
        """Import (or, with ``dry_run``, only check) package files through core's batch
        import on the store thread; ``packages_imported(summaries)`` follows."""
        paths = [Path(p) for p in paths]
        self.result_model.load([])
        say(self.result_notes, "正在导入…")
        self.jobs.run(lambda store, progress: import_packages(store, paths, dry_run=dry_run, progress=progress),
                      on_done=self._packages_done, on_error=lambda e: self.jobs.fail(self.result_notes, e),
                      label="正在试导入数据包…" if dry_run else "正在导入数据包…", parent=self)

    def _packages_done(self, summary: BatchSummary) -> None:
        summaries = [f.package for f in summary.files]
        self.result_model.load(result_rows(self.reader, summaries))
        self.result_notes.setTextFormat(Qt.RichText)
        self.result_notes.setText("<br>".join(package_notes(summaries)))
        self.result_notes.setStyleSheet("")
        if any(s.status == "imported" for s in summaries):
            self.jobs.changed.emit()
        self.packages_imported.emit(summaries)
