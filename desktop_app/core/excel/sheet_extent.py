"""How big a sheet of an .xlsx really is, found before calamine reads it.

calamine allocates a sheet as one grid from its first to its last cell holding a
value: an 18 KB file with one value at A1 and one at XFD1048576 asks for 512 GB and
aborts the whole process (no exception to catch). So every worksheet part is read
first as a stream of XML (1 MB at a time, never whole) and the cells' positions
are followed as calamine follows them: a ``<row r=…>`` or the row after the last,
a ``<c r=…>`` or the cell after the last. The sheet's declared ``<dimension ref>``
is not trusted: it may be missing or lie, and calamine does not allocate by it.

A sheet is refused (:class:`~.workbook.WorkbookError`, exit 2) beyond
:data:`MAX_COLUMNS` columns, beyond Excel's :data:`MAX_ROWS` rows, or when its grid
(rows × columns from first to last value) exceeds :data:`MAX_GRID_CELLS`::

    >>> column_number("XFD"), column_number("A")
    (16384, 1)
    >>> scan_sheet([b'<row r="2"><c r="B2"><v>1</v></c><c><v>2</v></c></row><row><c r="A3"><v>3</v></c></row>'])
    Extent(first_row=2, last_row=3, first_col=1, last_col=3)
"""
from __future__ import annotations

import re
import zipfile
from operator import itemgetter
from dataclasses import dataclass
from typing import Iterable

MAX_COLUMNS = 500             # the widest ledger has a few dozen fields; a town's own sheet adds notes
MAX_ROWS = 1_048_576          # Excel's own limit
MAX_GRID_CELLS = 30_000_000   # calamine holds ~32 bytes a cell: about 1 GB

# a row or cell start tag (any namespace prefix), attributes quoted as XML allows ('>' inside too)
_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?![\w:.-])")
_TAG = re.compile(_START.pattern + rb"((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
MAX_TAG_BYTES = 1 << 20       # a row or cell tag longer than this is no spreadsheet's
_R = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# the quick reading: every row and cell tag with r as its first attribute, as Excel, WPS,
# LibreOffice and openpyxl write them, and no other "r=" anywhere in the block
_ANY_R = re.compile(rb"\sr\s*=")
_ROW_R = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row r=\"([0-9]{1,7})\"[\s/>]")
_CELL_R = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c r=\"([A-Z]{1,3})([0-9]{1,7})\"[\s/>]")
_BARE_CELL_R = re.compile(rb"<c r=\"([A-Z]{1,3})([0-9]{1,7})\"[\s/>]")   # (no prefix: found twice as fast)
_REF = re.compile(rb"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
_ROW_TAIL = re.compile(rb' r="[0-9]{1,7}"[\s/>]')    # what follows "<row" in the quick form
_SPACED_R = re.compile(rb"r\s+=")


@dataclass(frozen=True)
class Extent:
    first_row: int      # 1-based, as Excel shows them
    last_row: int
    first_col: int
    last_col: int

    @property
    def cells(self) -> int:
        return (self.last_row - self.first_row + 1) * (self.last_col - self.first_col + 1)


class BadSheet(ValueError):
    """A cell reference that is not one (calamine would fail on it too)."""


# .ods (content.xml): tables, rows and cells, each row and cell possibly repeated
_ODS_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(table|table-row|table-cell|covered-table-cell)(?![\w:.-])")
_ODS_TAG = re.compile(_ODS_START.pattern + rb"((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_NAME = re.compile(rb"""(?:^|\s)(?:[\w.-]+:)?name\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REPEAT = re.compile(rb"""(?:^|\s)(?:[\w.-]+:)?number-(?:rows|columns)-repeated\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_VALUE = re.compile(rb"(?:^|\s)(?:[\w.-]+:)?value-type\s*=")


def column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _ref(attrs: bytes) -> bytes | None:
    found = _R.findall(attrs)
    if len(found) > 1:      # a repeated attribute: which one a reader takes is not known
        raise BadSheet(attrs[:40])
    return None if not found else (found[0][0] or found[0][1])


def _blocks(blocks: Iterable[bytes], start=_START, tag=_TAG) -> Iterable[bytes]:
    """The blocks cut at tag boundaries: a tag not complete at the end of a block (the last
    '<' starts the last tag, as '<' cannot appear inside one) goes on in the next block."""
    tail = b""
    for block in _then_empty(blocks):
        data = tail + block
        cut = data.rfind(b"<") if block else -1
        if cut >= 0 and not tag.match(data, cut) and (b">" not in data[cut:] or start.match(data, cut)):
            data, tail = data[:cut], data[cut:]
            if len(tail) > MAX_TAG_BYTES:
                raise BadSheet(tail[:40])
        else:
            tail = b""
        yield data


def _then_empty(blocks: Iterable[bytes]) -> Iterable[bytes]:
    yield from blocks
    yield b""


def quick_extent(blocks: Iterable[bytes]) -> Extent | None | bool:
    """The extent counting every cell (empty ones too: never smaller than calamine's),
    read in bulk; ``False`` when the sheet is not written the usual way (then
    :func:`scan_sheet` follows it tag by tag)."""
    rows: list[int] = []
    cols: set[bytes] = set()
    for data in _blocks(blocks):
        found = _usual_block(data)
        if found is None:
            found = _tagged_block(data)
        if found is False:
            return False
        if found:
            rows += found[:2]
            cols |= found[2]
    if not rows:
        return None
    numbers = [column_number(c.decode()) for c in cols]
    return Extent(min(rows), max(rows), min(numbers), max(numbers))


def _tagged_block(data: bytes) -> tuple[int, int, set[bytes]] | None | bool:
    """One block's (first row, last row, column letters) of its cells, None for a block
    without cells; ``False`` when a row or cell tag lacks ``r`` as its first attribute or
    another ``r=`` appears: every row and cell tag is counted and matched."""
    tags = len(_START.findall(data))
    if not tags:
        return None
    row_refs = _ROW_R.findall(data)
    cells = _CELL_R.findall(data)
    if len(row_refs) + len(cells) != tags or len(_ANY_R.findall(data)) != tags:
        return False
    return _cells_extent(cells) if cells else None


def _usual_block(data: bytes) -> tuple[int, int, set[bytes]] | None:
    """What :func:`_tagged_block` finds, when the block is written the usual way (no
    namespace prefix on row and cell tags, every ``<c`` a cell tag in the quick form,
    every ``<row`` a row tag in it, no other ``r=``), proved with counts instead of
    matching every tag; None when it cannot be proved so (then the tags are matched)."""
    if b":c" in data or b":row" in data:
        return None
    cells = _BARE_CELL_R.findall(data)
    if data.count(b"<c") != len(cells):
        return None          # a <c …> that is not a quick cell tag, or <col>, <cfRule> …
    rows = data.split(b"<row")[1:]
    if not all(map(_ROW_TAIL.match, rows)):
        return None          # a <row …> that is not a quick row tag, or <rowBreaks> …
    if data.count(b"r=") != len(cells) + len(rows) or _SPACED_R.search(data):
        return None          # an r= beside the tags' own
    return _cells_extent(cells) if cells else ()


def _cells_extent(cells: list[tuple[bytes, bytes]]) -> tuple[int, int, set[bytes]]:
    """(first row, last row, column letters) of (letters, row digits) cell references."""
    numbers = list(map(int, set(map(itemgetter(1), cells))))   # a row's cells share its number
    return min(numbers), max(numbers), set(map(itemgetter(0), cells))


def scan_sheet(blocks: Iterable[bytes]) -> Extent | None:
    """The extent of the cells that may hold a value (``<c …/>`` never does), or None.

    :raises BadSheet: a row or cell reference that cannot be read.
    """
    row = col = 0
    first_row = first_col = None
    last_row = last_col = 0
    for data in _blocks(blocks):
        for m in _TAG.finditer(data):
            ref = _ref(m.group(2))
            if m.group(1) == b"row":
                if ref is None:
                    row += 1
                elif ref.isdigit() and 0 < len(ref) <= 9:
                    row = int(ref)
                else:
                    raise BadSheet(ref)
                col = 0
                continue
            if ref is None:
                col += 1
            else:
                parts = _REF.fullmatch(ref)
                if parts is None:
                    raise BadSheet(ref)
                col, r = column_number(parts.group(1).decode()), int(parts.group(2))
                row = r
            if m.group(2).rstrip().endswith(b"/"):   # an empty cell: calamine skips it
                continue
            first_row = row if first_row is None else min(first_row, row)
            first_col = col if first_col is None else min(first_col, col)
            last_row, last_col = max(last_row, row), max(last_col, col)
    if first_row is None:
        return None
    return Extent(first_row, last_row, first_col, last_col)


def scan_ods(blocks: Iterable[bytes]) -> dict[str, Extent]:
    """{sheet name: extent} of an .ods content.xml, counting a cell that has a value type
    or content (a bare ``<table:table-cell/>`` pads a row and holds nothing), with its
    row's and its own repetitions, as calamine expands them.

        >>> scan_ods([b'<table:table table:name="S"><table:table-row table:number-rows-repeated="3">'
        ...           b'<table:table-cell table:number-columns-repeated="4"/><table:table-cell>'
        ...           b'<text:p>x</text:p></table:table-cell></table:table-row></table:table>'])
        {'S': Extent(first_row=1, last_row=3, first_col=5, last_col=5)}
    """
    out: dict[str, Extent] = {}
    name, row, rows, col = None, 0, 1, 0
    for data in _blocks(blocks, _ODS_START, _ODS_TAG):
        for m in _ODS_TAG.finditer(data):
            kind, attrs = m.group(1), m.group(2)
            if kind == b"table":
                if attrs.rstrip().endswith(b"/"):
                    continue
                found = _NAME.search(attrs)
                name = _unescape((found.group(1) or found.group(2) or b"").decode("utf-8", "replace")) \
                    if found else f"第 {len(out) + 1} 个工作表"
                row, rows, col = 0, 0, 0
                continue
            repeat = _repeat(attrs)
            if kind == b"table-row":
                row, rows, col = row + rows, repeat, 0
                continue
            first = col + 1
            col += repeat
            if name is None or not (_VALUE.search(attrs) or not attrs.rstrip().endswith(b"/")):
                continue
            ext = out.get(name)
            lo_r, hi_r = row + 1, row + max(rows, 1)
            out[name] = Extent(lo_r, hi_r, first, col) if ext is None else Extent(
                min(ext.first_row, lo_r), max(ext.last_row, hi_r), min(ext.first_col, first), max(ext.last_col, col))
    return out


def _repeat(attrs: bytes) -> int:
    found = _REPEAT.findall(attrs)
    if not found:
        return 1
    text = found[0][0] or found[0][1]
    if len(found) > 1 or not text.isdigit() or len(text) > 12:
        raise BadSheet(attrs[:40])
    return max(int(text), 1)


def worksheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """{part name: sheet name} of every worksheet: those the workbook names (through its
    relationships, as calamine finds them) and anything else under xl/worksheets/."""
    names = set(z.namelist())
    out: dict[str, str] = {}
    try:
        rels = _small(z, "xl/_rels/workbook.xml.rels")
        book = _small(z, "xl/workbook.xml")
    except KeyError:
        rels = book = b""
    targets = {}
    for m in re.finditer(rb"<(?:\w+:)?Relationship\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", rels):
        attrs = m.group(1)
        rid, target = _attr(attrs, b"Id"), _attr(attrs, b"Target")
        if rid and target:
            t = target.decode("utf-8", "replace")
            targets[rid] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    for m in re.finditer(rb"<(?:\w+:)?sheet\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", book):
        attrs = m.group(1)
        name, rid = _attr(attrs, b"name"), _attr(attrs, b"r:id") or _attr(attrs, b"id")
        part = targets.get(rid or b"")
        if name and part in names:
            out[part] = _unescape(name.decode("utf-8", "replace"))
    for part in names:
        if part.startswith("xl/worksheets/") and part.endswith(".xml") and part not in out:
            out[part] = part.rsplit("/", 1)[-1][:-4]
    return out


def _small(z: zipfile.ZipFile, name: str) -> bytes:
    info = z.getinfo(name)
    if info.file_size > 16 << 20:      # a workbook index of more than 16 MB is not a workbook's
        raise BadSheet(name)
    return z.read(info)


def _attr(attrs: bytes, key: bytes) -> bytes | None:
    m = re.search(rb"(?:^|\s)" + re.escape(key) + rb"""\s*=\s*(?:"([^"]*)"|'([^']*)')""", attrs)
    return None if m is None else (m.group(1) if m.group(1) is not None else m.group(2))


def _unescape(text: str) -> str:
    import html
    return html.unescape(text)


def stream(z: zipfile.ZipFile, part: str, size: int = 1 << 20) -> Iterable[bytes]:
    with z.open(part) as member:
        while block := member.read(size):
            yield block


def sheet_extent(z: zipfile.ZipFile, part: str) -> Extent | None:
    """The extent of worksheet ``part``: read in bulk, and tag by tag when the bulk reading
    cannot tell or finds it too big (it counts empty cells, which calamine skips)."""
    quick = quick_extent(stream(z, part))
    if quick is False or oversized(quick):
        return scan_sheet(stream(z, part))
    return quick


def oversized_book(extents: Iterable[Extent | None]) -> str | None:
    """What is wrong with a workbook whose sheets together hold this many cells (calamine
    keeps every sheet's grid at once), or None.

        >>> oversized_book([Extent(1, 20_000, 1, 500)] * 4)
        '共 40,000,000 个单元格，超过一次导入的上限 30,000,000 个'
    """
    total = sum(e.cells for e in extents if e is not None)
    return f"共 {total:,} 个单元格，超过一次导入的上限 {MAX_GRID_CELLS:,} 个" if total > MAX_GRID_CELLS else None


def oversized(extent: Extent | None) -> str | None:
    """What is wrong with a sheet of this extent (Chinese), or None when it may be read."""
    if extent is None:
        return None
    if extent.last_row > MAX_ROWS:
        return f"有第 {extent.last_row:,} 行，超过 Excel 的上限 {MAX_ROWS:,} 行"
    if extent.last_col > MAX_COLUMNS:
        return f"有第 {extent.last_col:,} 列的单元格，台账最多用到 {MAX_COLUMNS} 列"
    if extent.cells > MAX_GRID_CELLS:
        return (f"内容从第 {extent.first_row:,} 行到第 {extent.last_row:,} 行、第 {extent.first_col} 列到第 "
                f"{extent.last_col} 列，共 {extent.cells:,} 个单元格，超过一次导入的上限 {MAX_GRID_CELLS:,} 个")
    return None
