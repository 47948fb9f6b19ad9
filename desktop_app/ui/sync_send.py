"""The 发送 tab of the 同步中心: the known peers (the level above first, the default)
with the last package sent to each, and incremental, full and resend packages
written to a chosen folder.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ..core.sync import KIND_NAMES, Destination, Exported, counts_text, export_package
from .style import AMBER, GREEN
from .sync_state import SyncJobs, SyncState, short_time
from .tables import RowsModel, make_table, message_label, say, selected_item

DEST_COLUMNS = ("单位", "级别", "已发到第几号", "上次发送", "上次的文件", "行数")


class SendTab(QWidget):
    """发送."""

    package_exported = Signal(object)       # core.sync.Exported

    def __init__(self, jobs: SyncJobs, reader, ask_folder, parent=None):
        """``ask_folder(title)`` is the page's folder chooser."""
        super().__init__(parent)
        self.jobs, self.reader = jobs, reader
        self._ask_folder = ask_folder
        hint = QLabel("选择收件单位（默认是上级单位），再生成数据包，存到 U 盘等位置交给对方导入。")
        hint.setWordWrap(True)
        self.dest_model = RowsModel(DEST_COLUMNS, self._dest_cells, tips=self._dest_tips, parent=self)
        self.dest_table = make_table(self.dest_model, widths=(180, 90, 100, 150, 360))
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
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.dest_table, 1)
        layout.addWidget(self.no_peers_label)
        layout.addLayout(buttons)
        layout.addWidget(self.send_message)
        jobs.state_read.connect(self.show_state)
        jobs.busy_changed.connect(lambda _busy: self._update())
        self._update()

    # ------------------------------------------------------------ shown
    def show_state(self, state: SyncState) -> None:
        """The destinations read again (the selected one stays selected)."""
        keep = self.selected_destination()
        self.dest_model.load(state.destinations)
        dests = self.dest_model.items
        row = next((i for i, d in enumerate(dests) if keep and d.peer.node == keep.peer.node),
                   0 if dests else None)
        if row is not None:
            self.dest_table.selectRow(row)
        if dests:
            self.no_peers_label.clear()
        else:
            say(self.no_peers_label, "还没有登记任何单位：请先在“单位与配置文件”中导入上级（或下级）"
                                     "单位发来的配置文件，才能给它打包。", AMBER)
        self._update()

    def selected_destination(self) -> Destination | None:
        return selected_item(self.dest_table)

    def _update(self) -> None:
        idle = not self.jobs.busy
        dest = self.selected_destination()
        self.incremental_button.setEnabled(idle and dest is not None)
        self.full_button.setEnabled(idle and dest is not None)
        last_seq = dest.last_seq if dest is not None else 0
        for spin in (self.resend_from, self.resend_to):
            spin.setMaximum(max(last_seq, 1))
        a, b = self.resend_from.value(), self.resend_to.value()
        self.resend_button.setText(f"重发第 {a}–{b} 号…" if a != b else f"重发第 {a} 号…")
        self.resend_button.setEnabled(idle and last_seq > 0)

    @staticmethod
    def _dest_cells(d: Destination) -> tuple:
        name = d.peer.org_name + ("（默认）" if d.is_default else "")
        sent = f"第 {d.last_seq} 号" if d.last_seq else "尚未发送"
        if d.last is None:
            return (name, d.peer.level, sent, "", "", "")
        return (name, d.peer.level, sent, short_time(d.last.handled), d.last.file, f"{d.last.rows:,}")

    def _dest_tips(self, d: Destination) -> dict:
        tips = {0: "上级单位：不另选时数据包发往这里"} if d.is_default else {}
        if d.last is not None:
            tips[5] = f"第 {d.last.seqs} 号（{d.last.kind}）：{counts_text(self.reader, d.last.counts)}"
        return tips

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
        say(self.send_message, "正在生成数据包…")
        self.jobs.run(lambda store, progress: export_package(store, folder, to=to, full=full, resend=resend),
                      on_done=self._package_exported,
                      on_error=lambda e: self.jobs.fail(self.send_message, e, folder),
                      label="正在生成数据包…", parent=self)

    def _package_exported(self, exported: Exported) -> None:
        m = exported.manifest
        seqs = str(m["seq_from"]) if m["seq_from"] == m["seq_to"] else f"{m['seq_from']}–{m['seq_to']}"
        dest = next((d.peer.org_name for d in self.dest_model.items if d.peer.node == m["dest"]["node"]),
                    m["dest"]["org"])
        rows = sum(exported.counts.values())
        text = (f"已写入：{exported.path}\n发往{dest}的第 {seqs} 号{KIND_NAMES.get(m['kind'], '')}数据包，"
                f"共 {rows:,} 行（{counts_text(self.reader, exported.counts)}）")
        if exported.files:
            text += f"，附件 {exported.files} 个"
        if exported.volumes:
            text += (f"。\n照片较多，分为 {len(exported.volumes) + 1} 卷：" + "、".join(
                p.name for p in [exported.path, *exported.volumes]) + "；每一卷都要交给对方导入")
        if exported.files_pending:
            text += f"。\n另有 {exported.files_pending} 个附件本机还没收到，收到后随下一个数据包发送"
        say(self.send_message, text + "。", GREEN)
        self.package_exported.emit(exported)
