"""The 冲突 tab of the 同步中心: the conflicts queue, masked unless 显示敏感信息
(audited), and each conflict resolved by keeping this install's value or taking
the other's. The queue is the reviewers' (core's policy): a 录入员 finds it empty and
is told who handles it; a user bound to a unit sees that unit's conflicts.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.store import allowed
from ..core.sync import ConflictView, resolve_conflict
from .reveal import RevealControl
from .style import AMBER, GREEN, GREY
from .sync_state import SyncJobs, SyncState
from .tables import RowsModel, make_table, message_label, say, selected_item

SOURCE = "screen:conflicts"
CONFLICT_COLUMNS = ("台账", "记录", "字段", "本机的值", "对方的值", "说明")
DELETE_NOTE = "对方在删除前后改过此记录"
FIELD_NOTE = "双方同时改过此字段，“本机的值”是现在使用的值"


class ConflictsTab(QWidget):
    """冲突; ``items`` are the conflicts shown."""

    resolved = Signal(int)                  # the conflict's id
    count_changed = Signal(int)             # how many conflicts wait (for the tab's title)

    def __init__(self, jobs: SyncJobs, parent=None):
        super().__init__(parent)
        self.jobs = jobs
        self.items: list[ConflictView] = []
        hint = QLabel("两处同时修改同一字段时，程序自动选用其中一个值（本机的值），另一个值（对方的值）"
                      "留在这里等待核对。核对后选“保留本机的值”或“采用对方的值”，处理结果会随下一个数据包"
                      "发往各单位。")
        session = getattr(jobs.runner, "session", None)
        if session is not None and not allowed(session.role, "review"):
            hint.setText(hint.text() + f"冲突由审核员、管理员核对处理，{session.role}看不到冲突的内容。")
        hint.setWordWrap(True)
        self.revealed = False  # set only once the role check and the audit entry succeeded
        self.reveal = RevealControl(jobs.runner, lambda: sorted({c.table for c in self.items}), SOURCE)
        self.reveal.changed.connect(self._reveal_changed)
        self.reveal.refused.connect(jobs.failed.emit)
        self.conflict_model = RowsModel(CONFLICT_COLUMNS, self._conflict_cells, colors=self._conflict_colors,
                                        parent=self)
        self.conflict_table = make_table(self.conflict_model, widths=(140, 120, 110, 200, 200))
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
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.conflict_table, 1)
        layout.addWidget(self.conflict_detail)
        layout.addLayout(buttons)
        jobs.state_read.connect(self.show_state)
        jobs.busy_changed.connect(lambda _busy: self._update())
        self._update()

    # ------------------------------------------------------------ shown
    def show_state(self, state: SyncState) -> None:
        """The queue read again (the selected conflict, or its row, stays selected)."""
        keep = self.selected_conflict()
        keep_row = self.conflict_table.currentIndex().row()
        self.items = state.conflicts
        self.conflict_model.load(self.items)
        if self.items:
            ids = [c.id for c in self.items]
            row = ids.index(keep.id) if keep and keep.id in ids else min(max(keep_row, 0), len(ids) - 1)
            self.conflict_table.selectRow(row)
        self.count_changed.emit(len(self.items))
        self._update()

    def selected_conflict(self) -> ConflictView | None:
        return selected_item(self.conflict_table)

    def _update(self) -> None:
        idle = not self.jobs.busy
        conflict = self.selected_conflict()
        self.keep_mine_button.setEnabled(idle and conflict is not None)
        self.take_theirs_button.setEnabled(idle and conflict is not None)
        if conflict is None:
            self.conflict_detail.clear()
        elif conflict.kind == "delete":
            say(self.conflict_detail, f"{DELETE_NOTE}，此记录现在是删除状态。保留本机的值：记录保持删除；"
                                      "采用对方的值：恢复此记录。", AMBER)
        else:
            say(self.conflict_detail, f"{FIELD_NOTE}。保留本机的值：维持现状；采用对方的值：改为对方的值。", GREY)

    def _conflict_cells(self, c: ConflictView) -> tuple:
        record, mine, theirs = c.shown(self.revealed)
        return (c.ledger, record, c.field, mine, theirs, DELETE_NOTE if c.kind == "delete" else FIELD_NOTE)

    @staticmethod
    def _conflict_colors(c: ConflictView) -> dict:
        return {5: AMBER} if c.kind == "delete" else {}

    # ------------------------------------------------------------ revealing
    def set_reveal(self, on: bool, purpose: str | None = None) -> None:
        """Show (True, audited with ``purpose``) or mask (False) sensitive values in the queue."""
        if purpose:
            self.reveal.set_purpose(purpose)
        self.reveal.setChecked(on)

    def _reveal_changed(self, on: bool) -> None:
        self.revealed = on
        self.conflict_model.refresh_cells()

    # ------------------------------------------------------------ resolving
    def _resolve_clicked(self, keep: str) -> None:
        c = self.selected_conflict()
        if c is not None:
            self.resolve(c.id, keep)

    def resolve(self, conflict_id: int, keep: str) -> None:
        """Resolve a conflict on the store thread, ``keep`` "mine" or "theirs";
        the queue is read again, then ``resolved(conflict_id)`` follows."""
        c = next((x for x in self.items if x.id == conflict_id), None)
        self.jobs.run(lambda store, progress: resolve_conflict(store, conflict_id, keep),
                      on_done=lambda _r: self._resolved(conflict_id, c, keep),
                      on_error=self._resolve_failed, label="正在处理冲突…", parent=self)

    def _resolved(self, conflict_id: int, c: ConflictView | None, keep: str) -> None:
        what = "保留了本机的值" if keep == "mine" else "采用了对方的值"
        if c is not None:
            record = c.shown(self.revealed)[0]
            say(self.conflict_message, f"已处理：{c.ledger}“{record}”的{c.field}{what}。", GREEN)
        else:
            say(self.conflict_message, f"已处理：{what}。", GREEN)
        self.jobs.changed.emit()
        self.resolved.emit(conflict_id)

    def _resolve_failed(self, error: BaseException) -> None:
        self.jobs.fail(self.conflict_message, error)
        self.jobs.refresh()
