"""Reading workbooks people send: .xlsx, .xlsm, .xls and .ods, with python-calamine.

:func:`read_book` returns every sheet as rows of Python values (row and column
indexes as in the file, so messages can say 第 N 行) plus its merged ranges,
and the key/value meta sheet our own templates and exports carry. A file that
cannot be used raises :class:`WorkbookError` with a Chinese message::

    >>> read_book(Path(__file__))
    Traceback (most recent call last):
    ...
    desktop_app.core.workbook.WorkbookError: workbook.py 不是 Excel/WPS 表格文件（.xlsx、.xlsm、.xls、.ods），或文件已损坏。请在 Excel 或 WPS 中打开后另存为 .xlsx 再导入
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from python_calamine import CalamineWorkbook

from .sheetmeta import META_SHEET, OPTIONS_SHEET

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_CELL_CHARS = 32767  # Excel's own limit: a longer cell means a damaged or hostile file
SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".xlsb"}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


class WorkbookError(Exception):
    """The file cannot be used at all (CLI exit code 2); the message says what to do."""


@dataclass
class SheetData:
    name: str
    rows: list[list]
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)

    def cell(self, r: int, c: int):
        row = self.rows[r] if 0 <= r < len(self.rows) else []
        return row[c] if 0 <= c < len(row) else ""


@dataclass
class Book:
    path: Path
    sha256: str
    sheets: list[SheetData]
    meta: dict[str, str]

    def sheet(self, name: str) -> SheetData:
        for s in self.sheets:
            if s.name == name:
                return s
        raise WorkbookError(f"{self.path.name} 中没有名为“{name}”的工作表（有：" +
                            "、".join(s.name for s in self.sheets) + "）")


def _unusable(path: Path) -> WorkbookError:
    return WorkbookError(f"{path.name} 不是 Excel/WPS 表格文件（.xlsx、.xlsm、.xls、.ods），或文件已损坏。"
                         "请在 Excel 或 WPS 中打开后另存为 .xlsx 再导入")


def read_book(path: Path | str) -> Book:
    """Read every sheet of a workbook.

    :raises WorkbookError: missing, too big, not a workbook, truncated,
        password-protected, or a cell longer than Excel allows.
    """
    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"找不到文件 {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise WorkbookError(f"{path.name} 有 {size // 2**20} MB，超过导入上限 "
                            f"{MAX_FILE_BYTES // 2**20} MB；请按村或按月拆分后再导入")
    data = path.read_bytes()
    if data[:8] == _OLE and _ENCRYPTED in data[:2_000_000]:
        raise WorkbookError(f"{path.name} 设置了打开密码，程序无法读取。请在 Excel/WPS 中打开，"
                            "取消密码（文件 → 信息 → 保护工作簿）后另存，再导入")
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(wb.sheet_names)
        sheets = []
        for name in names:
            sheet = wb.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False)
            while rows and all(v == "" or v is None for v in rows[-1]):
                rows.pop()  # formatted-but-empty rows at the end, sometimes a million of them
            sheets.append(SheetData(name, rows, list(sheet.merged_cell_ranges or [])))
    except Exception as exc:  # calamine raises several error types for damaged files
        text = str(exc).lower()
        if "password" in text or "encrypt" in text:
            raise WorkbookError(f"{path.name} 设置了密码，程序无法读取。请取消密码后另存再导入") from None
        raise _unusable(path) from None
    for sheet in sheets:
        _check_cells(path, sheet)
    meta = {}
    for sheet in sheets:
        if sheet.name == META_SHEET:
            meta = {str(r[0]).strip(): _text(r[1]) for r in sheet.rows if len(r) >= 2 and r[0]}
    data_sheets = [s for s in sheets if s.name not in (META_SHEET, OPTIONS_SHEET)]
    return Book(path, hashlib.sha256(data).hexdigest(), data_sheets, meta)


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _check_cells(path: Path, sheet: SheetData) -> None:
    for r, row in enumerate(sheet.rows):
        for c, value in enumerate(row):
            # calamine cuts longer strings at Excel's limit, so reaching it means "too long"
            if isinstance(value, str) and len(value) >= MAX_CELL_CHARS:
                raise WorkbookError(
                    f"{path.name} 工作表“{sheet.name}”第 {r + 1} 行第 {c + 1} 列的单元格达到或超过 "
                    f"Excel 的上限 {MAX_CELL_CHARS:,} 个字符，台账里不会有这样的内容；文件可能已损坏，"
                    "请检查该单元格后另存再导入")


def is_blank(value) -> bool:
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def cell_text(value) -> str:
    """A cell as text, for header labels and messages."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _text(value) if value is not None else ""
