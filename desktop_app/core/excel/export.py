"""Export a ledger's rows to Excel (.xlsx) or CSV, masked unless revealed, audited.

    >>> import tempfile, pathlib, datetime as dt
    >>> from desktop_app.core.store.database import Store
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.create(folder / "t.sqlite3", level="town", org="河坝镇", operator="示例")
    >>> _ = store.add_villages(["示例村一"])
    >>> _ = store.ledger("two_cancer").add({"name": "示例一", "id_number": "43090219710916154X"},
    ...                                    org="示例村一", today=dt.date(2024, 6, 30))
    >>> result = export_ledger(store, "two_cancer", folder / "两癌.csv")
    >>> result.rows, result.masked
    (1, True)
    >>> (folder / "两癌.csv").read_text(encoding="utf-8-sig").splitlines()[1].split(",")[:3]
    ['示例村一', '示例一', '430***********154X']
    >>> store.close()

An .xlsx export looks like a template (:mod:`.template`: title in row 1, a
note in row 2, the header in row 3, data from row 4, dropdowns, ID columns
as text, dates as real dates) with two hidden leading columns: A
:data:`~.sheetmeta.ID_HEADER` (the row's uuid) and B
:data:`~.sheetmeta.BASE_HEADER` (the row's values as exported, see below);
column C is 村（社区） and the fields follow in catalog order. It is written
with XlsxWriter in constant-memory mode, so a large ledger costs little memory.

The base JSON maps field id → the value as the store holds it (yes/no as
1/0, dates as ``YYYY-MM-DD``, numbers as numbers), masked with
:meth:`~.policy.Policy.masker` exactly where the visible cell is masked; empty
values are left out. The importer compares a returned cell, normalised, with
it to tell a village's edit from an untouched cell, and compares the store's
current value with it to find rows changed on both sides since the export.

A CSV export (UTF-8 with BOM, so Excel and WPS open it without mojibake) has
the header row and the data only: 村（社区） and the fields, shown as a
person reads them (是/否, trimmed decimals).
"""
from __future__ import annotations

import csv
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from ..catalog.attachment_refs import names
from ..catalog.fieldtypes import EXCEL_EPOCH, display
from ..catalog.model import Ledger
from ..catalog.orgs import Org
from ..errors import StoreError
from ..store.policy import Policy, policy_for
from ..store.schema import LIVE, within_sql
from ..store.writes import Writer
from .sheetmeta import BASE_HEADER, ID_HEADER, META_SHEET, OPTIONS_SHEET, ORG_HEADER, encode_base, safe_sheet_title
from .template import (
    DATE_FORMAT,
    FIRST_DATA_ROW,
    HEADER_ROW,
    META_LABELS,
    NOTE_ROW,
    TEMPLATE_ROWS,
    TEXT_FORMAT,
    TEXT_TYPES,
    TITLE_ROW,
    atomic_output,
    choice_error,
    column_width,
    comment_size,
    dropdown_options,
    field_rule,
    header_text,
    meta_values,
    needs_options_sheet,
    org_labels,
    org_rule,
    resolve_unit,
    title_text,
    village_options,
)

if TYPE_CHECKING:
    from ..store.database import Store

XLSX_MAX_ROWS = 1_048_576 - HEADER_ROW  # Excel's last row, minus the rows above the data
ORG_COLUMN = 2                          # 0-based column of 村（社区） in an .xlsx export

# how a column's values are written: text, text kept as text (ID numbers, phones:
# the cells get the "@" format), number, date, yes/no (是/否)
_TEXT, _KEEP_TEXT, _NUMBER, _DATE, _YESNO = range(5)
_KIND = {"integer": _NUMBER, "decimal": _NUMBER, "date": _DATE, "yesno": _YESNO} | {
    t: _KEEP_TEXT for t in TEXT_TYPES}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the file, the number of rows, whether sensitive
    values were masked, and the org whose rows were exported (code)."""

    path: Path
    rows: int
    masked: bool
    org: str

    def to_json(self) -> dict:
        return {"file": str(self.path), "rows": self.rows, "masked": self.masked,
                "org": self.org}


def export_ledger(store: Store, ledger_id: str, out_path: Path | str, *,
                  village: str | None = None, reveal: bool = False,
                  purpose: str | None = None) -> ExportResult:
    """Export the live rows of a ledger to ``out_path`` (.xlsx or .csv by extension).

    ``village`` (name or code of an org under the install) exports only that
    org's rows (its code is a prefix of theirs). Sensitive fields are masked
    unless ``reveal``; a revealed export needs a ``purpose``. Every export
    writes one audit entry (action ``export``) with the row count, purpose and
    whether values were revealed, in the same transaction that reads the rows.
    The file is written beside the target and moved into place at the end.

    :raises StoreError: (exit code 1) for an unknown ledger or org, a missing
        purpose, an unsupported extension or too many rows for Excel.
    """
    ledger = store.ledger(ledger_id).ledger
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise StoreError(f"{out_path.name}：只能导出为 .xlsx 或 .csv 文件，请改文件扩展名", 1)
    purpose = (purpose or "").strip() or None
    policy = policy_for(store).exporting(store, reveal)
    if reveal and not purpose:
        raise StoreError("导出不打码的敏感信息须写明用途（将记入审计日志）", 1)
    unit = resolve_unit(store, village)
    where, params = LIVE, []
    if unit.code != store.node.org:   # a unit named, or the user's own: its range of the org index
        cond, params = within_sql(unit.code)
        where += f" AND {cond}"
    table = ledger.table
    with store.transaction():
        count = store.conn.execute(f"SELECT COUNT(*) FROM [{table}] WHERE {where}",
                                   params).fetchone()[0]
        if suffix == ".xlsx" and count > XLSX_MAX_ROWS:
            raise StoreError(f"{ledger.label}有 {count} 行，超过 Excel 一张表的上限；"
                             "请按村（社区）分别导出，或导出为 .csv", 1)
        cols = ", ".join(f"[{f.id}]" for f in ledger.fields)
        cursor = store.conn.execute(
            f"SELECT uuid, org, {cols} FROM [{table}] WHERE {where} ORDER BY _created, rowid",
            params)
        rows = _rows(store, ledger, cursor, policy)
        with atomic_output(out_path) as tmp:
            if suffix == ".xlsx":
                _write_xlsx(tmp, store, ledger, unit, rows, count, masked=not reveal)
            else:
                _write_csv(tmp, ledger, rows)
            Writer(store, source=f"export:{out_path.name}").note(
                "export", tbl=table,
                detail={"rows": count, "purpose": purpose, "revealed": reveal, "org": unit.code})
    return ExportResult(out_path, count, not reveal, unit.code)


def _rows(store: Store, ledger: Ledger, cursor, policy: Policy):
    """(uuid, 村（社区）, field values masked as exported) per row; an empty
    value is None or ""."""
    labels = org_labels(store)
    mask = policy.masker(ledger, [f.id for f in ledger.fields])
    files = [i for i, f in enumerate(ledger.fields) if f.type == "attachment"]
    for uid, org, *values in cursor:
        for i in files:
            values[i] = names(values[i]) or None  # the files' names (files travel in packages)
        yield uid, labels.get(org, org), mask(values)


# ------------------------------------------------------------ CSV

def _write_csv(path: Path, ledger: Ledger, rows) -> None:
    fields = ledger.fields
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([ORG_HEADER] + [header_text(f) for f in fields])
        for _uid, org, cells in rows:
            # a string is text or a masked value, shown as it is; 1/0 → 是/否, 12.50 → 12.5
            out.writerow([_csv_safe(org)] + [_csv_safe(v) if v.__class__ is str else "" if v is None
                                  else display(f, v) for f, v in zip(fields, cells)])


CSV_RISKY_LEAD = ("=", "+", "-", "@", "\t", "\r")   # OWASP: CSV injection


def _csv_safe(text: str) -> str:
    """Text a spreadsheet would run as a formula (=, +, -, @, TAB or CR first) gets a
    leading quote, so Excel and WPS show it as text (OWASP's advice on CSV injection).

    >>> _csv_safe("=1+1"), _csv_safe("示例"), _csv_safe("\\t=1+1"), _csv_safe("\\r@SUM(A1)")
    ("'=1+1", '示例', "'\\t=1+1", "'\\r@SUM(A1)")
    """
    return "'" + text if text.startswith(CSV_RISKY_LEAD) else text


# ------------------------------------------------------------ XLSX

def _write_xlsx(path: Path, store: Store, ledger: Ledger, unit: Org, rows, count: int, *,
                masked: bool) -> None:
    # constant-memory mode keeps each sheet's rows in a scratch file until close();
    # a private scratch directory makes sure a failed export leaves none behind
    with tempfile.TemporaryDirectory(prefix="minsheng-export-",
                                     ignore_cleanup_errors=True) as scratch:
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": scratch})
        fmt = {name: wb.add_format(spec) for name, spec in _FORMATS.items()}
        ws = wb.add_worksheet(safe_sheet_title(ledger.label))
        villages = village_options(store)
        _head(ws, fmt, store, ledger, unit, villages, count, masked)
        long_lists = _dropdowns(ws, ledger, villages, count)
        _data(ws, fmt, ledger, rows)
        if long_lists:
            _options_sheet(wb.add_worksheet(OPTIONS_SHEET), long_lists)
        meta = wb.add_worksheet(META_SHEET)
        meta.hide()
        meta.set_column(1, 1, 36)
        values = meta_values(store, ledger, kind="export", org=unit, masked=masked)
        for i, (key, value) in enumerate(values.items()):
            meta.write_string(i, 0, key)
            meta.write_string(i, 1, value)
            meta.write_string(i, 2, META_LABELS[key])
        wb.close()


_FORMATS = {
    "title": {"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"},
    "note": {"valign": "vcenter"},
    "header": {"bold": True, "border": 1, "border_color": "#808080", "bg_color": "#DDEBF7",
               "text_wrap": True, "align": "center", "valign": "vcenter"},
    "star": {"bold": True, "font_color": "#FF0000"},
    "bold": {"bold": True},
    "text": {"num_format": TEXT_FORMAT},
    "date": {"num_format": DATE_FORMAT},
}


def _head(ws, fmt: dict, store: Store, ledger: Ledger, unit: Org, villages: list[str],
          count: int, masked: bool) -> None:
    """Column widths and formats, title, note, header with rules, print setup."""
    fields = ledger.fields
    last = ORG_COLUMN + len(fields)
    ws.set_column(0, 1, 20, None, {"hidden": True})
    ws.set_column(ORG_COLUMN, ORG_COLUMN, 14)
    for col, f in enumerate(fields, start=ORG_COLUMN + 1):
        kind = _KIND.get(f.type, _TEXT)
        ws.set_column(col, col, column_width(f), fmt["text"] if kind == _KEEP_TEXT
                      else fmt["date"] if kind == _DATE else None)

    ws.set_row(TITLE_ROW - 1, 32)
    ws.merge_range(TITLE_ROW - 1, ORG_COLUMN, TITLE_ROW - 1, last,
                   title_text(unit.name, ledger, store.catalog.plan_year), fmt["title"])
    note = (f"导出单位：{unit.name}　　导出时间：{dt.datetime.now():%Y-%m-%d %H:%M}　　"
            f"共 {count} 条记录　　")
    note += ("敏感信息已打码：打码的单元格请保持原样，需要更正时整格重填完整内容"
             if masked else "本表含完整的敏感信息，请妥善保管，用毕删除")
    ws.set_row(NOTE_ROW - 1, 22)
    ws.merge_range(NOTE_ROW - 1, ORG_COLUMN, NOTE_ROW - 1, last, note, fmt["note"])

    row = HEADER_ROW - 1
    ws.set_row(row, 36)
    ws.write_string(row, 0, ID_HEADER, fmt["header"])
    ws.write_string(row, 1, BASE_HEADER, fmt["header"])
    ws.write_string(row, ORG_COLUMN, ORG_HEADER, fmt["header"])
    _comment(ws, row, ORG_COLUMN, org_rule(villages))
    for col, f in enumerate(fields, start=ORG_COLUMN + 1):
        if f.required:
            ws.write_rich_string(row, col, fmt["star"], "*", fmt["bold"], f.label, fmt["header"])
        else:
            ws.write_string(row, col, f.label, fmt["header"])
        _comment(ws, row, col, field_rule(ledger, f))

    ws.freeze_panes(FIRST_DATA_ROW - 1, ORG_COLUMN + 1)
    ws.repeat_rows(TITLE_ROW - 1, HEADER_ROW - 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.hide_gridlines(0)  # print the grid


def _dropdowns(ws, ledger: Ledger, villages: list[str],
               count: int) -> list[tuple[str, tuple[str, ...]]]:
    """Dropdowns over the data rows and as many again as a template has; returns
    the lists too long to write inline, for the options sheet (in its column order)."""
    lists = [(ORG_COLUMN, ORG_HEADER, villages)] + [
        (col, f.label, dropdown_options(f)) for col, f in enumerate(ledger.fields, ORG_COLUMN + 1)]
    long_lists: list[tuple[str, tuple[str, ...]]] = []
    first, last = FIRST_DATA_ROW - 1, FIRST_DATA_ROW - 2 + count + TEMPLATE_ROWS
    for col, name, options in lists:
        if not options:
            continue
        if needs_options_sheet(options):
            letter = xl_col_to_name(len(long_lists))
            long_lists.append((name, tuple(options)))
            source = f"='{OPTIONS_SHEET}'!${letter}$2:${letter}${len(options) + 1}"
        else:
            source = list(options)
        ws.data_validation(first, col, last, col, {
            "validate": "list", "source": source, "ignore_blank": True,
            "error_title": "不是可选项", "error_message": choice_error(options)})
    return long_lists


def _data(ws, fmt: dict, ledger: Ledger, rows) -> None:
    """The rows, in order (constant-memory mode writes each row once, top to bottom)."""
    # XlsxWriter's undecorated writers skip parsing "A1" cell names: ~10 % of the time
    write_string = getattr(ws, "_write_string", ws.write_string)
    write_number = getattr(ws, "_write_number", ws.write_number)
    text_fmt, date_fmt = fmt["text"], fmt["date"]
    ids = [f.id for f in ledger.fields]
    by_kind: dict[int, list[tuple[int, int]]] = {kind: [] for kind in range(5)}
    for i, f in enumerate(ledger.fields):  # (index in the row, sheet column) per kind
        by_kind[_KIND.get(f.type, _TEXT)].append((i, ORG_COLUMN + 1 + i))
    # (index in the row, sheet column, format) of the text columns, ID numbers and phones as text
    texts = [(i, col, None) for i, col in by_kind[_TEXT]] + [(i, col, text_fmt) for i, col in by_kind[_KEEP_TEXT]]
    numbers, dates, yesnos = by_kind[_NUMBER], by_kind[_DATE], by_kind[_YESNO]
    serials: dict[str, int | None] = {}
    row = FIRST_DATA_ROW - 1
    for uid, org, cells in rows:
        write_string(row, 0, uid)
        write_string(row, 1, encode_base(zip(ids, cells)))
        write_string(row, ORG_COLUMN, org)
        # text and date columns hold str or None (SQLite's TEXT affinity); so do masked cells
        for i, col, cell_format in texts:
            if cells[i]:
                write_string(row, col, cells[i], cell_format)
        for i, col in dates:
            value = cells[i]
            if value:
                serial = serials.get(value, _UNSEEN)
                if serial is _UNSEEN:
                    serial = serials[value] = _excel_serial(value)
                if serial is None:  # masked
                    write_string(row, col, value)
                else:
                    write_number(row, col, serial, date_fmt)
        for i, col in numbers:
            value = cells[i]
            if value is not None and value != "":
                if value.__class__ is str:
                    write_string(row, col, value)
                else:
                    write_number(row, col, value)
        for i, col in yesnos:
            value = cells[i]
            if value is not None and value != "":
                write_string(row, col, value if value.__class__ is str else "是" if value else "否")
        row += 1


_UNSEEN = object()


def _options_sheet(ws, long_lists: list[tuple[str, tuple[str, ...]]]) -> None:
    """One list per column: its name in row 1, the options below (written row by row)."""
    ws.hide()
    for col, (name, _) in enumerate(long_lists):
        ws.write_string(0, col, name)
    for i in range(max(len(options) for _, options in long_lists)):
        for col, (_, options) in enumerate(long_lists):
            if i < len(options):
                ws.write_string(i + 1, col, options[i])


def _comment(ws, row: int, col: int, text: str) -> None:
    width, height = comment_size(text)
    ws.write_comment(row, col, text, {"width": width, "height": height,
                                      "author": "民生实事台账"})


def _excel_serial(iso: str) -> int | None:
    """The Excel serial number of a ``YYYY-MM-DD`` date, or None if it is not one."""
    try:
        return (dt.date.fromisoformat(iso) - EXCEL_EPOCH).days
    except ValueError:
        return None
