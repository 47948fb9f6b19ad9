"""同步中心: profiles, sending and receiving packages, and the conflicts queue.

    page = SyncPage(runner, reader)
    page.changed.connect(window.data_changed)   # an import or a resolution wrote rows
    page.refresh()

Four tabs. 单位与配置文件: this install's unit and fingerprint, exporting its
profile, importing other installs' profiles (a changed key is refused until
a 管理员 ticks 我已电话核对新指纹，接受) and the peers known. 发送: the known
peers (the level above first, the default) with the last package sent to each,
and incremental, full and resend packages written to a chosen folder. 接收:
package files picked or dropped on the page, each imported (or dry-run) in
its own transaction; a refused file is that file's result and the others go
ahead; then the import history and, per source, the numbers received and the
gaps. 冲突: the conflicts queue, masked unless 显示敏感信息 (audited).

Every decision is core's (:mod:`~desktop_app.core.sync`,
:mod:`~desktop_app.core.sync.profiles`); every write runs on the runner's store
thread; the tables are read through the read-only ``reader``
(:mod:`~desktop_app.core.sync.status`). Results and refusals are shown on the
page, not in modal boxes.

For tests (no real modal dialogs): ``export_profile_to``, ``import_profiles``,
``export_package_to``, ``import_packages``, ``resolve``, ``set_reveal`` and the
signals ``profile_exported``, ``profiles_imported``, ``package_exported``,
``packages_imported``, ``resolved`` and ``failed``; ``accept_boxes`` holds the
checkbox of each file refused for a changed key. The choosers are the small
methods ``_ask_folder`` and ``_ask_files``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import StoreError
from ..core.sync import (
    COUNTS,
    KIND_NAMES,
    PACKAGE_SUFFIX,
    PROFILE_SUFFIX,
    ConflictView,
    Destination,
    Exported,
    ImportSummary,
    KeyChanged,
    PackageError,
    PeerInfo,
    ProfileError,
    ReceivedPackage,
    SourceStatus,
    conflict_views,
    counts_text,
    destinations,
    export_package,
    export_profile,
    identity,
    import_package,
    import_profile,
    ledger_label,
    level_name,
    peer_list,
    ranges_text,
    read_profile,
    received_packages,
    resolve_conflict,
    sources,
    spaced_fingerprint,
)
from .errors import failure_text, show_error
from .reveal import RevealControl
from .style import AMBER, BLUE, GREEN, GREY, RED
from .tables import RowsModel, make_table, message_label
from .tasks import Cancelled

SOURCE = "screen:conflicts"
PEER_COLUMNS = ("单位", "级别", "指纹", "登记时间", "状态")
DEST_COLUMNS = ("单位", "级别", "已发到第几号", "上次发送", "上次的文件", "行数")
COUNT_LABELS = {"new": "新增", "updated": "更新", "unchanged": "未变", "older": "较旧",
                "deleted": "删除", "conflicts": "冲突", "rejected": "拒收"}
RESULT_COLUMNS = ("文件", "结果", "台账", *(COUNT_LABELS[k] for k in COUNTS))
HISTORY_COLUMNS = ("时间", "来源单位", "序号", "类型", "结果", "行数", "文件")
SOURCE_COLUMNS = ("来源单位", "已收到的序号", "缺失")
CONFLICT_COLUMNS = ("台账", "记录", "字段", "本机的值", "对方的值", "说明")
TOTAL_LABEL = "合计"
PACKAGE_RESULTS = {"imported": ("已导入", GREEN), "dry-run": ("试导入（未写入）", BLUE),
                   "already": ("已导入过", GREY), "refused": ("已拒收", RED),
                   "failed": ("出错，未导入", RED), "cancelled": ("已取消，未导入", GREY)}
PROFILE_RESULTS = {"added": ("已登记", GREEN), "updated": ("已更新", GREEN),
                   "unchanged": ("已是最新", GREY), "older": ("比已有的旧", AMBER),
                   "replaced": ("已接受新指纹", GREEN), "key_changed": ("指纹不符，未导入", RED),
                   "refused": ("无法使用", RED), "failed": ("出错，未导入", RED),
                   "cancelled": ("已取消，未导入", GREY)}
HISTORY_STATUS = {"imported": "已导入"}
DELETE_NOTE = "对方在删除前后改过此记录"
FIELD_NOTE = "双方同时改过此字段，“本机的值”是现在使用的值"
ACCEPT_TEXT = "我已电话核对新指纹，接受"
PACKAGE_FILTER = f"数据包 (*{PACKAGE_SUFFIX});;所有文件 (*)"
PROFILE_FILTER = f"配置文件 (*{PROFILE_SUFFIX});;所有文件 (*)"


def _time(iso: str) -> str:
    return iso.replace("T", " ")[:19]


def _say(label: QLabel, text: str, color: str) -> None:
    label.setText(text)
    label.setStyleSheet(f"color: {color}")


def _fingerprint_label(text: str = "") -> QLabel:
    """A fingerprint large and spaced, to be read aloud over the phone."""
    label = QLabel(spaced_fingerprint(text) if text else "")
    font = QFont("monospace")
    font.setStyleHint(QFont.Monospace)
    font.setPointSize(18)
    font.setBold(True)
    font.setLetterSpacing(QFont.AbsoluteSpacing, 2)
    label.setFont(font)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


# ---------------------------------------------------------------- the work (store thread)

@dataclass(frozen=True)
class ProfileOutcome:
    """What importing one profile file did."""

    path: Path
    status: str             # added updated unchanged older replaced key_changed refused failed cancelled
    message: str = ""
    org_name: str = ""
    level: str = ""         # 镇级 …
    fingerprint: str = ""
    changed: bool = False   # units added or the plan adopted

    @property
    def status_text(self) -> str:
        return PROFILE_RESULTS[self.status][0]


def _import_profile(store, path: Path, accept_new_key: bool) -> ProfileOutcome:
    try:
        r = import_profile(store, path, accept_new_key=accept_new_key)
    except KeyChanged as exc:
        profile = read_profile(path)
        return ProfileOutcome(path, "key_changed", str(exc), profile.body.get("org_name", profile.org),
                              level_name(profile.level), profile.fingerprint)
    except ProfileError as exc:
        return ProfileOutcome(path, "refused", str(exc))
    except Exception as exc:  # noqa: BLE001 — whatever stops this file is this file's result
        return ProfileOutcome(path, "failed", failure_text(exc))
    notes = []
    if r["orgs_added"]:
        notes.append(f"新增单位 {r['orgs_added']} 个")
    if r["catalog_adopted"]:
        notes.append("已采用上级发来的计划目录，重新打开程序后界面显示新计划")
    return ProfileOutcome(path, r["status"], "；".join(notes), r["org_name"], level_name(r["level"]),
                          r["fingerprint"], bool(r["orgs_added"] or r["catalog_adopted"]))


def _export_profile(folder: Path):
    def op(store, progress):
        folder.mkdir(parents=True, exist_ok=True)
        return export_profile(store, folder)
    return op


def _each_file(paths: list[Path], one, cancelled):
    """The store-thread work of importing ``paths`` one by one (each its own transaction):
    ``one(store, path)`` gives a file's outcome, ``cancelled(path)`` the outcome of a file
    not reached when the user cancelled."""
    def op(store, progress):
        done = []
        for i, path in enumerate(paths):
            try:
                progress(i, len(paths), f"正在导入 {path.name}（{i + 1}/{len(paths)}）…")
            except Cancelled:
                return done + [cancelled(p) for p in paths[i:]]
            done.append(one(store, path))
        return done
    return op


def _import_profiles(paths: list[Path], accept_new_key: bool):
    return _each_file(paths, lambda store, path: _import_profile(store, path, accept_new_key),
                      lambda path: ProfileOutcome(path, "cancelled"))


def _import_packages(paths: list[Path], dry_run: bool):
    backed_up = False   # one backup before the first package written, not one per package

    def one(store, path: Path) -> ImportSummary:
        nonlocal backed_up
        try:
            summary = import_package(store, path, dry_run=dry_run, backup=not backed_up)
        except PackageError as exc:
            return ImportSummary(path.name, "refused", message=str(exc))
        except Exception as exc:  # noqa: BLE001 — one transaction per file: nothing of it was written
            return ImportSummary(path.name, "failed", message=failure_text(exc))
        backed_up = backed_up or summary.status == "imported"
        return summary
    return _each_file(paths, one, lambda path: ImportSummary(
        path.name, "cancelled", message="导入前已取消，未写入任何内容"))


@dataclass(frozen=True)
class ResultRow:
    """One line of the receive results: a file's counts for one ledger, its total, or its status."""

    summary: ImportSummary
    ledger: str | None = None           # ledger label, 合计, or None for a file without counts
    counts: dict | None = None


def _result_rows(reader, summaries: list[ImportSummary]) -> list[ResultRow]:
    rows = []
    for s in summaries:
        if not s.counts:
            rows.append(ResultRow(s))
            continue
        rows += [ResultRow(s, ledger_label(reader, key), c) for key, c in s.counts.items()]
        if len(s.counts) > 1:
            rows.append(ResultRow(s, TOTAL_LABEL, s.totals()))
    return rows


# ---------------------------------------------------------------- the page

class SyncPage(QWidget):
    """同步中心; ``changed`` after an import or a resolution changed data."""

    changed = Signal()
    profile_exported = Signal(str)          # the profile file's path
    profiles_imported = Signal(object)      # list[ProfileOutcome]
    package_exported = Signal(object)       # core.sync.Exported
    packages_imported = Signal(object)      # list[core.sync.ImportSummary]
    resolved = Signal(int)                  # the conflict's id
    failed = Signal(str)                    # an operation did not finish; the message is on the page

    def __init__(self, runner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.profile_outcomes: list[ProfileOutcome] = []
        self.accept_boxes: dict[Path, QCheckBox] = {}
        self.conflicts: list[ConflictView] = []
        self._running = 0
        title = QLabel("同步中心")
        title.setStyleSheet("font-size: 16px; font-weight: bold")
        self.refresh_button = QPushButton("刷新")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        self.tabs = QTabWidget()
        self.profiles_tab = self.tabs.addTab(self._profiles_tab(), "单位与配置文件")
        self.send_tab = self.tabs.addTab(self._send_tab(), "发送")
        self.receive_tab = self.tabs.addTab(self._receive_tab(), "接收")
        self.conflicts_tab = self.tabs.addTab(self._conflicts_tab(), "冲突")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.setAcceptDrops(True)
        self.refresh()

    # ------------------------------------------------------------ layout
    def _profiles_tab(self) -> QWidget:
        self.unit_label = QLabel()
        self.unit_label.setStyleSheet("font-size: 15px; font-weight: bold")
        self.own_fingerprint = _fingerprint_label()
        self.export_profile_button = QPushButton("导出本机配置文件…")
        self.export_profile_button.setProperty("permission", "admin")
        self.export_profile_button.setToolTip("把本机的单位和公钥写成配置文件，交给上级或下级单位导入")
        self.export_profile_button.clicked.connect(self._export_profile_clicked)
        self.profile_message = message_label()
        own = QGroupBox("本机")
        box = QVBoxLayout(own)
        box.addWidget(self.unit_label)
        box.addWidget(QLabel("本机指纹（对方导入本机的配置文件时，请与对方电话核对）："))
        box.addWidget(self.own_fingerprint)
        row = QHBoxLayout()
        row.addWidget(self.export_profile_button)
        row.addWidget(self.profile_message, 1)
        box.addLayout(row)
        self.import_profile_button = QPushButton("导入配置文件…")
        self.import_profile_button.setProperty("permission", "admin")
        self.import_profile_button.setToolTip("导入上级或下级单位发来的配置文件（可一次选多个），"
                                              "然后电话核对显示的指纹")
        self.import_profile_button.clicked.connect(self._import_profiles_clicked)
        self.profile_results = QWidget()
        self.profile_results_layout = QVBoxLayout(self.profile_results)
        self.profile_results_layout.setContentsMargins(0, 0, 0, 0)
        self.profile_results_layout.setSizeConstraint(QLayout.SetMinimumSize)   # scroll, never squash
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(self.profile_results)
        self._show_profile_outcomes()
        imports = QGroupBox("导入别的单位的配置文件")
        box = QVBoxLayout(imports)
        row = QHBoxLayout()
        row.addWidget(self.import_profile_button)
        row.addStretch(1)
        box.addLayout(row)
        box.addWidget(scroll, 1)
        self.peers_model = RowsModel(PEER_COLUMNS, self._peer_cells, colors=self._peer_colors, parent=self)
        self.peers_table = make_table(self.peers_model)
        for col, width in enumerate((160, 90, 330, 150)):
            self.peers_table.setColumnWidth(col, width)
        known = QGroupBox("已登记的单位")
        QVBoxLayout(known).addWidget(self.peers_table)
        split = QSplitter(Qt.Vertical)
        split.addWidget(imports)
        split.addWidget(known)
        split.setSizes([360, 200])
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(own)
        layout.addWidget(split, 1)
        return page

    def _send_tab(self) -> QWidget:
        hint = QLabel("选择收件单位（默认是上级单位），再生成数据包，存到 U 盘等位置交给对方导入。")
        hint.setWordWrap(True)
        self.dest_model = RowsModel(DEST_COLUMNS, self._dest_cells, tips=self._dest_tips, parent=self)
        self.dest_table = make_table(self.dest_model)
        for col, width in enumerate((180, 90, 100, 150, 360)):
            self.dest_table.setColumnWidth(col, width)
        self.dest_table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.no_peers_label = message_label()
        self.incremental_button = QPushButton("生成增量数据包…")
        self.incremental_button.setToolTip("本机自上次给该单位发包以来新增、修改和删除的记录")
        self.incremental_button.clicked.connect(lambda: self._export_clicked(full=False))
        self.full_button = QPushButton("全量包…")
        self.full_button.setToolTip("本机的全部记录：首次上报，或对方数据丢失后恢复时使用")
        self.full_button.clicked.connect(lambda: self._export_clicked(full=True))
        self.resend_from = QSpinBox()
        self.resend_to = QSpinBox()
        for spin in (self.resend_from, self.resend_to):
            spin.setMinimum(1)
        self.resend_from.valueChanged.connect(self.resend_to.setMinimum)
        self.resend_button = QPushButton("重发…")
        self.resend_button.setToolTip("重新生成以前发给该单位的这几号数据包的内容（对方说缺包时使用）")
        self.resend_button.clicked.connect(self._resend_clicked)
        self.resend_from.valueChanged.connect(lambda _v: self._update())
        self.resend_to.valueChanged.connect(lambda _v: self._update())
        buttons = QHBoxLayout()
        buttons.addWidget(self.incremental_button)
        buttons.addWidget(self.full_button)
        buttons.addSpacing(24)
        buttons.addWidget(QLabel("重发第"))
        buttons.addWidget(self.resend_from)
        buttons.addWidget(QLabel("–"))
        buttons.addWidget(self.resend_to)
        buttons.addWidget(QLabel("号"))
        buttons.addWidget(self.resend_button)
        buttons.addStretch(1)
        self.send_message = message_label()
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(hint)
        layout.addWidget(self.dest_table, 1)
        layout.addWidget(self.no_peers_label)
        layout.addLayout(buttons)
        layout.addWidget(self.send_message)
        return page

    def _receive_tab(self) -> QWidget:
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
        self.history_table = make_table(self.history_model)
        for col, width in enumerate((150, 140, 80, 80, 80, 260)):
            self.history_table.setColumnWidth(col, width)
        history = QGroupBox("导入记录")
        QVBoxLayout(history).addWidget(self.history_table)
        self.sources_model = RowsModel(SOURCE_COLUMNS, self._source_cells, colors=self._source_colors,
                                       parent=self)
        self.sources_table = make_table(self.sources_model)
        self.sources_table.setColumnWidth(0, 160)
        self.sources_table.setColumnWidth(1, 200)
        received = QGroupBox("各单位已收到的数据包")
        QVBoxLayout(received).addWidget(self.sources_table)
        split = QSplitter(Qt.Vertical)
        for w in (results, history, received):
            split.addWidget(w)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        return page

    def _conflicts_tab(self) -> QWidget:
        hint = QLabel("两处同时修改同一字段时，程序自动选用其中一个值（本机的值），另一个值（对方的值）"
                      "留在这里等待核对。核对后选“保留本机的值”或“采用对方的值”，处理结果会随下一个数据包"
                      "发往各单位。")
        hint.setWordWrap(True)
        self.revealed = False  # set only once the role check and the audit entry succeeded
        self.reveal = RevealControl(self.runner, lambda: sorted({c.table for c in self.conflicts}),
                                    SOURCE)
        self.reveal.changed.connect(self._reveal_changed)
        self.reveal.refused.connect(self.failed.emit)
        self.conflict_model = RowsModel(CONFLICT_COLUMNS, self._conflict_cells, colors=self._conflict_colors,
                                        parent=self)
        self.conflict_table = make_table(self.conflict_model)
        for col, width in enumerate((140, 120, 110, 200, 200)):
            self.conflict_table.setColumnWidth(col, width)
        self.conflict_table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.conflict_detail = message_label()
        self.keep_mine_button = QPushButton("保留本机的值")
        self.keep_mine_button.setProperty("permission", "review")
        self.keep_mine_button.clicked.connect(lambda: self._resolve_clicked("mine"))
        self.take_theirs_button = QPushButton("采用对方的值")
        self.take_theirs_button.setProperty("permission", "review")
        self.take_theirs_button.clicked.connect(lambda: self._resolve_clicked("theirs"))
        self.conflict_message = message_label()
        top = QHBoxLayout()
        top.addWidget(hint, 1)
        top.addWidget(self.reveal)
        buttons = QHBoxLayout()
        buttons.addWidget(self.keep_mine_button)
        buttons.addWidget(self.take_theirs_button)
        buttons.addWidget(self.conflict_message, 1)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addWidget(self.conflict_table, 1)
        layout.addWidget(self.conflict_detail)
        layout.addLayout(buttons)
        return page

    # ------------------------------------------------------------ cells
    @staticmethod
    def _peer_cells(p: PeerInfo) -> tuple:
        return (p.org_name, p.level, p.fingerprint, _time(p.added), "在用" if p.active else "已被新指纹取代")

    @staticmethod
    def _peer_colors(p: PeerInfo) -> dict:
        return {} if p.active else dict.fromkeys(range(len(PEER_COLUMNS)), GREY)

    @staticmethod
    def _dest_cells(d: Destination) -> tuple:
        name = d.peer.org_name + ("（默认）" if d.is_default else "")
        sent = f"第 {d.last_seq} 号" if d.last_seq else "尚未发送"
        if d.last is None:
            return (name, d.peer.level, sent, "", "", "")
        return (name, d.peer.level, sent, _time(d.last.handled), d.last.file, f"{d.last.rows:,}")

    def _dest_tips(self, d: Destination) -> dict:
        tips = {0: "上级单位：不另选时数据包发往这里"} if d.is_default else {}
        if d.last is not None:
            tips[5] = f"第 {d.last.seqs} 号（{d.last.kind}）：{counts_text(self.reader, d.last.counts)}"
        return tips

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
        return (_time(p.handled), p.source, p.seqs, p.kind, HISTORY_STATUS.get(p.status, p.status),
                f"{sum(p.counts.values()):,}", p.file)

    def _history_tips(self, p: ReceivedPackage) -> dict:
        return {5: counts_text(self.reader, p.counts), 6: p.file}

    @staticmethod
    def _source_cells(s: SourceStatus) -> tuple:
        return (s.org_name, ranges_text(s.received), "；".join(s.gaps) or "无")

    @staticmethod
    def _source_colors(s: SourceStatus) -> dict:
        return {2: RED if s.gaps else GREEN}

    def _conflict_cells(self, c: ConflictView) -> tuple:
        record, mine, theirs = c.shown(self.revealed)
        return (c.ledger, record, c.field, mine, theirs, DELETE_NOTE if c.kind == "delete" else FIELD_NOTE)

    @staticmethod
    def _conflict_colors(c: ConflictView) -> dict:
        return {5: AMBER} if c.kind == "delete" else {}

    # ------------------------------------------------------------ reading
    def refresh(self) -> None:
        """Read everything again (the selected destination and conflict stay selected)."""
        me = identity(self.reader)
        self.unit_label.setText(f"{me.org_name}（{me.level}）")
        self.own_fingerprint.setText(spaced_fingerprint(me.fingerprint))
        self.peers_model.load(peer_list(self.reader))
        keep_dest = self.selected_destination()
        self.dest_model.load(destinations(self.reader))
        dests = self.dest_model.items
        row = next((i for i, d in enumerate(dests) if keep_dest and d.peer.node == keep_dest.peer.node),
                   0 if dests else None)
        if row is not None:
            self.dest_table.selectRow(row)
        if dests:
            self.no_peers_label.clear()
        else:
            _say(self.no_peers_label, "还没有登记任何单位：请先在“单位与配置文件”中导入上级（或下级）"
                                      "单位发来的配置文件，才能给它打包。", AMBER)
        self.history_model.load(received_packages(self.reader))
        self.sources_model.load(sources(self.reader))
        keep_conflict = self.selected_conflict()
        keep_row = self.conflict_table.currentIndex().row()
        self.conflicts = conflict_views(self.reader)
        self.conflict_model.load(self.conflicts)
        if self.conflicts:
            ids = [c.id for c in self.conflicts]
            row = ids.index(keep_conflict.id) if keep_conflict and keep_conflict.id in ids else \
                min(max(keep_row, 0), len(ids) - 1)
            self.conflict_table.selectRow(row)
        self.tabs.setTabText(self.conflicts_tab, f"冲突（{len(self.conflicts)}）" if self.conflicts else "冲突")
        self._update()

    def selected_destination(self) -> Destination | None:
        rows = self.dest_table.selectionModel().selectedRows()
        return self.dest_model.items[rows[0].row()] if rows else None

    def selected_conflict(self) -> ConflictView | None:
        rows = self.conflict_table.selectionModel().selectedRows()
        return self.conflict_model.items[rows[0].row()] if rows else None

    def _update(self) -> None:
        idle = not self._running
        for b in (self.export_profile_button, self.import_profile_button, self.receive_button):
            b.setEnabled(idle)
        dest = self.selected_destination()
        self.incremental_button.setEnabled(idle and dest is not None)
        self.full_button.setEnabled(idle and dest is not None)
        last_seq = dest.last_seq if dest is not None else 0
        for spin in (self.resend_from, self.resend_to):
            spin.setMaximum(max(last_seq, 1))
        a, b = self.resend_from.value(), self.resend_to.value()
        self.resend_button.setText(f"重发第 {a}–{b} 号…" if a != b else f"重发第 {a} 号…")
        self.resend_button.setEnabled(idle and last_seq > 0)
        conflict = self.selected_conflict()
        self.keep_mine_button.setEnabled(idle and conflict is not None)
        self.take_theirs_button.setEnabled(idle and conflict is not None)
        if conflict is None:
            self.conflict_detail.clear()
        elif conflict.kind == "delete":
            _say(self.conflict_detail, f"{DELETE_NOTE}，此记录现在是删除状态。保留本机的值：记录保持删除；"
                                       "采用对方的值：恢复此记录。", AMBER)
        else:
            _say(self.conflict_detail, f"{FIELD_NOTE}。保留本机的值：维持现状；采用对方的值：改为对方的值。",
                 GREY)

    def _start(self) -> None:
        self._running += 1
        self._update()

    def _finish(self) -> None:
        self._running -= 1
        self._update()

    # ------------------------------------------------------------ choosers
    def _ask_folder(self, title: str) -> str | None:
        """The folder chooser (tests never reach it)."""
        return QFileDialog.getExistingDirectory(self, title) or None

    def _ask_files(self, title: str, file_filter: str) -> list[str]:
        """The file chooser (tests never reach it)."""
        paths, _ = QFileDialog.getOpenFileNames(self, title, "", file_filter)
        return paths

    # ------------------------------------------------------------ profiles
    def _export_profile_clicked(self) -> None:
        folder = self._ask_folder("选择保存配置文件的文件夹（例如 U 盘）")
        if folder:
            self.export_profile_to(folder)

    def export_profile_to(self, folder) -> None:
        """Write this install's profile into ``folder``; ``profile_exported(path)`` follows."""
        folder = Path(folder)
        self._start()
        _say(self.profile_message, "正在导出…", GREY)
        self.runner.run(_export_profile(folder),
                        on_done=self._profile_exported,
                        on_error=lambda e: self._failed(self.profile_message, e, folder),
                        label="正在导出配置文件…", parent=self)

    def _profile_exported(self, path: Path) -> None:
        self._finish()
        _say(self.profile_message, f"已导出：{path}。请把它交给对方单位导入，并电话核对上面的指纹。", GREEN)
        self.profile_exported.emit(str(path))

    def _import_profiles_clicked(self) -> None:
        paths = self._ask_files("选择要导入的配置文件", PROFILE_FILTER)
        if paths:
            self.import_profiles(paths)

    def import_profiles(self, paths, accept_new_key: bool = False) -> None:
        """Import profile files on the store thread; ``profiles_imported(outcomes)`` follows.

        With ``accept_new_key`` (a 管理员 who checked the new fingerprint by phone) the
        results replace those of the same files; otherwise they replace all shown.
        """
        paths = [Path(p) for p in paths]
        self._start()
        self.runner.run(_import_profiles(paths, accept_new_key),
                        on_done=lambda outcomes: self._profiles_done(outcomes, accept_new_key),
                        on_error=lambda e: self._failed(self.profile_message, e),
                        label="正在导入配置文件…", parent=self)

    def _profiles_done(self, outcomes: list[ProfileOutcome], merge: bool) -> None:
        self._finish()
        if merge:
            fresh = {o.path: o for o in outcomes}
            kept = [fresh.pop(o.path, o) for o in self.profile_outcomes]
            self.profile_outcomes = kept + list(fresh.values())
        else:
            self.profile_outcomes = list(outcomes)
        self._show_profile_outcomes()
        self.refresh()
        if any(o.changed for o in outcomes):
            self.changed.emit()
        self.profiles_imported.emit(outcomes)

    def _show_profile_outcomes(self) -> None:
        layout = self.profile_results_layout
        while layout.count():
            item = layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.accept_boxes = {}
        for o in self.profile_outcomes:
            layout.addWidget(self._profile_outcome_widget(o))
        if not self.profile_outcomes:
            hint = QLabel("导入后，这里列出每个文件的结果和对方的指纹，请与对方电话核对指纹。")
            hint.setStyleSheet(f"color: {GREY}")
            layout.addWidget(hint)
        layout.addStretch(1)

    def _profile_outcome_widget(self, o: ProfileOutcome) -> QWidget:
        frame = QFrame()
        frame.setFrameShape(QFrame.StyledPanel)
        box = QVBoxLayout(frame)
        text, color = o.status_text, PROFILE_RESULTS[o.status][1]
        who = f"（{o.org_name}，{o.level}）" if o.org_name else ""
        head = message_label()
        head.setTextFormat(Qt.RichText)
        head.setText(f"<b>{html.escape(o.path.name)}</b>：<span style='color: {color}'>"
                     f"{html.escape(text)}</span>{html.escape(who)}")
        box.addWidget(head)
        if o.fingerprint:
            box.addWidget(QLabel("新指纹（请电话向对方核对）：" if o.status == "key_changed" else "指纹："))
            box.addWidget(_fingerprint_label(o.fingerprint))
        if o.message:
            note = message_label()
            _say(note, o.message, RED if o.status in ("key_changed", "refused", "failed") else GREY)
            box.addWidget(note)
        if o.status == "key_changed":
            accept = QCheckBox(ACCEPT_TEXT)
            accept.setToolTip("管理员操作：确认已与对方电话核对上面的新指纹后勾选，将以新指纹重新导入")
            accept.toggled.connect(lambda on, path=o.path, box=accept: self._accept_toggled(path, box, on))
            self.accept_boxes[o.path] = accept
            box.addWidget(accept)
        return frame

    def _accept_toggled(self, path: Path, box: QCheckBox, on: bool) -> None:
        if on:
            box.setEnabled(False)
            self.import_profiles([path], accept_new_key=True)

    # ------------------------------------------------------------ sending
    def _export_clicked(self, full: bool) -> None:
        folder = self._ask_folder("选择保存数据包的文件夹（例如 U 盘）")
        if folder:
            self.export_package_to(folder, full=full)

    def _resend_clicked(self) -> None:
        folder = self._ask_folder("选择保存数据包的文件夹（例如 U 盘）")
        if folder:
            self.export_package_to(folder, resend=(self.resend_from.value(), self.resend_to.value()))

    def export_package_to(self, folder, full: bool = False, resend: tuple[int, int] | None = None,
                          to: str | None = None) -> None:
        """Write a package into ``folder`` for ``to`` (org name or code; default the selected
        destination, else the level above); ``package_exported(exported)`` follows."""
        folder = Path(folder)
        dest = self.selected_destination()
        to = to or (dest.peer.org if dest is not None else None)
        self._start()
        _say(self.send_message, "正在生成数据包…", GREY)
        self.runner.run(lambda store, progress: export_package(store, folder, to=to, full=full,
                                                               resend=resend),
                        on_done=self._package_exported,
                        on_error=lambda e: self._failed(self.send_message, e, folder),
                        label="正在生成数据包…", parent=self)

    def _package_exported(self, exported: Exported) -> None:
        self._finish()
        m = exported.manifest
        seqs = str(m["seq_from"]) if m["seq_from"] == m["seq_to"] else f"{m['seq_from']}–{m['seq_to']}"
        dest = next((d.peer.org_name for d in self.dest_model.items if d.peer.node == m["dest"]["node"]),
                    m["dest"]["org"])
        rows = sum(m["counts"].values())
        text = (f"已写入：{exported.path}\n发往{dest}的第 {seqs} 号{KIND_NAMES.get(m['kind'], '')}数据包，"
                f"共 {rows:,} 行（{counts_text(self.reader, m['counts'])}）")
        if exported.files:
            text += f"，附件 {exported.files} 个"
        if exported.volumes:
            text += (f"。\n照片较多，分为 {len(exported.volumes) + 1} 卷：" + "、".join(
                p.name for p in [exported.path, *exported.volumes]) + "；每一卷都要交给对方导入")
        if exported.files_pending:
            text += f"。\n另有 {exported.files_pending} 个附件本机还没收到，收到后随下一个数据包发送"
        _say(self.send_message, text + "。", GREEN)
        self.refresh()
        self.package_exported.emit(exported)

    # ------------------------------------------------------------ receiving
    def _import_packages_clicked(self) -> None:
        paths = self._ask_files("选择要导入的数据包", PACKAGE_FILTER)
        if paths:
            self.import_packages(paths, dry_run=self.dry_run.isChecked())

    def import_packages(self, paths, dry_run: bool = False) -> None:
        """Import (or, with ``dry_run``, only check) package files, each in its own
        transaction, on the store thread; ``packages_imported(summaries)`` follows."""
        paths = [Path(p) for p in paths]
        self._start()
        self.result_model.load([])
        _say(self.result_notes, "正在导入…", GREY)
        self.runner.run(_import_packages(paths, dry_run), on_done=self._packages_done,
                        on_error=lambda e: self._failed(self.result_notes, e),
                        label="正在试导入数据包…" if dry_run else "正在导入数据包…", parent=self)

    def _packages_done(self, summaries: list[ImportSummary]) -> None:
        self._finish()
        self.result_model.load(_result_rows(self.reader, summaries))
        self.result_notes.setTextFormat(Qt.RichText)
        self.result_notes.setText("<br>".join(self._notes(summaries)))
        self.result_notes.setStyleSheet("")
        self.refresh()
        if any(s.status == "imported" for s in summaries):
            self.changed.emit()
        self.packages_imported.emit(summaries)

    @staticmethod
    def _notes(summaries: list[ImportSummary]) -> list[str]:
        """Per file: refusals and gaps in red, warnings in amber, other messages plain."""
        def line(text: str, color: str) -> str:
            return f"<span style='color: {color}'>{html.escape(text)}</span>"
        out = []
        for s in summaries:
            if s.status == "refused":
                out.append(line(f"{s.file}：已拒收。{s.message}", RED))
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

    # ------------------------------------------------------------ dropping files
    @staticmethod
    def _dropped(mime) -> tuple[list[Path], list[Path]]:
        """(package files, profile files) among dropped local files."""
        if not mime.hasUrls():
            return [], []
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        return ([p for p in paths if p.suffix.lower() == PACKAGE_SUFFIX],
                [p for p in paths if p.suffix.lower() == PROFILE_SUFFIX])

    def dragEnterEvent(self, event) -> None:
        packages, found = self._dropped(event.mimeData())
        if packages or found:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        packages, found = self._dropped(event.mimeData())
        if not packages and not found:
            event.ignore()
            return
        event.acceptProposedAction()
        if found:
            self.tabs.setCurrentIndex(self.profiles_tab)
            self.import_profiles(found)
        if packages:
            self.tabs.setCurrentIndex(self.receive_tab)
            self.import_packages(packages, dry_run=self.dry_run.isChecked())

    # ------------------------------------------------------------ conflicts
    def set_reveal(self, on: bool, purpose: str | None = None) -> None:
        """Show (True, audited with ``purpose``) or mask (False) sensitive values in the conflicts queue."""
        if purpose:
            self.reveal.set_purpose(purpose)
        self.reveal.setChecked(on)

    def _reveal_changed(self, on: bool) -> None:
        self.revealed = on
        self.conflict_model.refresh_cells()

    def _resolve_clicked(self, keep: str) -> None:
        c = self.selected_conflict()
        if c is not None:
            self.resolve(c.id, keep)

    def resolve(self, conflict_id: int, keep: str) -> None:
        """Resolve a conflict on the store thread, ``keep`` "mine" or "theirs";
        ``resolved(conflict_id)`` follows and the queue is read again."""
        c = next((x for x in self.conflicts if x.id == conflict_id), None)
        self._start()
        self.runner.run(lambda store, progress: resolve_conflict(store, conflict_id, keep),
                        on_done=lambda _r: self._resolved(conflict_id, c, keep),
                        on_error=lambda e: self._resolve_failed(e), label="正在处理冲突…", parent=self)

    def _resolved(self, conflict_id: int, c: ConflictView | None, keep: str) -> None:
        self._finish()
        what = "保留了本机的值" if keep == "mine" else "采用了对方的值"
        if c is not None:
            record = c.shown(self.revealed)[0]
            _say(self.conflict_message, f"已处理：{c.ledger}“{record}”的{c.field}{what}。", GREEN)
        else:
            _say(self.conflict_message, f"已处理：{what}。", GREEN)
        self.refresh()
        self.changed.emit()
        self.resolved.emit(conflict_id)

    def _resolve_failed(self, error: BaseException) -> None:
        self._failed(self.conflict_message, error)
        self.refresh()

    # ------------------------------------------------------------ failures
    def _failed(self, label: QLabel, error: BaseException, folder: Path | None = None) -> None:
        """Core's refusals and unwritable folders on the page; anything else in the error box."""
        self._finish()
        if isinstance(error, StoreError):
            text = str(error)
        elif isinstance(error, OSError) and folder is not None:
            text = f"无法写入 {folder}（文件夹不存在、没有写入权限，或 U 盘已拔出）。请换一个位置再试。"
        else:
            label.clear()
            show_error(error, self)
            self.failed.emit(failure_text(error))
            return
        label.setTextFormat(Qt.PlainText)
        _say(label, f"没有完成：{text}", RED)
        self.failed.emit(text)
