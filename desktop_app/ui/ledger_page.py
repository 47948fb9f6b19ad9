"""One ledger on screen: search, filters, column chooser, masking, recycle bin.

What it shows follows core's policy for the logged-in user (:func:`~desktop_app.core.store.policy_for`):
the rows of the user's unit, sensitive values masked unless revealed, and a search by ID
number or phone that needs the whole number (or, for a role that may reveal, its last
digits)."""
from __future__ import annotations

import html

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.catalog import Ledger
from ..core.store import Counted, LedgerView, Selection, policy_for
from .ledger_model import LedgerTableModel
from .reveal import RevealControl
from .tasks import TaskRunner

SEARCH_DELAY_MS = 250
FIRST_BATCH = 1000


class LedgerPage(QWidget):
    """Shows one ledger at a time; ``show_ledger(id, counted=None)`` switches."""

    changed = Signal()                 # rows were written (counts and progress are stale)
    person_requested = Signal(str)     # person uuid
    review_requested = Signal(str, str)  # ledger id, row uuid (district: 写核实意见…)

    def __init__(self, runner: TaskRunner, ids_runner: TaskRunner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.ids_runner, self.reader = runner, ids_runner, reader
        self.catalog = reader.catalog
        self.ledger: Ledger | None = None
        self.counted: Counted | None = None
        self.sort_key: str | None = None
        self.descending = True
        self._generation = 0
        self.model = LedgerTableModel(reader, self)
        self.model.sort_requested.connect(self._sort)
        self._build()

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 16px; font-weight: bold")
        self.search = QLineEdit()
        self.search.setPlaceholderText(f"搜索{policy_for(self.reader).search_prompt()}  Ctrl+F")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.org_filter = QComboBox()
        self.org_filter.setMinimumContentsLength(10)
        self.status_filter = QComboBox()
        self.incomplete_only = QCheckBox("只看待补充")
        self.reveal = RevealControl(self.runner, lambda: [self.ledger.table] if self.ledger else [],
                                    "screen:ledger")
        self.reveal.changed.connect(lambda on: self.model.set_reveal(on))
        self.reveal.refused.connect(self.count_label_text)
        self.recycle = QCheckBox("回收站")
        self.recycle.setToolTip("查看已删除的记录，可恢复")
        for w in (self.org_filter, self.status_filter):
            w.currentIndexChanged.connect(lambda _i: self.reload())
        self.incomplete_only.toggled.connect(lambda _c: self.reload())
        self.recycle.toggled.connect(self._recycle_toggled)
        self.columns_button = QToolButton()
        self.columns_button.setText("显示列")
        self.columns_button.setPopupMode(QToolButton.InstantPopup)
        self.columns_menu = QMenu(self)
        self.columns_button.setMenu(self.columns_menu)
        self.new_button = QPushButton("新增(&N)")
        self.new_button.clicked.connect(lambda: self.open_record(None))
        self.edit_button = QPushButton("修改")
        self.edit_button.clicked.connect(self._edit_current)
        self.delete_button = QPushButton("删除")
        self.delete_button.clicked.connect(self._delete_or_restore)
        self.banner = QLabel()
        self.banner.setStyleSheet("background: #fff3cd; padding: 4px")
        self.banner.setWordWrap(True)
        self.banner.linkActivated.connect(self._banner_link)
        self.banner.hide()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(True)
        self.table.horizontalHeader().setSectionsMovable(True)
        self.table.horizontalHeader().setDefaultSectionSize(110)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.doubleClicked.connect(lambda idx: self.open_record(self.model.uuid_at(idx.row())))
        self.table.setContextMenuPolicy(Qt.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.count_label = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        for w in (self.new_button, self.edit_button, self.delete_button):
            top.addWidget(w)
        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        filters.addWidget(QLabel("村（社区）"))
        filters.addWidget(self.org_filter, 1)
        filters.addWidget(QLabel("状态"))
        filters.addWidget(self.status_filter, 1)
        for w in (self.incomplete_only, self.recycle, self.reveal, self.columns_button):
            filters.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        find = QAction(self)
        find.setShortcut(QKeySequence.Find)
        find.triggered.connect(lambda: (self.search.setFocus(), self.search.selectAll()))
        self.addAction(find)

    # ------------------------------------------------------------ switching
    def show_ledger(self, ledger_id: str, counted: Counted | None = None) -> None:
        led = self.catalog.ledger(ledger_id)
        if self.ledger is None or led.id != self.ledger.id:
            self.reveal.setChecked(False)  # a reveal is audited per ledger
            self.ledger = led
            self.sort_key, self.descending = None, True
            self.model.set_ledger(led)
            self.table.setColumnWidth(0, 170)  # 镇 / 村
            self._fill_filters()
            self._fill_columns_menu()
            self.search.blockSignals(True)
            self.search.clear()
            self.search.blockSignals(False)
        self.title.setText(led.label)
        self.set_counted(counted)

    def set_counted(self, counted: Counted | None) -> None:
        self.counted = counted
        if counted:
            ind = self.catalog.indicator(counted.indicator)
            from ..core.catalog import load_choices
            rule = self.catalog.counting(ind.id, load_choices(self.reader))
            self.banner.setText(f"只显示{counted.label}　<a href='clear'>显示全部</a>　"
                                f"<a href='excluded'>未计入的记录及原因…</a><br>"
                                f"<span style='color:#555'>计数规则：{html.escape(rule)}</span>")
            self.banner.show()
        else:
            self.banner.hide()
        self.reload()

    def _banner_link(self, link: str) -> None:
        if link == "excluded" and self.counted is not None:
            self.show_excluded()
        else:
            self.set_counted(None)

    def show_excluded(self):
        """The drill-down's other half: the rows the indicator left out, each with its reason."""
        from .explain_dialog import ExplainDialog
        c = self.counted
        dialog = ExplainDialog(self.reader, c.indicator, c.as_of, c.scope, parent=self)
        dialog.row_chosen.connect(self.open_record)
        dialog.show()
        return dialog

    def _fill_filters(self) -> None:
        tree = self.reader.orgs
        for combo in (self.org_filter, self.status_filter):
            combo.blockSignals(True)
            combo.clear()
        self.org_filter.addItem("全部", None)
        for org in policy_for(self.reader).orgs(self.reader)[1:]:   # below the user's unit
            self.org_filter.addItem(tree.path(org.code), org.code)
        self.status_filter.addItem("全部", None)
        for status in self.ledger.statuses:
            self.status_filter.addItem(status, status)
        for combo in (self.org_filter, self.status_filter):
            combo.blockSignals(False)

    def _fill_columns_menu(self) -> None:
        self.columns_menu.clear()
        for i, col in enumerate(self.model.columns):
            action = self.columns_menu.addAction(col.label)
            action.setCheckable(True)
            hidden = col.key in ("note",) or i > 14
            action.setChecked(not hidden)
            self.table.setColumnHidden(i, hidden)
            action.toggled.connect(lambda on, i=i: self.table.setColumnHidden(i, not on))

    # ------------------------------------------------------------ loading
    def current_view(self) -> LedgerView:
        selection = Selection(
            search=self.search.text(), org=self.org_filter.currentData(),
            status=self.status_filter.currentData(), deleted=self.recycle.isChecked(),
            incomplete=True if self.incomplete_only.isChecked() else None, counted=self.counted)
        return LedgerView(self.reader, self.ledger, selection, catalog=self.catalog,
                          sort=self.sort_key, descending=self.descending)

    def reload(self) -> None:
        """Load the current view's ids off the GUI thread, newest request wins: the first
        ``FIRST_BATCH`` rows show at once, the full list follows and the table grows."""
        if self.ledger is None:
            return
        view = self.current_view()
        self._generation += 1
        generation = self._generation
        self.count_label.setText("正在读取…")

        def load(limit):
            def work(store, progress):
                return LedgerView(store, view.ledger, view.selection, catalog=store.catalog,
                                  sort=view.sort, descending=view.descending).ids(limit)
            return work

        def first(ids):
            if generation == self._generation:
                self.model.reset(view, ids)

        def full(ids):
            if generation != self._generation:
                return  # a newer search or filter superseded this one
            self.model.extend(view, ids)
            what = "回收站中" if view.selection.deleted else ""
            self.count_label.setText(f"{what}共 {len(ids):,} 条记录" +
                                     ("（已按条件筛选）" if view.selection.filtered else "") +
                                     (self._search_hint(view) if not ids else ""))
            self._update_buttons()
        if not view.selection.search.strip():  # a search is one scan either way: no first batch
            self.ids_runner.run(load(FIRST_BATCH), on_done=first)
        self.ids_runner.run(load(None), on_done=full)

    @staticmethod
    def _search_hint(view: LedgerView) -> str:
        """Why a search by digits found nothing: a number matches only whole (or by its
        last digits, for a role that may reveal)."""
        text = view.selection.search.strip()
        if not text or not text.replace(" ", "").replace("-", "").isalnum():
            return ""
        hint = view.policy.search_miss(text)
        return f"。{hint}" if hint else ""

    def _sort(self, key: str, descending: bool) -> None:
        self.sort_key, self.descending = key, descending
        self.reload()

    # ------------------------------------------------------------ actions
    def _update_buttons(self) -> None:
        deleted = self.recycle.isChecked()
        self.delete_button.setText("恢复" if deleted else "删除")
        self.new_button.setEnabled(not deleted)
        self.edit_button.setEnabled(not deleted)

    def _recycle_toggled(self, _on: bool) -> None:
        self.reload()

    def count_label_text(self, text: str) -> None:
        self.count_label.setText(text)

    def selected_uuid(self) -> str | None:
        index = self.table.currentIndex()
        return self.model.uuid_at(index.row()) if index.isValid() else None

    def _edit_current(self) -> None:
        uid = self.selected_uuid()
        if uid:
            self.open_record(uid)

    def open_record(self, uid: str | None) -> None:
        """Open the record form (new when ``uid`` is None); non-modal."""
        if self.ledger is None or self.recycle.isChecked():
            return
        from .record_form import RecordForm
        form = RecordForm(self.runner, self.reader, self.ledger.id, uuid=uid,
                          reveal=self.reveal.isChecked(), parent=self)
        form.saved.connect(lambda _u: self.after_write())
        form.setAttribute(Qt.WA_DeleteOnClose)
        self.form = form
        form.open()

    def _delete_or_restore(self) -> None:
        uid = self.selected_uuid()
        if uid is None or self.ledger is None:
            return
        lid, restore = self.ledger.id, self.recycle.isChecked()

        def work(store, progress):
            records = store.ledger(lid)
            return records.restore(uid, source="screen:ledger") if restore else \
                records.delete(uid, source="screen:ledger")
        self.runner.run(work, on_done=lambda _r: self.after_write(), parent=self)

    def after_write(self) -> None:
        self.model.invalidate()
        self.reload()
        self.changed.emit()

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        row = self.model.row_at(index.row()) or {}
        menu = QMenu(self)
        if not self.recycle.isChecked():
            menu.addAction("修改…", self._edit_current)
        for link in self.ledger.persons:
            pid = row.get(link.column)
            if pid:
                menu.addAction(f"查看{link.role}的全部台账", lambda pid=pid: self.person_requested.emit(pid))
        uid = self.model.uuid_at(index.row())
        if self.reader.node.level == "district" and uid and not self.recycle.isChecked():
            menu.addAction("写核实意见…",
                           lambda uid=uid: self.review_requested.emit(self.ledger.id, uid))
        menu.addAction("恢复" if self.recycle.isChecked() else "删除（移到回收站）",
                       self._delete_or_restore)
        menu.popup(self.table.viewport().mapToGlobal(pos))
