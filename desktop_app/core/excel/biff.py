"""How big the sheets of an .xls (OLE2, BIFF5/BIFF8) really are, found before calamine reads it.

calamine parses every sheet of an .xls as soon as it opens the file, and allocates:

- for a sheet's DIMENSIONS record (0x0200), room for its declared rows × columns;
- for its cells, one grid from the first to the last cell it found;
- for the shared-string table (SST), room for the count the record declares, and it takes
  the SST's CONTINUE records one by one from the front of a list (time ∝ their number²);
- for a LABEL or STRING record's text, room for the characters it declares (present or not);
- for each sheet the globals list, a walk from its offset, however many list the same one;
- in its OLE container reader, buffers sized by counts in the container's header.

A few hundred bytes can ask for terabytes, and a failed allocation aborts the whole
process (no exception to catch). So the ``Workbook`` (BIFF8) or ``Book`` (BIFF5) stream
is read here with :mod:`olefile`, its records are walked as calamine walks them, and a
sheet is refused by the same limits as an .xlsx (:func:`.sheet_extent.oversized`).
calamine is then handed a container rebuilt here around that one stream
(:func:`container`), its formulas' tokens cut off (:func:`without_formulas`): what it
reads is exactly what was checked, and none of the original container's counts reach it::

    >>> rec = lambda t, d: t.to_bytes(2, "little") + len(d).to_bytes(2, "little") + d
    >>> name = bytes([2, 1]) + "表一".encode("utf-16-le")
    >>> book = rec(0x0809, bytes(16)) + rec(0x0085, (40).to_bytes(4, "little") + bytes(2) + name) + rec(0x000A, b"")
    >>> cell = rec(0x0203, (2).to_bytes(2, "little") + (3).to_bytes(2, "little") + bytes(10))
    >>> scan(book + rec(0x0809, bytes(16)) + cell + rec(0x000A, b""))
    {'表一': Extent(first_row=3, last_row=3, first_col=4, last_col=4)}
"""
from __future__ import annotations

import io
import struct
from typing import Iterator, NamedTuple

from .sheet_extent import Extent

# records that place a cell (row, column at the start of the record)
CELL_RECORDS = {0x0006: "FORMULA", 0x00FD: "LABELSST", 0x0201: "BLANK", 0x0203: "NUMBER",
                0x0204: "LABEL", 0x0205: "BOOLERR", 0x027E: "RK"}
MULTI_RECORDS = {0x00BD: "MULRK", 0x00BE: "MULBLANK"}     # row, first column, ..., last column
ROW, DIMENSIONS, EOF, BOF, BOUNDSHEET, SST, FILEPASS, CONTINUE, CODEPAGE = (
    0x0208, 0x0200, 0x000A, 0x0809, 0x0085, 0x00FC, 0x002F, 0x003C, 0x0042)
BIFF_OLD = {0x0002, 0x0007, 0x0200, 0x0300, 0x0400, 0x0500}   # BOF versions before BIFF8
MAX_SHEETS = 1_000            # a ledger workbook has a few; each is walked and held by calamine
MAX_SST_CONTINUES = 8_192     # Excel's 8,224-byte records: 64 MB of shared strings
MAX_MERGES = 1_000_000        # merged ranges in a book: calamine and Python hold ~270 MB of them
MERGECELLS, LABEL, STRING = 0x00E5, 0x0204, 0x0207
SECTOR = 4096                 # the rebuilt container's sector size (version 4)


class BadBiff(ValueError):
    """The stream is not what calamine could read safely (a damaged or forged file)."""


class Encrypted(ValueError):
    """The workbook has an open password (a FILEPASS record)."""


def workbook_stream(data: bytes) -> bytes:
    """The ``Workbook`` (else ``Book``) stream of an OLE2 file, read with olefile.

    :raises BadBiff: not a readable OLE2 file, or no workbook stream in it.
    """
    import olefile
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
        try:
            for name in ("Workbook", "Book"):
                if ole.exists(name) and ole.get_type(name) == olefile.STGTY_STREAM:
                    if ole.get_size(name) > len(data):
                        raise BadBiff("stream larger than the file")
                    return ole.openstream(name).read()
        finally:
            ole.close()
    except BadBiff:
        raise
    except Exception as exc:  # noqa: BLE001 - olefile raises many types for damaged containers
        raise BadBiff(str(exc)[:80]) from None
    raise BadBiff("no workbook stream")


def records(stream: bytes, start: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """(offset, type, data) of each record from ``start`` to the stream's end, as calamine
    cuts them (CONTINUE records are yielded too; a reader joins them to the one before).

    :raises BadBiff: a record that runs past the stream's end.
    """
    at = start
    while at < len(stream):
        if len(stream) - at < 4:
            raise BadBiff("truncated record header")
        typ, size = struct.unpack_from("<HH", stream, at)
        if at + 4 + size > len(stream):
            raise BadBiff("truncated record")
        yield at, typ, stream[at + 4:at + 4 + size]
        at += 4 + size


def globals_of(stream: bytes) -> list[tuple[int, str]]:
    """[(offset of the sheet's BOF, sheet name)] from the workbook globals, checking the
    counts calamine trusts there.

    :raises Encrypted: an open password.
    :raises BadBiff: a shared-string count larger than the strings could be, an SST in
        more than :data:`MAX_SST_CONTINUES` CONTINUE records, or a sheet offset outside the stream.
    """
    sheets: list[tuple[int, str]] = []
    biff8, codepage = True, "latin-1"
    sst_count, sst_bytes, sst_parts = 0, None, 0
    for _at, typ, data in records(stream):
        if typ == CONTINUE and sst_bytes is not None:
            sst_bytes, sst_parts = sst_bytes + len(data), sst_parts + 1
            if sst_parts > MAX_SST_CONTINUES:
                raise BadBiff("SST in too many CONTINUE records")
            continue
        if sst_bytes is not None:
            _check_sst(sst_count, sst_bytes)
            sst_bytes = None
        if typ == EOF:
            break
        if typ == BOF and len(data) >= 4:
            version, kind = struct.unpack_from("<HH", data)
            biff8 = version not in BIFF_OLD and not (version == 0 and kind == 0x1000)
        elif typ == FILEPASS and (len(data) < 2 or struct.unpack_from("<H", data)[0] != 0):
            raise Encrypted()
        elif typ == CODEPAGE and len(data) >= 2:
            codepage = _codec(struct.unpack_from("<H", data)[0])
        elif typ == SST:
            if len(data) < 8:
                raise BadBiff("short SST")
            sst_count, sst_bytes, sst_parts = struct.unpack_from("<i", data, 4)[0], len(data) - 8, 0
        elif typ == BOUNDSHEET:
            if len(data) < 8:
                raise BadBiff("short BOUNDSHEET")
            pos = struct.unpack_from("<I", data)[0]
            if pos >= len(stream):
                raise BadBiff("sheet offset outside the stream")
            sheets.append((pos, _short_string(data[6:], biff8, codepage) or f"第 {len(sheets) + 1} 个工作表"))
    if sst_bytes is not None:
        _check_sst(sst_count, sst_bytes)
    return sheets


def _check_sst(count: int, size: int) -> None:
    # calamine reserves room for `count` strings up front; each takes at least 3 bytes
    if count < 0 or count * 3 > size:
        raise BadBiff("SST count beyond its strings")


def _codec(codepage: int) -> str:
    import codecs
    name = "utf-16-le" if codepage == 1200 else f"cp{codepage}"
    try:
        codecs.lookup(name)
    except LookupError:
        return "latin-1"
    return name


def _short_string(data: bytes, biff8: bool, codepage: str) -> str:
    if not data:
        return ""
    cch, rest = data[0], data[1:]
    if biff8 and rest:
        wide, rest = rest[0] & 1, rest[1:]
        raw = rest[:cch * 2] if wide else rest[:cch]
        text = raw.decode("utf-16-le" if wide else "latin-1", "replace")
    else:
        text = rest[:cch].decode(codepage if codepage != "utf-16-le" else "latin-1", "replace")
    return text.replace("\0", "")[:100]


class Sheet(NamedTuple):
    """What calamine makes of one sheet (see :func:`sheet_extent`)."""
    declared: Extent | None     # the largest room a DIMENSIONS record asks it to reserve
    actual: Extent | None       # the cells it places (empty ones too: never smaller than its grid)
    size: int                   # bytes walked, from the sheet's BOF to its EOF
    merges: int                 # merged ranges it holds


def sheet_extent(stream: bytes, pos: int) -> Sheet:
    """The sheet whose BOF is at ``pos``, walked as calamine walks it (extents 1-based, as
    Excel shows them).

    :raises BadBiff: LABEL and STRING records declaring more characters than the sheet holds.
    """
    declared = None
    box: list[int] = []       # first row, last row, first column, last column (0-based)
    chars = merges = 0
    end = len(stream)

    def place(r: int, *cols: int) -> None:
        lo, hi = min(cols), max(cols)
        if not box:
            box.extend((r, r, lo, hi))
        else:
            box[:] = min(box[0], r), max(box[1], r), min(box[2], lo), max(box[3], hi)

    for at, typ, data in records(stream, pos):
        if typ == EOF:
            end = at + 4 + len(data)
            break
        if typ == DIMENSIONS and len(data) in (10, 14):
            if len(data) == 14:
                rf, rl, cf, cl = struct.unpack_from("<IIHH", data)
            else:
                rf, rl, cf, cl = struct.unpack_from("<HHHH", data)
            if rl >= 1 and cl >= 1:
                # calamine reserves ((rl-1) - rf + 1) × ((cl-1) - cf + 1) cells, in wrapping
                # 32-bit arithmetic: a first row after the last one asks for ~4 billion
                n_rows, n_cols = (rl - rf) % (1 << 32), (cl - cf) % (1 << 32)
                if n_rows and n_cols:
                    room = Extent(rf + 1, rf + n_rows, cf + 1, cf + n_cols)
                    declared = room if declared is None or room.cells > declared.cells else declared
        elif typ in CELL_RECORDS and len(data) >= 4:
            place(*struct.unpack_from("<HH", data))
        elif typ in MULTI_RECORDS and len(data) >= 6:
            r, first = struct.unpack_from("<HH", data)
            last = struct.unpack_from("<H", data, len(data) - 2)[0]
            # calamine places one cell per 6 (MULRK) or 2 (MULBLANK) bytes from the first column
            per = 6 if typ == 0x00BD else 2
            place(r, first, last, first + max((len(data) - 6) // per - 1, 0))
        elif typ == ROW and len(data) >= 6:
            r, lo, hi = struct.unpack_from("<HHH", data)
            if hi > lo:
                place(r, lo, hi - 1)
        elif typ == MERGECELLS and len(data) >= 2:
            merges += struct.unpack_from("<H", data)[0]
        if typ == LABEL and len(data) >= 8:
            chars += struct.unpack_from("<H", data, 6)[0]
        elif typ == STRING and len(data) >= 2:
            chars += struct.unpack_from("<H", data)[0]
    if chars > end - pos:
        # each character takes a byte or two in its record or the CONTINUE records after it
        raise BadBiff("text longer than its records")
    actual = Extent(box[0] + 1, box[1] + 1, box[2] + 1, box[3] + 1) if box else None
    return Sheet(declared, actual, end - pos, merges)


def scan(stream: bytes) -> dict[str, Extent]:
    """{sheet name: the larger of its declared and actual extents} of a workbook stream
    (a sheet with neither is left out).

    :raises Encrypted: an open password.
    :raises BadBiff: a record or count calamine could not read safely, sheets whose
        records overlap, or more than :data:`MAX_MERGES` merged ranges.
    """
    out: dict[str, Extent] = {}
    sheets = globals_of(stream)
    if len(sheets) > MAX_SHEETS:
        raise BadBiff("too many sheets")
    spans: list[tuple[int, int]] = []     # (BOF, after EOF) of each sheet walked
    merges = 0
    for pos, name in sheets:
        sheet = sheet_extent(stream, pos)
        end, merges = pos + sheet.size, merges + sheet.merges
        if any(pos < e and p < end for p, e in spans):    # calamine walks them once per sheet
            raise BadBiff("sheets overlap")
        spans.append((pos, end))
        if merges > MAX_MERGES:
            raise BadBiff("too many merged ranges")
        pick = max((e for e in sheet[:2] if e is not None), key=lambda e: e.cells, default=None)
        if pick is not None:
            key, n = name, 2
            while key in out:
                key, n = f"{name}（{n}）", n + 1
            out[key] = pick
    return out


# records that carry a formula's tokens, and where their token count (cce) sits
FORMULA_COUNTS = {0x0006: 20, 0x0221: 12, 0x04BC: 8, 0x0018: 4}   # FORMULA, ARRAY, SHRFMLA, NAME


def without_formulas(stream: bytes) -> bytes:
    """``stream`` with every formula's token count set to 0, in place (no record moves).

    calamine turns the tokens of every formula of an .xls into text when it opens the
    file, and a crafted token list makes that take seconds per formula (a file of a few
    hundred kilobytes held the import for minutes, in native code that 取消 cannot stop).
    A ledger needs a formula cell's value, which the FORMULA record keeps beside its
    tokens (a text result in the STRING record after it), never its formula::

        >>> rec = lambda t, d: struct.pack("<HH", t, len(d)) + d
        >>> name = bytes([2, 1]) + "表一".encode("utf-16-le")
        >>> book = rec(0x0809, bytes(16)) + rec(0x0085, struct.pack("<IH", 40, 0) + name) + rec(0x000A, b"")
        >>> tokens = bytes([0x1E, 1, 0])      # ptgInt 1
        >>> formula = rec(0x0006, bytes(6) + struct.pack("<d", 2.5) + bytes(6) + struct.pack("<H", 3) + tokens)
        >>> cut = without_formulas(book + rec(0x0809, bytes(16)) + formula + rec(0x000A, b""))
        >>> struct.unpack_from("<d", cut, 70)[0], struct.unpack_from("<H", cut, 84)[0]   # the value kept; no tokens
        (2.5, 0)

    Only the workbook globals and the sheets the globals list are walked (as :func:`scan`).
    """
    out = bytearray(stream)
    for start in (0, *(pos for pos, _name in globals_of(stream))):
        for at, typ, data in records(stream, start):
            if typ == EOF:
                break
            where = FORMULA_COUNTS.get(typ)
            if where is not None and len(data) >= where + 2:
                out[at + 4 + where:at + 6 + where] = b"\0\0"
    return bytes(out)


def container(stream: bytes) -> bytes:
    """A compound file (version 4, 4096-byte sectors) holding ``stream`` as ``Workbook`` and
    nothing else: what calamine reads instead of the file as it came. A stream shorter than
    4096 bytes is padded with zero bytes (empty records: calamine stops at the EOF before
    them), so it needs no mini stream.

        >>> import olefile
        >>> olefile.OleFileIO(container(b"abc")).openstream("Workbook").read()[:4]
        b'abc\\x00'
    """
    body = stream + bytes(-len(stream) % SECTOR if len(stream) >= SECTOR else SECTOR - len(stream))
    n = len(body) // SECTOR                     # stream sectors 0 … n-1, directory sector n
    per = SECTOR // 4
    fat_sectors = 1
    while fat_sectors * per < n + 1 + fat_sectors:
        fat_sectors += 1
    if fat_sectors > 109:
        raise BadBiff("stream too large to rebuild")
    fat = [i + 1 for i in range(n - 1)] + [0xFFFFFFFE, 0xFFFFFFFE] + [0xFFFFFFFD] * fat_sectors
    fat += [0xFFFFFFFF] * (fat_sectors * per - len(fat))
    difat = [n + 1 + i for i in range(fat_sectors)] + [0xFFFFFFFF] * (109 - fat_sectors)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
              + struct.pack("<HHHHH6sIIIIIIIII", 0x3E, 4, 0xFFFE, 12, 6, bytes(6), 1, fat_sectors, n, 0,
                            4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<109I", *difat))
    directory = (_entry("Root Entry", 5, child=1, start=0, size=0)
                 + _entry("Workbook", 2, child=0xFFFFFFFF, start=0, size=len(body))
                 + bytes(128) * 30)
    return (header + bytes(SECTOR - len(header)) + body + directory
            + struct.pack(f"<{len(fat)}I", *fat))


def _entry(name: str, kind: int, *, child: int, start: int, size: int) -> bytes:
    raw = name.encode("utf-16-le") + b"\0\0"
    return (raw + bytes(64 - len(raw)) + struct.pack("<HBBIII", len(raw), kind, 1, 0xFFFFFFFF, 0xFFFFFFFF, child)
            + bytes(16 + 4 + 16) + struct.pack("<IQ", start, size))
