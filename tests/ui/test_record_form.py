"""The record form and its field editors (pytest-qt, offscreen, no real modal)."""
import datetime as dt

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDialog
from stdnum.cn import uscc
from support import TODAY, make_id, screening

from desktop_app.core.catalog.fieldtypes import normalize
from desktop_app.core.catalog.model import Field, load_catalog
from desktop_app.core.store.database import Store
from desktop_app.ui.field_widgets import PLACEHOLDER, make_editor
from desktop_app.ui.record_form import RecordForm

WOMAN = make_id("19710916", 154)  # 1971-09-16, 女; no demo person has this number
# a complete row as a clerk types it (dates the way people write them)
GOOD = screening(1, name="示例录入", id_number=WOMAN) | {"cervical_date": "2024.3.5",
                                                       "breast_date": "2024年3月6日"}


def open_form(qtbot, runner, reader, ledger="two_cancer", **kw):
    kw.setdefault("today", TODAY)
    form = RecordForm(runner, reader, ledger, **kw)
    qtbot.addWidget(form)
    form.show()
    return form


def type_into(form, values: dict) -> None:
    """Enter values the way a user would: text typed, choices picked."""
    for fid, value in values.items():
        editor = form.editors[fid]
        if hasattr(editor, "setText"):
            editor.setText(value)
            editor.editingFinished.emit()
        else:
            editor.set_value(value)


def fresh_row(path, ledger, uid):
    store = Store.open_readonly(path)
    try:
        return store.ledger(ledger).get(uid)
    finally:
        store.close()


def test_bad_id_is_refused_beside_the_field(qtbot, runner, reader):
    form = open_form(qtbot, runner, reader)
    type_into(form, GOOD | {"id_number": WOMAN[:-1] + ("0" if WOMAN[-1] != "0" else "1")})
    message = form.messages["id_number"]
    assert message.isVisible() and "校验位" in message.text()
    assert not message.text().startswith("身份证号")  # the label is beside it already
    assert not form.save_button.isEnabled()
    assert form.summary.text().startswith("有 1 处需要改正")
    form.editors["id_number"].setText("4309021971")
    assert "18 位" in message.text()
    form.editors["id_number"].setText(WOMAN)
    assert not message.isVisible() and form.save_button.isEnabled()


def test_rule_errors_show_on_the_field_they_concern(qtbot, runner, reader):
    form = open_form(qtbot, runner, reader)
    type_into(form, GOOD | {"id_number": make_id("19710916", 155)})  # a man
    assert "女性" in form.messages["id_number"].text()
    assert not form.save_button.isEnabled()


def test_saves_a_good_row_with_enter(qtbot, runner, reader, demo_path):
    village = next(o for o in reader.orgs if o.level == "village")
    form = open_form(qtbot, runner, reader, org=village.code)
    assert form.org_combo.currentText() == reader.orgs.path(village.code)
    type_into(form, GOOD)
    assert form.summary.text() == "填写完整，可以保存"
    assert form.editors["cervical_date"].text() == "2024-03-05"  # tidied after editing
    with qtbot.waitSignal(form.saved, timeout=5000) as saved:
        qtbot.keyClick(form.editors["institution"], Qt.Key_Return)
    assert form.result() == QDialog.Accepted
    row = fresh_row(demo_path, "two_cancer", saved.args[0])
    assert row["id_number"] == WOMAN and row["cervical_date"] == "2024-03-05"
    assert row["status"] == "已登记" and row["_incomplete"] == 0
    assert row["org"] == village.code
    with Store.open_readonly(demo_path) as store:
        assert store.conn.execute("SELECT source FROM audit WHERE uuid = ?",
                                  (saved.args[0],)).fetchone()[0] == "screen:record_form"


def test_escape_cancels(qtbot, runner, reader):
    form = open_form(qtbot, runner, reader)
    qtbot.keyClick(form.editors["name"], Qt.Key_Escape)
    assert form.result() == QDialog.Rejected and not form.isVisible()


def test_incomplete_row_is_saved_as_pending(qtbot, runner, reader, demo_path):
    form = open_form(qtbot, runner, reader)
    type_into(form, {"name": "示例待补", "id_number": WOMAN})
    assert form.summary.text().startswith("可保存为待补充：缺 联系电话、人群类别")
    assert form.save_button.isEnabled()
    with qtbot.waitSignal(form.saved, timeout=5000) as saved:
        form.save()
    row = fresh_row(demo_path, "two_cancer", saved.args[0])
    assert row["_incomplete"] == 1 and "phone" in row["_missing"]


def test_id_fills_derived_fields_and_known_person(qtbot, runner, reader):
    person = reader.persons.get(reader.ledger("two_cancer").rows(limit=1)[0]["person_id"])
    form = open_form(qtbot, runner, reader, "barrier_free")
    form.editors["phone"].setText("13900009999")  # typed by the user: kept
    form.editors["id_number"].setText(person["id_number"])
    assert form.editors["sex"].raw() == "女"  # derived from the number
    assert form.editors["name"].raw() == person["name"]
    # the address is sensitive: masked, never in the editor, kept from the person master on saving
    assert form.editors["address"].raw() == "" and form.kept() == ["address"]
    assert person["address"] not in form.editors["address"].placeholderText()
    assert form.editors["phone"].raw() == "13900009999"
    birth = dt.date.fromisoformat(person["birth_date"])
    age = TODAY.year - birth.year - ((TODAY.month, TODAY.day) < (birth.month, birth.day))
    info = form.id_info["id_number"].text()
    assert f"出生日期 {birth:%Y-%m-%d}" in info and f"{age} 周岁" in info
    assert "已从人员主档带出" in info
    form.editors["finish_date"].setText("2024-01-02")  # age is taken on the event date
    age_then = 2024 - birth.year - ((1, 2) < (birth.month, birth.day))
    assert f"{age_then} 周岁" in form.id_info["id_number"].text()

    form.editors["id_number"].setText(make_id("19500505", 11))  # corrected to someone unknown
    assert form.editors["name"].raw() == "" and form.editors["address"].raw() == "" and form.kept() == []
    assert form.editors["sex"].raw() == "男"
    assert form.editors["phone"].raw() == "13900009999"
    assert "人员主档" not in form.id_info["id_number"].text()


def test_possible_duplicate_needs_confirmation(qtbot, runner, reader, demo_path):
    records = reader.ledger("two_cancer")
    other = records.rows(limit=1)[0]
    form = open_form(qtbot, runner, reader, today=dt.date(2024, 12, 31))
    for fid, editor in form.editors.items():
        editor.set_value(other[fid])
    assert form.banner.isVisible() and "可能重复" in form.duplicate_label.text()
    assert other["name"] in form.duplicate_label.text()
    assert not form.save_button.isEnabled()
    assert "重复" in form.summary.text()
    form.confirm_duplicate.setChecked(True)
    assert form.save_button.isEnabled()
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save()
    with Store.open_readonly(demo_path) as store:
        assert len(store.ledger("two_cancer").duplicates_of(other)) == 2


def test_rejected_save_keeps_the_form_open(qtbot, runner, reader):
    form = open_form(qtbot, runner, reader)
    type_into(form, GOOD)
    assert form.save_button.isEnabled()
    runner.call(lambda s: s.ledger("two_cancer").add(GOOD, today=TODAY))  # someone was faster
    form.save()
    qtbot.waitUntil(lambda: form.summary.text().startswith("没有保存"), timeout=5000)
    assert "重复" in form.summary.text()
    assert form.isVisible() and form.result() != QDialog.Accepted
    assert form.banner.isVisible() and not form.save_button.isEnabled()


def test_edit_existing_row_and_its_history(qtbot, qtmodeltester, runner, reader, demo_path):
    row = reader.ledger("two_cancer").rows(limit=1)[0]
    form = open_form(qtbot, runner, reader, uuid=row["uuid"], today=dt.date(2024, 12, 31))
    assert form.editors["name"].text() == row["name"]
    assert form.org_combo.currentData() == row["org"]
    assert form.tabs.count() == 2 and form.tabs.tabText(1) == "修改记录"
    model = form.history_model
    qtmodeltester.check(model)
    assert model.rowCount() == 1 and model.index(0, 2).data() == "新建"
    assert model.index(0, 3).data() == "示例数据"
    assert f"姓名：{row['name']}" in model.index(0, 4).data()
    assert row["id_number"] not in model.index(0, 4).data()  # masked

    form.editors["phone"].setText("13900001111")
    with qtbot.waitSignal(form.saved, timeout=5000) as saved:
        form.save()
    assert saved.args == [row["uuid"]]
    assert fresh_row(demo_path, "two_cancer", row["uuid"])["phone"] == "13900001111"

    masked = RecordForm(runner, reader, "two_cancer", uuid=row["uuid"])
    qtbot.addWidget(masked)
    last = masked.history_model.rowCount() - 1
    assert masked.history_model.index(last, 2).data() == "修改"
    assert masked.history_model.index(last, 3).data() == "录入表单"
    assert masked.history_model.index(last, 4).data() == \
        f"联系电话：{row['phone'][:3]}****{row['phone'][-4:]} → 139****1111"
    shown = RecordForm(runner, reader, "two_cancer", uuid=row["uuid"], reveal=True)
    qtbot.addWidget(shown)
    assert shown.history_model.index(last, 4).data() == f"联系电话：{row['phone']} → 13900001111"


def test_tab_order_follows_the_catalog(qtbot, runner, reader):
    """Field after field, then the files of an attachment field (检查报告) and its 添加 button,
    then the buttons (保存 is disabled in an empty form: 取消)."""
    form = open_form(qtbot, runner, reader)
    chain, widget = [], form.org_combo
    for _ in range(len(form.editors) + 4):
        chain.append(widget)
        widget = widget.nextInFocusChain()
        while (widget.focusPolicy() & Qt.TabFocus == 0 or not widget.isVisibleTo(form)
               or not widget.isEnabled()):
            widget = widget.nextInFocusChain()
    report = form.editors["report_scan"]
    assert list(form.editors)[-1] == "report_scan"
    assert chain == [form.org_combo, *list(form.editors.values())[:-1], report.list, report.add_button,
                     report.keep_original, form.cancel_button]


# ---------------------------------------------------------------- editors

def _fields():
    """One catalog field per type, and stored values to round-trip."""
    catalog = load_catalog()
    fields = {}
    for led in catalog.ledgers:
        for f in led.fields:
            fields.setdefault(f.type, f)
    body = "91430900MA4L00000"
    return [
        (fields["text"], "示例文字"),
        (fields["id_card"], WOMAN),
        (fields["phone"], "13800001234"),
        (fields["phone"], "0737-1234567"),
        (fields["credit_code"], body + uscc.calc_check_digit(body)),
        (fields["disability_cert"], WOMAN + "41"),
        (fields["date"], "2024-03-05"),
        (catalog.ledger("two_cancer").field("population"), "城镇低保"),
        (catalog.ledger("two_cancer").field("status"), "已完成"),
        (catalog.ledger("barrier_free").field("hardship"), "低保、一户多残"),
        (catalog.ledger("barrier_free").field("hardship"), "特困"),
        (fields["integer"], 2024),
        (Field("n", "人数", "integer", min=0, max=500, unit="人"), 0),
        (catalog.ledger("barrier_free").field("subsidy"), 12.345),
        (catalog.ledger("barrier_free").field("subsidy"), 3000.0),
        (fields["yesno"], 1),
        (fields["yesno"], 0),
    ]


@pytest.mark.parametrize("field,value", _fields(), ids=lambda x: getattr(x, "type", str(x)))
def test_every_editor_round_trips(qtbot, field, value):
    editor = make_editor(field)
    qtbot.addWidget(editor)
    assert normalize(field, editor.raw(), today=TODAY).value is None  # starts empty
    with qtbot.waitSignal(editor.changed, timeout=1000):
        editor.set_value(value)
    assert normalize(field, editor.raw(), today=TODAY).value == value
    editor.set_value(None)
    assert normalize(field, editor.raw(), today=TODAY).value is None


def test_choice_editors_start_with_an_empty_entry(qtbot):
    led = load_catalog().ledger("two_cancer")
    for fid in ("population", "status"):
        editor = make_editor(led.field(fid))
        qtbot.addWidget(editor)
        assert editor.itemText(0) == PLACEHOLDER and editor.raw() == ""


def test_id_editor_upper_cases_and_limits_length(qtbot):
    editor = make_editor(load_catalog().ledger("two_cancer").field("id_number"))
    qtbot.addWidget(editor)
    qtbot.keyClicks(editor, WOMAN.lower() + "99")
    assert editor.text() == WOMAN


def test_date_editor_accepts_typed_forms_and_calendar(qtbot):
    field = load_catalog().ledger("two_cancer").field("cervical_date")
    editor = make_editor(field)
    qtbot.addWidget(editor)
    for typed in ("2024-03-05", "2024.3.5", "2024年3月5日", "20240305"):
        editor.setText(typed)
        editor.editingFinished.emit()
        assert editor.text() == "2024-03-05"
    editor.setText("2024-13-01")
    editor.editingFinished.emit()
    assert editor.text() == "2024-13-01"  # left as typed: core says what is wrong
    editor.open_calendar()
    assert editor.calendar.selectedDate() == QDate.currentDate()
    editor.calendar.activated.emit(QDate(2024, 4, 1))
    assert editor.text() == "2024-04-01" and not editor.popup.isVisible()


def test_number_editor_empty_state_unit_and_clearing(qtbot):
    field = load_catalog().ledger("barrier_free").field("subsidy")
    editor = make_editor(field)
    qtbot.addWidget(editor)
    assert editor.suffix() == " 元" and editor.maximum() == 50000 and editor.decimals() == 3
    assert editor.raw() == ""
    qtbot.keyClicks(editor.lineEdit(), "12.5")
    assert editor.raw() == 12.5 and editor.text() == "12.5 元"
    editor.lineEdit().selectAll()
    qtbot.keyClick(editor.lineEdit(), Qt.Key_Delete)
    editor.interpretText()
    assert editor.raw() == ""


def test_multichoice_is_keyboard_usable(qtbot):
    field = load_catalog().ledger("barrier_free").field("hardship")
    editor = make_editor(field)
    qtbot.addWidget(editor)
    menu = editor.menu()
    menu.setActiveAction(editor.actions_by_choice["一户多残"])
    qtbot.keyClick(menu, Qt.Key_Space)
    menu.setActiveAction(editor.actions_by_choice["低保"])
    qtbot.keyClick(menu, Qt.Key_Return)
    assert editor.raw() == "低保、一户多残" and editor.text() == "低保、一户多残"
    assert normalize(field, editor.raw()).value == "低保、一户多残"
