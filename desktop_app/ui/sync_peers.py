"""The 单位与配置文件 tab of the 同步中心: this install's unit and fingerprint, its profile
exported, other installs' profiles imported (a new unit, a changed key or a new PC is
*pending*: listed under 待确认指纹的单位 with its fingerprint and held packages until a
管理员 presses 确认指纹… and types the fingerprint read over the phone — unless the old
key signed the change), the peers known, and 更换本机密钥… (a 管理员: new keys and a new
profile that carries the change).

A pending profile whose fingerprint did not match is rejected with 拒绝… (a 管理员; the
packages held for it are discarded, as core's ``reject_peer`` does).

For tests: ``confirm_fingerprint(org, typed)``, ``reject_profile(org)`` and the signals
``peer_confirmed`` and ``peer_rejected``; the dialogs asking for the fingerprint and
whether to reject are the small methods ``_ask_fingerprint`` and ``_ask_reject``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import Cancelled
from ..core.sync import (
    PROFILE_SUFFIX,
    PeerInfo,
    PendingPeer,
    ProfileError,
    confirm_peer,
    export_profile,
    import_profile,
    level_name,
    reject_peer,
    rotate_keys,
    spaced_fingerprint,
)
from .errors import failure_text
from .style import AMBER, GREEN, GREY, RED
from .sync_state import SyncJobs, SyncState, short_time
from .tables import RowsModel, hint_label, make_table, message_label, say, selected_item

PEER_COLUMNS = ("单位", "级别", "指纹", "登记时间", "状态")
PENDING_COLUMNS = ("单位", "级别", "指纹（请电话核对）", "导入时间", "暂存的数据包", "说明")
PROFILE_RESULTS = {"pending": ("待确认指纹", AMBER), "updated": ("已更新", GREEN),
                   "unchanged": ("已是最新", GREY), "older": ("比已有的旧", AMBER),
                   "rotated": ("对方已更换密钥，已接受新指纹", GREEN),
                   "refused": ("无法使用", RED), "failed": ("出错，未导入", RED),
                   "cancelled": ("已取消，未导入", GREY)}
CONFIRM_TEXT = "确认指纹…"
PROFILE_FILTER = f"配置文件 (*{PROFILE_SUFFIX});;所有文件 (*)"


def fingerprint_label(text: str = "") -> QLabel:
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
    status: str             # pending updated unchanged older rotated refused failed cancelled
    message: str = ""
    org_name: str = ""
    level: str = ""         # 镇级 …
    fingerprint: str = ""
    changed: bool = False   # units added or the plan adopted

    @property
    def status_text(self) -> str:
        return PROFILE_RESULTS[self.status][0]


def _import_profile(store, path: Path) -> ProfileOutcome:
    try:
        r = import_profile(store, path)
    except ProfileError as exc:
        return ProfileOutcome(path, "refused", str(exc))
    except Exception as exc:  # noqa: BLE001 — whatever stops this file is this file's result
        return ProfileOutcome(path, "failed", failure_text(exc))
    notes = []
    if r["status"] == "pending":
        notes.append(f"{'新电脑' if r.get('replaces') == '新电脑' else '新密钥' if r.get('replaces') else '新单位'}："
                     "请电话请对方读出其本机指纹，与下面的指纹核对一致后，在“待确认指纹的单位”中按“确认指纹…”。"
                     "确认之前，对方的数据包只暂存、不导入")
    if r["status"] == "rotated":
        notes.append(f"对方更换了密钥：换钥声明由原密钥（指纹 {spaced_fingerprint(r['previous_fingerprint'])}）签发，已核验；"
                     "请电话向对方核对新指纹")
    if r["orgs_added"]:
        notes.append(f"新增单位 {r['orgs_added']} 个")
    if r["catalog_adopted"]:
        notes.append("已采用上级发来的计划目录，重新打开程序后界面显示新计划")
    return ProfileOutcome(path, r["status"], "；".join(notes), r["org_name"], level_name(r["level"]),
                          r["fingerprint"], bool(r["orgs_added"] or r["catalog_adopted"]))


def _import_profiles(paths: list[Path]):
    """Profiles one by one (each its own transaction); a cancel leaves the rest ``cancelled``."""
    def op(store, progress):
        done = []
        for i, path in enumerate(paths):
            try:
                progress(i, len(paths), f"正在导入 {path.name}（{i + 1}/{len(paths)}）…")
            except Cancelled:
                return done + [ProfileOutcome(p, "cancelled") for p in paths[i:]]
            done.append(_import_profile(store, path))
        return done
    return op


def _export_profile(folder: Path):
    def op(store, progress):
        folder.mkdir(parents=True, exist_ok=True)
        return export_profile(store, folder)
    return op


def _confirm(org: str, typed: str):
    def op(store, progress):
        return confirm_peer(store, org, typed)
    return op


def _reject(org: str):
    def op(store, progress):
        return reject_peer(store, org)
    return op


def _rotate_keys(folder: Path):
    def op(store, progress):
        folder.mkdir(parents=True, exist_ok=True)
        return rotate_keys(store, folder)
    return op


ROTATE_QUESTION = ("更换本机的签名和加密密钥，并生成新的配置文件？\n\n"
                   "新的配置文件带有用原密钥签发的换钥声明：请把它交给所有上下级单位导入，"
                   "并电话告知新指纹。对方导入之前发来的数据包，以及本机之前发出的数据包，仍能照常导入。")


# ---------------------------------------------------------------- the tab

class PeersTab(QWidget):
    """单位与配置文件."""

    profile_exported = Signal(str)          # the profile file's path
    keys_rotated = Signal(object)           # core's Rotation (new profile, fingerprints)
    profiles_imported = Signal(object)      # list[ProfileOutcome]
    peer_confirmed = Signal(object)         # core's confirm_peer result (held packages applied)
    peer_rejected = Signal(object)          # core's reject_peer result (held packages discarded)

    def __init__(self, jobs: SyncJobs, ask_folder, ask_files, parent=None):
        """``ask_folder(title)`` and ``ask_files(title, filter)`` are the page's choosers."""
        super().__init__(parent)
        self.jobs = jobs
        self._ask_folder, self._ask_files = ask_folder, ask_files
        self.profile_outcomes: list[ProfileOutcome] = []
        self.unit_label = QLabel()
        self.unit_label.setStyleSheet("font-size: 15px; font-weight: bold")
        self.own_fingerprint = fingerprint_label()
        self.export_profile_button = QPushButton("导出本机配置文件…")
        self.export_profile_button.setProperty("permission", "admin")
        self.export_profile_button.setToolTip("把本机的单位和公钥写成配置文件，交给上级或下级单位导入")
        self.export_profile_button.clicked.connect(self._export_profile_clicked)
        self.rotate_keys_button = QPushButton("更换本机密钥…")
        self.rotate_keys_button.setProperty("permission", "admin")
        self.rotate_keys_button.setToolTip("生成新的签名和加密密钥（例如怀疑密钥泄露，或定期更换），"
                                           "并导出带换钥声明的新配置文件")
        self.rotate_keys_button.clicked.connect(self._rotate_keys_clicked)
        self.profile_message = message_label()
        own = QGroupBox("本机")
        box = QVBoxLayout(own)
        box.addWidget(self.unit_label)
        box.addWidget(QLabel("本机指纹（对方导入本机的配置文件时，请与对方电话核对）："))
        box.addWidget(self.own_fingerprint)
        row = QHBoxLayout()
        row.addWidget(self.export_profile_button)
        row.addWidget(self.rotate_keys_button)
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
        self.peers_table = make_table(self.peers_model, widths=(160, 90, 330, 150))
        known = QGroupBox("已登记的单位")
        QVBoxLayout(known).addWidget(self.peers_table)
        self.pending_model = RowsModel(PENDING_COLUMNS, self._pending_cells, colors=self._pending_colors,
                                       parent=self)
        self.pending_table = make_table(self.pending_model, widths=(130, 70, 330, 130, 90))
        self.confirm_button = QPushButton(CONFIRM_TEXT)
        self.confirm_button.setProperty("permission", "admin")
        self.confirm_button.setToolTip("管理员：电话请对方读出其本机指纹，输入后与配置文件的指纹核对；"
                                       "一致则确认，并导入对方暂存的数据包")
        self.confirm_button.clicked.connect(self._confirm_clicked)
        self.reject_button = QPushButton("拒绝…")
        self.reject_button.setProperty("permission", "admin")
        self.reject_button.setToolTip("管理员：电话核对后指纹对不上，或没有人发过这个配置文件时拒绝它；"
                                      "它暂存的数据包随之丢弃")
        self.reject_button.clicked.connect(self._reject_clicked)
        self.confirm_message = message_label()
        self.pending_box = QGroupBox("待确认指纹的单位")
        box = QVBoxLayout(self.pending_box)
        box.addWidget(self.pending_table)
        row = QHBoxLayout()
        row.addWidget(self.confirm_button)
        row.addWidget(self.reject_button)
        row.addWidget(self.confirm_message, 1)
        box.addLayout(row)
        self.pending_box.hide()                  # shown while a unit waits for its check
        split = QSplitter(Qt.Vertical)
        split.addWidget(imports)
        split.addWidget(self.pending_box)
        split.addWidget(known)
        split.setSizes([260, 160, 160])
        layout = QVBoxLayout(self)
        layout.addWidget(own)
        layout.addWidget(split, 1)
        jobs.state_read.connect(self.show_state)
        jobs.busy_changed.connect(self.set_busy)

    # ------------------------------------------------------------ shown
    def show_state(self, state: SyncState) -> None:
        self.unit_label.setText(f"{state.me.org_name}（{state.me.level}）")
        self.own_fingerprint.setText(spaced_fingerprint(state.me.fingerprint))
        self.peers_model.load(state.peers)
        self.pending_model.load(list(state.pending))
        self.pending_box.setVisible(bool(state.pending) or bool(self.confirm_message.text()))
        if state.pending and not self.pending_table.selectionModel().hasSelection():
            self.pending_table.selectRow(0)

    def set_busy(self, busy: bool) -> None:
        for b in (self.export_profile_button, self.rotate_keys_button, self.import_profile_button,
                  self.confirm_button, self.reject_button):
            b.setEnabled(not busy)

    @staticmethod
    def _peer_cells(p: PeerInfo) -> tuple:
        return (p.org_name, p.level, spaced_fingerprint(p.fingerprint), short_time(p.added), p.status_text)

    @staticmethod
    def _pending_cells(p: PendingPeer) -> tuple:
        return (p.org_name, p.level, spaced_fingerprint(p.fingerprint), short_time(p.since), f"{p.held} 个",
                {"新电脑": "对方换了新电脑（新安装）", "新密钥": "已登记单位的密钥变了"}.get(p.replaces, "新单位"))

    @staticmethod
    def _pending_colors(p: PendingPeer) -> dict:
        return {2: AMBER}

    @staticmethod
    def _peer_colors(p: PeerInfo) -> dict:
        return {} if p.active else dict.fromkeys(range(len(PEER_COLUMNS)), GREY)

    # ------------------------------------------------------------ exporting
    def _export_profile_clicked(self) -> None:
        folder = self._ask_folder("选择保存配置文件的文件夹（例如 U 盘）")
        if folder:
            self.export_profile_to(folder)

    def export_profile_to(self, folder) -> None:
        """Write this install's profile into ``folder``; ``profile_exported(path)`` follows."""
        folder = Path(folder)
        say(self.profile_message, "正在导出…")
        self.jobs.run(_export_profile(folder), on_done=self._profile_exported,
                      on_error=lambda e: self.jobs.fail(self.profile_message, e, folder),
                      label="正在导出配置文件…", parent=self)

    def _profile_exported(self, path: Path) -> None:
        say(self.profile_message, f"已导出：{path}。请把它交给对方单位导入，并电话核对上面的指纹。", GREEN)
        self.profile_exported.emit(str(path))

    # ------------------------------------------------------------ own keys
    def _rotate_keys_clicked(self) -> None:
        if QMessageBox.question(self, "更换本机密钥", ROTATE_QUESTION) != QMessageBox.Yes:
            return
        folder = self._ask_folder("选择保存新配置文件的文件夹（例如 U 盘）")
        if folder:
            self.rotate_keys_to(folder)

    def rotate_keys_to(self, folder) -> None:
        """New keys for this install, the new profile written into ``folder``;
        ``keys_rotated(rotation)`` follows (the fingerprint shown is read again)."""
        folder = Path(folder)
        say(self.profile_message, "正在更换本机密钥…")
        self.jobs.run(_rotate_keys(folder), on_done=self._keys_rotated,
                      on_error=lambda e: self.jobs.fail(self.profile_message, e, folder),
                      label="正在更换本机密钥…", parent=self)

    def _keys_rotated(self, rotation) -> None:
        say(self.profile_message, f"已更换本机密钥，新指纹见上方。新的配置文件：{rotation.path}。"
                                  "请交给所有上下级单位导入，并电话告知新指纹。", GREEN)
        self.keys_rotated.emit(rotation)

    # ------------------------------------------------------------ confirming a pending unit
    def selected_pending(self) -> PendingPeer | None:
        return selected_item(self.pending_table)

    def _confirm_clicked(self) -> None:
        peer = self.selected_pending()
        if peer is None:
            say(self.confirm_message, "请先在上表中选择要确认的单位", RED)
            return
        typed = self._ask_fingerprint(peer)
        if typed:
            self.confirm_fingerprint(peer.org, typed)

    def _ask_fingerprint(self, peer: PendingPeer) -> str | None:
        """The dialog asking for the fingerprint read over the phone (tests replace it)."""
        text, ok = QInputDialog.getText(
            self, "确认指纹", f"请打电话请{peer.org_name}读出其本机指纹（同步中心 → 单位与配置文件），\n"
            "在下面输入对方读出的指纹（空格、横线可有可无）：")
        return text if ok else None

    def confirm_fingerprint(self, org: str, typed: str) -> None:
        """Confirm ``org``'s pending profile with the fingerprint ``typed``; its held packages
        are applied on the store thread; ``peer_confirmed(result)`` follows (a wrong
        fingerprint: the red message and ``failed``)."""
        say(self.confirm_message, "正在核对指纹…")
        self.jobs.run(_confirm(org, typed), on_done=self._confirmed,
                      on_error=lambda e: self.jobs.fail(self.confirm_message, e),
                      label="正在确认指纹并导入暂存的数据包…", parent=self)

    def _confirmed(self, result: dict) -> None:
        applied = result["applied"]
        text = f"已确认{result['org_name']}的指纹，今后接受它的数据包。"
        if result.get("already"):
            say(self.confirm_message, f"{result['org_name']}的指纹已经确认过，与输入的一致，无需再次确认。", GREEN)
            self.peer_confirmed.emit(result)
            return
        if result["old_chain_end"] is not None:
            text += (f"原来那台电脑已停用（已更换电脑）：它的数据包收到第 {result['old_chain_end']} 号为止，"
                     "之后的编号不再接收。")
        elif result["replaced"]:
            text += "原来的密钥已停用。"
        if applied:
            text += f"已导入暂存的数据包 {len(applied)} 个：" + "、".join(
                f"{a['file']}（{a['message']}）" for a in applied)
        say(self.confirm_message, text, GREEN)
        self.jobs.changed.emit()
        self.peer_confirmed.emit(result)

    # ------------------------------------------------------------ rejecting a pending unit
    def _reject_clicked(self) -> None:
        peer = self.selected_pending()
        if peer is None:
            say(self.confirm_message, "请先在上表中选择要拒绝的配置文件", RED)
            return
        if self._ask_reject(peer):
            self.reject_profile(peer.org)

    def _ask_reject(self, peer: PendingPeer) -> bool:
        """Whether to reject ``peer``'s pending profile (tests replace it)."""
        held = f"它暂存的 {peer.held} 个数据包将随之丢弃。" if peer.held else ""
        return QMessageBox.question(
            self, "拒绝配置文件", f"拒绝{peer.org_name}待确认的配置文件（指纹 {peer.fingerprint}）？\n\n{held}"
            "只在电话核对后指纹对不上、或对方并没有发过这个配置文件时拒绝。") == QMessageBox.Yes

    def reject_profile(self, org: str) -> None:
        """Reject ``org``'s pending profile on the store thread (its held packages are
        discarded); ``peer_rejected(result)`` follows."""
        say(self.confirm_message, "正在拒绝…")
        self.jobs.run(_reject(org), on_done=self._rejected,
                      on_error=lambda e: self.jobs.fail(self.confirm_message, e),
                      label="正在拒绝配置文件…", parent=self)

    def _rejected(self, result: dict) -> None:
        gone = result["discarded"]
        say(self.confirm_message, f"已拒绝{result['org_name']}待确认的配置文件"
            + (f"，它暂存的 {len(gone)} 个数据包已丢弃。" if gone else "。"), AMBER)
        self.jobs.changed.emit()
        self.peer_rejected.emit(result)

    # ------------------------------------------------------------ importing
    def _import_profiles_clicked(self) -> None:
        paths = self._ask_files("选择要导入的配置文件", PROFILE_FILTER)
        if paths:
            self.import_profiles(paths)

    def import_profiles(self, paths) -> None:
        """Import profile files on the store thread; ``profiles_imported(outcomes)`` follows
        (the results replace those shown)."""
        paths = [Path(p) for p in paths]
        self.jobs.run(_import_profiles(paths), on_done=self._profiles_done,
                      on_error=lambda e: self.jobs.fail(self.profile_message, e),
                      label="正在导入配置文件…", parent=self)

    def _profiles_done(self, outcomes: list[ProfileOutcome]) -> None:
        self.profile_outcomes = list(outcomes)
        self._show_profile_outcomes()
        if any(o.changed for o in outcomes):
            self.jobs.changed.emit()
        self.profiles_imported.emit(outcomes)

    def _show_profile_outcomes(self) -> None:
        layout = self.profile_results_layout
        while layout.count():
            item = layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for o in self.profile_outcomes:
            layout.addWidget(self._profile_outcome_widget(o))
        if not self.profile_outcomes:
            hint = hint_label("导入后，这里列出每个文件的结果和对方的指纹，请与对方电话核对指纹。")
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
            box.addWidget(QLabel("指纹（请电话向对方核对）：" if o.status in ("pending", "rotated") else "指纹："))
            box.addWidget(fingerprint_label(o.fingerprint))
        if o.message:
            note = message_label()
            say(note, o.message, RED if o.status in ("refused", "failed") else AMBER if o.status == "pending" else GREY)
            box.addWidget(note)
        return frame
