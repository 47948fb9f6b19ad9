"""The error workbook: the rows that were not imported, returned to the sender to fix and resend.

**Return to sender.** An error workbook holds exactly what the imported file held in
those rows — the cells as read from the file, never a value from the store — so it
shows nobody anything they did not just supply, whatever their role, and nothing has
to be masked (a masked cell would come back as a mask, and a mask can never be
imported as a value). What it adds is the import's own words: the reason for each
row (a conflict's current value here is masked by the policy, as on screen) and the
unit chosen for rows whose sheet named none. It is audited as an export of that
file's rows back to the person who imported it (``returned_to_sender``, with the
file's SHA-256, as the import history has it, the unit and the number of rows); the entry
says the file holds unmasked values (``revealed``: the file's own, ``values``:
``sender_file_unmasked``), since ID numbers go back as the sender typed them.

**The ledger's own template.** The workbook is the ledger's import template
(:func:`~.template.template_book`: the title naming the sheet's unit, a 填报单位
line, the header 村（社区） and the field labels, rules as header notes, dropdowns,
ID columns as text), with the file's cells under the field they were imported as.
So a town sheet's merged group headers (宫颈癌检查 / 乳腺癌检查 → 初筛结果) come back
as 宫颈初筛结果 and 乳腺初筛结果, and the corrected workbook maps itself on the next
import. Two grey columns follow, 原表行号 and 错误原因, which the importer does not
import; a row exported by this program keeps its hidden row id and exported values,
so it updates that record again. The file's columns that were not imported (序号,
年龄 …) are not returned.

Every cell is written as a value, never as a formula: a cell that came in as
``=HYPERLINK(...)`` (or anything a spreadsheet would run: a leading ``=``, ``+``,
``-``, ``@``, TAB or CR) goes back as text with Excel's quote prefix
(:func:`as_text`). Like every file written for the user it is readable by its owner
only (0600 on POSIX) from the moment it exists, and appears under its name only
once complete::

    >>> import tempfile, pathlib
    >>> from openpyxl import Workbook, load_workbook
    >>> from desktop_app.core.store import Store
    >>> from desktop_app.core.excel import plan_import
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.create(folder / "t.sqlite3", level="town", org="河坝镇", operator="示例")
    >>> _ = store.add_villages(["示例村一"])
    >>> sheet = Workbook()
    >>> sheet.active.append(["村（社区）", "姓名", "身份证号"])
    >>> sheet.active.append(["示例村一", "示例九", "43090219710916155"])      # 17 digits
    >>> sheet.save(folder / "村里的表.xlsx")
    >>> plan = plan_import(store, folder / "村里的表.xlsx", ledger="two_cancer")
    >>> out = write_error_workbook(store, plan, folder / "错误.xlsx")
    >>> ws = load_workbook(out).active
    >>> [c.value for c in ws[4]][:3], ws.cell(4, ws.max_column).value
    (['示例村一', '示例九', '43090219710916155'], '身份证号：应为 18 位（前 17 位数字，最后一位数字或 X），现在是 17 位')
    >>> store.close()
"""
from __future__ import annotations

from pathlib import Path

from openpyxl.comments import Comment
from openpyxl.styles import Alignment, PatternFill
from openpyxl.utils import get_column_letter

from ..store.policy import policy_for
from ..store.writes import Writer
from .columns import BASE, ORG, ROW_ID
from .importer import ImportPlan, RowPlan
from .sheetmeta import BASE_HEADER, ID_HEADER, REASON_HEADER, ROW_NO_HEADER
from .template import FIRST_DATA_ROW, atomic_output, org_labels, template_book, template_fields
from .workbook import is_blank

BAD = PatternFill("solid", fgColor="FFC7CE")
CONFLICT = PatternFill("solid", fgColor="FFEB9C")
RISKY_LEAD = ("=", "+", "-", "@", "\t", "\r")   # what a spreadsheet may run as a formula (OWASP)
_EXTRA = ((ROW_NO_HEADER, "原表中的行号，便于对照；导入时不读取本列", 10.0),
          (REASON_HEADER, "这一行没有导入的原因；改正后不必删除本列，导入时不读取本列", 60.0))
_HIDDEN = ((ID_HEADER, "本程序导出的行标识，请勿修改", 20.0),
           (BASE_HEADER, "导出时的值，请勿修改", 20.0))


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


def write_error_workbook(store, plan: ImportPlan, out: Path | str) -> Path:
    """Write the rejected and conflicting rows of ``plan`` to ``out`` (.xlsx), as the file
    carried them, in the ledger's template (see the module's notes); audited.

    :raises StoreError: when ``out`` cannot be written (no such folder, no permission,
        the file is open in Excel or WPS); nothing is left behind then.
    """
    out = Path(out)
    led = plan.ledger
    tree = store.orgs
    unit = tree.get(plan.source.code or policy_for(store).default_org(store.node.org))
    bad = [r for r in plan.rows if r.status in ("rejected", "conflict")]
    fields = template_fields(led)
    returned = ROW_ID in plan.layout.mapping.values()
    extra = _EXTRA + (_HIDDEN if returned else ())
    note = (f"填报单位：{unit.name}　　{plan.path.name}（工作表“{plan.sheet}”）中没有导入的 {len(bad)} 行。"
            "红色单元格有错（鼠标移上去可看原因），黄色为导出后两边都改过的内容；改正后整表重新导入即可，"
            f"“{ROW_NO_HEADER}”“{REASON_HEADER}”两列不导入。")
    wb, ws = template_book(store, led, unit, kind="errors", rows=max(len(bad), 1), note=note, extra=extra)
    column_of = {ORG: 1} | {f.id: c for c, f in enumerate(fields, start=2)}
    source_col = {target: c for c, target in plan.layout.mapping.items()}
    labels = org_labels(store)
    width = len(fields) + 1
    for r, row in enumerate(bad, start=FIRST_DATA_ROW):
        cells = row.cells or []

        def cell(target: str):
            c = source_col.get(target)
            return cells[c] if c is not None and c < len(cells) else None
        values = [cell(ORG) if not is_blank(cell(ORG)) else labels.get(row.org, "") if row.org else None]
        values += [cell(f.id) for f in fields]
        values += [row.row_no, "；".join(_reasons(row))]
        if returned:
            values += [cell(ROW_ID), cell(BASE)]
        as_text([ws.cell(r, c, value) for c, value in enumerate(values, start=1) if not is_blank(value)])
        for p in row.problems:
            c = column_of.get(p.field)
            if c is not None:
                target = ws.cell(r, c)
                target.fill = CONFLICT if row.status == "conflict" else BAD
                target.comment = Comment(p.message, "民生实事台账")
        ws.cell(r, width + 2).alignment = Alignment(wrap_text=True, vertical="top")
    for c in range(width + len(_EXTRA) + 1, width + len(extra) + 1):
        ws.column_dimensions[get_column_letter(c)].hidden = True
    with store.transaction():
        with atomic_output(out) as tmp:
            wb.save(tmp)
            Writer(store, source=f"export:{out.name}").note(
                "export", tbl=led.table, detail={
                    "rows": len(bad), "purpose": None, "org": unit.code, "errors_of": plan.path.name,
                    "sha256": plan.sha256, "returned_to_sender": True,
                    # unmasked, but only what the imported file itself carried in those rows
                    "revealed": True, "values": "sender_file_unmasked"})
    return out


def _reasons(row: RowPlan) -> list[str]:
    return [p.message for p in row.problems if p.severity == "error" or row.status == "conflict"]
