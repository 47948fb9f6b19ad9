"""Ledger exports: masking, hidden id and base columns, reveal and audit, CSV, village filter."""
import codecs
import csv
import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from support import TODAY, make_id, screening

from desktop_app.core.excel.export import export_ledger
from desktop_app.core.excel.sheetmeta import BASE_HEADER, ID_HEADER, META_SHEET, ORG_HEADER, decode_base
from desktop_app.core.excel.template import FIRST_DATA_ROW, HEADER_ROW
from desktop_app.core.store.database import StoreError
from desktop_app.core.store.masking import mask_value
from desktop_app.core.store.policy import Policy
from desktop_app.core.store.users import Session

ID_ONE, ID_TWO, ID_THREE = make_id("19700101", 2), make_id("19750505", 4), make_id("19800808", 6)


def two_cancer_row(name, id_number, **extra) -> dict:
    return screening(1, name=name, id_number=id_number, phone="13812341234", address="示例路1号",
                     status="已完成") | extra


@pytest.fixture
def filled(town):
    """The town with three 两癌 rows: two in 示例村一, one in 示例村二."""
    led = town.ledger("two_cancer")
    town.uuids = [
        led.add(two_cancer_row("示例一", ID_ONE, note="=SUM(A1:A9)"), org="示例村一", today=TODAY).uuid,
        led.add(two_cancer_row("示例二", ID_TWO), org="示例村一", today=TODAY).uuid,
        led.add(two_cancer_row("示例三", ID_THREE, phone="0737-1234567"), org="示例村二",
                today=TODAY).uuid,
    ]
    return town


def sheet_rows(path) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def data_rows(path) -> list[list]:
    return sheet_rows(path)[FIRST_DATA_ROW - 1:]


def header(path) -> list:
    return sheet_rows(path)[HEADER_ROW - 1]


def cell(path, row: list, label: str):
    return row[header(path).index(label)]


def meta_of(path) -> dict:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(META_SHEET).to_python()
    return {r[0]: r[1] for r in rows}


def hidden(ws, col: int) -> bool:
    """Whether column ``col`` (1-based) is hidden; openpyxl keys a <col> span by its first."""
    return any(d.hidden and d.min <= col <= d.max for d in ws.column_dimensions.values())


def audit_entries(store) -> list[dict]:
    cur = store.conn.execute("SELECT user, action, tbl, source, after FROM audit "
                             "WHERE action = 'export' ORDER BY id")
    return [{"user": u, "action": a, "tbl": t, "source": s, "detail": json.loads(d)}
            for u, a, t, s, d in cur]


def test_xlsx_export_reads_back_with_calamine_and_masks_sensitive_cells(filled, tmp_path):
    path = tmp_path / "两癌.xlsx"
    result = export_ledger(filled, "two_cancer", path)
    assert result.to_json() == {"file": str(path), "rows": 3, "masked": True, "org": "430971121"}

    rows = data_rows(path)
    assert len(rows) == 3
    first = rows[0]
    assert cell(path, first, "*姓名") == "示例一"
    masked_id = ID_ONE[:3] + "*" * 11 + ID_ONE[-4:]
    assert cell(path, first, "*身份证号") == mask_value("id_card", ID_ONE) == masked_id
    assert cell(path, first, "*联系电话") == "138****1234"
    assert cell(path, first, "家庭住址") == "***"
    assert cell(path, first, "*宫颈初筛结果") == "***"
    assert cell(path, first, "*宫颈癌检查机构") == "示例卫生院"       # not sensitive
    assert cell(path, first, "*宫颈癌检查日期") == dt.date(2024, 3, 5)
    assert cell(path, first, "备注") == "=SUM(A1:A9)"          # text, never a formula
    assert cell(path, rows[2], "*联系电话") == "0737-***4567"


def test_base_json_holds_the_values_masked_as_the_cells(filled, tmp_path):
    path = tmp_path / "两癌.xlsx"
    export_ledger(filled, "two_cancer", path)
    first = data_rows(path)[0]
    assert first[0] == filled.uuids[0]
    base = decode_base(first[1])
    assert base["name"] == "示例一"
    assert base["id_number"] == mask_value("id_card", ID_ONE)
    assert base["phone"] == "138****1234"
    assert base["population"] == "***"
    assert base["cervical_date"] == "2024-03-05"
    assert base["status"] == "已完成"
    assert "colposcopy" not in base  # empty values are left out
    assert not any(v == ID_ONE for v in base.values())


def test_hidden_columns_layout_and_print_setup(filled, tmp_path):
    path = tmp_path / "两癌.xlsx"
    export_ledger(filled, "two_cancer", path)
    assert header(path)[:5] == [ID_HEADER, BASE_HEADER, ORG_HEADER, "*姓名", "*身份证号"]

    wb = load_workbook(path)
    ws = wb.worksheets[0]
    assert ws.title == "两癌检查台账"
    assert [hidden(ws, col) for col in (1, 2, 3, 4)] == [True, True, False, False]
    assert ws["C1"].value == "河坝镇 两癌检查台账（2024年）"
    id_cell = ws.cell(FIRST_DATA_ROW, header(path).index("*身份证号") + 1)
    assert id_cell.number_format == "@" and id_cell.data_type == "s"
    date_cell = ws.cell(FIRST_DATA_ROW, header(path).index("*宫颈癌检查日期") + 1)
    assert date_cell.is_date and date_cell.number_format == "yyyy-mm-dd"
    assert ws.freeze_panes == "D4"
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
    assert ws.print_title_rows == "$1:$3"
    assert ws.cell(HEADER_ROW, 4).comment is not None
    population = [dv for dv in ws.data_validations.dataValidation if "H4" in dv.sqref]
    assert population[0].formula1 == '"农村适龄,城镇低保"'
    assert wb[META_SHEET].sheet_state == "hidden"
    meta = meta_of(path)
    assert (meta["kind"], meta["ledger"], meta["masked"]) == ("export", "two_cancer", "yes")
    assert (meta["org"], meta["org_name"]) == ("430971121", "河坝镇")


def test_the_village_column_shows_names(filled, tmp_path):
    path = tmp_path / "两癌.xlsx"
    export_ledger(filled, "two_cancer", path)
    assert [r[2] for r in data_rows(path)] == ["示例村一", "示例村一", "示例村二"]


def test_reveal_requires_a_purpose_and_writes_nothing_without_one(filled, tmp_path):
    for purpose in (None, "", "   "):
        with pytest.raises(StoreError, match="用途") as err:
            export_ledger(filled, "two_cancer", tmp_path / "全.xlsx", reveal=True, purpose=purpose)
        assert err.value.exit_code == 1
    assert list(tmp_path.glob("全*")) == []
    assert audit_entries(filled) == []


def test_revealed_export_shows_full_values_and_is_audited(filled, tmp_path):
    path = tmp_path / "全.xlsx"
    filled.session = Session("审核员甲", "审核员")   # who acts is the logged-in user
    result = export_ledger(filled, "two_cancer", path, reveal=True, purpose="核对体检名单")
    assert result.masked is False
    first = data_rows(path)[0]
    assert cell(path, first, "*身份证号") == ID_ONE
    assert cell(path, first, "*人群类别") == "农村适龄"
    assert decode_base(first[1])["id_number"] == ID_ONE
    assert meta_of(path)["masked"] == "no"
    assert audit_entries(filled) == [{
        "user": "审核员甲", "action": "export", "tbl": "ledger_two_cancer", "source": "export:全.xlsx",
        "detail": {"rows": 3, "purpose": "核对体检名单", "revealed": True, "org": "430971121"}}]


def test_masked_export_is_audited_too(filled, tmp_path):
    export_ledger(filled, "two_cancer", tmp_path / "a.csv")
    (entry,) = audit_entries(filled)
    assert entry["user"] == "示例录入员"
    assert entry["detail"] == {"rows": 3, "purpose": None, "revealed": False, "org": "430971121"}


def test_csv_starts_with_the_bom_and_reads_back(filled, tmp_path):
    path = tmp_path / "两癌.csv"
    result = export_ledger(filled, "two_cancer", path)
    assert result.rows == 3
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:4] == [ORG_HEADER, "*姓名", "*身份证号", "*联系电话"]
    assert ID_HEADER not in rows[0] and BASE_HEADER not in rows[0]
    assert len(rows) == 4
    assert rows[1][:4] == ["示例村一", "示例一", mask_value("id_card", ID_ONE), "138****1234"]
    assert rows[1][rows[0].index("*宫颈癌检查日期")] == "2024-03-05"
    assert rows[1][rows[0].index("阴道镜检查结果")] == ""


def test_csv_shows_yes_no_and_trimmed_decimals(town, tmp_path):
    town.ledger("barrier_free").add({"name": "示例四", "id_number": make_id("19600101", 3),
                                     "signed": "是", "subsidy": "1200.50"},
                                    org="示例村二", today=TODAY)
    path = tmp_path / "改造.csv"
    export_ledger(town, "barrier_free", path, reveal=True, purpose="核对补贴")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        head, row = list(csv.reader(fh))
    assert row[head.index("本人或家属签字确认")] == "是"
    assert row[head.index("补贴金额")] == "1200.5"
    xlsx = tmp_path / "改造.xlsx"
    export_ledger(town, "barrier_free", xlsx)
    (first,) = data_rows(xlsx)
    assert cell(xlsx, first, "本人或家属签字确认") == "是"
    assert cell(xlsx, first, "补贴金额") == 1200.5
    assert decode_base(first[1])["signed"] == 1


def test_village_filter_exports_only_that_villages_rows(filled, tmp_path):
    code = filled.orgs.resolve("示例村一").code
    path = tmp_path / "村一.xlsx"
    result = export_ledger(filled, "two_cancer", path, village="示例村一")
    assert (result.rows, result.org) == (2, code)
    rows = data_rows(path)
    assert [r[0] for r in rows] == filled.uuids[:2]
    assert {r[2] for r in rows} == {"示例村一"}
    assert (meta_of(path)["org"], meta_of(path)["org_name"]) == (code, "示例村一")
    other = filled.orgs.resolve("示例村二").code
    assert export_ledger(filled, "two_cancer", tmp_path / "村二.csv", village=other).rows == 1


def test_deleted_rows_are_not_exported(filled, tmp_path):
    filled.ledger("two_cancer").delete(filled.uuids[1])
    path = tmp_path / "a.xlsx"
    assert export_ledger(filled, "two_cancer", path).rows == 2
    assert [r[0] for r in data_rows(path)] == [filled.uuids[0], filled.uuids[2]]


def test_an_empty_ledger_exports_the_header_only(town, tmp_path):
    path = tmp_path / "空.xlsx"
    assert export_ledger(town, "two_cancer", path).rows == 0
    assert sheet_rows(path)[HEADER_ROW - 1][2] == ORG_HEADER
    assert len(sheet_rows(path)) == HEADER_ROW


def test_bad_requests_are_refused(filled, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(StoreError, match=r"\.xlsx 或 \.csv"):
        export_ledger(filled, "two_cancer", tmp_path / "a.xls")
    with pytest.raises(StoreError, match="没有名为"):
        export_ledger(filled, "two_cancer", tmp_path / "a.xlsx", village="金盆镇")
    with pytest.raises(StoreError, match="没有台账"):
        export_ledger(filled, "nothing", tmp_path / "a.xlsx")
    assert list(tmp_path.iterdir()) == []
    assert audit_entries(filled) == []


def test_a_failure_leaves_no_half_file_no_scratch_and_no_audit_entry(filled, tmp_path,
                                                                     monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    target = tmp_path / "a.xlsx"
    target.write_bytes(b"old")

    def broken(policy, ledger, field_ids):
        def mask(cells):
            raise OSError("磁盘已满")
        return mask
    monkeypatch.setattr(Policy, "masker", broken)
    for name in ("a.xlsx", "a.csv"):
        with pytest.raises(StoreError, match=f"无法写入或读取 .*{name}"):   # said in Chinese, by its name
            export_ledger(filled, "two_cancer", tmp_path / name)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx"]
    assert list(scratch.iterdir()) == []  # no rows left in XlsxWriter's scratch files
    assert audit_entries(filled) == []


def test_an_unwritable_place_is_named_in_chinese_without_the_temporary_file(filled, tmp_path):
    for name in ("x.xlsx", "x.csv"):
        with pytest.raises(StoreError) as refused:
            export_ledger(filled, "two_cancer", Path("/proc/no-such-folder") / name)
        text = str(refused.value)
        assert text.startswith(f"无法写入或读取 /proc/no-such-folder/{name}：") and ".tmp" not in text
        assert refused.value.exit_code == 2
