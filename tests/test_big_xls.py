""".xls (OLE2, BIFF8) workbooks whose sheets are huge are refused before calamine reads them.

calamine parses every sheet of an .xls when it opens the file: a DIMENSIONS record
declaring billions of rows, or one cell at column 65,535 of row 65,536, made it ask for
terabytes and abort the process. The workbooks here are written record by record (a
few hundred bytes each); the ones that killed the process run in a memory-capped child
(see test_big_sheets)."""
from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest
from test_big_sheets import PREVIEW, child

from desktop_app.core.errors import UserError
from desktop_app.core.excel import biff
from desktop_app.core.excel.sheet_extent import MAX_COLUMNS, MAX_GRID_CELLS
from desktop_app.core.excel.workbook import read_book

SHEET = "两癌台账"


def rec(typ: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", typ, len(data)) + data


def ole(stream: bytes) -> bytes:
    """A compound file (version 3, 512-byte sectors) holding ``stream`` as ``Workbook``,
    padded to 4096 bytes so it needs no mini stream."""
    body = stream + bytes(max(4096 - len(stream), -len(stream) % 512))
    n = len(body) // 512
    assert n + 2 <= 128
    fat = list(range(1, n)) + [0xFFFFFFFE, 0xFFFFFFFE, 0xFFFFFFFD]     # the stream, the directory, this FAT
    fat += [0xFFFFFFFF] * (128 - len(fat))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
              + struct.pack("<HHHHH6sIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, bytes(6), 0, 1, n, 0, 4096,
                            0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<109I", n + 1, *[0xFFFFFFFF] * 108))

    def entry(name: str, kind: int, child_id: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return raw + bytes(64 - len(raw)) + struct.pack("<HBBIII16sI16sIQ", len(raw), kind, 1, 0xFFFFFFFF,
                                                          0xFFFFFFFF, child_id, bytes(16), 0, bytes(16), start, size)
    directory = entry("Root Entry", 5, 1, 0xFFFFFFFE, 0) + entry("Workbook", 2, 0xFFFFFFFF, 0, len(body)) + bytes(256)
    return header + body + directory + struct.pack("<128I", *fat)


def bof(kind: int) -> bytes:
    return rec(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))


def label(r: int, c: int, text: str) -> bytes:
    return rec(0x0204, struct.pack("<HHHHB", r, c, 15, len(text), 1) + text.encode("utf-16-le"))


def number(r: int, c: int, value: float = 1.0) -> bytes:
    return rec(0x0203, struct.pack("<HHHd", r, c, 15, value))


HEAD = label(0, 0, "姓名") + label(0, 1, "身份证号") + label(1, 0, "示例一") + number(1, 1, 2.0)


def xls(*sheets: bytes, dims=(0, 2, 0, 2), globals_extra: bytes = b"", sheet_offset: int | None = None) -> bytes:
    """A BIFF8 workbook of sheets named 两癌台账, 两癌台账2 …, each holding the cell records given."""
    names = [SHEET if i == 0 else f"{SHEET}{i + 1}" for i in range(len(sheets))]

    def bound(pos: int, name: str) -> bytes:
        return rec(0x0085, struct.pack("<IBBBB", pos, 0, 0, len(name), 1) + name.encode("utf-16-le"))
    head = bof(0x0005) + rec(0x0042, struct.pack("<H", 1200)) + globals_extra
    size = len(head) + sum(len(bound(0, n)) for n in names) + 4
    bodies = [bof(0x0010) + rec(0x0200, struct.pack("<IIHHH", *dims, 0)) + cells + rec(0x000A) for cells in sheets]
    offsets, at = [], size
    for b in bodies:
        offsets.append(at if sheet_offset is None else sheet_offset)
        at += len(b)
    return ole(head + b"".join(bound(p, n) for p, n in zip(offsets, names)) + rec(0x000A) + b"".join(bodies))


def refused(tmp_path: Path, data: bytes, name: str = "两癌.xls") -> str:
    """The message of the refusal when read in a memory-capped child (which must survive)."""
    path = tmp_path / name
    path.write_bytes(data)
    done = child(["-c", "import sys\nfrom desktop_app.core.excel.workbook import read_book\n"
                  "from desktop_app.core.errors import UserError\n"
                  "try:\n    read_book(sys.argv[1]); print('read')\n"
                  "except UserError as e:\n    print(e.exit_code, e)", str(path)])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"2 {name} "), done.stdout
    return done.stdout


# ---------------------------------------------------------------- what killed the process

def test_one_cell_at_the_last_row_and_column_is_refused_by_the_preview(town, tmp_path):
    book = tmp_path / "两癌.xls"
    book.write_bytes(xls(HEAD + label(65535, 65535, "x")))
    assert book.stat().st_size < 6000
    town.close()
    done = child(["-c", PREVIEW, str(town.path), str(book)])
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got["status"] == "refused" and got["code"] == 2
    assert "两癌.xls" in got["message"] and f"“{SHEET}”" in got["message"] and "65,536 列" in got["message"]


def test_a_huge_declared_dimension_is_refused(tmp_path):
    assert "4,294,967,280 行" in refused(tmp_path, xls(HEAD, dims=(0, 0xFFFFFFF0, 0, 0x100)))


def test_a_dimension_whose_first_row_is_after_its_last_is_refused(tmp_path):
    """calamine reserves (last - first + 1) rows in wrapping arithmetic: about 4 billion."""
    assert "超过" in refused(tmp_path, xls(HEAD, dims=(10, 2, 0, 2)))


def test_a_shared_string_count_beyond_its_strings_is_refused(tmp_path):
    sst = rec(0x00FC, struct.pack("<ii", 0x7FFFFFFF, 0x7FFFFFFF) + struct.pack("<HB", 1, 0) + b"a")
    assert "文件结构异常" in refused(tmp_path, xls(HEAD, globals_extra=sst))


def test_the_cli_exits_2_with_a_chinese_line(town, tmp_path):
    book = tmp_path / "两癌.xls"
    book.write_bytes(xls(HEAD + label(65535, 65535, "x")))
    town.close()
    done = child(["-m", "desktop_app.cli", "import-excel", "--db", str(town.path), "--dry-run", "--json", str(book)])
    assert done.returncode == 2, done.stderr[-2000:]
    entry = json.loads(done.stdout)["files"][0]
    assert entry["status"] == "unusable" and SHEET in entry["message"] and "Traceback" not in done.stderr


# ---------------------------------------------------------------- every record that places a cell

FAR = MAX_COLUMNS + 100     # a small grid (calamine reads it), but wider than any ledger


@pytest.mark.parametrize("record", [
    number(3, FAR),
    label(3, FAR, "x"),
    rec(0x027E, struct.pack("<HHHI", 3, FAR, 15, 2)),                                  # RK
    rec(0x00FD, struct.pack("<HHHI", 3, FAR, 15, 0)),                                  # LABELSST
    rec(0x0205, struct.pack("<HHHBB", 3, FAR, 15, 1, 0)),                              # BOOLERR
    rec(0x0006, struct.pack("<HHHdHIH", 3, FAR, 15, 1.0, 0, 0, 0)),                    # FORMULA
    rec(0x00BD, struct.pack("<HH", 3, FAR - 1) + struct.pack("<HI", 15, 2) * 2 + struct.pack("<H", FAR)),  # MULRK
    rec(0x0201, struct.pack("<HHH", 3, FAR, 15)),                                      # BLANK
    rec(0x00BE, struct.pack("<HHHHH", 3, FAR - 1, 15, 15, FAR)),                       # MULBLANK
    rec(0x0208, struct.pack("<HHHHHHI", 3, 0, FAR + 1, 255, 0, 0, 0)),                 # ROW
], ids=["NUMBER", "LABEL", "RK", "LABELSST", "BOOLERR", "FORMULA", "MULRK", "BLANK", "MULBLANK", "ROW"])
def test_a_cell_beyond_the_columns_is_refused_whatever_record_places_it(tmp_path, record):
    path = tmp_path / "宽.xls"
    path.write_bytes(xls(HEAD + record))
    with pytest.raises(UserError) as caught:
        read_book(path)
    assert caught.value.exit_code == 2 and f"有第 {FAR + 1} 列的单元格" in str(caught.value)


def test_sheets_together_beyond_the_grid_limit_are_refused(tmp_path):
    """Each sheet is within the limit, but calamine holds all of them at once."""
    sheet = HEAD + number(65535, 299)            # 65,536 × 300 cells
    assert 65536 * 300 < MAX_GRID_CELLS < 2 * 65536 * 300
    assert "各工作表共 39,321,600 个单元格" in refused(tmp_path, xls(sheet, sheet))


def test_a_sheet_offset_outside_the_stream_is_refused(tmp_path):
    assert "文件结构异常" in refused(tmp_path, xls(HEAD, sheet_offset=1 << 30))


def test_an_open_password_is_named(tmp_path):
    path = tmp_path / "密.xls"
    path.write_bytes(xls(HEAD, globals_extra=rec(0x002F, struct.pack("<HHH", 1, 1, 1) + bytes(48))))
    with pytest.raises(UserError, match="设置了打开密码"):
        read_book(path)


def test_an_xlsb_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "台账.xlsb"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
        z.writestr("xl/worksheets/sheet1.bin", b"\x81\x01\x00")
    with pytest.raises(UserError, match=r"\.xlsb（Excel 二进制工作簿）.*另存为 \.xlsx") as caught:
        read_book(path)
    assert caught.value.exit_code == 2


# ---------------------------------------------------------------- normal workbooks still read

def test_a_small_hand_written_xls_reads_as_written(tmp_path):
    path = tmp_path / "小.xls"
    path.write_bytes(xls(HEAD))
    book = read_book(path)
    assert [s.name for s in book.sheets] == [SHEET]
    assert list(book.sheets[0].iter_rows()) == [["姓名", "身份证号"], ["示例一", 2.0]]


def sheets_at(*starts: int, extra: bytes = b"") -> bytes:
    """Workbook globals listing sheets 一, 丁, 丂 … at ``starts`` (counted from the globals'
    end), then the ``extra`` records."""
    end = len(bof(0x0005)) + 14 * len(starts) + len(extra) + 4
    return (bof(0x0005) + b"".join(rec(0x0085, struct.pack("<IBBBB", end + at, 0, 0, 1, 1) + chr(0x4E00 + i).encode("utf-16-le"))
                                   for i, at in enumerate(starts)) + extra + rec(0x000A))


BODY = bof(0x0010) + HEAD + rec(0x000A)


def test_a_workbook_of_more_sheets_than_any_ledger_is_refused():
    with pytest.raises(biff.BadBiff, match="too many sheets"):
        biff.scan(sheets_at(*[0] * (biff.MAX_SHEETS + 1)) + BODY)
    assert list(biff.scan(sheets_at(0) + BODY)) == ["一"]


# ---------------------------------------------------------------- records calamine trusts

def test_sheets_listed_at_the_same_records_are_refused(tmp_path):
    """calamine walks a sheet's records once for each BOUNDSHEET pointing at them: 1,000
    pointing at one sheet of 900 KB held it 66 s and 1.6 GB (its merged ranges held once
    per sheet), and this check 65 s."""
    path = tmp_path / "两癌.xls"
    path.write_bytes(ole(sheets_at(0, 0) + BODY))
    with pytest.raises(UserError, match=r"^两癌\.xls 的文件结构异常.*另存为 \.xlsx 再导入$") as caught:
        read_book(path)
    assert caught.value.exit_code == 2
    path.write_bytes(ole(sheets_at(0, len(BODY)) + BODY + BODY))
    assert [s.name for s in read_book(path).sheets] == ["一", "丁"]


def test_a_sheet_starting_inside_another_is_refused():
    """The first sheet has no EOF: its records run on through the second sheet's."""
    first = bof(0x0010) + HEAD
    with pytest.raises(biff.BadBiff, match="sheets overlap"):
        biff.scan(sheets_at(0, len(first)) + first + BODY)
    assert list(biff.scan(sheets_at(0, len(BODY)) + BODY + BODY)) == ["一", "丁"]


def test_the_largest_of_several_dimensions_is_the_room_calamine_reserves(tmp_path):
    """A huge DIMENSIONS record and then a small one: calamine reserves for both (the
    first aborted the process), so the largest counts, not the last."""
    small = rec(0x0200, struct.pack("<IIHHH", 0, 2, 0, 2, 0))
    assert "4,294,967,280 行" in refused(tmp_path, xls(small + HEAD, dims=(0, 0xFFFFFFF0, 0, 0x100)))
    assert "4,294,967,280 行" in refused(tmp_path, xls(HEAD + small, dims=(0, 0xFFFFFFF0, 0, 0x100)))


@pytest.mark.parametrize("empty_text", [
    rec(0x0204, struct.pack("<HHHHB", 2, 0, 15, 65535, 1)),                           # LABEL
    number(2, 0) + rec(0x0207, struct.pack("<HB", 65535, 1)),                          # a formula's STRING
], ids=["LABEL", "STRING"])
def test_text_declaring_more_characters_than_its_records_hold_is_refused(empty_text):
    """calamine reserves room for the characters a LABEL or STRING record declares, present
    or not: 75,000 LABEL records of 65,535 characters and none (975 KB) held 312 MB."""
    with pytest.raises(biff.BadBiff, match="text longer than its records"):
        biff.scan(sheets_at(0) + bof(0x0010) + HEAD + empty_text * 2 + rec(0x000A))
    assert list(biff.scan(sheets_at(0) + bof(0x0010) + HEAD + label(2, 0, "长" * 30000) + rec(0x000A))) == ["一"]


def test_an_sst_in_more_continue_records_than_excel_writes_is_refused():
    """calamine takes an SST's CONTINUE records one by one from the front of a list: a
    string whose ExtRst ran over 250,000 empty ones (1 MB) held it 6 s."""
    sst = rec(0x00FC, struct.pack("<ii", 1, 1) + struct.pack("<HBi", 0, 4, 1))

    def stream(continues: int) -> bytes:
        return sheets_at(0, extra=sst + rec(0x003C) * (continues - 1) + rec(0x003C, b"x")) + BODY
    assert biff.MAX_SST_CONTINUES == 8192
    with pytest.raises(biff.BadBiff, match="SST in too many CONTINUE records"):
        biff.globals_of(stream(8193))
    assert len(biff.globals_of(stream(8192))) == 1


def test_more_merged_ranges_than_any_ledger_is_refused():
    """calamine and python-calamine hold ~270 bytes a merged range: a 20 MB file of them
    took 658 MB and 5 s."""
    merges = rec(0x00E5, struct.pack("<H", 1024) + struct.pack("<HHHH", 0, 0, 0, 1) * 1024)
    with pytest.raises(biff.BadBiff, match="too many merged ranges"):
        biff.scan(sheets_at(0) + bof(0x0010) + HEAD + merges * 977 + rec(0x000A))            # 1,000,448
    assert list(biff.scan(sheets_at(0) + bof(0x0010) + HEAD + merges * 976 + rec(0x000A))) == ["一"]


def test_a_legacy_xls_with_merged_cells_still_reads():
    book = read_book(Path(__file__).parent / "fixtures" / "legacy_two_cancer.xls")
    assert [(s.name, len(list(s.iter_rows())), len(s.merged)) for s in book.sheets] == [("台账", 13, 9)]


# ---------------------------------------------------------------- formulas: their values, never their tokens

def formula(r: int, c: int, result: bytes, tokens: bytes) -> bytes:
    return rec(0x0006, struct.pack("<HHH", r, c, 15) + result + struct.pack("<HIH", 0, 0, len(tokens)) + tokens)


SPACES = bytes([0x19, 0x40, 0x00, 0xFF]) * 2000   # 2,000 × "255 spaces": calamine took 1.7 s per formula to write it out


def test_formula_cells_give_their_values_and_calamine_never_sees_their_tokens(tmp_path, monkeypatch):
    text_result = bytes([0, 0, 0, 0, 0, 0, 0xFF, 0xFF])          # a text result, in the STRING record that follows
    cells = (HEAD + formula(2, 0, struct.pack("<d", 2.5), bytes([0x1E, 1, 0]) + SPACES)
             + formula(2, 1, text_result, bytes([0x1E, 1, 0]) + SPACES)
             + rec(0x0207, struct.pack("<HB", 3, 1) + "示例二".encode("utf-16-le")))
    path = tmp_path / "公式.xls"
    path.write_bytes(xls(cells, dims=(0, 3, 0, 2)))
    seen, real = [], biff.container
    monkeypatch.setattr(biff, "container", lambda stream: seen.append(stream) or real(stream))
    rows = [list(r) for r in read_book(path).sheets[0].iter_rows()]
    assert rows[2] == [2.5, "示例二"]
    counts = []
    for _at, typ, data in biff.records(seen[0], biff.globals_of(seen[0])[0][0]):
        if typ == 0x000A:   # the sheet's EOF
            break
        if typ == 0x0006:
            counts.append(struct.unpack_from("<H", data, 20)[0])
    assert counts == [0, 0]
