"""Privacy in every window (issue 14): each window's data path as a 录入员 bound to one
village of the demo district, every text it shows (labels, editors and their hints,
combo boxes, tooltips, every cell of every table model) read for the full ID numbers
and phones stored in the demo: none may appear, except what the user typed. The
record form masks what the role may not see, keeps it unless replaced, and audits a
reveal like every other reveal.
"""
import datetime as dt
import re

import pytest
from openpyxl import Workbook
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QWidget
from privacy_world import leaks, stored_numbers, text_of
from support import TODAY, make_id

from desktop_app.core.batch import Workbook as BatchWorkbook
from desktop_app.core.batch import preview_workbooks
from desktop_app.core.errors import StoreError
from desktop_app.core.store import Session
from desktop_app.ui.district_review import _pair_cells, read_pairs
from desktop_app.ui.export_dialog import ExportDialog
from desktop_app.ui.import_dialog import PreviewModel
from desktop_app.ui.ledger_page import LedgerPage
from desktop_app.ui.person_page import PersonPage
from desktop_app.ui.record_form import RecordForm
from desktop_app.ui.reviews_page import _review_cells, read_reviews
from desktop_app.ui.sync_conflicts import ConflictsTab
from desktop_app.ui.sync_state import SyncJobs
from desktop_app.ui.tasks import TaskRunner

UNIT = "430971405001"          # 南湾湖管理处 / 示例村一 in the demo district
CLERK = Session("示例录入员", "录入员", UNIT)
REVIEWER = Session("示例审核员", "审核员", None)
WAIT = 10000
ROLES = (Qt.DisplayRole, Qt.ToolTipRole)


def model_text(model) -> list[str]:
    root = QModelIndex()
    try:
        columns = model.columnCount(root)
    except TypeError:       # a list model (its column count is not public)
        columns = 1
    out = [str(model.headerData(c, Qt.Horizontal)) for c in range(columns)]
    for r in range(model.rowCount(root)):
        for c in range(columns):
            for role in ROLES:
                value = model.index(r, c).data(role)
                if value is not None:
                    out.append(str(value))
    return out


def screen_text(widget: QWidget) -> str:
    """Every text ``widget`` and its children show or hold for display."""
    parts = []
    for w in [widget, *widget.findChildren(QWidget)]:
        for getter in ("text", "placeholderText", "toolTip", "windowTitle", "title", "currentText"):
            value = getattr(w, getter, None)
            if callable(value):
                try:
                    parts.append(str(value()))
                except TypeError:
                    pass
        if isinstance(w, QComboBox):
            parts += [w.itemText(i) for i in range(w.count())]
        if isinstance(w, QAbstractItemView) and w.model() is not None:
            parts += model_text(w.model())
    return "\n".join(parts)


def as_user(runner, reader, session) -> None:
    runner.session = session
    runner.call(lambda store: setattr(store, "session", session))
    reader.session = session


@pytest.fixture
def known(reader):
    """Every ID number and phone stored in the demo (read before anyone logs in)."""
    return stored_numbers(reader)


@pytest.fixture
def clerk(runner, reader, known):
    as_user(runner, reader, CLERK)
    return known


def unit_rows(reader, ledger):
    return [r for r in reader.ledger(ledger).rows(any_unit=True) if r["org"].startswith(UNIT)]


def public_numbers(reader, led) -> set[str]:
    """Numbers the catalog does not mark sensitive (an institution's 负责人电话) in the unit's rows."""
    cols = [f.id for f in led.fields if f.type == "phone" and not led.is_sensitive(f.id)]
    return {str(r[c]) for r in unit_rows(reader, led.id) for c in cols if r.get(c)}


def test_the_ledger_table_shows_a_clerk_only_his_village_masked(qtbot, qtmodeltester, runner, reader, clerk):
    ids_runner = TaskRunner(runner.path, readonly=True, session=CLERK)
    page = LedgerPage(runner, ids_runner, reader)
    qtbot.addWidget(page)
    try:
        problems = []
        for led in reader.catalog.ledgers:
            page.show_ledger(led.id)
            qtbot.waitUntil(lambda: page.count_label.text().startswith("共"), timeout=WAIT)
            assert page.model.rowCount() == len(unit_rows(reader, led.id)), led.id
            for i in range(page.model.rowCount()):
                assert reader.ledger(led.id).get_any(page.model.uuid_at(i))["org"].startswith(UNIT)
            problems += leaks(screen_text(page), clerk, public_numbers(reader, led))
        qtmodeltester.check(page.model)
        assert problems == []
        assert not page.reveal.box.isEnabled()
        assert [page.org_filter.itemData(i) for i in range(page.org_filter.count())] == [None]
        number = unit_rows(reader, "two_cancer")[0]["id_number"]
        page.show_ledger("two_cancer")
        for text, found in ((number[-6:], 0), (number, 1)):     # a part finds nothing; the whole number does
            page.search.setText(text)
            qtbot.waitUntil(lambda: page.model.view is not None and page.model.view.selection.search == text
                            and page.count_label.text().startswith("共"), timeout=WAIT)
            assert page.model.rowCount() == found
        assert "完整号码" not in page.count_label.text()
        page.search.setText(number[:10])
        qtbot.waitUntil(lambda: page.model.view.selection.search == number[:10]
                        and page.count_label.text().startswith("共"), timeout=WAIT)
        assert page.model.rowCount() == 0 and "完整号码" in page.count_label.text()
    finally:
        ids_runner.shutdown()


def test_the_record_form_masks_keeps_and_replaces(qtbot, runner, reader, clerk, demo_path):
    problems = []
    for ledger in ("two_cancer", "barrier_free", "child_rehab", "relief_payments", "employment"):
        for row in unit_rows(reader, ledger):
            form = RecordForm(runner, reader, ledger, uuid=row["uuid"], today=TODAY)
            qtbot.addWidget(form)
            problems += leaks(screen_text(form), clerk)
            assert not form.reveal_control.box.isEnabled()     # a 录入员 cannot reveal
            form.close()
    assert problems == []
    row = unit_rows(reader, "two_cancer")[0]
    form = RecordForm(runner, reader, "two_cancer", uuid=row["uuid"], today=TODAY)
    qtbot.addWidget(form)
    assert form.editors["id_number"].raw() == "" and "id_number" in form.kept()
    assert "*" in form.editors["phone"].placeholderText()
    assert form.save_button.isEnabled()                     # nothing typed: every kept value stays
    form.editors["phone"].setText("13912345678")             # a new phone replaces the old one
    with qtbot.waitSignal(form.saved, timeout=WAIT):
        form.save()
    saved = runner.call(lambda store: store.ledger("two_cancer").get(row["uuid"]))
    assert saved["phone"] == "13912345678"
    assert {k: saved[k] for k in ("id_number", "address", "population", "cervical_result")} == \
        {k: row[k] for k in ("id_number", "address", "population", "cervical_result")}


def test_a_reviewer_reveals_in_the_form_with_a_purpose_audited(qtbot, runner, reader, known, demo_path):
    as_user(runner, reader, REVIEWER)
    row = unit_rows(reader, "two_cancer")[0]
    form = RecordForm(runner, reader, "two_cancer", uuid=row["uuid"], today=TODAY)
    qtbot.addWidget(form)
    assert leaks(screen_text(form), known) == []             # masked until revealed, for every role
    form.set_reveal(True)                                     # no purpose: refused, stays masked
    assert not form.reveal_control.isChecked() and form.editors["id_number"].raw() == ""
    with qtbot.waitSignal(form.reveal_control.changed, timeout=WAIT):
        form.set_reveal(True, "核实身份信息")
    assert form.editors["id_number"].raw() == row["id_number"] and form.kept() == []
    audit = runner.call(lambda store: store.conn.execute(
        "SELECT user, source, after FROM audit WHERE action = 'reveal'").fetchall())
    assert [(u, s) for u, s, _ in audit] == [("示例审核员", "screen:record_form")] and "核实身份信息" in audit[0][2]
    form.set_reveal(False)                                    # masked again
    assert form.editors["id_number"].raw() == "" and "id_number" in form.kept()


def test_the_person_page_finds_the_whole_number_in_the_clerks_village(qtbot, reader, clerk):
    page = PersonPage(reader)
    qtbot.addWidget(page)
    mine = unit_rows(reader, "two_cancer")[0]
    page.search(mine["id_number"])                           # typed by the user: may be shown back
    assert page.results_model.rowCount() == 1
    shown = screen_text(page)
    assert leaks(shown, clerk, {mine["id_number"]}) == []
    rows = page.appearance_model.items
    assert rows and all(a["row"]["org"].startswith(UNIT) for a in rows)
    page.search(mine["id_number"][-6:])                       # a part of a number finds no one
    assert page.results_model.rowCount() == 0 and "完整号码" in page.result_count.text()
    other = next(r for r in reader.ledger("two_cancer").rows(any_unit=True) if not r["org"].startswith(UNIT)
                 and not any(x["id_number"] == r["id_number"] for x in unit_rows(reader, "two_cancer")))
    page.search(other["id_number"])                          # a woman of another village: not found
    assert page.results_model.rowCount() == 0
    page.show_person(other["person_id"])
    assert page.title.text() == "人员主档中没有此人" and leaks(screen_text(page), clerk, {other["id_number"]}) == []


def test_a_birth_date_beside_a_masked_number_is_masked_and_phones_are_not_searched(qtbot, reader, clerk):
    """The birth date is digits 7–14 of the ID number: with the 3 first and 4 last digits
    shown it would give the whole number back. A masked phone leaves 4 digits to guess, so
    a role that may not reveal does not search phones at all."""
    page = PersonPage(reader)
    qtbot.addWidget(page)
    mine = unit_rows(reader, "two_cancer")[0]
    page.search(mine["name"])
    assert page.results_model.rowCount() >= 1
    shown = model_text(page.results_model)
    assert not [t for t in shown if re.search(r"\d{4}", t) and "*" not in t]
    assert leaks(screen_text(page), clerk, set()) == []
    page.search(mine["phone"])                      # her whole phone: not searched
    assert page.results_model.rowCount() == 0 and "不能按电话查找" in page.result_count.text()
    page.search(mine["id_number"])
    assert page.results_model.rowCount() == 1


def test_a_village_name_means_the_clerks_own_village_first(reader, clerk):
    """The demo district has a 示例村一 in every town: hers is the one she means; for the
    district's administrator the name is ambiguous, and the units are told apart by town."""
    assert reader.resolve_row_org("示例村一") == UNIT
    reader.session = Session("示例管理员", "管理员", None)
    with pytest.raises(StoreError) as refused:
        reader.resolve_row_org("示例村一")
    assert f"{UNIT}（南湾湖管理处示例村一）" in str(refused.value)


def test_the_import_preview_masks_the_old_values(qtbot, qtmodeltester, runner, reader, clerk, tmp_path):
    mine = unit_rows(reader, "two_cancer")[0]
    led = reader.catalog.ledger("two_cancer")
    fields = [f.id for f in led.fields if f.type != "attachment" and mine.get(f.id) is not None]
    book = Workbook()
    book.active.append([led.field(f).label for f in fields])
    book.active.append([("13911112222" if f == "phone" else mine[f]) for f in fields])
    book.active.append([(make_id("19750601", 120) if f == "id_number" else
                         "13911113333" if f == "phone" else mine[f]) for f in fields])
    book.save(tmp_path / "更新.xlsx")
    [preview] = runner.run_and_wait(lambda store, progress: preview_workbooks(
        store, [BatchWorkbook(tmp_path / "更新.xlsx")]))
    model = PreviewModel(reader)
    model.set_plan(preview.item.plan)
    qtmodeltester.check(model)
    text = "\n".join(model_text(model))
    assert "13911112222" in text or "139****2222" in text
    assert leaks(text, clerk, {mine["id_number"], "13911112222"}) == []     # what the file carried
    assert mine["phone"] not in text


def test_the_conflicts_duplicates_and_reviews_show_a_clerk_nothing_stored(qtbot, runner, reader, clerk):
    jobs = SyncJobs(runner)
    tab = ConflictsTab(jobs)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(jobs.state_read, timeout=WAIT):
        jobs.refresh()
    assert tab.items == [] and "审核员" in screen_text(tab)
    cells = [c for v in read_pairs(reader) for c in _pair_cells(v)]
    cells += [c for v in read_reviews(reader) for c in _review_cells(v)]
    assert leaks("\n".join(map(str, cells)), clerk) == []


def test_an_export_from_the_window_is_the_clerks_village_masked(qtbot, runner, reader, clerk, tmp_path):
    dialog = ExportDialog(runner, reader, "data", ledger_id="two_cancer")
    qtbot.addWidget(dialog)
    assert not dialog.reveal.isEnabled() and dialog.village.count() == 1
    dialog.path.setText(str(tmp_path / "导出.csv"))
    with qtbot.waitSignal(dialog.done, timeout=WAIT):
        dialog.start()
    lines = (tmp_path / "导出.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert len(lines) == len(unit_rows(reader, "two_cancer"))
    assert leaks(text_of(tmp_path / "导出.csv"), clerk) == []
    dialog = ExportDialog(runner, reader, "template", ledger_id="two_cancer")
    qtbot.addWidget(dialog)
    dialog.path.setText(str(tmp_path / "模板.xlsx"))
    with qtbot.waitSignal(dialog.done, timeout=WAIT):
        dialog.start()
    assert "430971405001" in text_of(tmp_path / "模板.xlsx")    # made for the clerk's own village


def test_autofill_shows_the_master_masked_and_saves_it(qtbot, runner, reader, clerk, demo_path):
    mine = unit_rows(reader, "two_cancer")[0]
    person = reader.persons.get(mine["person_id"])
    form = RecordForm(runner, reader, "barrier_free", today=dt.date(2024, 12, 31))
    qtbot.addWidget(form)
    form.editors["id_number"].setText(person["id_number"])   # typed: may be shown back
    assert form.editors["name"].raw() == person["name"]
    assert form.editors["phone"].raw() == "" and "phone" in form.kept()
    assert leaks(screen_text(form), clerk, {person["id_number"]}) == []


def test_the_window_of_a_clerk_bound_to_a_village(qtbot, demo_path, known):
    """The whole window as a 录入员 of one village: counts, table and progress are hers."""
    from desktop_app.core.demo import DEMO_PASSWORD
    from desktop_app.core.store import add_user, login
    from desktop_app.core.store.database import Store
    from desktop_app.ui.main_window import MainWindow
    with Store.open(demo_path) as store:
        login(store, "示例管理员", DEMO_PASSWORD)
        add_user(store, "村录入员", DEMO_PASSWORD, "录入员", unit=UNIT)
        session = login(store, "村录入员", DEMO_PASSWORD)
        expected = store.ledger("two_cancer").count()
    w = MainWindow(demo_path, session)
    qtbot.addWidget(w)
    try:
        qtbot.waitUntil(lambda: w.dashboard.findChildren(QAbstractItemView)[0].model().rowCount() > 0,
                        timeout=WAIT)
        w.ledger_page.show_ledger("two_cancer")
        qtbot.waitUntil(lambda: w.ledger_page.count_label.text().startswith("共"), timeout=WAIT)
        assert w.ledger_page.model.rowCount() == expected == len(unit_rows(w.reader, "two_cancer"))
        assert leaks(screen_text(w), known) == []
        scopes = w._scopes()                        # 统计范围: her village, nothing beside it
        assert scopes[0][1] == f"本单位（{w.tree.get(UNIT).name}）"
        assert all(code.startswith(UNIT) for code, _ in scopes[1:])
    finally:
        w.close_store()
