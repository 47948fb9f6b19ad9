"""The person page: search, masked details, every ledger row, open_record."""
import pytest
from PySide6.QtCore import Qt
from support import TODAY

from desktop_app.ui.person_page import PersonPage


@pytest.fixture
def page(qtbot, reader):
    page = PersonPage(reader)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    return page


@pytest.fixture
def person(reader):
    """A demo person who appears in the most ledger rows."""
    pid = reader.conn.execute(
        "SELECT person_id FROM ledger_two_cancer GROUP BY person_id "
        "ORDER BY COUNT(*) DESC, person_id LIMIT 1").fetchone()[0]
    return reader.persons.get(pid)


def test_search_by_part_of_name_id_or_phone(qtbot, qtmodeltester, page, person):
    # names in part; numbers whole or by their last digits (never a middle part)
    for text in (person["name"][2:], person["id_number"][-8:], person["phone"][-6:]):
        page.search_box.setText(text)
        qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=2000)
        uuids = [page.results_model.index(r, 0).data(Qt.UserRole + 1)
                 for r in range(page.results_model.rowCount())]
        assert person["uuid"] in uuids
        assert page.result_count.text().startswith("找到")
    qtmodeltester.check(page.results_model)
    page.search("示例")  # every demo person
    assert page.results_model.rowCount() == 50 and "只列出前 50 人" in page.result_count.text()
    page.search("没有这个人")
    assert page.results_model.rowCount() == 0 and "没有找到" in page.result_count.text()


def test_details_are_masked_until_revealed(page, person):
    page.search(person["id_number"])
    assert page.results_model.rowCount() == 1  # a single match is shown at once
    assert page.title.text() == person["name"]
    shown_id = page.detail_labels["id_number"].text()
    assert shown_id == person["id_number"][:3] + "*" * 11 + person["id_number"][-4:]
    assert page.results_model.index(0, 1).data() == shown_id
    assert page.detail_labels["phone"].text() == person["phone"][:3] + "****" + person["phone"][-4:]
    assert page.detail_labels["sex"].text() == person["sex"]
    page.set_reveal(True)
    assert page.detail_labels["id_number"].text() == person["id_number"]
    assert page.detail_labels["phone"].text() == person["phone"]
    assert page.results_model.index(0, 1).data() == person["id_number"]
    page.set_reveal(False)
    assert page.detail_labels["id_number"].text() == shown_id


def test_every_ledger_row_about_the_person(qtmodeltester, page, reader, person):
    page.show_person(person["uuid"])
    found = reader.persons.appearances(person["uuid"])
    model = page.appearance_model
    qtmodeltester.check(model)
    assert model.rowCount() == len(found) >= 1
    first = found[0]
    led = reader.catalog.ledger(first["ledger"])
    assert [model.index(0, c).data() for c in range(5)] == [
        first["ledger_label"], first["role"], reader.orgs.path(first["row"]["org"]),
        first["row"][led.date_field] or "", first["row"]["status"]]   # 待补充 rows may have no date
    assert page.appearance_count.text().endswith(f"{len(found)} 条记录中")


def test_pending_and_deleted_rows_are_marked(page, runner, reader, person):
    uid = reader.persons.appearances(person["uuid"])[0]["row"]["uuid"]
    runner.call(lambda s: s.ledger("two_cancer").delete(uid))
    pending = runner.call(lambda s: s.ledger("barrier_free").add(
        {"name": person["name"], "id_number": person["id_number"]}, today=TODAY)).uuid
    page.show_person(person["uuid"])
    model = page.appearance_model
    rows = {model.record_at(r)[1]: r for r in range(model.rowCount())}
    assert model.index(rows[uid], 4).data().endswith("（已删除）")
    assert model.index(rows[uid], 0).data(Qt.ForegroundRole) is not None
    cell = model.index(rows[pending], 5)
    assert cell.data() == "待补充" and cell.data(Qt.ToolTipRole).startswith("缺：联系电话")
    assert model.record_at(rows[pending]) == ("barrier_free", pending)


def test_double_click_opens_the_record(qtbot, page, reader, person):
    page.show_person(person["uuid"])
    first = reader.persons.appearances(person["uuid"])[0]
    view = page.appearances
    rect = view.visualRect(page.appearance_model.index(0, 0))
    with qtbot.waitSignal(page.open_record, timeout=2000) as opened:
        qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=rect.center())  # as a real double
        qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=rect.center())  # click starts
    assert opened.args == [first["ledger"], first["row"]["uuid"]]
    with qtbot.waitSignal(page.open_record, timeout=2000) as opened:
        qtbot.keyClick(view, Qt.Key_Return)
    assert opened.args == [first["ledger"], first["row"]["uuid"]]


def test_unknown_person(page):
    page.show_person("00000000-0000-0000-0000-000000000000")
    assert page.title.text() == "人员主档中没有此人"
    assert page.appearance_model.rowCount() == 0
