"""The import wizard in the demo district, as offices use it: a town's sheet whose villages every
town has (the unit read from the file, confirmed or changed per file), the error workbook
saved, corrected in a spreadsheet and imported again (as a 录入员 and as an administrator,
with and without 显示敏感信息), and a sheet without 村（社区） that asks whose rows they are."""
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from support import CORRECTED_IDS, correct_ids, screening

from desktop_app.core.excel.importer import plan_import
from desktop_app.core.store import Session
from desktop_app.core.store.database import Store
from desktop_app.ui.import_dialog import MAPPING_PAGE, ImportDialog

FIX = Path(__file__).parents[1] / "fixtures"
SAMPLE = FIX / "河坝镇_两癌检查台账_示例.xlsx"
HEBA = "430971121"
CLERK = Session("示例录入员", "录入员", None)
ADMIN = Session("示例管理员", "管理员", None)
WAIT = 30000


def as_user(runner, reader, session) -> None:
    runner.session = session
    runner.call(lambda store: setattr(store, "session", session))
    reader.session = session


def wizard(qtbot, runner, reader, paths) -> ImportDialog:
    dlg = ImportDialog(runner, reader)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.set_files(paths)
    with qtbot.waitSignal(dlg.planned, timeout=WAIT):
        dlg.plan_all()
    return dlg


def replan(qtbot, dlg, action, *args) -> None:
    with qtbot.waitSignal(dlg.planned, timeout=WAIT):
        action(*args)


def import_all(qtbot, dlg) -> list[dict]:
    dlg.set_accept_valid(True)
    with qtbot.waitSignal(dlg.imported, timeout=WAIT) as blocker:
        dlg.import_all()
    return blocker.args[0]


def stored_ids(path) -> dict[str, str]:
    """ID number → unit of every live two_cancer row (read by the test, not a user)."""
    store = Store.open_readonly(path)
    try:
        return {r["id_number"]: r["org"] for r in store.ledger("two_cancer").rows(any_unit=True)}
    finally:
        store.close()


@pytest.mark.parametrize("session, reveal", [(CLERK, False), (ADMIN, False), (ADMIN, True)],
                         ids=["录入员", "管理员", "管理员显示敏感信息"])
def test_the_error_round_trip_through_the_wizard(qtbot, runner, reader, demo_path, tmp_path, session, reveal):
    as_user(runner, reader, session)
    before = stored_ids(demo_path)
    dlg = wizard(qtbot, runner, reader, [SAMPLE])
    assert dlg.pages.currentIndex() == MAPPING_PAGE
    assert dlg.unit_combo.currentData() is None and dlg.unit_combo.currentText() == "按表中内容（河坝镇）"
    assert dlg.unit_note.text() == "按文件名、标题、填报单位识别为河坝镇，请核对；不对请改选"
    assert not dlg.village_combo.isVisible()            # the sheet has its 村（社区） column
    counts = dlg.files[0].plan.counts()
    assert counts == plan_import(reader, SAMPLE).counts() and counts["rejected"] == 3
    if reveal:
        dlg.reveal.set_purpose("核对导入")
        with qtbot.waitSignal(dlg.reveal.changed, timeout=WAIT):
            dlg.reveal.setChecked(True)
    [result] = import_all(qtbot, dlg)
    assert result["status"] == "partial" and result["org_name"] == "河坝镇"
    errors = tmp_path / "河坝镇_两癌检查台账_示例_未导入的行.xlsx"
    with qtbot.waitSignal(dlg.errors_saved, timeout=WAIT):
        dlg.save_errors(0, errors)
    ws = load_workbook(errors).active
    header = [c.value for c in ws[3]]
    assert header[:3] == ["村（社区）", "*姓名", "*身份证号"] and "*宫颈初筛结果" in header
    ids = [row[2] for row in ws.iter_rows(min_row=4, values_only=True)]
    assert ids == [4.30981196207251e+17, "430902197109161540", "430921196508202251"]   # as sent
    fixed = correct_ids(errors, tmp_path / "村里改好的.xlsx")
    again = wizard(qtbot, runner, reader, [fixed])
    plan = again.files[0].plan
    assert plan.counts()["rejected"] == 0 and plan.counts()["incomplete"] == 3
    assert plan.source.code == HEBA
    [result] = import_all(qtbot, again)
    assert result["status"] == "imported"
    after = stored_ids(demo_path)
    landed = {i: after[i] for i in CORRECTED_IDS.values()}
    assert landed == {CORRECTED_IDS[7]: HEBA + "002", CORRECTED_IDS[9]: HEBA + "002",
                      CORRECTED_IDS[17]: HEBA + "002"}
    assert len(after) == len(before) + 14


def test_the_clerk_chooses_another_unit_for_a_file(qtbot, runner, reader):
    as_user(runner, reader, CLERK)
    dlg = wizard(qtbot, runner, reader, [SAMPLE])
    labels = [dlg.unit_combo.itemText(i) for i in range(dlg.unit_combo.count())]
    assert "金盆镇" in labels and "河坝镇 / 示例村一" in labels
    replan(qtbot, dlg, dlg.set_unit, 0, "430971123")
    plan = dlg.files[0].plan
    assert plan.source.given and dlg.unit_combo.currentData() == "430971123"
    assert dlg.unit_note.text() == "导入时指定为金盆镇，请核对；不对请改选"
    assert {r.org for r in plan.rows if r.org} == {"430971123001", "430971123002", "430971123003"}
    replan(qtbot, dlg, dlg.set_unit, 0, None)       # back to the file's own words
    assert dlg.files[0].plan.source.code == HEBA


def test_a_town_bound_clerk_is_refused_another_towns_sheet(qtbot, runner, reader, demo_path):
    as_user(runner, reader, Session("金盆录入", "录入员", "430971123"))
    before = stored_ids(demo_path)
    dlg = wizard(qtbot, runner, reader, [SAMPLE])
    assert dlg.files[0].plan is None and dlg.file_combo.itemText(0) == f"{SAMPLE.name}：不能导入"
    assert "本表写着河坝镇，不在你负责的单位内" in dlg.preview_note.text()
    replan(qtbot, dlg, dlg.set_unit, 0, "430971123")     # choosing her own town does not help
    assert dlg.files[0].plan is None
    [result] = import_all(qtbot, dlg)
    assert result["status"] == "unusable" and "不在你负责的单位内" in result["message"]
    assert stored_ids(demo_path) == before


def test_a_sheet_without_a_village_column_asks_whose_rows_they_are(qtbot, runner, reader, demo_path, tmp_path):
    as_user(runner, reader, CLERK)
    row = screening(401)
    path = tmp_path / "河坝镇_补录.xlsx"
    wb = Workbook()
    wb.active.append(["姓名", "身份证号", "联系电话", "人群类别"])
    wb.active.append([row["name"], row["id_number"], row["phone"], row["population"]])
    wb.save(path)
    dlg = wizard(qtbot, runner, reader, [path])
    assert dlg.village_combo.isVisible() and dlg.village_combo.currentData() is None
    assert [dlg.village_combo.itemData(i) for i in range(1, dlg.village_combo.count())] == [
        HEBA + "001", HEBA + "002", HEBA + "003"]          # the villages of the town the file names
    dlg._next()
    assert not dlg.import_button.isEnabled() and "记录属于" in dlg.import_button.toolTip()
    assert dlg.preview_note.text().startswith("表中没有“村（社区）”列")
    replan(qtbot, dlg, dlg.set_village, 0, HEBA + "003")
    assert dlg.import_button.isEnabled() and dlg.village_combo.currentData() == HEBA + "003"
    [result] = import_all(qtbot, dlg)
    assert result["status"] == "imported"
    assert stored_ids(demo_path)[row["id_number"]] == HEBA + "003"
