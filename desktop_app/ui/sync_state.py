"""What the tabs of the 同步中心 share: the state they show, read in one background job,
and the page's operations on the store thread.

    jobs = SyncJobs(runner, parent=page)
    jobs.state_read.connect(tab.show_state)      # every tab shows its part of SyncState
    jobs.busy_changed.connect(tab.set_busy)      # one operation at a time, on every tab
    jobs.refresh()                               # read again, off the GUI thread
    jobs.run(lambda store, progress: work(store), on_done=..., on_error=..., label="…", parent=tab)

An operation's job reads the state again after its work, so the tabs show what it
changed before its ``on_done`` runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from ..core.errors import UserError
from ..core.sync import (
    ConflictView,
    Destination,
    HeldPackage,
    Identity,
    PeerInfo,
    PendingPeer,
    ReceivedPackage,
    SourceStatus,
    clock_problem,
    conflict_views,
    destinations,
    identity,
    list_held,
    peer_list,
    pending_peers,
    received_packages,
    sources,
)
from .errors import failure_text, show_error
from .style import RED
from .tables import say


@dataclass(frozen=True)
class SyncState:
    """Everything the page shows that comes from the store."""

    me: Identity
    peers: list[PeerInfo]
    destinations: list[Destination]
    received: list[ReceivedPackage]
    sources: list[SourceStatus]
    conflicts: list[ConflictView]
    pending: list[PendingPeer] = ()        # profiles waiting for a fingerprint check
    held: list[HeldPackage] = ()           # packages kept, not applied yet
    clock_problem: str | None = None       # this PC's date does not fit the store's data


def read_state(store) -> SyncState:
    """The reads of the page, on the store thread."""
    return SyncState(identity(store), peer_list(store), destinations(store), received_packages(store),
                     sources(store), conflict_views(store), pending_peers(store), list_held(store),
                     clock_problem(store))


def short_time(iso: str) -> str:
    """``2024-03-05 08:00:00`` for an ISO time."""
    return iso.replace("T", " ")[:19]


class SyncJobs(QObject):
    """The page's runner as its tabs use it: reads of the state, and operations that
    keep every tab's buttons disabled while one runs."""

    state_read = Signal(object)     # SyncState
    busy_changed = Signal(bool)
    changed = Signal()              # an operation changed data (rows, units, conflicts)
    failed = Signal(str)            # an operation did not finish; the message is on the page

    def __init__(self, runner, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.running = 0

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def refresh(self) -> None:
        """Read the state again on the store thread; ``state_read`` follows."""
        self.runner.run(lambda store, progress: read_state(store), on_done=self.state_read.emit,
                        on_error=lambda error: show_error(error, self.parent()))

    def run(self, fn: Callable[[Any, Callable], Any], *, on_done: Callable[[Any], None],
            on_error: Callable[[BaseException], None], label: str, parent) -> None:
        """Run ``fn(store, progress)`` and read the state after it; ``state_read``, then
        ``on_done(result)`` (or ``on_error(error)``) on the GUI thread."""
        self._set_running(+1)

        def done(outcome) -> None:
            result, state = outcome
            self._set_running(-1)
            self.state_read.emit(state)
            on_done(result)

        def failed(error: BaseException) -> None:
            self._set_running(-1)
            on_error(error)

        self.runner.run(lambda store, progress: (fn(store, progress), read_state(store)),
                        on_done=done, on_error=failed, label=label, parent=parent)

    def _set_running(self, step: int) -> None:
        self.running += step
        self.busy_changed.emit(self.busy)

    def fail(self, label: QLabel, error: BaseException, folder: Path | None = None) -> None:
        """Core's refusals and unwritable folders on the page; anything else in the error box."""
        if isinstance(error, UserError):
            text = str(error)
        elif isinstance(error, OSError) and folder is not None:
            text = f"无法写入 {folder}（文件夹不存在、没有写入权限，或 U 盘已拔出）。请换一个位置再试。"
        else:
            label.clear()
            show_error(error, self.parent())
            self.failed.emit(failure_text(error))
            return
        say(label, f"没有完成：{text}", RED)
        self.failed.emit(text)
