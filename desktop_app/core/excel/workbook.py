"""Reading workbooks people send: .xlsx, .xlsm, .xls and .ods, with python-calamine.

:func:`read_book` returns every sheet as rows of Python values (row and column
indexes as in the file, so messages can say 第 N 行) plus its merged ranges,
and the key/value meta sheet our own templates and exports carry. A file that
cannot be used raises :class:`WorkbookError` with a Chinese message::

    >>> read_book(Path(__file__))
    Traceback (most recent call last):
    ...
    desktop_app.core.excel.workbook.WorkbookError: workbook.py 不是 Excel/WPS 表格文件（.xlsx、.xlsm、.xls、.ods），或文件已损坏。请在 Excel 或 WPS 中打开后另存为 .xlsx 再导入
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import zlib
from dataclasses import dataclass
from pathlib import Path

from python_calamine import CalamineWorkbook

from ..errors import UserError
from . import biff
from .sheet_extent import BadSheet, oversized, oversized_book, scan_ods, sheet_extent, stream, worksheet_parts
from .sheetmeta import META_SHEET, OPTIONS_SHEET

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_UNZIPPED_BYTES = 2 * 1024 * 1024 * 1024   # what a zip-based workbook may expand to
MAX_RATIO = 200                                # a spreadsheet compresses ~10×; bombs ~1000×
MAX_CELL_CHARS = 32767  # Excel's own limit: a longer cell means a damaged or hostile file
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


class WorkbookError(UserError):
    """The file cannot be used at all (CLI exit code 2); the message says what to do."""


class SheetData:
    """One sheet: its first rows (for finding the header) and a stream of all rows.

    Rows are streamed from calamine, so a 100,000-row sheet is never held as
    Python objects all at once; indexes are the file's (row 0 = Excel row 1).
    """

    HEAD_ROWS = 40

    def __init__(self, name: str, rows: list[list] | None = None, merged=None, *,
                 source=None, path: Path | None = None):
        self.name = name
        self.merged = list(merged or [])
        self._source, self._path = source, path
        self._rows = rows  # small sheets made in memory (tests, meta sheets)
        self.head = rows[: self.HEAD_ROWS] if rows is not None else \
            [r for _, r in zip(range(self.HEAD_ROWS), self.iter_rows())]

    def cell(self, r: int, c: int):
        row = self.head[r] if 0 <= r < len(self.head) else []
        return row[c] if 0 <= c < len(row) else ""

    def iter_rows(self):
        """Every row from the top, columns padded so indexes match the file.

        :raises WorkbookError: for a cell longer than Excel allows.
        """
        if self._rows is not None:
            yield from self._rows
            return
        pad = [""] * self._source.start[1] if self._source.height else []
        rows, r = self._source.iter_rows(), 0
        # checked a block of rows at a time; the first block is the head (the rows a sheet
        # not imported is read for)
        while block := list(itertools.islice(rows, 1000 if r else self.HEAD_ROWS)):
            # calamine cuts longer strings at Excel's limit, so reaching it means "too long"
            if max(map(len, filter(str.__instancecheck__, itertools.chain.from_iterable(block))),
                   default=0) >= MAX_CELL_CHARS:
                r, c = next((r + i, c) for i, row in enumerate(block) for c, v in enumerate(row)
                            if isinstance(v, str) and len(v) >= MAX_CELL_CHARS)
                raise WorkbookError(
                    f"{self._path.name} 工作表“{self.name}”第 {r + 1} 行第 {c + 1 + len(pad)} 列的"
                    f"单元格达到或超过 Excel 的上限 {MAX_CELL_CHARS:,} 个字符，台账里不会有这样的内容；"
                    "文件可能已损坏，请检查该单元格后另存再导入")
            r += len(block)
            if pad:
                yield from (pad + row for row in block)
            else:
                yield from block


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
    if data[:8] == _OLE:
        if _ENCRYPTED in data[:2_000_000]:
            raise WorkbookError(f"{path.name} 设置了打开密码，程序无法读取。请在 Excel/WPS 中打开，"
                                "取消密码（文件 → 信息 → 保护工作簿）后另存，再导入")
        given = _checked_xls(path, data)      # calamine reads a container rebuilt around the checked stream
    elif data[:4] == b"PK\x03\x04" or _is_zip(data):
        # calamine finds a zip by its central directory at the end, whatever the first
        # bytes are: a zip with damaged first bytes must be checked all the same
        _check_zip(path, data)
        _check_extents(path, data)
        given = data
    else:
        raise _unusable(path)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(given))
        sheets = []
        for name in wb.sheet_names:
            sheet = wb.get_sheet_by_name(name)
            sheets.append(SheetData(name, merged=sheet.merged_cell_ranges, source=sheet, path=path))
    except WorkbookError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - calamine raises several types, and a panic is a BaseException
        text = str(exc).lower()
        if "password" in text or "encrypt" in text:
            raise WorkbookError(f"{path.name} 设置了密码，程序无法读取。请取消密码后另存再导入") from None
        raise _unusable(path) from None
    meta = {}
    for sheet in sheets:
        if sheet.name == META_SHEET:
            meta = {str(r[0]).strip(): _text(r[1]) for r in sheet.iter_rows() if len(r) >= 2 and r[0]}
    data_sheets = [s for s in sheets if s.name not in (META_SHEET, OPTIONS_SHEET)]
    return Book(path, hashlib.sha256(data).hexdigest(), data_sheets, meta)


def _is_zip(data: bytes) -> bool:
    import zipfile
    try:
        return zipfile.is_zipfile(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - a sniff: anything unreadable is "not a zip" here
        return False


def _check_zip(path: Path, data: bytes) -> None:
    """A zip-based workbook (.xlsx, .ods) must look like one: no member names that point
    outside it or repeat, no links, and no member that expands like a decompression bomb."""
    import zipfile
    bad = WorkbookError(f"{path.name} 的文件结构异常（可能是伪造或损坏的文件），已拒绝；"
                        "请在 Excel 或 WPS 中打开后另存为 .xlsx 再导入")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _unusable(path) from None
    names, total = set(), 0
    for info in infos:
        name = info.filename
        if (name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/")
                or (len(name) > 1 and name[1] == ":") or name in names):
            raise bad
        if (info.external_attr >> 16) & 0o170000 == 0o120000:  # a symbolic link
            raise bad
        names.add(name)
        total += info.file_size
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > 10 << 20:
            raise WorkbookError(f"{path.name} 中有内容解压后会膨胀到 {info.file_size >> 20} MB"
                                "（压缩炸弹），已拒绝")
    if total > MAX_UNZIPPED_BYTES:
        raise WorkbookError(f"{path.name} 解压后超过 {MAX_UNZIPPED_BYTES >> 30} GB，已拒绝；"
                            "请按村或按月拆分后再导入")
    _check_crcs(path, data, infos)


def _check_extents(path: Path, data: bytes) -> None:
    """Every sheet of an .xlsx or .ods is of a size calamine can hold (see :mod:`.sheet_extent`:
    it would abort the process, not raise), read from the XML stream before calamine runs."""
    import zipfile
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            sizes = {sheet: sheet_extent(z, part) for part, sheet in worksheet_parts(z).items()}
            if "content.xml" in z.namelist():       # an .ods
                sizes.update(scan_ods(stream(z, "content.xml")))
            if any(n.lower() == "xl/workbook.bin" or n.lower().startswith("xl/worksheets/")
                   and n.lower().endswith(".bin") for n in z.namelist()):
                raise WorkbookError(f"{path.name} 是 .xlsb（Excel 二进制工作簿）格式，程序不读这种格式；"
                                    "请在 Excel 中打开，另存为 .xlsx 再导入")
            _refuse_oversized(path, sizes)
    except BadSheet:
        raise WorkbookError(f"{path.name} 的文件结构异常（单元格位置无法识别，可能是伪造或损坏的文件），已拒绝；"
                            "请在 Excel 或 WPS 中打开后另存为 .xlsx 再导入") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError):
        raise _unusable(path) from None


def _refuse_oversized(path: Path, sizes: dict) -> None:
    """A sheet (or all sheets together) too big for calamine to hold: refused (exit 2)."""
    for sheet, extent in sizes.items():
        problem = oversized(extent)
        if problem:
            raise WorkbookError(
                f"{path.name} 的工作表“{sheet}”{problem}，不像是台账（可能是误操作或伪造的文件），"
                "已拒绝，没有导入任何内容；请在 Excel/WPS 中删除多余的行列（或只复制台账部分到新表）"
                "后另存为 .xlsx 再导入")
    problem = oversized_book(sizes.values())
    if problem:
        raise WorkbookError(f"{path.name} 的各工作表{problem}，不像是台账（可能是误操作或伪造的文件），已拒绝，"
                            "没有导入任何内容；请按村或按月拆分，或删除多余的工作表后再导入")


def _checked_xls(path: Path, data: bytes) -> bytes:
    """An .xls (OLE2) checked as calamine will read it (see :mod:`.biff`), rebuilt around
    its workbook stream; refused (exit 2) when a sheet is too big or the file is damaged."""
    try:
        stream = biff.workbook_stream(data)
        _refuse_oversized(path, biff.scan(stream))
        return biff.container(biff.without_formulas(stream))
    except biff.Encrypted:
        raise WorkbookError(f"{path.name} 设置了打开密码，程序无法读取。请在 Excel/WPS 中打开，"
                            "取消密码（文件 → 信息 → 保护工作簿）后另存，再导入") from None
    except biff.BadBiff:
        raise WorkbookError(f"{path.name} 的文件结构异常（可能是伪造或损坏的文件），已拒绝；"
                            "请在 Excel 或 WPS 中打开后另存为 .xlsx 再导入") from None


def _check_crcs(path: Path, data: bytes, infos) -> None:
    """Every member inflates to its declared size and CRC-32 (calamine does not check the
    CRC of every part it reads: a damaged shared-strings part would give wrong values).
    Streamed and bounded: zipfile stops at the declared size, capped above."""
    import zipfile
    import zlib
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in infos:
                with z.open(info) as member:
                    while member.read(1 << 20):
                        pass
    except zipfile.BadZipFile:
        raise WorkbookError(f"{path.name} 已损坏（内容与文件自带的校验值不符，可能在拷贝或传输中出错），"
                            "已拒绝；请重新拷贝，或在 Excel/WPS 中打开后另存为 .xlsx 再导入") from None
    except (zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError):
        # damaged compressed data, encrypted members, compression methods no workbook uses
        raise _unusable(path) from None


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def is_blank(value) -> bool:
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def cell_text(value) -> str:
    """A cell as text, for header labels and messages."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _text(value) if value is not None else ""
