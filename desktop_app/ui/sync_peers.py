"""The 单位与配置文件 tab of the 同步中心: this install's unit and fingerprint, its profile
exported, other installs' profiles imported (a changed key waits until a 管理员 ticks
我已电话核对新指纹，接受, unless the old key signed the change), the peers known, and
更换本机密钥… (a 管理员: new keys and a new profile that carries the change).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
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
    KeyChanged,
    PeerInfo,
    ProfileError,
    export_profile,
    import_profile,
    level_name,
    read_profile,
    rotate_keys,
    spaced_fingerprint,
)
from .errors import failure_text
from .style import AMBER, GREEN, GREY, RED
from .sync_state import SyncJobs, SyncState, short_time
from .tables import RowsModel, hint_label, make_table, message_label, say

PEER_COLUMNS = ("单位", "级别", "指纹", "登记时间", "状态")
PROFILE_RESULTS = {"added": ("已登记", GREEN), "updated": ("已更新", GREEN),
                   "unchanged": ("已是最新", GREY), "older": ("比已有的旧", AMBER),
                   "replaced": ("已接受新指纹", GREEN), "rotated": ("对方已更换密钥，已接受新指纹", GREEN),
                   "key_changed": ("指纹不符，未导入", RED),
                   "refused": ("无法使用", RED), "failed": ("出错，未导入", RED),
                   "cancelled": ("已取消，未导入", GREY)}
ACCEPT_TEXT = "我已电话核对新指纹，接受"
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
    if r["status"] == "rotated":
        notes.append(f"对方更换了密钥：换钥声明由原密钥（指纹 {r['previous_fingerprint']}）签发，已核验；"
                     "请电话向对方核对新指纹")
    if r["orgs_added"]:
        notes.append(f"新增单位 {r['orgs_added']} 个")
    if r["catalog_adopted"]:
        notes.append("已采用上级发来的计划目录，重新打开程序后界面显示新计划")
    return ProfileOutcome(path, r["status"], "；".join(notes), r["org_name"], level_name(r["level"]),
                          r["fingerprint"], bool(r["orgs_added"] or r["catalog_adopted"]))


def _import_profiles(paths: list[Path], accept_new_key: bool):
    """Profiles one by one (each its own transaction); a cancel leaves the rest ``cancelled``."""
    def op(store, progress):
        done = []
        for i, path in enumerate(paths):
            try:
                progress(i, len(paths), f"正在导入 {path.name}（{i + 1}/{len(paths)}）…")
            except Cancelled:
                return done + [ProfileOutcome(p, "cancelled") for p in paths[i:]]
            done.append(_import_profile(store, path, accept_new_key))
        return done
    return op


def _export_profile(folder: Path):
    def op(store, progress):
        folder.mkdir(parents=True, exist_ok=True)
        return export_profile(store, folder)
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

    def __init__(self, jobs: SyncJobs, ask_folder, ask_files, parent=None):
        """``ask_folder(title)`` and ``ask_files(title, filter)`` are the page's choosers."""
        super().__init__(parent)
        self.jobs = jobs
        self._ask_folder, self._ask_files = ask_folder, ask_files
        self.profile_outcomes: list[ProfileOutcome] = []
        self.accept_boxes: dict[Path, QCheckBox] = {}
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
        split = QSplitter(Qt.Vertical)
        split.addWidget(imports)
        split.addWidget(known)
        split.setSizes([360, 200])
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

    def set_busy(self, busy: bool) -> None:
        for b in (self.export_profile_button, self.rotate_keys_button, self.import_profile_button):
            b.setEnabled(not busy)

    @staticmethod
    def _peer_cells(p: PeerInfo) -> tuple:
        return (p.org_name, p.level, p.fingerprint, short_time(p.added), "在用" if p.active else "已被新指纹取代")

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

    # ------------------------------------------------------------ importing
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
        self.jobs.run(_import_profiles(paths, accept_new_key),
                      on_done=lambda outcomes: self._profiles_done(outcomes, accept_new_key),
                      on_error=lambda e: self.jobs.fail(self.profile_message, e),
                      label="正在导入配置文件…", parent=self)

    def _profiles_done(self, outcomes: list[ProfileOutcome], merge: bool) -> None:
        if merge:
            fresh = {o.path: o for o in outcomes}
            kept = [fresh.pop(o.path, o) for o in self.profile_outcomes]
            self.profile_outcomes = kept + list(fresh.values())
        else:
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
        self.accept_boxes = {}
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
            box.addWidget(QLabel("新指纹（请电话向对方核对）：" if o.status in ("key_changed", "rotated")
                                 else "指纹："))
            box.addWidget(fingerprint_label(o.fingerprint))
        if o.message:
            note = message_label()
            say(note, o.message, RED if o.status in ("key_changed", "refused", "failed") else GREY)
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
