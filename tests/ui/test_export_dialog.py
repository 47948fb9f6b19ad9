"""The export dialogs write through core, audit, and show refusals inline."""
import datetime as dt

from openpyxl import load_workbook

from desktop_app.core.demo import DEMO_PASSWORD
from desktop_app.core.store import Store, login
from desktop_app.ui.export_dialog import ExportDialog
from desktop_app.ui.tasks import TaskRunner


def test_data_export_masks_unless_revealed_with_a_purpose(qtbot, runner, reader, tmp_path):
    dialog = ExportDialog(runner, reader, "data", ledger_id="legal_aid")
    qtbot.addWidget(dialog)
    dialog.path.setText(str(tmp_path / "法援.xlsx"))
    dialog.reveal.setChecked(True)
    dialog.start()                                  # no purpose: refused inside the dialog
    qtbot.waitUntil(lambda: "用途" in dialog.message.text())
    assert not (tmp_path / "法援.xlsx").exists()
    dialog.purpose.setText("核对")
    with qtbot.waitSignal(dialog.done, timeout=10000) as sig:
        dialog.start()
    assert sig.args[0].endswith("法援.xlsx") and load_workbook(sig.args[0]).worksheets[0].max_row > 3
    store = Store.open_readonly(reader.path)
    assert store.conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'export'").fetchone()[0] == 1
    store.close()


def test_template_and_report(qtbot, runner, reader, tmp_path):
    dialog = ExportDialog(runner, reader, "template", ledger_id="two_cancer")
    qtbot.addWidget(dialog)
    dialog.path.setText(str(tmp_path / "模板.xlsx"))
    with qtbot.waitSignal(dialog.done, timeout=10000):
        dialog.start()
    report = ExportDialog(runner, reader, "report", as_of=dt.date(2024, 9, 30))
    qtbot.addWidget(report)
    report.path.setText(str(tmp_path / "统计表.xlsx"))
    with qtbot.waitSignal(report.done, timeout=20000):
        report.start()
    sheets = load_workbook(tmp_path / "统计表.xlsx").sheetnames
    assert sheets[0] == "合计" and "河坝镇" in sheets


def test_an_export_revealed_by_a_reviewer_is_audited_under_that_reviewer(qtbot, demo_path, tmp_path):
    with Store.open(demo_path) as store:           # the install's operator is 示例管理员
        session = login(store, "示例审核员", DEMO_PASSWORD)
        operator = store.node.operator
    runner = TaskRunner(demo_path, session=session)
    reader = Store.open_readonly(demo_path)
    reader.session = session
    try:
        dialog = ExportDialog(runner, reader, "data", ledger_id="two_cancer")
        qtbot.addWidget(dialog)
        dialog.path.setText(str(tmp_path / "两癌.xlsx"))
        dialog.reveal.setChecked(True)
        dialog.purpose.setText("电话回访")
        with qtbot.waitSignal(dialog.done, timeout=10000):
            dialog.start()
        entries = reader.conn.execute(
            "SELECT user, json_extract(after, '$.revealed'), json_extract(after, '$.purpose') "
            "FROM audit WHERE action = 'export'").fetchall()
        assert entries == [("示例审核员", 1, "电话回访")] and operator != "示例审核员"
    finally:
        reader.close()
        runner.shutdown()
