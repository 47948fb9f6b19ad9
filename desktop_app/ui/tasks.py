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

A runner made with no path has no store (its operations get ``None``): start-up
work before any store exists — creating the demo or a new store, checking or
restoring a file — runs on it the same way. :meth:`TaskRunner.run_and_wait`
serves callers that need the result before going on: the event loop keeps
turning (the window paints, 取消 works) until the operation is done.

An error is delivered to ``on_error`` (or shown by :func:`~.errors.show_error`);
an unexpected one is first written to the log with its traceback (redacted),
whoever handles it. 取消 (:class:`Cancelled`) is never shown.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QEventLoop, QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from ..core.errors import Cancelled
from ..core.store import Store
from .errors import log_failure, show_error


@dataclass
class Task:
    label: str
    name: str = ""                 # the operation's function, for the log
    cancel_event: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: Any = None
    error: BaseException | None = None

    def cancel(self) -> None:
        self.cancel_event.set()


class _Bridge(QObject):
    finished = Signal(object, object, object)  # callback, result, error
    progressed = Signal(object, int, int, str)  # task, done, total, text


class TaskRunner(QObject):
    """Runs store operations one at a time on a worker thread.

    The main runner owns every write. A second one with ``readonly=True`` runs
    long reads (a million-row id list) so they never wait behind a write. With
    ``path=None`` there is no store: operations get ``None`` (start-up work).
    """

    busy_changed = Signal(bool)
    task_finished = Signal(object)  # the Task, after its callbacks (cancelled ones too)

    def __init__(self, path: Path | None = None, parent: QObject | None = None, *, readonly: bool = False,
                 session=None, exclusive: bool = False):
        super().__init__(parent)
        self.path = Path(path) if path is not None else None
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
        self._closing = False   # shutdown began: a read-only runner starts and delivers nothing more
        self._handle = threading.Lock()    # held while the store is closed or interrupted

    # -- the store lives on the worker thread
    def _get_store(self) -> Store | None:
        if self._store is None and self.path is not None:
            self._store = Store.open_readonly(self.path) if self.readonly else \
                Store.open(self.path, exclusive=self.exclusive)
            self._store.session = self.session
        return self._store

    def run(self, fn: Callable[[Store | None, Callable], Any], *,
            on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None, label: str | None = None,
            parent: QWidget | None = None, cancellable: bool = True, delay_ms: int = 400) -> Task:
        """Queue ``fn``; with a ``label`` a progress dialog (with 取消 unless not
        ``cancellable``) appears if it takes longer than ``delay_ms``."""
        task = Task(label or "", name=getattr(fn, "__qualname__", type(fn).__name__))
        if self._closing and self.readonly:   # the window is closing: no new read starts
            task.done = True
            return task
        if label:
            dlg = QProgressDialog(label, "取消" if cancellable else None, 0, 0, parent)
            dlg.setWindowTitle("请稍候")
            dlg.setWindowModality(Qt.WindowModal)
            dlg.setMinimumDuration(delay_ms)
            dlg.setAutoClose(False)
            dlg.setAutoReset(False)
            if cancellable:
                dlg.canceled.connect(task.cancel)
            else:
                dlg.setCancelButton(None)
            self._dialogs[id(task)] = dlg
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)

        def progress(done: int = 0, total: int = 0, text: str = "") -> None:
            if task.cancel_event.is_set():
                raise Cancelled()
            self._bridge.progressed.emit(task, done, total, text)

        def job():
            if self._closing and self.readonly:
                return
            try:
                result = fn(self._get_store(), progress)
                self._bridge.finished.emit((task, on_done, on_error), result, None)
            except BaseException as exc:  # delivered to the GUI thread (with its __traceback__)
                if not (self._closing and self.readonly):   # a read stopped by shutdown is nobody's error
                    self._bridge.finished.emit((task, on_done, on_error), None, exc)

        self._pool.submit(job)
        return task

    def run_and_wait(self, fn: Callable[[Store | None, Callable], Any], *, label: str | None = None,
                     parent: QWidget | None = None, cancellable: bool = True,
                     delay_ms: int = 400) -> Any:
        """Run ``fn`` as :meth:`run` does and wait for it while the event loop keeps turning;
        return its result or raise its error (:class:`Cancelled` after 取消). Nothing is shown:
        the caller handles the error (a bug is logged all the same)."""
        task = self.run(fn, on_done=lambda _r: None, on_error=lambda _e: None, label=label,
                        parent=parent, cancellable=cancellable, delay_ms=delay_ms)
        if not task.done:
            loop = QEventLoop()

            def finished(t: Task) -> None:
                if t is task:
                    loop.quit()
            self.task_finished.connect(finished)
            try:
                if not task.done:
                    loop.exec()
            finally:
                self.task_finished.disconnect(finished)
        if task.error is not None:
            raise task.error
        return task.result

    def call(self, fn: Callable[[Store | None], Any]) -> Any:
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
        task.done, task.result, task.error = True, result, error
        dlg = self._dialogs.pop(id(task), None)
        if dlg is not None:
            dlg.close()
            dlg.deleteLater()
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)
        try:
            if error is not None:
                if isinstance(error, Cancelled):
                    return
                log_failure(error, "，".join(filter(None, (task.name, task.label))))  # whoever shows it
                if on_error is not None:
                    on_error(error)
                else:
                    show_error(error)
                return
            if on_done is not None:
                on_done(result)
        finally:
            self.task_finished.emit(task)

    def shutdown(self) -> None:
        """Close the store on its thread and stop the thread (safe to call twice). A
        read-only runner's running read (全区进度 of a million rows)
        is interrupted rather than waited for, its queued reads dropped. The main runner's
        queued writes all finish."""
        if self._pool._shutdown:
            return
        self._closing = True

        def close():
            with self._handle:
                store, self._store = self._store, None
            if store is not None:
                store.close()
        closed = self._pool.submit(close)
        while self.readonly and not closed.done():
            with self._handle:
                if self._store is not None:   # again and again: a read may go on in Python between statements
                    self._store.interrupt()
            try:
                closed.result(timeout=0.05)
            except FuturesTimeout:
                pass
        closed.result()
        self._pool.shutdown(wait=True)
