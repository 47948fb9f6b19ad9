"""Issue 15, item 7: a sheet whose grid is huge is refused before calamine reads it.

calamine allocates a sheet from its first to its last value as one grid and aborts the
process when that fails (no exception): an 18 KB .xlsx with a value at XFD1048576 asked
for 512 GB. The checks that could kill the process run in a child whose address space
is capped (so a regression is a failed test, not a dead test run)."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import hostile_corpus as hc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.excel.sheet_extent import (MAX_COLUMNS, MAX_GRID_CELLS, Extent, _tagged_block,
                                                 _usual_block, column_number, quick_extent, scan_ods, scan_sheet)
from desktop_app.core.excel.workbook import read_book

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = Path("/work/shared/samples")
CAP = 3 << 30     # the child's address space: far below what the hostile grids ask for

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
       'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
       'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
       '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
       'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
       'officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
         '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_BOOK = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
         '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
         '<sheet name="两癌台账" sheetId="1" r:id="rId1"/></sheets></workbook>')
_BOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
              'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
              'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
HEADER = ["村（社区）", "姓名", "身份证号", "联系电话"]


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def write_xlsx(path: Path, far: str, *, dimension: str | None = None, rows: int = 60) -> Path:
    """A two_cancer-looking sheet (header and ``rows`` rows; 650 make about 18 KB) plus ``far``
    (cells, rows: any sheetData XML) at its end, with ``dimension`` if given."""
    body = "<row r=\"1\">" + "".join(_cell(f"{c}1", h) for c, h in zip("ABCD", HEADER)) + "</row>"
    for i in range(rows):
        r = hc.screening(i)
        body += f'<row r="{i + 2}">' + "".join(_cell(f"{c}{i + 2}", v) for c, v in zip(
            "ABCD", ["示例村一", r["name"], r["id_number"], r["phone"]])) + "</row>"
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             f'spreadsheetml/2006/main">{dim}<sheetData>{body}{far}</sheetData></worksheet>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [("[Content_Types].xml", _CT), ("_rels/.rels", _RELS), ("xl/workbook.xml", _BOOK),
                           ("xl/_rels/workbook.xml.rels", _BOOK_RELS), ("xl/worksheets/sheet1.xml", sheet)]:
            z.writestr(name, data)
    return path


def write_ods(path: Path, rows: int, cols: int) -> Path:
    """An .ods of a header row and one value repeated over ``rows`` × ``cols`` cells."""
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:'
               'opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
               '<office:spreadsheet><table:table table:name="台账"><table:table-row><table:table-cell '
               'office:value-type="string"><text:p>姓名</text:p></table:table-cell></table:table-row>'
               f'<table:table-row table:number-rows-repeated="{rows}"><table:table-cell '
               f'table:number-columns-repeated="{cols}" office:value-type="float" office:value="1"><text:p>1'
               '</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>'
               '</office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                'opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path'
                '="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
                'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


FAR = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'

# the preview through core, in a child whose memory is capped
PREVIEW = r"""
import json, sys
from desktop_app.core.excel.importer import plan_import
from desktop_app.core.store.database import Store
from desktop_app.core.errors import UserError
store = Store.open(sys.argv[1])
try:
    plan = plan_import(store, sys.argv[2])
    print(json.dumps({"status": "planned", "counts": plan.counts()}))
except UserError as exc:
    print(json.dumps({"status": "refused", "code": exc.exit_code, "message": str(exc)}, ensure_ascii=False))
"""


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def child(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=hc.child_env(),
                          preexec_fn=_capped, timeout=300)


@pytest.fixture
def store_path(town):
    town.close()
    return town.path


# ---------------------------------------------------------------- the 18 KB workbook

def test_one_cell_at_xfd1048576_is_refused_by_the_preview_without_killing_the_process(store_path, tmp_path):
    book = write_xlsx(tmp_path / "两癌_18KB.xlsx", FAR, rows=650)
    assert 15_000 < book.stat().st_size < 21_000
    done = child(["-c", PREVIEW, str(store_path), str(book)])
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got["status"] == "refused" and got["code"] == 2
    assert "两癌_18KB.xlsx" in got["message"] and "两癌台账" in got["message"] and "16,384 列" in got["message"]


def test_the_cli_dry_run_exits_2_with_a_chinese_line(store_path, tmp_path):
    book = write_xlsx(tmp_path / "两癌.xlsx", FAR)
    done = child(["-m", "desktop_app.cli", "import-excel", "--db", str(store_path), "--dry-run", "--json",
                  str(book)])
    assert done.returncode == 2, done.stderr[-2000:]
    entry = json.loads(done.stdout)["files"][0]
    assert entry["status"] == "unusable" and "两癌台账" in entry["message"] and "Traceback" not in done.stderr


@pytest.mark.parametrize("far,dimension,says", [
    (FAR, "A1:D61", "16,384 列"),                                             # the dimension lies
    (FAR, None, "16,384 列"),                                                 # no dimension at all
    ('<row r="1048576"><c r="A1048576"><v>1</v></c></row><row><c><v>2</v></c></row>', None, "1,048,577 行"),
    ('<row r="1000000"><c r="AZ1000000"><v>1</v></c></row>', None, f"超过一次导入的上限 {MAX_GRID_CELLS:,} 个"),
    ('<row r="70"><c r="SK70"><v>1</v></c></row>', None, f"最多用到 {MAX_COLUMNS} 列"),
    ('<row r="70"><c foo=">" r="XFD70"><v>1</v></c></row>', None, "16,384 列"),  # '>' inside an attribute
    ('<row r="70"><c r="A70"/><c><v>1</v></c><c r="XF&#68;70"><v>1</v></c></row>', None, "文件结构异常"),
])
def test_sheets_beyond_the_limits_are_refused_however_they_are_written(tmp_path, far, dimension, says):
    book = write_xlsx(tmp_path / "x.xlsx", far, dimension=dimension)
    done = child(["-c", "import sys, json\nfrom desktop_app.core.excel.workbook import read_book\n"
                  "from desktop_app.core.errors import UserError\n"
                  "try:\n    read_book(sys.argv[1]); print('read')\n"
                  "except UserError as e:\n    print(e.exit_code, e)", str(book)])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("2 x.xlsx") and says in done.stdout


def test_a_big_declared_dimension_over_small_content_is_read(tmp_path):
    """calamine does not allocate by the declared dimension: only the cells count."""
    book = read_book(write_xlsx(tmp_path / "x.xlsx", "", dimension="A1:XFD1048576"))
    assert book.sheets[0].name == "两癌台账" and sum(1 for _ in book.sheets[0].iter_rows()) == 61


def test_empty_cells_far_away_do_not_count(tmp_path):
    book = read_book(write_xlsx(tmp_path / "x.xlsx", '<row r="1048576"><c r="XFD1048576" s="1"/></row>'))
    assert sum(1 for _ in book.sheets[0].iter_rows()) == 61


def test_the_extent_is_the_same_wherever_the_stream_is_cut():
    xml = (b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>a&lt;c r="ZZ9"&gt;</t></is></c><c r="B1" s="1"/>'
           b'</row><row><c><v>1</v></c><x:c foo=">" r="XFD1048576"><v>2</v></x:c></row></sheetData>')
    want = Extent(1, 1048576, 1, 16384)
    for size in range(1, len(xml) + 1):
        blocks = [xml[i:i + size] for i in range(0, len(xml), size)]
        assert scan_sheet(blocks) == want, size
        assert quick_extent(blocks) is False        # not written the usual way: read tag by tag
    usual = b'<row r="1" spans="1:2"><c r="A1" t="s"><v>0</v></c><c r="B1"/></row><row r="3"><c r="C3"><v>1</v></c></row>'
    for size in range(1, len(usual) + 1):
        assert quick_extent([usual[i:i + size] for i in range(0, len(usual), size)]) == Extent(1, 3, 1, 3), size


PIECES = [b'<row r="1">', b'<row r="12" spans="1:3">', b'<row r="007">', b'<row>', b'<row r="2"/>', b"</row>",
          b'<c r="A1">', b'<c r="B12" t="s">', b'<c r="XFD3"/>', b'<c r="AA007">', b'<c r="a1">', b'<c s="1" r="C2">',
          b'<c r = "D4">', b'<c r="E5" r="F6">', b"<c>", b'<x:c r="G7">', b'<x:row r="9">', b"<col min=\"1\"/>",
          b"<rowBreaks/>", b"<cfRule/>", b"<v>1</v>", b"</c>", b"<t>a:c r= b</t>", b"<!-- <c r=\"Z99\"> -->",
          b' xr="1"', b"<is><t>x</t></is>", b'<c r="H1048576">', b"<x:c>", b'<x:c s="1" r="A2">',
          b"<t>a r = b</t>", b"<y:row>"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_a_block_read_with_counts_is_read_as_tag_by_tag(pieces):
    """The counting read of a block written the usual way (issue 18: three times faster)
    finds what matching every tag finds, and leaves any other block to it."""
    data = b"".join(pieces)
    usual = _usual_block(data)
    if usual is not None:
        assert (usual or None) == _tagged_block(data)
    assert quick_extent([data]) == _by_tags([data])


def _by_tags(blocks):
    rows, cols = [], set()
    for found in map(_tagged_block, blocks):
        if found is False:
            return False
        if found:
            rows += found[:2]
            cols |= found[2]
    numbers = [column_number(c.decode()) for c in cols]
    return Extent(min(rows), max(rows), min(numbers), max(numbers)) if rows else None


def test_the_usual_way_is_read_with_counts():
    usual = b'<row r="1" spans="1:2"><c r="A1" t="s"><v>0</v></c><c r="B1"/></row><row r="3"><c r="C3"><v>1</v></c></row>'
    assert _usual_block(usual) == (1, 3, {b"A", b"B", b"C"})
    assert _usual_block(b'<cols><col min="1"/></cols>' + usual) is None      # left to the tag-by-tag read


# ---------------------------------------------------------------- .ods

def test_an_ods_of_repeated_cells_is_refused_before_calamine_expands_them(tmp_path):
    book = write_ods(tmp_path / "台账.ods", 1_000_000, 99)       # 826 bytes; calamine wanted 3.2 GB at once
    done = child(["-c", "import sys\nfrom desktop_app.core.excel.workbook import read_book\n"
                  "from desktop_app.core.errors import UserError\n"
                  "try:\n    read_book(sys.argv[1]); print('read')\n"
                  "except UserError as e:\n    print(e.exit_code, e)", str(book)])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("2 台账.ods") and "“台账”" in done.stdout and "99,000,099 个单元格" in done.stdout


def test_ods_padding_cells_do_not_count():
    xml = (b'<table:table table:name="S"><table:table-row><table:table-cell office:value-type="string">'
           b'<text:p>x</text:p></table:table-cell><table:table-cell table:number-columns-repeated="16383"/>'
           b'</table:table-row><table:table-row table:number-rows-repeated="1048575"><table:table-cell '
           b'table:number-columns-repeated="16384"/></table:table-row></table:table>')
    assert scan_ods([xml]) == {"S": Extent(1, 1, 1, 1)}


# ---------------------------------------------------------------- normal workbooks still import

@pytest.mark.parametrize("path", [FIXTURES / "legacy_two_cancer.xlsx", FIXTURES / "legacy_two_cancer.ods",
                                  FIXTURES / "legacy_two_cancer.xls", FIXTURES / "several_sheets.xlsx",
                                  *sorted(SAMPLES.glob("*.xls*"))], ids=lambda p: p.name)
def test_normal_workbooks_are_read_as_before(path):
    book = read_book(path)
    assert book.sheets and all(sum(1 for _ in s.iter_rows()) > 1 for s in book.sheets)


def test_a_normal_sheet_still_previews(town, tmp_path):
    from desktop_app.core.excel.importer import plan_import
    plan = plan_import(town, write_xlsx(tmp_path / "两癌.xlsx", "", rows=5), ledger="two_cancer")
    assert plan.counts()["rejected"] == 0 and sum(plan.counts().values()) >= 5
