"""Excel templates: labels, required marks, rules, dropdowns, text ID columns, meta sheet."""
import datetime as dt

import openpyxl
import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from desktop_app.core.catalog.model import read_catalog_files
from desktop_app.core.excel.sheetmeta import META_KEYS, META_SHEET, OPTIONS_SHEET, ORG_HEADER, safe_sheet_title
from desktop_app.core.excel.template import (
    FIRST_DATA_ROW,
    HEADER_ROW,
    PREFILL_ROWS,
    TEMPLATE_ROWS,
    needs_options_sheet,
    write_template,
)
from desktop_app.core.store.database import Store, StoreError

LONG_LABEL = "农村适龄及城镇低保适龄妇女“两癌”免费检查台账：2024年[第一批]/河坝镇示例村"
MANY_CHOICES = [f"示例乡镇卫生院{i:02d}" for i in range(40)]


def headers(ws) -> list:
    return [ws.cell(HEADER_ROW, c).value for c in range(1, ws.max_column + 1)]


def column_of(ws, header: str) -> int:
    return headers(ws).index(header) + 1


def validation_for(ws, col: int):
    letter = openpyxl.utils.get_column_letter(col)
    hits = [dv for dv in ws.data_validations.dataValidation
            if f"{letter}{FIRST_DATA_ROW}" in dv.sqref]
    assert len(hits) == 1
    return hits[0]


def meta_of(path) -> dict:
    ws = load_workbook(path)[META_SHEET]
    return {row[0]: row[1] for row in ws.iter_rows(values_only=True)}


def custom_store(tmp_path, change) -> Store:
    """A town store whose two_cancer ledger is changed by ``change(ledger_toml)``."""
    files = read_catalog_files()
    for data in files.values():
        for led in data.get("ledgers", []):
            if led["id"] == "two_cancer":
                change(led)
    store = Store.create(tmp_path / "custom.sqlite3", level="town", org="河坝镇",
                         operator="示例录入员", catalog_files=files)
    store.add_villages(["示例村一"])
    return store


def test_template_opens_with_openpyxl_and_calamine_and_has_the_labels(town, tmp_path):
    path = write_template(town, "two_cancer", tmp_path / "两癌.xlsx")

    ws = load_workbook(path).worksheets[0]
    assert ws.title == "两癌检查台账"
    assert ws["A1"].value == "河坝镇 两癌检查台账（2024年）"
    assert "填报单位" in ws["A2"].value and "填报日期" in ws["A2"].value
    assert headers(ws)[:5] == [ORG_HEADER, "*姓名", "*身份证号", "*联系电话", "家庭住址"]
    assert headers(ws)[-1] == "*状态"
    fields = town.catalog.ledger("two_cancer").fields
    assert len(headers(ws)) == len([f for f in fields if f.type != "attachment"]) + 1   # 检查报告: in the app

    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == ["两癌检查台账", META_SHEET]
    rows = book.get_sheet_by_index(0).to_python()
    assert rows[HEADER_ROW - 1] == headers(ws)


def test_required_fields_are_marked_and_optional_ones_are_not(town, tmp_path):
    ws = load_workbook(write_template(town, "two_cancer", tmp_path / "t.xlsx")).worksheets[0]
    ledger = town.catalog.ledger("two_cancer")
    for col, field in enumerate([f for f in ledger.fields if f.type != "attachment"], start=2):
        expected = f"*{field.label}" if field.required else field.label
        assert ws.cell(HEADER_ROW, col).value == expected


def test_header_comments_state_each_fields_rule(town, tmp_path):
    ws = load_workbook(write_template(town, "barrier_free", tmp_path / "t.xlsx")).worksheets[0]
    id_rule = ws.cell(HEADER_ROW, column_of(ws, "*身份证号")).comment.text
    assert "18 位公民身份号码" in id_rule and "必填" in id_rule
    subsidy = ws.cell(HEADER_ROW, column_of(ws, "补贴金额")).comment.text
    assert "数字" in subsidy and "可不填" in subsidy
    assert "不小于 0" in subsidy and "不大于 50000" in subsidy and "单位：元" in subsidy
    assert "验收后必填" in subsidy  # the help text
    grade = ws.cell(HEADER_ROW, column_of(ws, "*残疾等级")).comment.text
    assert "可选：" in grade
    assert "从下拉列表中选择" in ws.cell(HEADER_ROW, 1).comment.text


def test_id_and_phone_columns_are_text_and_date_columns_are_dates(town, tmp_path):
    ws = load_workbook(write_template(town, "barrier_free", tmp_path / "t.xlsx")).worksheets[0]
    last = FIRST_DATA_ROW + TEMPLATE_ROWS - 1
    for header in ("*身份证号", "*联系电话", "*残疾证号", "施工单位统一社会信用代码"):
        col = column_of(ws, header)
        assert ws.cell(FIRST_DATA_ROW, col).number_format == "@"
        assert ws.cell(last, col).number_format == "@"
        letter = openpyxl.utils.get_column_letter(col)
        assert ws.column_dimensions[letter].number_format == "@"
    assert ws.cell(FIRST_DATA_ROW, column_of(ws, "*入户评估日期")).number_format == "yyyy-mm-dd"
    assert ws.cell(FIRST_DATA_ROW, column_of(ws, "*残疾人姓名")).number_format == "General"


def test_dropdowns_for_choices_yes_no_and_villages(town, tmp_path):
    ws = load_workbook(write_template(town, "barrier_free", tmp_path / "t.xlsx")).worksheets[0]
    assert validation_for(ws, 1).formula1 == '"示例村一,示例村二"'
    assert validation_for(ws, column_of(ws, "本人或家属签字确认")).formula1 == '"是,否"'
    accept = validation_for(ws, column_of(ws, "验收结论"))
    assert accept.type == "list" and accept.formula1 == '"合格,整改后合格,不合格"'
    assert accept.showErrorMessage
    (cells,) = accept.sqref.ranges
    assert cells.max_row == FIRST_DATA_ROW + TEMPLATE_ROWS - 1
    multi = openpyxl.utils.get_column_letter(column_of(ws, "*改造内容"))
    assert not [dv for dv in ws.data_validations.dataValidation if f"{multi}4" in dv.sqref]


def test_a_list_over_255_characters_goes_to_the_hidden_options_sheet(tmp_path):
    def add_field(led):
        led["fields"].append({"id": "clinic", "label": "就诊机构", "type": "choice",
                              "choices": MANY_CHOICES})
    assert len(",".join(MANY_CHOICES)) > 255
    store = custom_store(tmp_path, add_field)
    path = write_template(store, "two_cancer", tmp_path / "t.xlsx")
    store.close()

    wb = load_workbook(path)
    ws = wb.worksheets[0]
    dv = validation_for(ws, column_of(ws, "就诊机构"))
    assert dv.formula1 == f"'{OPTIONS_SHEET}'!$A$2:$A${len(MANY_CHOICES) + 1}"
    options = wb[OPTIONS_SHEET]
    assert options.sheet_state == "hidden"
    assert options["A1"].value == "就诊机构"
    assert [options.cell(r, 1).value for r in range(2, len(MANY_CHOICES) + 2)] == MANY_CHOICES
    assert validation_for(ws, column_of(ws, "*人群类别")).formula1 == '"农村适龄,城镇低保"'


def test_the_255_character_limit_is_exact():
    assert not needs_options_sheet(["一" * 127, "二" * 127])      # 255 with the comma
    assert needs_options_sheet(["一" * 128, "二" * 127])          # 256
    assert needs_options_sheet(["甲,乙", "丙"])                    # a comma inside an option


def test_the_shipped_indicator_list_uses_the_options_sheet(town, tmp_path):
    wb = load_workbook(write_template(town, "indicator_progress", tmp_path / "t.xlsx"))
    ws = wb.worksheets[0]
    field = town.catalog.ledger("indicator_progress").indicator_field()
    dv = validation_for(ws, column_of(ws, f"*{field.label}" if field.required else field.label))
    assert dv.formula1.startswith(f"'{OPTIONS_SHEET}'!")
    assert wb.sheetnames == [ws.title, OPTIONS_SHEET, META_SHEET]


def test_meta_sheet_names_ledger_catalog_and_org(town, tmp_path):
    path = write_template(town, "two_cancer", tmp_path / "t.xlsx")
    assert load_workbook(path)[META_SHEET].sheet_state == "hidden"
    meta = meta_of(path)
    assert list(meta) == list(META_KEYS)
    assert meta["kind"] == "template"
    assert (meta["ledger"], meta["ledger_label"]) == ("two_cancer", "两癌检查台账")
    assert (meta["catalog_id"], meta["catalog_version"]) == (town.catalog.id, town.catalog.version)
    assert (meta["org"], meta["org_name"]) == ("430971121", "河坝镇")
    assert meta["masked"] == "no"
    assert dt.datetime.fromisoformat(meta["created"]).date() == dt.date.today()
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(META_SHEET).to_python()
    assert {r[0]: r[1] for r in rows}["catalog_version"] == town.catalog.version  # text, not 2024.1


def test_village_prefills_the_first_200_rows_and_is_the_org(town, tmp_path):
    code = town.orgs.resolve("示例村一").code
    for given in ("示例村一", code):
        path = write_template(town, "two_cancer", tmp_path / f"{given}.xlsx", village=given)
        ws = load_workbook(path).worksheets[0]
        assert ws["A1"].value == "示例村一 两癌检查台账（2024年）"
        filled = [ws.cell(r, 1).value for r in range(FIRST_DATA_ROW, FIRST_DATA_ROW + PREFILL_ROWS)]
        assert filled == ["示例村一"] * PREFILL_ROWS
        assert ws.cell(FIRST_DATA_ROW + PREFILL_ROWS, 1).value is None
        assert ws.cell(FIRST_DATA_ROW, 2).value is None
        meta = meta_of(path)
        assert (meta["org"], meta["org_name"]) == (code, "示例村一")


def test_village_must_be_a_village_of_the_install(town, tmp_path):
    with pytest.raises(StoreError, match="不是村"):
        write_template(town, "two_cancer", tmp_path / "a.xlsx", village="河坝镇")
    with pytest.raises(StoreError, match="没有名为“金盆镇”"):
        write_template(town, "two_cancer", tmp_path / "b.xlsx", village="金盆镇")
    with pytest.raises(StoreError, match="没有台账"):
        write_template(town, "no_such_ledger", tmp_path / "c.xlsx")
    assert list(tmp_path.glob("*.xlsx")) == []


def test_a_long_ledger_label_gives_a_legal_sheet_name(tmp_path):
    store = custom_store(tmp_path, lambda led: led.update(label=LONG_LABEL))
    path = write_template(store, LONG_LABEL, tmp_path / "t.xlsx")
    store.close()
    ws = load_workbook(path).worksheets[0]
    assert ws.title == safe_sheet_title(LONG_LABEL)
    assert len(ws.title) == 31 and not set(ws.title) & set("[]:*?/\\：")
    assert ws["A1"].value == f"河坝镇 {LONG_LABEL}（2024年）"  # the title keeps the full label
    assert CalamineWorkbook.from_path(str(path)).sheet_names[0] == ws.title


def test_print_setup_and_frozen_header(town, tmp_path):
    ws = load_workbook(write_template(town, "two_cancer", tmp_path / "t.xlsx")).worksheets[0]
    assert ws.freeze_panes == "B4"
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.print_title_rows == "$1:$3"
    assert "A1:V1" in {str(r) for r in ws.merged_cells.ranges}     # 村（社区） + 21 fields
    assert ws.column_dimensions["C"].width >= 18  # 身份证号 fits


def test_a_failed_write_leaves_no_file(town, tmp_path, monkeypatch):
    target = tmp_path / "t.xlsx"
    target.write_bytes(b"old")

    def broken_save(self, filename):
        open(filename, "wb").write(b"half")
        raise OSError("磁盘已满")
    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(StoreError, match="无法写入或读取 .*t.xlsx"):
        write_template(town, "two_cancer", target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".xlsx"] == ["t.xlsx"]
