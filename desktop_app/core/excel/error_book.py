"""The error workbook: the rows that were not imported, ready to fix and resend.

It keeps the sheet's own header rows and columns, fills each bad cell and puts
the reason in its note, and adds a 错误原因 column, so a village can correct the
rows and send the file back. Sensitive cells are masked like everywhere else,
unless the user chose to reveal them.
"""
from __future__ import annotations

import os
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill

from ..store.masking import mask_value
from ..store.writes import Writer
from .importer import ImportPlan
from .sheetmeta import safe_sheet_title
from .workbook import cell_text

BAD = PatternFill("solid", fgColor="FFC7CE")
CONFLICT = PatternFill("solid", fgColor="FFEB9C")
HEAD = PatternFill("solid", fgColor="D9D9D9")


def write_error_workbook(store, plan: ImportPlan, out: Path | str, *, reveal: bool = False,
                         purpose: str | None = None) -> Path:
    """Write the rejected (and conflicting) rows of ``plan`` to ``out`` (.xlsx).

    Like every export it is audited; unmasked (``reveal``) only for a role that may
    see sensitive values.
    """
    if reveal:
        store.require("reveal")
    out = Path(out)
    led = plan.ledger
    field_col = {fid: c for c, fid in plan.layout.mapping.items()}
    sensitive = {c: led.field(fid).type for c, fid in plan.layout.mapping.items()
                 if led.has_field(fid) and led.is_sensitive(fid)}
    width = max([len(r) for r in plan.header] + [len(r.cells) for r in plan.rows if r.cells] + [1])
    wb = Workbook()
    ws = wb.active
    ws.title = safe_sheet_title(f"{led.label}-未导入")
    ws.append([f"{plan.path.name}（工作表“{plan.sheet}”）中未导入的行：改正红色单元格后可重新导入"])
    ws["A1"].font = Font(bold=True, size=12)
    for header in plan.header:
        ws.append([*header, *[""] * (width - len(header)), "原表行号", "错误原因"])
        for cell in ws[ws.max_row]:
            cell.fill = HEAD
            cell.font = Font(bold=True)
    first_data = ws.max_row + 1
    for row in (r for r in plan.rows if r.status in ("rejected", "conflict")):
        cells = [mask_value(sensitive[c], cell_text(v)) if c in sensitive and not reveal
                 and v not in ("", None) else v for c, v in enumerate(row.cells)]
        cells += [""] * (width - len(cells))
        messages = [p.message for p in row.problems if p.severity == "error" or row.status == "conflict"]
        ws.append([*cells, row.row_no, "；".join(messages)])
        r = ws.max_row
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
    wb.save(tmp)
    with store.transaction():
        Writer(store, source=f"export:{out.name}").note(
            "export", tbl=led.table, detail={"rows": ws.max_row - first_data + 1, "purpose": purpose,
                                             "revealed": reveal, "errors_of": plan.path.name})
        os.replace(tmp, out)
    return out
