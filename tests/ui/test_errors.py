"""Errors never vanish: a bug in a background job, a slot or a thread is logged (redacted) and
shown in Chinese with 复制错误信息; expected failures are shown as they are and not logged."""
from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QProgressDialog, QPushButton

import desktop_app.ui
from desktop_app import __version__
from desktop_app.core.errors import Cancelled, StoreError
from desktop_app.core.logs import setup_logging, stop_logging
from desktop_app.ui import errors, startup, tasks
from desktop_app.ui.errors import BugDialog, install_excepthook
from desktop_app.ui.tasks import TaskRunner

ID18 = "43090219710916154X"
PHONE = "13812345678"
NAME = "张三"
VALUES = (ID18, PHONE, NAME, "430902197109161")
REAL_SHOW_ERROR, REAL_PRESENT = errors.show_error, errors.present   # before the no-modal guard
WAIT = 20000


@pytest.fixture
def log(tmp_path):
    path = setup_logging(tmp_path / "logs")
    yield path
    stop_logging()


@pytest.fixture
def shown(monkeypatch):
    """What the error presenter was asked to show (no real box): (text, details, wait)."""
    seen: list[tuple[str, str | None, bool]] = []
    monkeypatch.setattr(errors, "present",
                        lambda text, parent=None, *, details=None, wait=False:
                        seen.append((text, details, wait)))
    for module in (errors, tasks):
        monkeypatch.setattr(module, "show_error", REAL_SHOW_ERROR)
    return seen


@pytest.fixture
def hooks():
    restore = install_excepthook()
    yield
    restore()


def _clean(*texts: str) -> bool:
    return not any(value in text for text in texts for value in VALUES)


def _chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def _lookup(store, progress):
    store.ledger("two_cancer").count()   # a real job on the store thread first
    return {}[ID18]


def test_a_bug_in_a_background_job_is_shown_in_chinese_and_logged_without_values(
        runner, log, shown, qtbot):
    runner.run(_lookup, on_done=lambda _r: pytest.fail("the job should have failed"))
    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT)
    text, details, _wait = shown[0]
    assert _chinese(text) and "程序内部出错（KeyError）" in text and "日志" in text
    assert details.startswith(f"民生实事台账 {__version__}\n时间：") and "错误类型：KeyError" in details
    assert "Traceback (most recent call last):" in details and "in _lookup" in details
    written = log.read_text(encoding="utf-8")
    assert "程序内部出错" in written and "KeyError: '[身份证号]'" in written and "in _lookup" in written
    assert _clean(text, details, written)


def test_a_bug_handled_by_the_page_is_logged_all_the_same(runner, log, shown, qtbot):
    def job(store, progress):
        raise ValueError(f"{NAME} 的电话 {PHONE} 不对")
    failed = []
    runner.run(job, on_error=failed.append)
    qtbot.waitUntil(lambda: bool(failed), timeout=WAIT)
    assert isinstance(failed[0], ValueError) and shown == []   # the page shows it its own way
    assert errors.failure_text(failed[0]).startswith("操作没有完成：程序内部出错（ValueError）")
    written = log.read_text(encoding="utf-8")
    assert "ValueError: [文字] [电话] [文字]" in written and _clean(written)
    errors.show_error(failed[0])          # and when it is shown: not logged twice
    assert log.read_text(encoding="utf-8").count("程序内部出错") == 1 and shown[0][1] is not None


@pytest.mark.parametrize("error, text", [
    (StoreError("找不到数据库文件 示例.sqlite3"), "找不到数据库文件 示例.sqlite3"),
    (PermissionError(13, "Permission denied", "/media/u盘/导出.xlsx"),
     "无法写入或读取 /media/u盘/导出.xlsx：没有权限。请换一个文件夹，或请管理员开放权限"),
])
def test_expected_failures_are_shown_as_they_are_and_not_logged(runner, log, shown, qtbot, error, text):
    def job(store, progress):
        raise error
    runner.run(job)
    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT)
    assert shown == [(text, None, False)]   # a plain box: no 复制错误信息 for a user's mistake
    assert not log.exists()


def test_cancelled_is_neither_shown_nor_logged(runner, log, shown, qtbot):
    def job(store, progress):
        raise Cancelled()
    with qtbot.waitSignal(runner.task_finished, timeout=WAIT):
        task = runner.run(job)
    assert task.done and isinstance(task.error, Cancelled) and shown == [] and not log.exists()


def test_closing_interrupts_a_long_read_and_shows_nothing(demo_path, log, shown, qtbot):
    """Closing the window must not wait for 全区进度 of a million rows: the read-only runner
    interrupts the read, drops what is queued behind it, and nobody is told of either. (A read
    that is not interrupted would run for minutes: the test would fail by its length.)"""
    runner = TaskRunner(demo_path, readonly=True)
    started, seen = threading.Event(), []

    def long_read(store, progress):
        started.set()
        try:
            return store.conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                                      "LIMIT 5000000000) SELECT COUNT(*) FROM c").fetchone()
        except Exception as exc:
            seen.append(str(exc))
            raise
    runner.run(long_read, on_done=seen.append)
    queued = runner.run(lambda store, progress: seen.append("queued ran"))
    assert started.wait(WAIT / 1000)
    runner.shutdown()
    assert seen == ["interrupted"] and not queued.done
    assert runner.run(lambda store, progress: seen.append("after close")).done   # nothing starts
    qtbot.wait(50)
    assert seen == ["interrupted"] and shown == [] and not log.exists()


# ---------------------------------------------------------------- uncaught errors

def _uncaught(value):
    raise ValueError(f"{NAME} {value}")


def test_excepthook_logs_and_shows_at_once_when_no_event_loop_runs(log, shown, hooks):
    try:
        _uncaught(ID18)
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert len(shown) == 1
    text, details, wait = shown[0]
    assert wait and "程序内部出错（ValueError）" in text and "in _uncaught" in details
    written = log.read_text(encoding="utf-8")
    assert "（未捕获）" in written and "ValueError: [文字] [身份证号]" in written
    assert _clean(text, details, written)


def test_excepthook_catches_a_slot_that_raises_in_the_event_loop(log, shown, hooks, qtbot):
    QTimer.singleShot(0, lambda: _uncaught(PHONE))
    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT)
    assert "程序内部出错（ValueError）" in shown[0][0] and shown[0][1] is not None
    assert "in _uncaught" in log.read_text(encoding="utf-8") and _clean(log.read_text(encoding="utf-8"))


def test_a_thread_that_dies_is_reported_on_the_gui_thread(log, shown, hooks, qtbot):
    where = []
    original = errors.present
    errors.present = lambda *a, **k: (where.append(threading.current_thread()), original(*a, **k))
    try:
        worker = threading.Thread(target=_uncaught, args=(PHONE,), name="worker")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: bool(shown), timeout=WAIT)
    finally:
        errors.present = original
    assert where == [threading.main_thread()] and not shown[0][2]   # queued, never blocking
    written = log.read_text(encoding="utf-8")
    assert "[worker]" in written and "ValueError: [文字] [电话]" in written and _clean(written)


def test_the_hooks_are_put_back():
    before = sys.excepthook, threading.excepthook
    restore = install_excepthook()
    assert (sys.excepthook, threading.excepthook) != before
    restore()
    assert (sys.excepthook, threading.excepthook) == before


# ---------------------------------------------------------------- the box

def test_bug_box_copies_a_report_without_values_and_names_the_log_folder(qtbot, tmp_path):
    try:
        _uncaught(ID18)
    except ValueError as exc:
        error = exc
    dialog = BugDialog(errors.failure_text(error), errors.error_report(error), tmp_path / "logs")
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "程序出错了" and dialog.copy_button.text() == "复制错误信息"
    assert str(tmp_path / "logs") in dialog.where.text()
    dialog.copy_details()
    copied = QGuiApplication.clipboard().text()
    assert copied == dialog.details and dialog.copy_button.text() == "已复制"
    assert f"民生实事台账 {__version__}" in copied and "错误类型：ValueError" in copied
    assert copied.splitlines()[-1] == "ValueError" and _clean(copied)   # type, no message
    assert dialog.folder_url() == QUrl.fromLocalFile(str(tmp_path / "logs"))


def test_one_bug_box_at_a_time(qtbot, tmp_path, log):
    REAL_PRESENT("一", details="a")
    REAL_PRESENT("二", details="b")       # a bug repeating in every repaint: logged, shown once
    boxes = [b for b in errors._open_boxes if isinstance(b, BugDialog)]
    assert len(boxes) == 1 and boxes[0].details == "a"
    qtbot.waitUntil(boxes[0].isVisible, timeout=WAIT)
    boxes[0].accept()
    assert not [b for b in errors._open_boxes if isinstance(b, BugDialog)]


def test_the_guard_refuses_every_error_box():
    for show in (errors.present, errors.show_error, tasks.show_error):
        with pytest.raises(AssertionError, match="real modal"):
            show("x")


def test_help_menu_opens_the_log_folder(demo_path, qtbot, tmp_path, log, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    from desktop_app.ui.main_window import MainWindow
    window = MainWindow(demo_path)
    qtbot.addWidget(window)
    try:
        help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "帮助(&H)")
        action = next(a for a in help_menu.actions() if a.text() == "打开日志文件夹(&L)")
        assert window.log_folder_url() == QUrl.fromLocalFile(str(tmp_path / "logs"))
        opened = []
        monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
        action.trigger()
        assert opened == [window.log_folder_url()] and (tmp_path / "logs").is_dir()
    finally:
        window.close_store()


# ---------------------------------------------------------------- one background mechanism

def test_startup_work_runs_on_the_task_runner_without_a_store(qtbot):
    seen = {}
    release = threading.Event()

    def look():   # inside the wait: the event loop turns, and the busy box has no 取消
        boxes = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QProgressDialog) and w.labelText() == "正在试…"]
        seen["box"] = len(boxes)
        seen["buttons"] = [b.text() for box in boxes for b in box.findChildren(QPushButton)]
        release.set()

    def work():
        assert release.wait(10)
        return threading.current_thread().name

    QTimer.singleShot(0, look)
    name = startup.run_with_progress("正在试…", work)
    assert name.startswith("store") and seen == {"box": 1, "buttons": []}
    with pytest.raises(StoreError, match="坏了"):
        startup.run_with_progress("正在试…", lambda: (_ for _ in ()).throw(StoreError("坏了")))


def test_run_and_wait_returns_raises_and_cancels(qtbot):
    runner = TaskRunner(None)
    try:
        assert runner.run_and_wait(lambda store, progress: store) is None   # no store at all
        assert runner.run_and_wait(lambda store, progress: 42) == 42
        with pytest.raises(Cancelled):
            runner.run_and_wait(lambda store, progress: (_ for _ in ()).throw(Cancelled()))
    finally:
        runner.shutdown()


def test_no_other_thread_or_waiting_loop_in_the_window():
    ui = Path(desktop_app.ui.__file__).parent
    offenders = [f"{p.name}: {m}" for p in ui.glob("*.py") if p.name != "tasks.py"
                 for m in re.findall(r"threading\.Thread\(|QThread\(|QEventLoop\(|ThreadPoolExecutor\(",
                                     p.read_text(encoding="utf-8"))]
    assert offenders == []
