"""同步中心: profiles, sending and receiving packages, and the conflicts queue.

    page = SyncPage(runner, reader)
    page.changed.connect(window.data_changed)   # an import or a resolution wrote rows
    page.refresh()                              # read again, off the GUI thread; ``refreshed`` follows

Four tabs, one module each: 单位与配置文件 (:mod:`.sync_peers`), 发送
(:mod:`.sync_send`), 接收 (:mod:`.sync_receive`) and 冲突 (:mod:`.sync_conflicts`).
This shell holds the tabs, the choosers and files dropped on the page. What the
tabs show is read from the store in one background job on the page's runner
(:mod:`.sync_state`), and again at the end of every operation's job, so the tabs
show what it changed before its signal follows.

Every decision is core's (:mod:`~desktop_app.core.sync`, :mod:`~desktop_app.core.batch`);
every read and write runs on the runner's store thread. Results and refusals are
shown on the page, not in modal boxes.

For tests (no real modal dialogs): ``refresh`` and ``refreshed``, ``export_profile_to``,
``import_profiles``, ``confirm_fingerprint``, ``export_package_to``, ``import_packages``, ``resolve``,
``set_reveal`` and the signals ``profile_exported``, ``profiles_imported``, ``peer_confirmed``,
``package_exported``, ``packages_imported``, ``resolved`` and ``failed``; the tabs
are ``peers_tab``, ``send_tab``, ``receive_tab`` and ``conflicts_tab``. The choosers
are the small methods ``_ask_folder`` and ``_ask_files``.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from ..core.sync import PACKAGE_SUFFIX, PROFILE_SUFFIX
from .sync_conflicts import ConflictsTab
from .sync_peers import PeersTab
from .sync_receive import ReceiveTab, package_notes
from .sync_send import SendTab
from .style import RED
from .sync_state import SyncJobs, SyncState


class SyncPage(QWidget):
    """同步中心; ``changed`` after an import or a resolution changed data."""

    changed = Signal()
    refreshed = Signal()                    # the tabs show what the store holds now
    profile_exported = Signal(str)          # the profile file's path
    profiles_imported = Signal(object)      # list[sync_peers.ProfileOutcome]
    peer_confirmed = Signal(object)         # core's confirm_peer result
    package_exported = Signal(object)       # core.sync.Exported
    packages_imported = Signal(object)      # list[core.sync.ImportSummary]
    resolved = Signal(int)                  # the conflict's id
    failed = Signal(str)                    # an operation did not finish; the message is on the page

    _notes = staticmethod(package_notes)    # the receive results' notes (rich text lines)

    def __init__(self, runner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.state: SyncState | None = None
        self.jobs = SyncJobs(runner, self)
        title = QLabel("同步中心")
        title.setStyleSheet("font-size: 16px; font-weight: bold")
        self.refresh_button = QPushButton("刷新")
        self.refresh_button.clicked.connect(self.refresh)
        self.clock_warning = QLabel()      # this PC's date does not fit the store's data
        self.clock_warning.setWordWrap(True)
        self.clock_warning.setStyleSheet(f"color: {RED}")
        self.clock_warning.hide()
        top = QHBoxLayout()
        top.addWidget(title)
        top.addWidget(self.clock_warning, 1)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        ask_folder = lambda title: self._ask_folder(title)  # noqa: E731 — through the page, for tests
        ask_files = lambda title, file_filter: self._ask_files(title, file_filter)  # noqa: E731
        self.peers_tab = PeersTab(self.jobs, ask_folder, ask_files)
        self.send_tab = SendTab(self.jobs, reader, ask_folder)
        self.receive_tab = ReceiveTab(self.jobs, reader, ask_files)
        self.conflicts_tab = ConflictsTab(self.jobs)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.peers_tab, "单位与配置文件")
        self.tabs.addTab(self.send_tab, "发送")
        self.tabs.addTab(self.receive_tab, "接收")
        self.tabs.addTab(self.conflicts_tab, "冲突")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.conflicts_tab.count_changed.connect(self._conflicts_counted)
        self.jobs.state_read.connect(self._state_read)   # after the tabs: they show it first
        self.jobs.changed.connect(self.changed)
        self.jobs.failed.connect(self.failed)
        self.peers_tab.profile_exported.connect(self.profile_exported)
        self.peers_tab.profiles_imported.connect(self.profiles_imported)
        self.peers_tab.peer_confirmed.connect(self.peer_confirmed)
        self.send_tab.package_exported.connect(self.package_exported)
        self.receive_tab.packages_imported.connect(self.packages_imported)
        self.conflicts_tab.resolved.connect(self.resolved)
        self.setAcceptDrops(True)
        self.refresh()

    # ------------------------------------------------------------ reading
    def refresh(self) -> None:
        """Read everything again off the GUI thread (the selected destination and conflict
        stay selected); ``refreshed`` follows."""
        self.jobs.refresh()

    def _state_read(self, state: SyncState) -> None:
        self.state = state
        self.clock_warning.setText(state.clock_problem or "")
        self.clock_warning.setVisible(bool(state.clock_problem))
        pending = len(state.pending)
        self.tabs.setTabText(self.tabs.indexOf(self.peers_tab),
                             f"单位与配置文件（{pending} 待确认）" if pending else "单位与配置文件")
        self.refreshed.emit()

    def _conflicts_counted(self, n: int) -> None:
        self.tabs.setTabText(self.tabs.indexOf(self.conflicts_tab), f"冲突（{n}）" if n else "冲突")

    # ------------------------------------------------------------ what the tabs do
    def export_profile_to(self, folder) -> None:
        """Write this install's profile into ``folder``; ``profile_exported(path)`` follows."""
        self.peers_tab.export_profile_to(folder)

    def import_profiles(self, paths) -> None:
        """Import profile files; ``profiles_imported(outcomes)`` follows."""
        self.peers_tab.import_profiles(paths)

    def confirm_fingerprint(self, org: str, typed: str) -> None:
        """Confirm a pending unit with the fingerprint read over the phone; its held packages
        are applied; ``peer_confirmed(result)`` follows."""
        self.peers_tab.confirm_fingerprint(org, typed)

    def export_package_to(self, folder, full: bool = False, resend: tuple[int, int] | None = None,
                          to: str | None = None) -> None:
        """Write a package into ``folder``; ``package_exported(exported)`` follows."""
        self.send_tab.export_package_to(folder, full=full, resend=resend, to=to)

    def import_packages(self, paths, dry_run: bool = False) -> None:
        """Import (or only check) package files; ``packages_imported(summaries)`` follows."""
        self.receive_tab.import_packages(paths, dry_run=dry_run)

    def resolve(self, conflict_id: int, keep: str) -> None:
        """Resolve a conflict, ``keep`` "mine" or "theirs"; ``resolved(conflict_id)`` follows."""
        self.conflicts_tab.resolve(conflict_id, keep)

    def set_reveal(self, on: bool, purpose: str | None = None) -> None:
        """Show (audited with ``purpose``) or mask sensitive values in the conflicts queue."""
        self.conflicts_tab.set_reveal(on, purpose)

    # ------------------------------------------------------------ choosers
    def _ask_folder(self, title: str) -> str | None:
        """The folder chooser (tests never reach it)."""
        return QFileDialog.getExistingDirectory(self, title) or None

    def _ask_files(self, title: str, file_filter: str) -> list[str]:
        """The file chooser (tests never reach it)."""
        paths, _ = QFileDialog.getOpenFileNames(self, title, "", file_filter)
        return paths

    # ------------------------------------------------------------ dropping files
    @staticmethod
    def _dropped(mime) -> tuple[list[Path], list[Path]]:
        """(package files, profile files) among dropped local files."""
        if not mime.hasUrls():
            return [], []
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        return ([p for p in paths if p.suffix.lower() == PACKAGE_SUFFIX],
                [p for p in paths if p.suffix.lower() == PROFILE_SUFFIX])

    def dragEnterEvent(self, event) -> None:
        packages, found = self._dropped(event.mimeData())
        if packages or found:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        packages, found = self._dropped(event.mimeData())
        if not packages and not found:
            event.ignore()
            return
        event.acceptProposedAction()
        if found:
            self.tabs.setCurrentWidget(self.peers_tab)
            self.import_profiles(found)
        if packages:
            self.tabs.setCurrentWidget(self.receive_tab)
            self.import_packages(packages, dry_run=self.receive_tab.dry_run.isChecked())
