"""Excel round trip: a template re-imports; an export sent to a village and returned
updates rows instead of duplicating them, and a row changed on both sides is a conflict."""
import datetime as dt

from openpyxl import load_workbook
from support import make_id, screening

from desktop_app.core.excel.export import export_ledger
from desktop_app.core.excel.importer import apply_plan, plan_import
from desktop_app.core.excel.template import write_template

TODAY = dt.date(2024, 12, 31)


def full(i):
    """Woman ``i``'s finished screening, with her own phone."""
    return screening(i, phone=f"1380000000{i}", status="已完成", breast_method="触诊+彩超")


def header_cols(ws, header_row=3):
    return {c.value: c.column for c in ws[header_row] if c.value}


def test_an_empty_template_imports_nothing_and_a_filled_one_imports(town, tmp_path):
    path = write_template(town, "two_cancer", tmp_path / "t.xlsx", village="示例村一")
    plan = plan_import(town, path, today=TODAY)
    assert plan.ledger.id == "two_cancer" and sum(plan.counts().values()) - plan.counts()["skipped"] == 0
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    cols = header_cols(ws)
    r = 4
    for label, value in (("*姓名", "示例甲"), ("*身份证号", make_id("19700312", 2)),
                         ("*联系电话", "13800000001"), ("*人群类别", "农村适龄")):
        ws.cell(row=r, column=cols[label], value=value)
    wb.save(path)
    plan = plan_import(town, path, today=TODAY)
    assert plan.counts()["incomplete"] == 1
    [row] = [x for x in plan.rows if x.status == "incomplete"]
    assert row.org == "430971121001"           # the village the template was made for
    apply_plan(town, plan)
    assert plan_import(town, path, today=TODAY).counts()["unchanged"] == 1


def test_exported_sheet_returned_updates_rows_and_adds_new_ones(town, tmp_path):
    led = town.ledger("two_cancer")
    uids = [s.uuid for s in led.add_many([full(1), full(2), full(3)], org="示例村一", today=TODAY)]
    path = export_ledger(town, "two_cancer", tmp_path / "e.xlsx", village="示例村一").path
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    cols = header_cols(ws)
    by_uuid = {ws.cell(row=r, column=1).value: r for r in range(4, ws.max_row + 1)}
    ws.cell(row=by_uuid[uids[0]], column=cols["*宫颈癌检查机构"], value="区妇幼保健院")   # village edit
    new_row = ws.max_row + 1
    ws.cell(row=new_row, column=cols["村（社区）"], value="示例村一")
    for label, value in (("*姓名", "示例4"), ("*身份证号", make_id("19740312", 8)),
                         ("*联系电话", "13800000004"), ("*人群类别", "农村适龄")):
        ws.cell(row=new_row, column=cols[label], value=value)
    wb.save(path)
    plan = plan_import(town, path, today=TODAY)
    counts = plan.counts()
    assert (counts["updated"], counts["unchanged"], counts["incomplete"], counts["new"]) == (1, 2, 1, 0)
    updated = next(r for r in plan.rows if r.status == "updated")
    assert updated.uuid == uids[0] and updated.changes == {"institution": ["示例卫生院", "区妇幼保健院"]}
    apply_plan(town, plan)
    assert led.count() == 4 and led.get(uids[0])["institution"] == "区妇幼保健院"
    assert plan_import(town, path, today=TODAY).counts()["unchanged"] == 4


def test_a_row_changed_on_both_sides_is_a_conflict_not_overwritten(town, tmp_path):
    led = town.ledger("two_cancer")
    uid1, uid2 = [s.uuid for s in led.add_many([full(1), full(2)], org="示例村一", today=TODAY)]
    path = export_ledger(town, "two_cancer", tmp_path / "e.xlsx").path
    led.update(uid1, {"institution": "本镇改的"}, today=TODAY)           # changed here after export
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    cols = header_cols(ws)
    rows = {ws.cell(row=r, column=1).value: r for r in range(4, ws.max_row + 1)}
    ws.cell(row=rows[uid1], column=cols["*宫颈癌检查机构"], value="村里改的")   # …and there
    ws.cell(row=rows[uid2], column=cols["*宫颈癌检查机构"], value="村里改的二")  # only there
    wb.save(path)
    plan = plan_import(town, path, today=TODAY)
    by_uuid = {r.uuid: r for r in plan.rows}
    assert by_uuid[uid1].status == "conflict" and by_uuid[uid2].status == "updated"
    assert "导出后两边都改了" in by_uuid[uid1].problems[0].message
    result = apply_plan(town, plan)
    assert result.status == "refused"                        # all-or-nothing by default
    result = apply_plan(town, plan_import(town, path, today=TODAY), accept_valid=True)
    assert result.status == "partial"
    assert led.get(uid1)["institution"] == "本镇改的" and led.get(uid2)["institution"] == "村里改的二"


def test_masked_cells_returned_untouched_change_nothing(town, tmp_path):
    led = town.ledger("two_cancer")
    uid = led.add(full(1), org="示例村一", today=TODAY).uuid
    result = export_ledger(town, "two_cancer", tmp_path / "m.xlsx")
    assert result.masked
    wb = load_workbook(result.path)
    ws = wb.worksheets[0]
    cols = header_cols(ws)
    assert "*" in ws.cell(row=4, column=cols["*身份证号"]).value
    plan = plan_import(town, result.path, today=TODAY)
    assert plan.counts()["unchanged"] == 1 and led.get(uid)["id_number"] == make_id("19710312", 2)
