"""The month's 调度 report of the 工作专班办公室: progress, lagging indicators and their
responsible units, the submission board, and the open issues (gaps, overdue,
conflicts, duplicates) — as data here, as an xlsx in :func:`monthly_workbook`
and as a printable PDF in ``desktop_app.printing`` (Qt)::

    >>> month_end(2024, 2)
    datetime.date(2024, 2, 29)
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from ..errors import StoreError
from ..sync.conflicts import list_conflicts
from .board import BoardLine, submission_board
from .duplicates import find_duplicates
from .progress import IndicatorProgress, ProgressReport, compute
from .reports import progress_workbook
from .rules import RuleChange, changes, last_recorded, record, rules_snapshot

if TYPE_CHECKING:
    from ..store.database import Store

STATUS_WORDS = {"green": "正常", "amber": "需关注", "red": "逾期或缺包"}


def month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def parse_month(text: str) -> tuple[int, int]:
    """``2024-06`` → (2024, 6).

    :raises StoreError: for anything else.
    """
    try:
        year, month = (int(x) for x in text.split("-"))
        dt.date(year, month, 1)
        return year, month
    except (ValueError, TypeError):
        raise StoreError(f"“{text}”不是月份，请写成 2024-06", 1) from None


@dataclass
class MonthlyReport:
    year: int
    month: int
    unit_name: str
    progress: ProgressReport
    lagging: list[IndicatorProgress]
    board: list[BoardLine]
    issues: list[str] = field(default_factory=list)
    projects: dict[str, str] = field(default_factory=dict)   # project id → label
    catalog_version: str = ""
    rule_changes: list[RuleChange] = field(default_factory=list)
    compared_with: str | None = None     # the month of the earlier report the rules were compared with
    previous_catalog: str | None = None

    @property
    def rule_note(self) -> str:
        """What the report says about the rules it was counted under."""
        if self.compared_with is None:
            return f"按计划目录 {self.catalog_version} 的计数规则统计。"
        if not self.rule_changes:
            return f"按计划目录 {self.catalog_version} 的计数规则统计，与{_month_words(self.compared_with)}报告相同。"
        version = (f"计划目录由 {self.previous_catalog} 更新为 {self.catalog_version}；"
                   if self.previous_catalog != self.catalog_version else "")
        return (f"注意：与{_month_words(self.compared_with)}报告相比，{version}"
                f"{len(self.rule_changes)} 项指标的计数规则已变更（"
                + "、".join(c.name for c in self.rule_changes) + "），相关数字的变化可能来自规则变更。")

    @property
    def title(self) -> str:
        return f"{self.unit_name}民生实事工作调度报告（{self.year}年{self.month}月）"


def monthly_report(store: Store, year: int, month: int) -> MonthlyReport:
    """Everything the month's report says, computed as of the month's last day."""
    as_of = month_end(year, month)
    progress = compute(store, as_of)
    lagging = [p for p in progress.indicators if p.lagging]
    board = submission_board(store, as_of) if store.node.level == "district" else []
    issues = []
    for line in board:
        if not line.registered:
            issues.append(f"{line.name}：尚未登记配置文件，收不到其数据包")
            continue
        issues += line.gaps
        for due in line.overdue:
            d = dt.date.fromisoformat(due)
            issues.append(f"{line.name}：{d.month}月{d.day}日应报送的数据包未收到")
        if line.rejected:
            issues.append(f"{line.name}：数据包中有 {line.rejected} 行被拒收，请核对")
    conflicts = len(list_conflicts(store))
    if conflicts:
        issues.append(f"有 {conflicts} 处数据冲突待审核（同步中心 → 冲突）")
    open_pairs = [p for p in find_duplicates(store) if p.decision is None]
    if open_pairs:
        issues.append(f"有 {len(open_pairs)} 对疑似重复计数待核实（同一人在两处计数）")
    name = store.orgs.get(store.node.org).name
    key = f"{year}-{month:02d}"
    snapshot = rules_snapshot(store)
    previous = last_recorded(store, before=key)
    moved = changes(store, previous[1], snapshot) if previous else []
    if moved:
        issues.insert(0, f"计数规则已变更：{'、'.join(c.name for c in moved)}（与{_month_words(previous[0])}报告相比）")
    record(store, key, snapshot)
    return MonthlyReport(year, month, name, progress, lagging, board, issues,
                         {p.id: p.label for p in store.catalog.projects},
                         catalog_version=snapshot["catalog"], rule_changes=moved,
                         compared_with=previous[0] if previous else None,
                         previous_catalog=previous[1].get("catalog") if previous else None)


def _month_words(key: str) -> str:
    y, m = key.split("-")
    return f"{y}年{int(m)}月"


THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD = PatternFill("solid", fgColor="D9E1F2")


def monthly_workbook(store: Store, report: MonthlyReport, out: Path | str) -> Path:
    """The report as an xlsx: the progress table (per town too), then 滞后指标, 报送情况, 待办问题."""
    out = Path(out)
    progress_workbook(store, report.progress, out)
    wb = load_workbook(out)
    _table(wb.create_sheet("滞后指标", 1), f"{report.title}：滞后指标",
           ["序号", "指标", "责任单位", "目标", "完成", "完成率", "序时进度"],
           [[i, p.indicator.name, "、".join(p.indicator.units),
             _num(p.target, p.indicator.unit), _num(p.achieved, p.indicator.unit),
             "—" if p.rate is None else f"{p.rate:.1f}%",
             "—" if p.expected_rate is None else f"{p.expected_rate:.1f}%"]
            for i, p in enumerate(report.lagging, 1)])
    _table(wb.create_sheet("报送情况", 2), f"{report.title}：数据包报送情况",
           ["单位", "状态", "最近收到", "最近包号", "已收包数", "缺包", "逾期", "待审冲突", "拒收行"],
           [[b.name, STATUS_WORDS[b.status], (b.last_received or "—").replace("T", " "),
             b.last_seq or "—", b.packages, "；".join(b.gaps) or "—", "、".join(b.overdue) or "—",
             b.conflicts, b.rejected] for b in report.board])
    _table(wb.create_sheet("待办问题", 3), f"{report.title}：待办问题",
           ["序号", "问题"], [[i, text] for i, text in enumerate(report.issues or ["无"], 1)])
    changed = {c.indicator for c in report.rule_changes}
    ws = wb.create_sheet("计数规则", 4)
    _table(ws, f"{report.title}：计数规则（{report.rule_note}）",
           ["序号", "指标", "计数规则", "是否变更"],
           [[i, p.indicator.name, p.counting, "已变更" if p.indicator.id in changed else ""]
            for i, p in enumerate(report.progress.indicators, 1)])
    ws.column_dimensions["C"].width = 90
    wb.save(out)
    return out


def _num(value, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}"


def _table(ws, title: str, header: list[str], rows: list[list]) -> None:
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(header)
    for cell in ws[2]:
        cell.font, cell.fill, cell.border = Font(bold=True), HEAD, BORDER
    for row in rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            cell.border = BORDER
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, _ in enumerate(header, 1):
        ws.column_dimensions[ws.cell(row=2, column=i).column_letter].width = 16 if i > 1 else 8
    ws.column_dimensions["B"].width = 40
    ws.print_title_rows = "1:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
