"""Importing real-world sheets: layouts, normalisation, exact counts and messages,
dry run, error workbook, idempotence, undo, unusable files."""
import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from support import logical_dump, make_id

from desktop_app.cli import main
from desktop_app.core.excel.error_book import write_error_workbook
from desktop_app.core.excel.importer import UndoRefused, apply_plan, plan_import, undo_import
from desktop_app.core.excel.workbook import WorkbookError

FIX = Path(__file__).parent / "fixtures"
TODAY = dt.date(2024, 12, 31)
LEGACY_COUNTS = {"new": 0, "updated": 0, "unchanged": 0, "duplicate": 0, "incomplete": 4,
                 "conflict": 0, "rejected": 3, "skipped": 2}
LEGACY_ERRORS = {
    10: ["身份证号：两癌检查对象应为女性"],
    11: ["身份证号：校验位不对（最后一位应为 0），请核对是否有数字录错"],
    12: ["身份证号：已被 Excel 转成数字（4.30902E+17），后几位已经丢失，无法恢复。"
         "请把该列设置为“文本”格式后重新录入完整的 18 位号码"],
}


def errors(plan):
    return {r.row_no: [p.message for p in r.problems if p.severity == "error"]
            for r in plan.rows if r.status == "rejected"}


@pytest.mark.parametrize("name", ["legacy_two_cancer.xlsx", "legacy_two_cancer.xls",
                                  "legacy_two_cancer.ods"])
def test_legacy_sheet_in_every_format(town, name):
    plan = plan_import(town, FIX / name, today=TODAY)
    assert (plan.ledger.id, plan.sheet, plan.layout.header_rows) == ("two_cancer", "台账", [2, 3])
    assert plan.counts() == LEGACY_COUNTS
    assert errors(plan) == LEGACY_ERRORS
    by_row = {r.row_no: r for r in plan.rows}
    assert by_row[7].status == "skipped" and by_row[13].status == "skipped"  # spacer and 合计
    # normalised: full-width phone, dates typed as text, two-row merged header columns
    assert by_row[6].values["phone"] == "13800000002"
    assert by_row[6].values["cervical_date"] == "2024-04-06"
    assert by_row[8].values["breast_date"] == "2024-05-07"
    assert by_row[9].values["cervical_date"] == "2024-06-08" and by_row[9].values["phone"] == "13800000004"
    assert by_row[5].org == "430971121001" and by_row[6].org == "430971121002"
    # legacy sheets lack required columns: good rows come in as 待补充
    assert by_row[5].status == "incomplete" and "institution" in by_row[5].missing


def test_the_shared_sample_sheet(town):
    town.add_villages(["示例社区"])
    plan = plan_import(town, FIX / "河坝镇_两癌检查台账_示例.xlsx", today=TODAY)
    assert plan.counts() == {"new": 0, "updated": 0, "unchanged": 0, "duplicate": 1,
                             "incomplete": 11, "conflict": 0, "rejected": 3, "skipped": 2}


def test_picks_the_ledger_sheet_among_several(town):
    plan = plan_import(town, FIX / "several_sheets.xlsx", today=TODAY)
    assert plan.sheet == "两癌台账" and plan.counts()["incomplete"] == 4


def test_formulas_are_read_by_their_cached_values(town):
    plan = plan_import(town, FIX / "formulas.xlsx", today=TODAY)
    assert [r.values["phone"] for r in plan.rows] == ["13800000001", "13800000002"]


def test_refused_file_writes_nothing_then_accept_valid_and_idempotence(town):
    before = logical_dump(town.path)
    result = apply_plan(town, plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY))
    assert result.status == "refused" and result.batch is None
    assert logical_dump(town.path) == before   # only the import history notes the refusal
    assert town.conn.execute("SELECT status FROM import_history").fetchall() == [("refused",)]
    result = apply_plan(town, plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY),
                        accept_valid=True)
    assert result.status == "partial" and town.ledger("two_cancer").count() == 4
    audit = town.conn.execute("SELECT COUNT(*), MIN(source) FROM audit WHERE batch = ? AND "
                              "tbl = 'ledger_two_cancer'", (result.batch,)).fetchone()
    assert audit == (4, "excel:legacy_two_cancer.xlsx")
    again = plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY)
    assert again.counts() | {"rejected": 0} == {**LEGACY_COUNTS, "incomplete": 0, "unchanged": 4,
                                                 "rejected": 0}
    rows = town.ledger("two_cancer").rows()
    changes = town.conn.execute("SELECT COUNT(*) FROM change_log").fetchone()[0]
    apply_plan(town, again, accept_valid=True)   # the same rows again: nothing to write
    assert town.ledger("two_cancer").rows() == rows
    assert town.conn.execute("SELECT COUNT(*) FROM change_log").fetchone()[0] == changes


def test_dry_run_through_the_cli_writes_nothing(town, capsys):
    path = town.path
    before = logical_dump(path)
    code = main(["import-excel", "--db", str(path), str(FIX / "legacy_two_cancer.xlsx"),
                 "--dry-run", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and logical_dump(path) == before
    [f] = data["files"]
    assert {k: f[k] for k in LEGACY_COUNTS} == LEGACY_COUNTS and f["status"] == "dry-run"
    assert data["totals"] == LEGACY_COUNTS
    row10 = next(r for r in f["rows"] if r["row"] == 10)
    assert row10 == {"row": 10, "status": "rejected", "messages": LEGACY_ERRORS[10],
                     "missing": ["宫颈癌检查机构", "宫颈初筛方法", "乳腺彩超BI-RADS分级"]}


def test_updates_from_a_corrected_sheet_show_old_and_new(town, tmp_path):
    apply_plan(town, plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY), accept_valid=True)
    wb = load_workbook(FIX / "legacy_two_cancer.xlsx")
    ws = wb.active
    ws["E5"] = "13900000001"       # 示例甲's phone changed
    ws["D10"] = make_id("19650505", 2)  # 示例戊 corrected to a woman's ID
    ws["D11"] = None                 # the bad-check-digit row left without an ID: rejected
    path = tmp_path / "corrected.xlsx"
    wb.save(path)
    plan = plan_import(town, path, today=TODAY)
    by_row = {r.row_no: r for r in plan.rows}
    assert by_row[5].status == "updated" and by_row[5].changes == {"phone": ["13800000001", "13900000001"]}
    assert by_row[10].status == "incomplete"
    assert errors(plan)[11] == ["身份证号：必填，不能为空"]


def test_error_workbook_is_the_template_with_the_files_own_cells(town, tmp_path):
    plan = plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY)
    out = write_error_workbook(town, plan, tmp_path / "err.xlsx")
    ws = load_workbook(out).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][0] == "河坝镇 两癌检查台账（2024年）" and rows[1][0].startswith("填报单位：河坝镇")
    led = town.catalog.ledger("two_cancer")
    assert rows[2] == ["村（社区）"] + [("*" if f.required else "") + f.label for f in led.fields
                                        if f.type != "attachment"] + ["原表行号", "错误原因"]
    data = rows[3:]
    assert [r[-2] for r in data] == [10, 11, 12]
    assert data[0][-1] == "身份证号：两癌检查对象应为女性"
    assert data[0][:3] == ["示例村一", "示例戊", make_id("19650505", 3)]   # the file's own value, in full
    bad = ws.cell(row=4, column=3)
    assert bad.fill.fgColor.rgb.endswith("FFC7CE") and "女性" in bad.comment.text
    assert ws.cell(row=4, column=2).comment is None


def test_undo_a_whole_import_and_refuse_after_later_edits(town):
    res = apply_plan(town, plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY),
                     accept_valid=True)
    led = town.ledger("two_cancer")
    assert led.count() == 4
    assert undo_import(town, res.batch) == {"deleted": 4}
    assert led.count() == 0 and led.count(deleted=None) == 4
    with pytest.raises(UndoRefused, match="已在 .* 撤销过"):
        undo_import(town, res.batch)
    # a second import of the same file brings them back as new changes; then a later edit blocks undo
    res2 = apply_plan(town, plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY),
                      accept_valid=True)
    uid = led.rows()[0]["uuid"]
    led.update(uid, {"institution": "示例卫生院"}, today=TODAY)
    with pytest.raises(UndoRefused, match="又被修改过"):
        undo_import(town, res2.batch)


def test_undo_restores_changed_values(town, tmp_path):
    apply_plan(town, plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY), accept_valid=True)
    wb = load_workbook(FIX / "legacy_two_cancer.xlsx")
    wb.active["E5"] = "13900000001"
    wb.save(tmp_path / "c.xlsx")
    res = apply_plan(town, plan_import(town, tmp_path / "c.xlsx", today=TODAY), accept_valid=True)
    assert res.counts["updated"] == 1
    assert undo_import(town, res.batch) == {"restored": 1}
    phones = {r["phone"] for r in town.ledger("two_cancer").rows()}
    assert "13800000001" in phones and "13900000001" not in phones


def _trailing_rows_workbook(path: Path, empty_rows: int) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "联系电话"])
    ws.append(["示例甲", make_id("19700312", 2), "13800000001"])
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    filler = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t></t></is></c></row>'
                     for r in range(3, 3 + empty_rows))
    sheet = sheet.replace("</sheetData>", filler + "</sheetData>")
    sheet = sheet.replace('<dimension ref="A1:C2"/>', f'<dimension ref="A1:C{2 + empty_rows}"/>')
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in parts.items():
            z.writestr(n, b)


def test_a_million_trailing_empty_rows_are_skipped(town, tmp_path):
    path = tmp_path / "trailing.xlsx"
    _trailing_rows_workbook(path, 1_000_000)
    plan = plan_import(town, path, ledger="two_cancer", today=TODAY)
    assert len(plan.rows) == 1 and plan.rows[0].status == "incomplete"


def _book(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)
    return path


@pytest.mark.parametrize("maker, message", [
    (lambda p: p.write_text("姓名,身份证号\n"), "不是 Excel/WPS 表格文件"),
    (lambda p: p.write_bytes((FIX / "legacy_two_cancer.xlsx").read_bytes()[:1500]), "不是 Excel/WPS 表格文件"),
    (lambda p: p.write_bytes((FIX / "password.xlsx").read_bytes()), "设置了打开密码"),
    (lambda p: _book(p, [["姓名", "身份证号"], ["示例", "x" * 5_000_000]]),
     "第 2 行第 2 列的单元格达到或超过 Excel 的上限 32,767 个字符"),
    (lambda p: _book(p, [["项目", "数量"], ["两癌", 6]]), "没有找到像任何台账的表头"),
])
def test_unusable_workbooks_exit_2_and_leave_the_store(town, tmp_path, capsys, maker, message):
    path = tmp_path / "bad.xlsx"
    maker(path)
    with pytest.raises(WorkbookError, match=message):
        plan_import(town, path, today=TODAY)
    before = logical_dump(town.path)
    code = main(["import-excel", "--db", str(town.path), str(path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2 and data["files"][0]["status"] == "unusable"
    assert message.split("，")[0] in data["files"][0]["message"]
    assert logical_dump(town.path) == before


def test_a_cell_too_long_is_found_in_any_block_of_the_sheet_read_and_only_there(town, tmp_path):
    rows = [["村（社区）", "姓名", "身份证号"]] + [["示例村一", f"示例{i}", make_id("19700312", 2 * i)]
                                                   for i in range(1500)]
    rows[1300][1] = "x" * 40_000
    with pytest.raises(WorkbookError, match="第 1301 行第 2 列的单元格达到或超过"):
        plan_import(town, _book(tmp_path / "long.xlsx", rows), ledger="two_cancer", today=TODAY)
    path = _book(tmp_path / "notes.xlsx", rows[:3])
    book = load_workbook(path)
    book.create_sheet("说明").append(["说明"])
    for i in range(99):     # beyond the first rows (all that a sheet not imported is read for)
        book["说明"].append(["x" * 40_000 if i > 60 else "说明"])
    book.save(path)
    assert plan_import(town, path, ledger="two_cancer", today=TODAY).counts()["incomplete"] == 2


def test_several_files_each_its_own_transaction_worst_exit_code(town, tmp_path, capsys):
    good = _book(tmp_path / "good.xlsx", [["村（社区）", "姓名", "身份证号", "联系电话"],
                                          ["示例村一", "示例甲", make_id("19700312", 2), "13800000001"]])
    assert main(["import-excel", "--db", str(town.path), str(good), "--json"]) == 2
    assert "同样符合" in json.loads(capsys.readouterr().out)["files"][0]["message"]
    code = main(["import-excel", "--db", str(town.path), str(good),
                 str(FIX / "legacy_two_cancer.xlsx"), "--ledger", "two_cancer", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [f["status"] for f in data["files"]] == ["imported", "refused"]
    assert data["totals"]["incomplete"] == 5 and data["totals"]["rejected"] == 3
    assert town.ledger("two_cancer").count() == 1


def test_an_id_cell_holding_two_ids_on_two_lines_is_refused_like_any_wrong_id(town, tmp_path):
    first, second = make_id("19700312", 2), make_id("19700312", 4)
    rows = [["村（社区）", "姓名", "身份证号"], ["示例村一", "示例一", f"{first}\n{second}"],
            ["示例村一", "示例二", second]]
    plan = plan_import(town, _book(tmp_path / "lines.xlsx", rows), ledger="two_cancer", today=TODAY)
    assert errors(plan) == {2: ["身份证号：应为 18 位（前 17 位数字，最后一位数字或 X），现在是 36 位"]}
