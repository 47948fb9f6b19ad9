"""The error workbook: the rows that were not imported, ready to fix and resend.

It keeps the sheet's own header rows and columns, fills each bad cell and puts
the reason in its note, and adds a 错误原因 column, so a village can correct the
rows and send the file back. Sensitive cells are masked like everywhere else,
unless the user chose to reveal them.

Every cell is written as text, never as a formula: a cell that came in as
``=HYPERLINK(...)`` (or anything a spreadsheet would run: a leading ``=``, ``+``,
``-``, ``@``, TAB or CR) goes back as text with Excel's quote prefix, so opening
or editing the workbook evaluates nothing (:func:`as_text`). Like every file
written for the user it is readable by its owner only (0600 on POSIX) from the
moment it exists.
"""
from __future__ import annotations

import os
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill

from ..store.policy import policy_for
from ..store.writes import Writer
from .importer import ImportPlan
from .sheetmeta import safe_sheet_title
from .workbook import cell_text

BAD = PatternFill("solid", fgColor="FFC7CE")
CONFLICT = PatternFill("solid", fgColor="FFEB9C")
HEAD = PatternFill("solid", fgColor="D9D9D9")
RISKY_LEAD = ("=", "+", "-", "@", "\t", "\r")   # what a spreadsheet may run as a formula (OWASP)


def as_text(cells) -> None:
    """Make every text cell of ``cells`` plain text: one that a spreadsheet would run
    (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, a leading TAB or CR) keeps its text and
    gets the quote prefix, so neither opening nor editing it evaluates anything.

    >>> from openpyxl import Workbook
    >>> ws = Workbook().active
    >>> ws.append(['=HYPERLINK("http://example.invalid","点我")', "示例", 3])
    >>> as_text(ws[1])
    >>> [(c.data_type, c.quotePrefix) for c in ws[1]]
    [('s', True), ('s', False), ('n', False)]
    """
    for cell in cells:
        value = cell.value
        if value.__class__ is str and value.startswith(RISKY_LEAD):
            cell.data_type = "s"
            cell.quotePrefix = True


def write_error_workbook(store, plan: ImportPlan, out: Path | str, *, reveal: bool = False,
                         purpose: str | None = None) -> Path:
    """Write the rejected (and conflicting) rows of ``plan`` to ``out`` (.xlsx).

    Like every export it is audited; unmasked (``reveal``) only for a role that may
    see sensitive values. The workbook is written beside ``out`` (a private file, made
    before any content goes in) and renamed into place with the audit entry.

    :raises OSError: when ``out`` cannot be written (no such folder, no permission,
        the file is open in Excel or WPS); nothing is left behind then.
    """
    policy = policy_for(store).exporting(store, reveal)
    out = Path(out)
    led = plan.ledger
    field_col = {fid: c for c, fid in plan.layout.mapping.items()}
    sensitive = {c for c, fid in plan.layout.mapping.items() if led.has_field(fid) and led.is_sensitive(fid)}
    width = max([len(r) for r in plan.header] + [len(r.cells) for r in plan.rows if r.cells] + [1])
    mask = policy.masker(led, [plan.layout.mapping.get(c) for c in range(width)])
    wb = Workbook()
    ws = wb.active
    ws.title = safe_sheet_title(f"{led.label}-未导入")
    ws.append([f"{plan.path.name}（工作表“{plan.sheet}”）中未导入的行：改正红色单元格后可重新导入"])
    ws["A1"].font = Font(bold=True, size=12)
    as_text(ws[1])
    for header in plan.header:
        ws.append([*header, *[""] * (width - len(header)), "原表行号", "错误原因"])
        as_text(ws[ws.max_row])
        for cell in ws[ws.max_row]:
            cell.fill = HEAD
            cell.font = Font(bold=True)
    first_data = ws.max_row + 1
    for row in (r for r in plan.rows if r.status in ("rejected", "conflict")):
        cells = [*row.cells, *[""] * (width - len(row.cells))]
        cells = mask([cell_text(v) if c in sensitive and v is not None else v for c, v in enumerate(cells)])
        messages = [p.message for p in row.problems if p.severity == "error" or row.status == "conflict"]
        ws.append([*cells, row.row_no, "；".join(messages)])
        r = ws.max_row
        as_text(ws[r])
        for p in row.problems:
            c = field_col.get(p.field)
            if c is None:
                continue
            cell = ws.cell(row=r, column=c + 1)
            cell.fill = CONFLICT if row.status == "conflict" else BAD
            cell.comment = Comment(p.message, "民生实事台账")
        reason = ws.cell(row=r, column=width + 2)
        reason.alignment = Alignment(wrap_text=True, vertical="top")
    for c in range(1, width + 1):
        ws.column_dimensions[ws.cell(row=2, column=c).column_letter].width = 16
    ws.column_dimensions[ws.cell(row=2, column=width + 2).column_letter].width = 60
    ws.freeze_panes = ws.cell(row=first_data, column=1)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.unlink(missing_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600))
        wb.save(tmp)
        with store.transaction():
            Writer(store, source=f"export:{out.name}").note(
                "export", tbl=led.table, detail={"rows": ws.max_row - first_data + 1, "purpose": purpose,
                                                 "revealed": reveal, "errors_of": plan.path.name})
            os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
