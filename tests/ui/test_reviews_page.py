"""核实意见 at a town: the district's reviews of the town's rows, and the town's answer."""
from support import install_below, screening

from desktop_app.core import sync
from desktop_app.core.district import flag, list_reviews
from desktop_app.core.store import Store
from desktop_app.ui.reviews_page import ReviewsPage
from desktop_app.ui.tasks import TaskRunner

WAIT = 30000


def test_a_town_answers_the_districts_review(qtbot, qtmodeltester, tmp_path):
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="专班")
    town = install_below(d, tmp_path / "t.sqlite3", level="town", org="河坝镇", operator="镇",
                         villages=["示例村一"])
    uid = town.ledger("two_cancer").add(screening(1), org="示例村一").uuid
    town.ledger("two_cancer").add(screening(2), org="示例村一")
    sync.import_package(d, sync.export_package(town, tmp_path / "up").path)
    flag(d, "two_cancer", uid, note="电话号码疑似错误，请核实", status="退回修改")
    sync.import_package(town, sync.export_package(d, tmp_path / "down", to="河坝镇").path)
    town.close()
    d.close()
    runner = TaskRunner(tmp_path / "t.sqlite3")
    reader = Store.open_readonly(tmp_path / "t.sqlite3")
    try:
        page = ReviewsPage(runner, reader)
        qtbot.addWidget(page)
        assert page.save_button.text() == "保存答复" and not page.status.isVisibleTo(page)
        with qtbot.waitSignal(page.loaded, timeout=WAIT):
            page.refresh()
        qtmodeltester.check(page.model)
        assert page.model.rowCount() == 1 and "1 条" in page.summary.text()
        assert page.select_review("two_cancer", uid)
        assert page.provenance.value("录入单位") == "河坝镇"
        page.note.setText("已核实并改正电话")
        with qtbot.waitSignal(page.replied, timeout=WAIT):
            page._save_clicked()
        assert "已保存答复" in page.message.text()
        [review] = runner.call(list_reviews)
        assert (review["reply"], review["status"]) == ("已核实并改正电话", "退回修改")
        with qtbot.waitSignal(page.failed, timeout=WAIT):    # an empty answer is refused by core
            page.reply_row("two_cancer", uid, " ")
        assert "请写明答复" in page.message.text()
    finally:
        reader.close()
        runner.shutdown()
