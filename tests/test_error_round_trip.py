"""保存错误行 → 村里改正 → 重新导入: the error workbook is the sender's own rows in the
ledger's template; corrected in a spreadsheet (openpyxl here, as a village would), it
imports again. Nothing in it comes from the store, for any role; a masked cell is never
taken for a value."""
import zipfile
from pathlib import Path

from openpyxl import load_workbook
from support import CORRECTED_IDS, TODAY, correct_ids, screening

from desktop_app.core.excel import export_ledger, read_book
from desktop_app.core.excel.error_book import write_error_workbook
from desktop_app.core.excel.importer import apply_plan, plan_import
from desktop_app.core.store import users

FIX = Path(__file__).parent / "fixtures"
SAMPLE = FIX / "河坝镇_两癌检查台账_示例.xlsx"    # 3 bad rows (7, 9, 17), fixed by correct_ids
PASSWORD = "示例密码-2024"      # the conftest's
def xlsx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


def round_trip(store, tmp_path, name: str) -> tuple:
    plan = plan_import(store, SAMPLE, today=TODAY)
    assert apply_plan(store, plan, accept_valid=True).status == "partial"
    errors = write_error_workbook(store, plan, tmp_path / f"{name}_未导入的行.xlsx")
    fixed = correct_ids(errors, tmp_path / f"{name}_改正.xlsx")
    again = plan_import(store, fixed, today=TODAY)
    return plan, errors, again


def test_a_clerk_corrects_the_error_workbook_and_the_rows_land(towns, tmp_path):
    plan, errors, again = round_trip(towns, tmp_path, "录入员")
    assert again.counts() == {"new": 0, "updated": 0, "unchanged": 0, "duplicate": 0, "incomplete": 3,
                              "conflict": 0, "rejected": 0, "skipped": 0}
    assert again.ledger.id == "two_cancer" and again.source.code == "430971121"
    assert apply_plan(towns, again).status == "imported"
    rows = towns.ledger("two_cancer").rows()
    assert len(rows) == 14 and {r["id_number"] for r in rows} >= set(CORRECTED_IDS.values())
    mine = {r["id_number"]: r for r in rows}[CORRECTED_IDS[17]]
    assert (mine["org"], mine["phone"], mine["cervical_result"]) == ("430971121002", "19182349183", "正常")


def test_the_workbook_is_read_by_the_importer_as_the_ledgers_template(towns, tmp_path):
    plan = plan_import(towns, SAMPLE, today=TODAY)
    errors = write_error_workbook(towns, plan, tmp_path / "e.xlsx")
    book = read_book(errors)                      # calamine, as every import reads
    assert book.meta["kind"] == "errors" and book.meta["org"] == "430971121"
    [sheet] = book.sheets
    rows = list(sheet.iter_rows())
    assert rows[0][0] == "河坝镇 两癌检查台账（2024年）" and rows[1][0].startswith("填报单位：河坝镇　　")
    header = rows[2]
    assert header[header.index("*宫颈初筛结果")] and header[header.index("*乳腺初筛结果")]
    by_row = {int(r[header.index("原表行号")]): dict(zip(header, r)) for r in rows[3:]}
    assert by_row[7]["*身份证号"] == 4.30981196207251e+17          # as the file had it: a number
    assert by_row[9]["*身份证号"] == "430902197109161540" and by_row[9]["*联系电话"] == "18306852314"
    assert by_row[9]["*人群类别"] == "城镇低保" and by_row[9]["*宫颈初筛结果"] == "正常"
    assert by_row[9]["村（社区）"] == "示例村二" and by_row[9]["*乳腺初筛结果"] == "正常"
    again = plan_import(towns, errors, today=TODAY)
    targets = {again.layout.labels[c]: t for c, t in again.layout.mapping.items()}
    assert targets["*宫颈初筛结果"] == "cervical_result" and targets["*乳腺初筛结果"] == "breast_result"
    assert targets["原表行号"] == targets["错误原因"] == "_ignore"
    assert {r.row_no: [p.message for p in r.problems if p.severity == "error"] for r in again.rows} == {
        4: [plan.rows[2].problems[0].message], 5: ["身份证号：校验位不对（最后一位应为 X），请核对是否有数字录错"],
        6: ["身份证号：两癌检查对象应为女性"]}


def test_every_role_gets_the_same_workbook_and_none_gets_a_stored_value(towns, tmp_path):
    stored = screening(40, phone="13999990000", address="示例路四十号", id_number="430981196810251106")
    towns.ledger("two_cancer").add(stored, org="430971121001", today=TODAY)   # the sample's 示例河坝1
    clerk = write_error_workbook(towns, plan_import(towns, SAMPLE, today=TODAY), tmp_path / "录入员.xlsx")
    users.login(towns, "示例管理员", PASSWORD)
    admin = write_error_workbook(towns, plan_import(towns, SAMPLE, today=TODAY), tmp_path / "管理员.xlsx")

    def cells(path):
        return [[c.value for c in row] for row in load_workbook(path).active.iter_rows(min_row=3)]
    assert cells(clerk) == cells(admin)
    for path in (clerk, admin):
        text = xlsx_text(path)
        assert "13999990000" not in text and "示例路四十号" not in text
    audited = towns.conn.execute("SELECT user, json_extract(after, '$.returned_to_sender') FROM audit "
                                 "WHERE action = 'export' ORDER BY id").fetchall()
    assert audited == [("示例录入员", 1), ("示例管理员", 1)]
    _plan, _errors, again = round_trip(towns, tmp_path, "管理员")     # the administrator's round trip
    assert again.counts()["rejected"] == 0 and again.counts()["incomplete"] == 3


def test_a_conflict_comes_back_as_the_file_had_it_and_updates_the_record_again(town, tmp_path):
    records = town.ledger("two_cancer")
    uid = records.add(screening(1), org="示例村一", today=TODAY).uuid
    exported = export_ledger(town, "two_cancer", tmp_path / "发给村里.xlsx").path   # masked
    wb = load_workbook(exported)
    ws = wb.active
    phone_col = [c.value for c in ws[3]].index("*联系电话") + 1
    ws.cell(4, phone_col).value = "13700000007"                      # the village's new phone
    wb.save(tmp_path / "村里改的.xlsx")
    records.update(uid, {"phone": "13911112222"}, today=TODAY)        # changed here meanwhile
    plan = plan_import(town, tmp_path / "村里改的.xlsx", today=TODAY)
    assert plan.counts()["conflict"] == 1
    errors = write_error_workbook(town, plan, tmp_path / "冲突.xlsx")
    text = xlsx_text(errors)
    assert "13911112222" not in text and screening(1)["id_number"] not in text
    assert "本机已改为“139****2222”" in text                          # the policy's mask, in the reason
    again = plan_import(town, errors, today=TODAY)
    [row] = again.rows
    assert row.status == "conflict" and row.uuid == uid               # the hidden row id came back
    assert not [p for p in row.problems if "打码" in p.message]        # masked cells: kept, not values
    wb = load_workbook(errors)
    header = [c.value for c in wb.active[3]]
    wb.active.cell(4, header.index("*联系电话") + 1).value = "13911112222"   # agreed by phone
    wb.save(tmp_path / "核实后.xlsx")
    settled = plan_import(town, tmp_path / "核实后.xlsx", today=TODAY)
    assert settled.rows[0].status == "unchanged"


def test_a_masked_cell_copied_out_of_its_export_is_named_as_masked(town, tmp_path):
    town.ledger("two_cancer").add(screening(1), org="示例村一", today=TODAY)
    exported = export_ledger(town, "two_cancer", tmp_path / "导出.xlsx").path
    wb = load_workbook(exported)
    ws = wb.active
    ws.delete_cols(1, 2)                          # the hidden row id and exported values: gone
    ws.cell(4, 2).value = "示例新名"               # 姓名 changed: not the row as exported
    wb.save(tmp_path / "复制出来的.xlsx")
    plan = plan_import(town, tmp_path / "复制出来的.xlsx", today=TODAY)
    [row] = plan.rows
    messages = [p.message for p in row.problems if p.severity == "error"]
    assert row.status == "rejected" and messages[0] == (
        "身份证号：这是打码后的内容（带 *），不是完整的身份证号，不能作为内容导入；"
        "请填写完整的身份证号（本程序导出的表中，打码的单元格保持原样即沿用原值）")
    assert not any("现在是 18 位" in m for m in messages)
