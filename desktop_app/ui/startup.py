"""Before the main window: the demo store, and stores that cannot be opened."""
from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from ..core.store import Store, StoreError


def run_with_progress(label: str, fn, *, parent=None):
    """Run ``fn()`` on a thread while a busy dialog keeps the GUI alive; return its result."""
    result: dict = {}

    def work():
        try:
            result["value"] = fn()
        except BaseException as exc:  # shown by the caller
            result["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    dlg = QProgressDialog(label, None, 0, 0, parent)
    dlg.setWindowTitle("请稍候")
    dlg.setMinimumDuration(0)
    dlg.show()
    thread.start()
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: (not thread.is_alive()) and loop.quit())
    timer.start(50)
    loop.exec()
    timer.stop()
    dlg.close()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def ensure_demo(path: Path) -> Path | None:
    """The demo store at ``path``, generated (a few seconds) when missing."""
    if path.exists():
        return path
    from ..core.demo import create_demo
    try:
        run_with_progress("正在生成示例数据库（示例人员均以“示例”开头）…",
                          lambda: create_demo(path).close())
    except (StoreError, OSError) as exc:
        QMessageBox.critical(None, "无法生成示例数据库", str(exc))
        return None
    return path


def open_store_or_explain(path: Path) -> bool:
    """Check that ``path`` opens; otherwise say why in Chinese and what to do."""
    try:
        Store.open(path).close()
        return True
    except StoreError as exc:
        QMessageBox.critical(None, "无法打开数据库", str(exc))
        return False
