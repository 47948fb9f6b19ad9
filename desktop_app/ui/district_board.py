"""报送情况: for each town, what arrived, what is missing, what is late — and its villages.

    page = BoardPage(runner, reader)
    page.refresh(as_of)            # core.board.submission_board on the store thread

One row per town with core's red / amber / green status (a coloured dot and
正常 / 需关注 / 逾期或缺包), the last package received, packages so far, gaps,
missed due dates, conflicts waiting and rows rejected; selecting a town lists
its villages (rows, last change) in the second table. The schedule editor
(每月 / 每季度, 截止日 1–28) calls :func:`~desktop_app.core.district.board.set_schedule`
on the runner.

For tests: ``refresh``, ``select_town``, ``save_schedule`` and the signals
``loaded``, ``schedule_saved`` and ``failed``.
"""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.district import STATUS_WORDS, BoardLine, VillageLine, clamp_as_of, schedule, set_schedule, submission_board
from .district_pages import dot, failure, fmt_day, fmt_time, title_label
from .style import AMBER, GREEN, GREY, RED
from .tables import RowsModel, make_table, message_label, say

COLUMNS = ("单位", "状态", "最近收到", "最近的数据包", "已收包数", "缺包", "逾期未报", "待审冲突", "拒收行")
VILLAGE_COLUMNS = ("村（社区）", "记录数", "最近修改")
STATUS_COLORS = {"green": GREEN, "amber": AMBER, "red": RED}
PERIODS = (("month", "每月"), ("quarter", "每季度"))
PERIOD_WORDS = dict(PERIODS)
NOT_REGISTERED = "未登记"


def _overdue_text(line: BoardLine) -> str:
    if not line.overdue:
        return "—"
    return f"{len(line.overdue)} 次：" + "、".join(fmt_day(d) for d in line.overdue)


def _board_cells(line: BoardLine) -> list[str]:
    if not line.registered:
        received, package = NOT_REGISTERED, "—"
    else:
        received = fmt_time(line.last_received, "从未收到")
        package = f"第 {line.last_seq} 号" if line.last_seq is not None else "—"
    return [line.name, STATUS_WORDS[line.status], received, package, str(line.packages),
            "；".join(line.gaps) or "—", _overdue_text(line), str(line.conflicts), str(line.rejected)]


def _status_reasons(line: BoardLine) -> str:
    reasons = []
    if not line.registered:
        reasons.append("尚未导入该单位的配置文件，收不到它的数据包（同步中心 → 单位与配置文件）")
    if line.overdue:
        reasons.append(f"{len(line.overdue)} 个截止日前没有收到数据包")
    if line.gaps:
        reasons.append("；".join(line.gaps))
    if line.conflicts:
        reasons.append(f"{line.conflicts} 处数据冲突待审核（同步中心 → 冲突）")
    if line.rejected:
        reasons.append(f"数据包中有 {line.rejected} 行被拒收")
    return "\n".join(reasons) or "按时报送，没有缺包、冲突或拒收"


def _board_tips(line: BoardLine) -> dict:
    tips = {1: _status_reasons(line)}
    if line.last_file:
        tips[3] = line.last_file
    if line.overdue:
        tips[6] = "应报送而未收到的截止日：" + "、".join(line.overdue)
    if line.due:
        tips.setdefault(6, f"截至统计日期应报送 {len(line.due)} 次，均已按时收到")
    return tips


def _board_colors(line: BoardLine) -> dict:
    colors = {1: STATUS_COLORS[line.status]}
    if line.gaps:
        colors[5] = RED
    if line.overdue:
        colors[6] = RED
    if line.conflicts:
        colors[7] = AMBER
    if line.rejected:
        colors[8] = AMBER
    if not line.registered:
        colors[2] = RED
    return colors


def _village_cells(v: VillageLine) -> list[str]:
    return [v.name, f"{v.rows:,}", fmt_time(v.last_change, "没有记录")]


class BoardPage(QWidget):
    """The submission board of a district install."""

    loaded = Signal()                  # the board was read (after ``refresh``)
    schedule_saved = Signal(str, int)  # period ("month" / "quarter"), due day
    failed = Signal(str)

    def __init__(self, runner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.as_of: dt.date | None = None
        self.lines: list[BoardLine] = []
        self.model = RowsModel(COLUMNS, _board_cells, colors=_board_colors, tips=_board_tips,
                               icons=lambda line: {1: dot(STATUS_COLORS[line.status])},
                               right=(4, 7, 8), parent=self)
        self.village_model = RowsModel(VILLAGE_COLUMNS, _village_cells, right=(1,), parent=self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.refresh_button = QPushButton("刷新")
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.table = make_table(self.model, (130, 110, 140, 110, 70, 220, 220, 70))
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_villages())
        self.village_title = QLabel("选择一个镇，查看其各村（社区）的记录")
        self.village_table = make_table(self.village_model, (200, 90))
        self.period = QComboBox()
        for key, word in PERIODS:
            self.period.addItem(word, key)
        self.due_day = QSpinBox()
        self.due_day.setRange(1, 28)
        self.due_day.setPrefix("每期 ")
        self.due_day.setSuffix(" 日前")
        self.save_button = QPushButton("保存报送安排")
        self.save_button.setProperty("permission", "admin")
        self.save_button.clicked.connect(
            lambda: self.save_schedule(self.period.currentData(), self.due_day.value()))
        self.message = message_label()
        editor = QGroupBox("报送安排（各镇数据包的截止日）")
        row = QHBoxLayout(editor)
        row.addWidget(QLabel("周期"))
        row.addWidget(self.period)
        row.addWidget(QLabel("截止日"))
        row.addWidget(self.due_day)
        row.addWidget(self.save_button)
        row.addWidget(self.message, 1)
        top = QHBoxLayout()
        top.addWidget(title_label("报送情况"))
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.village_title)
        lower_layout.addWidget(self.village_table, 1)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(editor)
        self._show_schedule(*schedule(reader))

    # ------------------------------------------------------------ reading
    def refresh(self, as_of: dt.date | None = None) -> None:
        """Read the board as of a date (default: the last one, or today) on the store thread."""
        self.as_of = clamp_as_of(as_of or self.as_of or dt.date.today(), self.reader.catalog.plan_year)
        day = self.as_of
        self.summary.setText("正在读取…")
        self.runner.run(lambda store, progress: (submission_board(store, day), schedule(store)),
                        on_done=self._loaded, on_error=self._failed, label="正在读取报送情况…",
                        parent=self)

    def _loaded(self, result) -> None:
        lines, (period, due_day) = result
        keep = self.selected_town()
        self.lines = lines
        self.model.load(lines)
        self._show_schedule(period, due_day)
        counts = {s: sum(1 for x in lines if x.status == s) for s in STATUS_COLORS}
        due = len(lines[0].due) if lines else 0
        self.summary.setText(
            f"截至 {self.as_of:%Y年%m月%d日}，{PERIOD_WORDS.get(period, period)} {due_day} 日前报送，应报 {due} 次。"
            f"<span style='color:{GREEN}'>{STATUS_WORDS['green']} {counts['green']} 个</span>　"
            f"<span style='color:{AMBER}'>{STATUS_WORDS['amber']} {counts['amber']} 个</span>　"
            f"<span style='color:{RED}'>{STATUS_WORDS['red']} {counts['red']} 个</span>")
        if not (keep and self.select_town(keep)):
            self._show_villages()
        self.loaded.emit()

    def _show_schedule(self, period: str, due_day: int) -> None:
        self.period.setCurrentIndex(max(self.period.findData(period), 0))
        self.due_day.setValue(due_day)

    def selected_town(self) -> str | None:
        line = self.model.item_at(self.table.currentIndex().row())
        return line.org if line else None

    def select_town(self, code: str) -> bool:
        """Select a town's row (its villages show below)."""
        for row, line in enumerate(self.lines):
            if line.org == code:
                self.table.selectRow(row)
                self._show_villages()
                return True
        return False

    def _show_villages(self) -> None:
        line = self.model.item_at(self.table.currentIndex().row())
        if line is None:
            self.village_title.setText("选择一个镇，查看其各村（社区）的记录")
            self.village_model.load([])
            return
        total = sum(v.rows for v in line.villages)
        self.village_title.setText(f"{line.name}的村（社区）：{len(line.villages)} 个，"
                                   f"共 {total:,} 条记录（本机已收到的）")
        self.village_model.load(line.villages)

    # ------------------------------------------------------------ the schedule
    def save_schedule(self, period: str, due_day: int) -> None:
        """Change the submission schedule on the store thread; ``schedule_saved`` follows."""
        self.save_button.setEnabled(False)
        say(self.message, "正在保存…", GREY)
        self.runner.run(lambda store, progress: set_schedule(store, period, due_day),
                        on_done=lambda _r: self._schedule_done(period, due_day),
                        on_error=self._failed, label="正在保存报送安排…", parent=self)

    def _schedule_done(self, period: str, due_day: int) -> None:
        self.save_button.setEnabled(True)
        say(self.message, f"已保存：{PERIOD_WORDS.get(period, period)} {due_day} 日前报送。", GREEN)
        self.schedule_saved.emit(period, due_day)
        self.refresh()

    def _failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        if self.summary.text() == "正在读取…":
            self.summary.clear()
        text = failure(self.message, error, self)
        self.failed.emit(text or type(error).__name__)
