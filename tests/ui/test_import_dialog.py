"""The Excel import wizard and the import history: the preview is core's dry run,
all-or-nothing and accept-valid, column mapping, unusable files, the error workbook, undo;
one backup per batch and the command line's summary for the same files."""
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from support import copy_store, logical_dump, screening_book

from desktop_app.cli import main
from desktop_app.core.excel.importer import plan_import
from desktop_app.core.store import backup_dir, list_backups
from desktop_app.core.store.database import Store
from desktop_app.ui.import_dialog import ImportDialog
from desktop_app.ui.import_history import ImportHistoryPage
from desktop_app.ui.tasks import TaskRunner

FIX = Path(__file__).parents[1] / "fixtures"
LEGACY = FIX / "legacy_two_cancer.xlsx"
LEGACY_COUNTS = {"new": 0, "updated": 0, "unchanged": 0, "duplicate": 0, "incomplete": 4,
                 "conflict": 0, "rejected": 3, "skipped": 2}
PHONE_COLUMN, ID_COLUMN = 4, 3   # 联系方式, 公民身份号码 (0-based)
WAIT = 30000


@pytest.fixture
def town_path(tmp_path):
    """A town store whose village names are unambiguous (the demo district repeats them)."""
    path = tmp_path / "t.sqlite3"
    store = Store.create(path, level="town", org="河坝镇", operator="示例")
    store.add_villages(["示例村一", "示例村二"])
    store.close()
    return path


@pytest.fixture
def town_runner(town_path, qtbot):
    r = TaskRunner(town_path)
    yield r
    r.shutdown()


@pytest.fixture
def town_reader(town_path):
    store = Store.open_readonly(town_path)
    yield store
    store.close()


@pytest.fixture
def dialog(qtbot, town_runner, town_reader):
    dlg = ImportDialog(town_runner, town_reader)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def plan(qtbot, dlg, paths):
    dlg.set_files(paths)
    with qtbot.waitSignal(dlg.planned, timeout=WAIT):
        dlg.plan_all()


def replan(qtbot, dlg, action, *args):
    with qtbot.waitSignal(dlg.planned, timeout=WAIT):
        action(*args)


def import_all(qtbot, dlg, accept_valid: bool) -> list[dict]:
    dlg.set_accept_valid(accept_valid)
    with qtbot.waitSignal(dlg.imported, timeout=WAIT) as blocker:
        dlg.import_all()
    return blocker.args[0]


def shown_counts(dlg) -> dict[str, int]:
    return {k: int(label.text().split()[-1].replace(",", "")) for k, label in dlg.count_labels.items()}


def model_rows(model) -> list[list[str]]:
    return [[model.index(r, c).data() for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def mapping_combo(dlg, column):
    table = dlg.mapping_table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == chr(ord("A") + column))
    return table.cellWidget(row, 2)


def rows_in(path, **conditions) -> int:
    store = Store.open_readonly(path)
    try:
        return store.ledger("two_cancer").count(**conditions)
    finally:
        store.close()


# ---------------------------------------------------------------- preview

def test_preview_is_cores_plan(qtbot, qtmodeltester, dialog, town_reader):
    plan(qtbot, dialog, [LEGACY])
    expected = plan_import(town_reader, LEGACY).counts()
    assert expected == LEGACY_COUNTS
    assert shown_counts(dialog) == expected
    assert dialog.ledger_combo.currentData() == "two_cancer"
    assert dialog.sheet_combo.currentText() == "台账"
    qtmodeltester.check(dialog.model)
    rows = {int(r[0]): r for r in model_rows(dialog.model)}
    assert len(rows) == 9
    assert rows[5][1:4] == ["待补充", "示例甲", "河坝镇 / 示例村一"]
    assert rows[5][5] == "缺少：宫颈癌检查机构、宫颈初筛方法、乳腺彩超BI-RADS分级"
    assert rows[10][1] == "不合格" and rows[10][5].startswith("身份证号：两癌检查对象应为女性；缺少：")
    assert rows[13][1] == "跳过"
    assert dialog.model.index(0, 1).data(Qt.ForegroundRole).name() == "#b26a00"
    dialog.problems_only.setChecked(True)
    assert sorted(int(r[0]) for r in model_rows(dialog.model)) == [5, 6, 8, 9, 10, 11, 12]
    qtmodeltester.check(dialog.model)
    assert "不合格 3" in dialog.file_combo.currentText()


def test_nothing_is_written_until_import(qtbot, dialog, town_path):
    before = logical_dump(town_path)
    plan(qtbot, dialog, [LEGACY])
    assert logical_dump(town_path) == before
    assert dialog.import_button.isEnabled() and dialog.close_button.text() == "关闭"


# ---------------------------------------------------------------- importing

def test_all_or_nothing_refuses_and_writes_nothing(qtbot, dialog, town_path):
    plan(qtbot, dialog, [LEGACY])
    before = logical_dump(town_path)
    [result] = import_all(qtbot, dialog, accept_valid=False)
    assert result["status"] == "refused" and result["batch"] is None
    assert {k: result[k] for k in LEGACY_COUNTS} == LEGACY_COUNTS
    assert logical_dump(town_path) == before
    assert dialog.result_table.item(0, 1).text() == "未导入"
    assert "未导入任何内容" in dialog.result_table.item(0, 3).text()
    assert dialog.close_button.text() == "完成" and not dialog.import_button.isEnabled()
    assert dialog.save_errors_button.isEnabled()


def test_accept_valid_imports_the_good_rows_as_incomplete(qtbot, dialog, town_path):
    plan(qtbot, dialog, [LEGACY])
    [result] = import_all(qtbot, dialog, accept_valid=True)
    assert result["status"] == "partial" and result["incomplete"] == 4 and result["batch"]
    assert result == dialog.results()[0]
    assert rows_in(town_path) == 4 and rows_in(town_path, incomplete=True) == 4
    assert dialog.result_table.item(0, 1).text() == "部分导入"
    assert dialog.result_table.item(0, 4).text() == result["batch"]


def test_a_file_planned_before_another_was_imported_is_planned_again(qtbot, dialog, town_path,
                                                                     tmp_path):
    copy = tmp_path / "再次报送.xlsx"
    shutil.copy(LEGACY, copy)
    plan(qtbot, dialog, [LEGACY, copy])
    first, second = import_all(qtbot, dialog, accept_valid=True)
    assert first["incomplete"] == 4
    assert second["unchanged"] == 4 and second["incomplete"] == 0  # no duplicates of the first
    assert rows_in(town_path) == 4


def test_a_dozen_workbooks_back_up_once_and_keep_yesterdays_backup(qtbot, dialog, town_path, town_reader,
                                                                    tmp_path):
    yesterday = dt.datetime.now() - dt.timedelta(days=1)
    folder = backup_dir(town_path)
    folder.mkdir(parents=True)
    daily = folder / f"{town_path.stem}-{yesterday:%Y%m%d}-080000-000000-daily-0.sqlite3"
    copy_store(town_path, daily)
    assert [b.path for b in list_backups(town_path)] == [daily]
    books = [screening_book(tmp_path / f"村{i:02d}.xlsx", town_reader, range(3 * i + 1, 3 * i + 4))
             for i in range(12)]
    plan(qtbot, dialog, books)
    results = import_all(qtbot, dialog, accept_valid=False)
    assert [r["status"] for r in results] == ["imported"] * 12 and rows_in(town_path) == 36
    assert [(b.reason, b.path == daily) for b in list_backups(town_path)] == [("import", False),
                                                                              ("daily", True)]


def test_the_wizard_and_the_command_line_give_the_same_summary(qtbot, dialog, town_path, town_reader,
                                                                tmp_path, capsys):
    cli_db = tmp_path / "cli.sqlite3"
    copy_store(town_path, cli_db)
    garbage = tmp_path / "坏文件.xlsx"
    garbage.write_bytes(b"\x00garbage, not a workbook" * 50)
    files = [screening_book(tmp_path / "好.xlsx", town_reader, range(1, 3)), garbage, LEGACY]
    plan(qtbot, dialog, files)
    shown = import_all(qtbot, dialog, accept_valid=True)
    assert main(["import-excel", "--db", str(cli_db), *map(str, files), "--accept-valid", "--json"]) == 2
    printed = json.loads(capsys.readouterr().out)["files"]

    def same(entries):          # batch ids are new uuids in each store
        return [e | {"batch": bool(e["batch"])} for e in entries]
    assert same(shown) == same(printed)
    assert [e["status"] for e in shown] == ["imported", "unusable", "partial"]


# ---------------------------------------------------------------- choices

def test_changing_a_column_mapping_plans_again(qtbot, dialog, town_reader, town_path):
    plan(qtbot, dialog, [LEGACY])
    assert mapping_combo(dialog, PHONE_COLUMN).currentData() == "phone"
    assert mapping_combo(dialog, 1).currentText() == "村（社区）"
    assert mapping_combo(dialog, 0).currentText() == "（不导入）"  # 序号
    before = dialog.files[0].plan
    assert any(r.values.get("phone") for r in before.rows)
    replan(qtbot, dialog, dialog.set_mapping, 0, PHONE_COLUMN, "_ignore")
    after = dialog.files[0].plan
    assert after is not before and not any(r.values.get("phone") for r in after.rows)
    assert mapping_combo(dialog, PHONE_COLUMN).currentText() == "（不导入）"
    assert shown_counts(dialog) == LEGACY_COUNTS
    # a target takes one column: 身份证号 moved to the phone column leaves the ID column unused
    replan(qtbot, dialog, dialog.set_mapping, 0, PHONE_COLUMN, "id_number")
    assert mapping_combo(dialog, ID_COLUMN).currentText() == "（不导入）"
    mapping = dict(dialog.files[0].mapping)
    assert shown_counts(dialog) == plan_import(town_reader, LEGACY, ledger="two_cancer", sheet="台账",
                                               mapping=mapping).counts()
    assert shown_counts(dialog)["rejected"] == 7
    # back to the ID column, phone not imported: the import writes no phone
    replan(qtbot, dialog, dialog.set_mapping, 0, ID_COLUMN, "id_number")
    assert shown_counts(dialog) == LEGACY_COUNTS
    import_all(qtbot, dialog, accept_valid=True)
    assert rows_in(town_path) == 4 == rows_in(town_path, match={"phone": None})


def test_the_mapping_combo_drives_the_plan(qtbot, dialog):
    plan(qtbot, dialog, [LEGACY])
    combo = mapping_combo(dialog, PHONE_COLUMN)
    with qtbot.waitSignal(dialog.planned, timeout=WAIT):
        combo.setCurrentIndex(combo.findData("_ignore"))
        combo.activated.emit(combo.currentIndex())
    assert dialog.files[0].plan.layout.mapping[PHONE_COLUMN] == "_ignore"


def test_sheet_and_ledger_choices(qtbot, dialog, town_reader):
    plan(qtbot, dialog, [FIX / "several_sheets.xlsx"])
    assert [dialog.sheet_combo.itemText(i) for i in range(dialog.sheet_combo.count())] == \
        ["自动选择", "填表说明", "两癌台账", "汇总"]
    assert dialog.sheet_combo.currentText() == "两癌台账"
    replan(qtbot, dialog, dialog.set_sheet, 0, "汇总")
    assert "没有找到像" in dialog.mapping_note.text() and dialog.mapping_table.rowCount() == 0
    assert dialog.sheet_combo.currentText() == "汇总"
    assert "#c62828" in dialog.mapping_note.styleSheet()
    replan(qtbot, dialog, dialog.set_sheet, 0, None)
    assert dialog.files[0].plan.sheet == "两癌台账" and shown_counts(dialog)["incomplete"] == 4
    replan(qtbot, dialog, dialog.set_ledger, 0, "barrier_free")
    assert dialog.files[0].plan.ledger.id == "barrier_free"
    assert dialog.ledger_combo.currentText() == "困难重度残疾人家庭无障碍改造台账"
    combo = mapping_combo(dialog, ID_COLUMN)
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert labels[:2] == ["（不导入）", "村（社区）"] and combo.currentData() == "id_number"
    assert labels[2:] == [f.label for f in dialog.catalog.ledger("barrier_free").fields]
    assert shown_counts(dialog) == plan_import(town_reader, FIX / "several_sheets.xlsx",
                                               ledger="barrier_free").counts()


def test_ledger_id_preselects_the_ledger(qtbot, town_runner, town_reader):
    dlg = ImportDialog(town_runner, town_reader, files=[LEGACY], ledger_id="two_cancer")
    qtbot.addWidget(dlg)
    assert dlg.files[0].ledger == "two_cancer" and dlg.file_list.count() == 1
    with qtbot.waitSignal(dlg.planned, timeout=WAIT):
        dlg.next_button.click()
    assert dlg.pages.currentIndex() == 1 and dlg.files[0].plan.ledger.id == "two_cancer"
    dlg.next_button.click()
    assert dlg.pages.currentIndex() == 2 and not dlg.import_button.isHidden()


# ---------------------------------------------------------------- unusable files

def test_an_unusable_file_is_its_own_result_and_the_others_proceed(qtbot, dialog, town_path,
                                                                   tmp_path):
    garbage = tmp_path / "坏文件.xlsx"
    garbage.write_bytes(b"\x00garbage, not a workbook" * 50)
    plan(qtbot, dialog, [garbage, LEGACY])
    assert dialog.file_combo.itemText(0) == "坏文件.xlsx：无法使用"
    dialog.file_combo.setCurrentIndex(0)
    assert "不是 Excel/WPS 表格文件" in dialog.mapping_note.text()
    assert "不是 Excel/WPS 表格文件" in dialog.preview_note.text()
    assert not dialog.sheet_combo.isEnabled() and dialog.model.rowCount() == 0
    bad, good = import_all(qtbot, dialog, accept_valid=True)
    assert bad["status"] == "unusable" and "不是 Excel/WPS 表格文件" in bad["message"]
    assert good["status"] == "partial" and rows_in(town_path) == 4
    assert dialog.result_table.item(0, 1).text() == "无法读取"
    assert dialog.result_table.item(0, 3).foreground().color().name() == "#c62828"
    store = Store.open_readonly(town_path)
    statuses = store.conn.execute("SELECT file, status FROM import_history ORDER BY rowid").fetchall()
    store.close()
    assert statuses == [("坏文件.xlsx", "unusable"), ("legacy_two_cancer.xlsx", "partial")]
    dialog.result_table.selectRow(0)
    assert not dialog.save_errors_button.isEnabled()


# ---------------------------------------------------------------- the error workbook

def test_save_errors_writes_the_error_workbook(qtbot, dialog, tmp_path, monkeypatch):
    plan(qtbot, dialog, [LEGACY])
    import_all(qtbot, dialog, accept_valid=False)
    out = tmp_path / "错误行.xlsx"
    with qtbot.waitSignal(dialog.errors_saved, timeout=WAIT) as blocker:
        dialog.save_errors(0, out)
    assert blocker.args == [str(out)]
    ws = load_workbook(out).active
    data = [[c.value for c in row] for row in ws.iter_rows(min_row=4)]
    assert [r[-2] for r in data] == [10, 11, 12]
    assert data[0][2] == load_workbook(LEGACY).active["D10"].value  # the file's own cell
    assert str(out) in dialog.result_note.text()
    # the button asks for a path through one small method
    asked = []
    monkeypatch.setattr(dialog, "_ask_error_path", lambda default: asked.append(default) or
                        str(tmp_path / "按钮"))
    dialog.result_table.selectRow(0)
    with qtbot.waitSignal(dialog.errors_saved, timeout=WAIT):
        dialog.save_errors_button.click()
    assert asked == [LEGACY.with_name("legacy_two_cancer_未导入的行.xlsx")]
    assert (tmp_path / "按钮.xlsx").is_file()


def test_a_path_that_cannot_be_written_is_explained(qtbot, dialog, tmp_path):
    plan(qtbot, dialog, [LEGACY])
    import_all(qtbot, dialog, accept_valid=False)
    dialog.save_errors(0, Path("/proc/no-such-folder/e.xlsx"))
    qtbot.waitUntil(lambda: dialog.result_note.text().startswith("没有保存"), timeout=WAIT)
    assert "/proc/no-such-folder/e.xlsx" in dialog.result_note.text()
    assert dialog.save_errors_button.isEnabled()


# ---------------------------------------------------------------- masking

def test_changes_show_old_and_new_masked_unless_revealed(qtbot, dialog, town_path, tmp_path):
    plan(qtbot, dialog, [LEGACY])
    import_all(qtbot, dialog, accept_valid=True)
    wb = load_workbook(LEGACY)
    wb.active["E5"] = "13900000001"
    corrected = tmp_path / "corrected.xlsx"
    wb.save(corrected)
    second = ImportDialog(dialog.runner, dialog.reader)
    qtbot.addWidget(second)
    plan(qtbot, second, [corrected])
    assert shown_counts(second)["updated"] == 1
    rows = {int(r[0]): r for r in model_rows(second.model)}
    assert rows[5][1] == "更新" and rows[5][4] == "联系电话：138****0001 → 139****0001"
    second.reveal.set_purpose("纠正录入错误")
    second.reveal.setChecked(True)         # shown in full only once the reveal is audited
    qtbot.waitUntil(lambda: second.model.index(0, 4).data() == "联系电话：13800000001 → 13900000001",
                    timeout=WAIT)
    assert _audited_reveals(town_path) == 1


def _audited_reveals(path) -> int:
    store = Store.open_readonly(path)
    try:
        return store.conn.execute(
            "SELECT COUNT(*) FROM audit WHERE action = 'reveal' AND source = 'screen:import'").fetchone()[0]
    finally:
        store.close()


# ---------------------------------------------------------------- files

def test_browse_and_drop_add_files(qtbot, dialog, monkeypatch, tmp_path):
    monkeypatch.setattr(dialog, "_ask_files", lambda: [str(LEGACY)])
    browse = next(b for b in dialog.findChildren(type(dialog.next_button)) if b.text() == "浏览…")
    browse.click()
    assert [f.path for f in dialog.files] == [LEGACY]
    note = tmp_path / "说明.txt"
    note.write_text("x")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(FIX / "legacy_two_cancer.ods")), QUrl.fromLocalFile(str(note)),
                  QUrl.fromLocalFile(str(LEGACY))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    dialog.dropEvent(event)
    assert event.isAccepted()
    assert [f.path.name for f in dialog.files] == ["legacy_two_cancer.xlsx", "legacy_two_cancer.ods"]
    dialog.file_list.item(0).setSelected(True)
    dialog.remove_button.click()
    assert [f.path.name for f in dialog.files] == ["legacy_two_cancer.ods"]
    with qtbot.waitSignal(dialog.planned, timeout=WAIT):
        dialog.plan_all()
    assert shown_counts(dialog) == LEGACY_COUNTS


# ---------------------------------------------------------------- history and undo

def test_history_lists_imports_and_undo_takes_one_back(qtbot, qtmodeltester, dialog, town_path,
                                                      monkeypatch):
    plan(qtbot, dialog, [LEGACY])
    import_all(qtbot, dialog, accept_valid=False)
    second = ImportDialog(dialog.runner, dialog.reader, files=[LEGACY])
    qtbot.addWidget(second)
    with qtbot.waitSignal(second.planned, timeout=WAIT):
        second.plan_all()
    [result] = import_all(qtbot, second, accept_valid=True)
    page = ImportHistoryPage(dialog.runner, dialog.reader)
    qtbot.addWidget(page)
    page.show()
    qtmodeltester.check(page.model)
    rows = model_rows(page.model)
    assert [r[5] for r in rows] == ["部分导入", "未导入"]           # newest first
    assert rows[0][1:5] == ["legacy_two_cancer.xlsx", "台账", "两癌检查台账", "示例"]
    assert rows[0][6] == "待补充 4，不合格 3，跳过 2" and rows[0][7] == result["batch"]
    page.select_batch(page.model.items[1].batch)
    assert not page.undo_button.isEnabled()            # a refused import wrote nothing
    assert page.select_batch(result["batch"]) and page.undo_button.isEnabled()
    monkeypatch.setattr(page, "_confirm_undo", lambda entry: entry.batch == result["batch"])
    with qtbot.waitSignal(page.changed, timeout=WAIT), \
            qtbot.waitSignal(page.undo_finished, timeout=WAIT) as done:
        page.undo_button.click()
    assert done.args == [True]
    assert rows_in(town_path) == 0
    assert "移到回收站 4 行" in page.message.text()
    assert page.model.index(0, 5).data() == "已撤销" and page.selected_entry().batch == result["batch"]
    with qtbot.waitSignal(page.undo_finished, timeout=WAIT) as again:
        page.undo_selected()
    assert again.args == [False]
    assert "撤销过" in page.message.text() and "#c62828" in page.message.styleSheet()
    assert rows_in(town_path) == 0


def test_history_shows_why_a_file_could_not_be_used(qtbot, dialog, tmp_path):
    garbage = tmp_path / "坏文件.xlsx"
    garbage.write_bytes(b"PK\x03\x04 truncated")
    plan(qtbot, dialog, [garbage])
    import_all(qtbot, dialog, accept_valid=False)
    page = ImportHistoryPage(dialog.runner, dialog.reader)
    qtbot.addWidget(page)
    [row] = model_rows(page.model)
    assert row[5] == "无法读取" and "不是 Excel/WPS 表格文件" in row[6]
