"""Background operations: one worker thread owns the store; the window never freezes.

Modelled on Anki's CollectionOp/QueryOp. Every operation is a plain function
``fn(store, progress)`` that runs on the single store thread, reports progress
through ``progress(done, total, text)`` (which raises :class:`Cancelled` once the
user pressed 取消), and returns a result that is delivered to ``on_done`` on the
GUI thread::

    runner.run(lambda store, progress: compute(store, as_of),
               on_done=self.show_report, label="正在计算进度…")

Reads that must be instant (painting table rows) use a separate read-only
connection on the GUI thread; SQLite's WAL mode lets both work at once.
"""
from __future__ import annotations

import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from ..core.store import Store
from .errors import show_error


class Cancelled(Exception):
    """Raised inside an operation when the user cancelled it."""


@dataclass
class Task:
    label: str
    cancel_event: threading.Event = field(default_factory=threading.Event)
    done: bool = False

    def cancel(self) -> None:
        self.cancel_event.set()


class _Bridge(QObject):
    finished = Signal(object, object, object)  # callback, result, error
    progressed = Signal(object, int, int, str)  # task, done, total, text


class TaskRunner(QObject):
    """Runs store operations one at a time on a worker thread.

    The main runner owns every write. A second one with ``readonly=True`` runs
    long reads (a million-row id list) so they never wait behind a write.
    """

    busy_changed = Signal(bool)

    def __init__(self, path: Path, parent: QObject | None = None, *, readonly: bool = False,
                 session=None, exclusive: bool = False):
        super().__init__(parent)
        self.path = Path(path)
        self.readonly = readonly
        self.session = session      # the logged-in user (core checks every permission with it)
        self.exclusive = exclusive  # the app's writer: no second program on the same store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._store: Store | None = None
        self._bridge = _Bridge()
        self._bridge.finished.connect(self._deliver, Qt.QueuedConnection)
        self._bridge.progressed.connect(self._on_progress, Qt.QueuedConnection)
        self._dialogs: dict[int, QProgressDialog] = {}
        self._pending = 0

    # -- the store lives on the worker thread
    def _get_store(self) -> Store:
        if self._store is None:
            self._store = Store.open_readonly(self.path) if self.readonly else \
                Store.open(self.path, exclusive=self.exclusive)
            self._store.session = self.session
        return self._store

    def run(self, fn: Callable[[Store, Callable], Any], *, on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None, label: str | None = None,
            parent: QWidget | None = None) -> Task:
        """Queue ``fn``; with a ``label`` a progress dialog (with 取消) appears if it takes long."""
        task = Task(label or "")
        if label and parent is not None:
            dlg = QProgressDialog(label, "取消", 0, 0, parent)
            dlg.setWindowTitle("请稍候")
            dlg.setWindowModality(Qt.WindowModal)
            dlg.setMinimumDuration(400)
            dlg.setAutoClose(False)
            dlg.setAutoReset(False)
            dlg.canceled.connect(task.cancel)
            self._dialogs[id(task)] = dlg
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)

        def progress(done: int = 0, total: int = 0, text: str = "") -> None:
            if task.cancel_event.is_set():
                raise Cancelled()
            self._bridge.progressed.emit(task, done, total, text)

        def job():
            try:
                result = fn(self._get_store(), progress)
                self._bridge.finished.emit((task, on_done, on_error), result, None)
            except BaseException as exc:  # delivered to the GUI thread, never lost
                exc.__traceback_text__ = traceback.format_exc()
                self._bridge.finished.emit((task, on_done, on_error), None, exc)

        self._pool.submit(job)
        return task

    def call(self, fn: Callable[[Store], Any]) -> Any:
        """Run ``fn`` on the store thread and wait (for short work, e.g. at shutdown or in tests)."""
        return self._pool.submit(lambda: fn(self._get_store())).result()

    def _on_progress(self, task: Task, done: int, total: int, text: str) -> None:
        dlg = self._dialogs.get(id(task))
        if dlg is not None:
            dlg.setMaximum(total)
            dlg.setValue(done)
            if text:
                dlg.setLabelText(text)

    def _deliver(self, callbacks, result, error) -> None:
        task, on_done, on_error = callbacks
        task.done = True
        dlg = self._dialogs.pop(id(task), None)
        if dlg is not None:
            dlg.close()
            dlg.deleteLater()
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)
        if error is not None:
            if isinstance(error, Cancelled):
                return
            if on_error is not None:
                on_error(error)
            else:
                show_error(error)
            return
        if on_done is not None:
            on_done(result)

    def shutdown(self) -> None:
        """Close the store on its thread and stop the thread (safe to call twice)."""
        if self._pool._shutdown:
            return

        def close():
            if self._store is not None:
                self._store.close()
                self._store = None
        self._pool.submit(close).result()
        self._pool.shutdown(wait=True)
