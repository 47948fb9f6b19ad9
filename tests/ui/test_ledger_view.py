"""The ledger table: lazy model, search, filters, sort, masking, recycle bin, 100k rows."""
import threading

import pytest
from PySide6.QtCore import Qt
from support import make_id

from desktop_app.core.store.database import Store
from desktop_app.core.store.query import LedgerView
from desktop_app.ui.ledger_model import BLOCK, LedgerTableModel
from desktop_app.ui.ledger_page import FIRST_BATCH, LedgerPage
from desktop_app.ui.tasks import TaskRunner


@pytest.fixture
def ids_runner(demo_path):
    r = TaskRunner(demo_path, readonly=True)
    yield r
    r.shutdown()


@pytest.fixture
def page(qtbot, runner, ids_runner, reader):
    page = LedgerPage(runner, ids_runner, reader)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    return page


def audited_reveals(path, purpose: str) -> int:
    with Store.open_readonly(path) as store:
        return store.conn.execute("SELECT COUNT(*) FROM audit WHERE action='reveal' AND after LIKE ?",
                                  (f"%{purpose}%",)).fetchone()[0]


def loaded(qtbot, page, expected=None):
    qtbot.waitUntil(lambda: page.count_label.text().startswith(("共", "回收站中共")), timeout=5000)
    if expected is not None:
        assert page.model.rowCount() == expected


def test_model_passes_qtmodeltester(qtmodeltester, reader):
    led = reader.catalog.ledger("two_cancer")
    model = LedgerTableModel(reader)
    model.set_ledger(led)
    view = LedgerView(reader.conn, led)
    model.reset(view, view.ids())
    assert model.rowCount() > 50
    qtmodeltester.check(model)


def test_page_shows_rows_masked_and_reveals(qtbot, page, reader):
    page.show_ledger("two_cancer")
    total = reader.ledger("two_cancer").count()
    loaded(qtbot, page, total)
    col = [c.key for c in page.model.columns].index("id_number")
    text = page.model.index(0, col).data()
    assert len(text) == 18 and text[3:14] == "*" * 11
    page.reveal.setChecked(True)            # no purpose stated: stays masked, says why
    assert not page.reveal.isChecked() and "用途" in page.count_label.text()
    page.reveal.set_purpose("电话回访")
    page.reveal.setChecked(True)            # shown in full once the reveal is audited
    qtbot.waitUntil(lambda: "*" not in page.model.index(0, col).data(), timeout=5000)
    qtbot.waitUntil(lambda: audited_reveals(page.reader.path, "电话回访") == 1)


def test_search_by_partial_id_name_and_phone(qtbot, page, reader):
    page.show_ledger("two_cancer")
    loaded(qtbot, page)
    row = reader.ledger("two_cancer").rows(limit=1)[0]
    # names in part; numbers whole or by their last digits (never a middle part)
    for text in (row["id_number"][-6:], row["name"][2:], row["phone"][-6:], row["phone"]):
        page.search.setText(text)
        qtbot.waitUntil(lambda: page.model.rowCount() >= 1 and page.model.view.selection.search == text,
                        timeout=5000)
        uuids = {page.model.uuid_at(i) for i in range(page.model.rowCount())}
        assert row["uuid"] in uuids


def test_filters_by_village_status_and_incomplete(qtbot, page, reader):
    page.show_ledger("two_cancer")
    loaded(qtbot, page)
    village = reader.ledger("two_cancer").rows(limit=1)[0]["org"]
    page.org_filter.setCurrentIndex(page.org_filter.findData(village))
    qtbot.waitUntil(lambda: page.model.view.selection.org == village)
    assert page.model.rowCount() == reader.ledger("two_cancer").count(org=village)
    page.org_filter.setCurrentIndex(0)
    page.incomplete_only.setChecked(True)
    qtbot.waitUntil(lambda: page.model.view.selection.incomplete is True)
    assert page.model.rowCount() == reader.ledger("two_cancer").count(incomplete=True)


def test_sort_by_any_column(qtbot, page):
    page.show_ledger("two_cancer")
    loaded(qtbot, page)
    col = [c.key for c in page.model.columns].index("name")
    page.table.sortByColumn(col, Qt.AscendingOrder)
    qtbot.waitUntil(lambda: page.model.view.sort == "name" and not page.model.view.descending)
    names = [page.model.row_at(i)["name"] for i in range(20)]
    assert names == sorted(names)


def test_delete_goes_to_recycle_bin_and_restores(qtbot, page, reader):
    page.show_ledger("legal_aid")
    total = reader.ledger("legal_aid").count()
    loaded(qtbot, page, total)
    page.table.selectRow(0)
    uid = page.selected_uuid()
    page._delete_or_restore()
    qtbot.waitUntil(lambda: page.model.rowCount() == total - 1, timeout=5000)
    page.recycle.setChecked(True)
    qtbot.waitUntil(lambda: page.model.view.selection.deleted and page.model.rowCount() == 1, timeout=5000)
    assert page.delete_button.text() == "恢复" and page.model.uuid_at(0) == uid
    page.table.selectRow(0)
    page._delete_or_restore()
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=5000)
    page.recycle.setChecked(False)
    qtbot.waitUntil(lambda: not page.model.view.selection.deleted and page.model.rowCount() == total)


@pytest.fixture
def big(tmp_path):
    """A town store whose 两癌 ledger holds 100,000 rows (filled directly: the view is
    under test, not the writer)."""
    path = tmp_path / "big.sqlite3"
    with Store.create(path, level="town", org="河坝镇", operator="示例") as store:
        store.add_villages(["示例村一"])
        with store.transaction():
            store.conn.executemany(
                "INSERT INTO ledger_two_cancer (uuid, org, name, id_number, phone, status, _versions) "
                "VALUES (?, '430971121001', ?, ?, ?, '已完成', '[[1,\"n\"]]')",
                ((f"u{i}", f"示例{i}", make_id("19700101", i % 500 * 2), f"138{i:08d}")
                 for i in range(100_000)))
    return path


@pytest.fixture
def big_page(qtbot, big):
    """A ledger page on the big store, its runners and reader closed afterwards."""
    runner, ids_runner = TaskRunner(big), TaskRunner(big, readonly=True)
    reader = Store.open_readonly(big)
    page = LedgerPage(runner, ids_runner, reader)
    qtbot.addWidget(page)
    page.show()
    yield page
    ids_runner.shutdown()
    runner.shutdown()
    reader.close()


def test_a_100k_row_ledger_opens_lazily_and_jumps_to_the_end(qtbot, big_page, monkeypatch):
    """The id list is read off the GUI thread; the GUI thread reads only the blocks shown."""
    page = big_page
    id_reads = []                      # (on the GUI thread?, limit) of every id-list read
    real_ids = LedgerView.ids

    def ids(self, limit=None):
        id_reads.append((threading.current_thread() is threading.main_thread(), limit))
        return real_ids(self, limit)
    monkeypatch.setattr(LedgerView, "ids", ids)
    gui_reads = []                     # every statement on the GUI thread's connection
    page.reader.conn.set_trace_callback(gui_reads.append)

    page.show_ledger("two_cancer")
    loaded(qtbot, page, 100_000)
    assert page.count_label.text() == "共 100,000 条记录"
    page.table.scrollToBottom()
    last = page.model.index(99_999, 1).data()
    assert last.startswith("示例")

    # the first batch and the full id list were both read on the store thread
    assert (False, FIRST_BATCH) in id_reads and (False, None) in id_reads
    assert not [r for r in id_reads if r[0]]
    # the GUI thread never read the id list, only blocks of the rows shown (painted, and the last)
    assert not [sql for sql in gui_reads if "json_group_array" in sql or "SELECT rowid FROM" in sql]
    fetched = [sql.split("WHERE rowid IN (", 1)[1].count(",") + 1
               for sql in gui_reads if "WHERE rowid IN (" in sql]
    assert 1 <= len(fetched) <= 4 and max(fetched) <= BLOCK
    assert len(page.model._blocks) <= 4
