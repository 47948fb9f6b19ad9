"""The 民生实事进展情况统计表: progress as a workbook to print on A4 and hand in.

    >>> import tempfile, pathlib, datetime as dt
    >>> from openpyxl import load_workbook
    >>> from desktop_app.core.store.database import Store
    >>> from desktop_app.core.district.progress import compute
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.create(folder / "t.sqlite3", level="town", org="河坝镇", operator="示例")
    >>> _ = store.add_villages(["示例村一", "示例村二"])
    >>> path = progress_workbook(store, compute(store, dt.date(2024, 6, 30)), folder / "进展.xlsx")
    >>> load_workbook(path).sheetnames
    ['合计', '示例村一', '示例村二']
    >>> store.close()

The first sheet, 合计, is the report as given; then one sheet per child unit
of the report's scope (the towns of the district, the villages of a town),
each computed for that unit as of the same date. On every sheet: the title in
row 1, 填报单位 / 统计范围 / 统计日期 / 填报日期 / 序时进度 in row 2, the column
header in row 3 (rows 1–3 repeat on every printed page), one row per indicator
grouped by project, then a count of lagging indicators and signature lines.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from ..excel.sheetmeta import safe_sheet_title
from ..excel.template import atomic_output, print_setup, text_width
from .progress import UNSPLIT, IndicatorProgress, ProgressReport, compute

if TYPE_CHECKING:
    from ..store.database import Store

COLUMNS = (("序号", 6), ("项目", 18), ("指标", 30), ("责任单位", 18), ("目标（含单位）", 14),
           ("完成", 11), ("完成率", 9), ("序时进度", 9), ("是否滞后", 9))
TITLE_ROW, INFO_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3, 4
LAG_LABELS = ("滞后", "正常", "已完成", "无数据", UNSPLIT, "定性")
_COMPARATORS = {">=": "≥", ">": ">", "=": "", "<=": "≤"}

_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_LAG_FILL = PatternFill("solid", fgColor="FFC7CE")
_LAG_FONT = Font(bold=True, color="9C0006")
_DONE_FONT = Font(color="006100")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
_RIGHT = Alignment(horizontal="right", vertical="center", wrap_text=True)


def lag_label(item: IndicatorProgress) -> str:
    """是否滞后 in words: 定性 (qualitative), 未分解 (an amount the district has not split
    to this unit), 已完成 (target met), 无数据 (nothing to judge yet), else 滞后 or 正常 by
    core.progress's ``lagging``."""
    if item.indicator.kind == "qualitative":
        return "定性"
    if item.unsplit:
        return UNSPLIT
    if item.met:
        return "已完成"
    if item.lagging is None:
        return "无数据"
    return "滞后" if item.lagging else "正常"


def date_text(day: dt.date) -> str:
    """A date the way it is written on a form handed in.

    >>> date_text(dt.date(2024, 6, 30))
    '2024年6月30日'
    """
    return f"{day.year}年{day.month}月{day.day}日"


def number_text(value: float) -> str:
    """A number as written in a report: no trailing zeros, no exponent.

    >>> number_text(3000.0), number_text(138.894), number_text(0.5)
    ('3000', '138.894', '0.5')
    """
    return f"{value:.6f}".rstrip("0").rstrip(".")


def target_text(item: IndicatorProgress) -> str:
    """目标（含单位）: ``3000人``, ``≥60%``, ``≥700元/月``; ``定性任务`` without a number;
    ``未分解`` for an amount the district has not split to this unit."""
    ind = item.indicator
    if item.unsplit:
        return UNSPLIT
    if item.target is None:
        return "定性任务" if ind.kind == "qualitative" else ""
    prefix = "" if ind.is_amount and ind.comparator == ">=" else _COMPARATORS[ind.comparator]
    return f"{prefix}{number_text(item.target)}{ind.unit}"


def progress_workbook(store: Store, report: ProgressReport, out_path: Path | str, *,
                      unit_name: str | None = None) -> Path:
    """Write the progress report to ``out_path`` (.xlsx), ready to print on A4.

    ``unit_name`` is the 填报单位 (default: the install's unit). Sheet 合计 is
    ``report`` itself; each child unit of ``report.scope`` gets its own sheet
    with the same indicators, computed as of ``report.as_of``.
    """
    unit_name = unit_name or store.orgs.get(store.node.org).name
    tree = store.orgs
    scope = tree.get(report.scope)
    ids = [item.indicator.id for item in report.indicators]
    wb = Workbook()
    ws = wb.active
    ws.title = "合计"
    _sheet(ws, store, report, unit_name, f"{scope.name if scope else report.scope}（合计）")
    for child in tree.children(report.scope):
        child_report = compute(store, report.as_of, scope=child.code, indicators=ids)
        _sheet(wb.create_sheet(safe_sheet_title(child.name)), store, child_report, unit_name,
               child.name)
    out_path = Path(out_path)
    with atomic_output(out_path) as tmp:
        wb.save(tmp)
    return out_path


def _sheet(ws, store: Store, report: ProgressReport, unit_name: str, scope_name: str) -> None:
    catalog = store.catalog
    ncols = len(COLUMNS)
    last = get_column_letter(ncols)

    ws.merge_cells(f"A{TITLE_ROW}:{last}{TITLE_ROW}")
    title = ws.cell(TITLE_ROW, 1, f"{catalog.plan_year}年民生实事进展情况统计表")
    title.font = Font(name="宋体", size=18, bold=True)
    title.alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[TITLE_ROW].height = 36
    ws.merge_cells(f"A{INFO_ROW}:{last}{INFO_ROW}")
    info = ws.cell(INFO_ROW, 1, (
        f"填报单位：{unit_name}　　统计范围：{scope_name}　　统计日期：{date_text(report.as_of)}"
        f"　　填报日期：{date_text(dt.date.today())}　　序时进度：{number_text(report.expected_rate)}%"))
    info.alignment = Alignment(vertical="center")
    ws.row_dimensions[INFO_ROW].height = 22

    for col, (name, width) in enumerate(COLUMNS, start=1):
        cell = ws.cell(HEADER_ROW, col, name)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = _CENTER
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.row_dimensions[HEADER_ROW].height = 24

    order = {p.id: i for i, p in enumerate(catalog.projects)}
    items = sorted(report.indicators, key=lambda it: order[it.indicator.projects[0]])
    groups: list[tuple[str, int]] = []  # (project label, number of rows), in order
    for item in items:
        label = catalog.project(item.indicator.projects[0]).label
        if groups and groups[-1][0] == label:
            groups[-1] = (label, groups[-1][1] + 1)
        else:
            groups.append((label, 1))
    group_sizes = [size for _, size in groups for _ in range(size)]

    counts = dict.fromkeys(LAG_LABELS, 0)
    for i, item in enumerate(items):
        row = FIRST_ROW + i
        label = lag_label(item)
        counts[label] += 1
        ind = item.indicator
        values = [i + 1, catalog.project(ind.projects[0]).label, ind.name, "、".join(ind.units),
                  target_text(item), item.achieved,
                  None if item.rate is None else round(item.rate / 100, 4),
                  None if item.expected_rate is None else round(item.expected_rate / 100, 4), label]
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row, col, value)
            cell.border = _BORDER
            cell.alignment = _CENTER if col in (1, 9) else _RIGHT if col in (5, 6, 7, 8) else _LEFT
            if col in (7, 8):
                cell.number_format = "0.0%"
            if label == "滞后" and col != 2:  # the project cell is merged over its group
                cell.fill = _LAG_FILL
        status = ws.cell(row, 9)
        status.font = _LAG_FONT if label == "滞后" else _DONE_FONT if label == "已完成" else Font()
        ws.row_dimensions[row].height = _row_height(values, group_sizes[i])

    row = FIRST_ROW
    for _, size in groups:
        if size > 1:
            ws.merge_cells(start_row=row, start_column=2, end_row=row + size - 1, end_column=2)
        row += size

    end = FIRST_ROW + len(items)
    ws.merge_cells(f"A{end}:{last}{end}")
    summary = "、".join(f"{name} {counts[name]} 项" for name in LAG_LABELS if counts[name])
    ws.cell(end, 1, f"合计 {len(items)} 项指标：{summary or '无'}").font = Font(bold=True)
    ws.merge_cells(f"A{end + 1}:{last}{end + 1}")
    note = ws.cell(end + 1, 1, "说明：完成率＝完成÷目标；序时进度＝统计日期已过天数÷全年天数（按月、季度的任务按已过期数计）；"
                               "未达到目标且完成率低于序时进度的为“滞后”。"
                               + ("“未分解”：区尚未把该指标的目标分解到本单位，只列本单位的完成数。"
                                  if counts[UNSPLIT] else ""))
    note.alignment = _LEFT
    ws.row_dimensions[end + 1].height = 30
    ws.merge_cells(f"A{end + 3}:{last}{end + 3}")
    ws.cell(end + 3, 1, "填报人：　　　　　　　　　审核人：　　　　　　　　　联系电话：")

    ws.freeze_panes = ws.cell(FIRST_ROW, 1)
    print_setup(ws, f"{TITLE_ROW}:{HEADER_ROW}")


def _row_height(values: list, group_size: int) -> float:
    """Points for a row whose wrapped cells must show in full on paper (the
    project cell is merged over ``group_size`` rows and shares their height)."""
    lines = 1
    for col, ((_, width), value) in enumerate(zip(COLUMNS, values), start=1):
        if isinstance(value, str):
            needed = math.ceil(text_width(value) / (width - 1))
            lines = max(lines, math.ceil(needed / group_size) if col == 2 else needed)
    return 16 * lines + 4
