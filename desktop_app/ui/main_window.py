"""The main window: navigation, the as-of date, and the pages."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QDate, QSize, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDateEdit,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from .. import __version__
from ..core.catalog import LEVEL_NAMES
from ..core.district import clamp_as_of, compute
from ..core.errors import StoreError
from ..core.store import Store, counted_selection, policy_for
from .dashboard import DashboardPage
from .district_board import BoardPage
from .district_pages import MonthlyReportDialog
from .district_progress import ConsolidatedPage
from .district_review import DuplicatesPage, ProvenanceView
from .errors import log_folder, show_error
from .import_dialog import ImportDialog
from .import_history import ImportHistoryPage
from .ledger_page import LedgerPage
from .reviews_page import ReviewsPage
from .sync_page import SyncPage
from .tasks import TaskRunner
from .window_security import WindowSecurity
from .window_size import fit_window

NAV_ROLE = Qt.UserRole + 1
DISTRICT_NAV = (  # (key, text, tooltip): the district's pages, only at a district install
    ("district_progress", "全区进度", "各指标全区和分镇的完成情况、责任单位、目标分解"),
    ("board", "报送情况", "各镇数据包的报送、缺包、逾期和报送安排"),
    ("duplicates", "重复计数核实", "同一人（或同一机构）在两个镇、或同一人在两个年度被重复计数"),
    ("reviews", "核实意见", "发给各镇的核实意见和各镇的答复"),
)


class MainWindow(QMainWindow):
    """One store, one logged-in user (``session``; None for a store without users)."""

    def __init__(self, path: Path, session=None):
        super().__init__()
        self.path = Path(path)
        self.session = session
        # the writer holds the store's lock: a second window or command on it is refused
        self.runner = TaskRunner(self.path, self, session=session, exclusive=True)
        self.runner.call(lambda s: None)  # open (and migrate) on the store thread first
        self.ids_runner = TaskRunner(self.path, self, readonly=True, session=session)
        # progress figures (seconds at a district's million rows) beside the table's id loads
        self.figures_runner = TaskRunner(self.path, self, readonly=True, session=session)
        self._warming = self._warm_again = False
        self.reader = Store.open_readonly(self.path)
        self.reader.session = session
        self.node, self.catalog, self.tree = self.reader.node, self.reader.catalog, self.reader.orgs
        org = self.tree.get(self.node.org)
        who = f" — {session.user}（{session.role}）" if session else ""
        self.setWindowTitle(f"民生实事台账 — {org.name}（{LEVEL_NAMES[self.node.level]}级）{who}")
        self.security = WindowSecurity(self)
        fit_window(self, "main", QSize(1360, 820))   # fitted to the screen less its task bar
        self.dashboard = DashboardPage()
        self.dashboard.set_scopes(self._scopes())
        self.dashboard.scope_changed.connect(lambda _code: self.refresh())
        self.dashboard.indicator_activated.connect(self.open_indicator)
        self.ledger_page = LedgerPage(self.runner, self.ids_runner, self.reader)
        self.ledger_page.changed.connect(self._data_changed)
        self.ledger_page.person_requested.connect(self.open_person)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.dashboard)
        self.pages.addWidget(self.ledger_page)
        self.history_page = ImportHistoryPage(self.runner, self.reader)
        self.history_page.changed.connect(self.ledger_page.after_write)
        self.pages.addWidget(self.history_page)
        self.sync_page = SyncPage(self.runner, self.reader)
        self.sync_page.changed.connect(self.ledger_page.after_write)  # counts and progress go stale
        self.pages.addWidget(self.sync_page)
        self.person_page = None
        self.district_pages: dict[str, QWidget] = {}
        if self.node.level == "district":
            self._make_district_pages()
        else:   # the district's 核实意见 of this unit's rows, and this unit's answers
            self.reviews_page = ReviewsPage(self.runner, self.reader)
            self.reviews_page.replied.connect(
                lambda _uid: self.statusBar().showMessage("已保存答复，将随下一个数据包报给区里", 6000))
            self.pages.addWidget(self.reviews_page)
        self._stale = True
        self.nav = QTreeWidget()
        self.nav.setHeaderHidden(True)
        self.nav.setMinimumWidth(230)
        self._fill_nav()
        self.nav.currentItemChanged.connect(self._nav_changed)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.nav)
        split.addWidget(self.pages)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 1100])
        self.setCentralWidget(split)
        if self.district_pages:
            self._make_provenance_dock()
        self._menus()
        self._toolbar()
        self.status = QLabel(f"数据文件：{self.path}")
        self.statusBar().addPermanentWidget(self.status)
        self.security.install()
        self.refresh()

    # ------------------------------------------------------------ chrome
    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("文件(&F)")
        new_record = QAction("新增记录(&N)", self)
        new_record.setShortcut(QKeySequence.New)
        new_record.triggered.connect(self._new_record)
        file_menu.addAction(new_record)
        import_excel = QAction("从 Excel 导入(&I)…", self)
        import_excel.setShortcut("Ctrl+I")
        import_excel.triggered.connect(lambda: self.import_excel())
        file_menu.addAction(import_excel)
        for kind, text in (("data", "导出台账数据(&E)…"), ("template", "生成填报模板(&T)…"),
                           ("report", "导出进展统计表(&R)…")):
            action = QAction(text, self)
            action.triggered.connect(lambda _c=False, kind=kind: self.export(kind))
            file_menu.addAction(action)
        if self.node.level == "district":
            monthly = QAction("生成月度调度报告(&M)…", self)
            monthly.setShortcut("Ctrl+M")
            monthly.triggered.connect(self.open_monthly_report)
            file_menu.addAction(monthly)
        file_menu.addSeparator()
        open_store = QAction("打开数据库(&O)…", self)
        open_store.setShortcut(QKeySequence.Open)
        open_store.triggered.connect(self._open_store)
        file_menu.addAction(open_store)
        create_store = QAction("新建数据库…", self)
        create_store.triggered.connect(self._create_store)
        file_menu.addAction(create_store)
        file_menu.addSeparator()
        quit_action = QAction("退出(&X)", self)
        quit_action.setShortcut(QKeySequence.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view = self.menuBar().addMenu("查看(&V)")
        home = QAction("进度总览(&H)", self)
        home.setShortcut("Ctrl+H")
        home.triggered.connect(lambda: self.nav.setCurrentItem(self.nav.topLevelItem(0)))
        view.addAction(home)
        refresh = QAction("刷新(&R)", self)
        refresh.setShortcut(QKeySequence.Refresh)
        refresh.triggered.connect(self.refresh)
        view.addAction(refresh)
        sync_action = QAction("同步中心(&S)", self)
        sync_action.triggered.connect(lambda: self.nav.setCurrentItem(self._sync_item))
        view.addAction(sync_action)
        history = QAction("导入记录", self)
        history.triggered.connect(self.show_import_history)
        view.addAction(history)
        self.security.fill_menu(self.menuBar().addMenu("用户(&U)"))
        help_menu = self.menuBar().addMenu("帮助(&H)")
        guide = QAction("使用说明(&G)", self)
        guide.setShortcut(QKeySequence.HelpContents)
        guide.triggered.connect(self.show_guide)
        help_menu.addAction(guide)
        data_dir_action = QAction("数据目录(&D)…", self)
        data_dir_action.triggered.connect(self.show_data_dir)
        help_menu.addAction(data_dir_action)
        logs_action = QAction("打开日志文件夹(&L)", self)
        logs_action.setToolTip("程序出错时的记录（不含个人信息），可以发给技术人员")
        logs_action.triggered.connect(self.open_log_folder)
        help_menu.addAction(logs_action)
        about = QAction("关于(&A)", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _toolbar(self) -> None:
        bar = QToolBar("统计日期")
        bar.setMovable(False)
        self.addToolBar(bar)
        bar.addWidget(QLabel(" 统计日期："))
        self.as_of = QDateEdit()
        self.as_of.setCalendarPopup(True)
        self.as_of.setDisplayFormat("yyyy年MM月dd日")
        year = self.catalog.plan_year
        self.as_of.setMinimumDate(QDate(year, 1, 1))
        self.as_of.setMaximumDate(QDate(year, 12, 31))
        today = clamp_as_of(dt.date.today(), year)
        self.as_of.setDate(QDate(today.year, today.month, today.day))
        self.as_of.setToolTip(f"进度按此日期计算（限 {year} 年内），默认为今天")
        self.as_of.dateChanged.connect(lambda _d: self.refresh())
        bar.addWidget(self.as_of)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(QLabel(f"计划：{self.catalog.title}（{self.catalog.version}） "))

    def _fill_nav(self) -> None:
        home = QTreeWidgetItem(["进度总览"])
        home.setData(0, NAV_ROLE, ("home", None))
        self.nav.addTopLevelItem(home)
        people = QTreeWidgetItem(["人员主档"])
        people.setData(0, NAV_ROLE, ("person", None))
        self.nav.addTopLevelItem(people)
        self._sync_item = QTreeWidgetItem(["同步中心"])
        self._sync_item.setData(0, NAV_ROLE, ("sync", None))
        self._sync_item.setToolTip(0, "配置文件、数据包的发送与接收、冲突核对")
        self.nav.addTopLevelItem(self._sync_item)
        if self.node.level != "district":
            reviews = QTreeWidgetItem(["核实意见"])
            reviews.setData(0, NAV_ROLE, ("reviews", None))
            reviews.setToolTip(0, "区里对本单位记录的核实意见，以及本单位的答复")
            self.nav.addTopLevelItem(reviews)
        self._district_items: dict[str, QTreeWidgetItem] = {}
        if self.node.level == "district":
            group = QTreeWidgetItem(["区级工作"])
            group.setData(0, NAV_ROLE, ("district", DISTRICT_NAV[0][0]))
            for key, text, tip in DISTRICT_NAV:
                child = QTreeWidgetItem([text])
                child.setData(0, NAV_ROLE, ("district", key))
                child.setToolTip(0, tip)
                group.addChild(child)
                self._district_items[key] = child
            self.nav.addTopLevelItem(group)
        self._ledger_items: dict[str, QTreeWidgetItem] = {}
        for project in self.catalog.projects:
            ledgers = [led for led in self.catalog.ledgers if led.project == project.id]
            if not ledgers:
                continue
            item = QTreeWidgetItem([project.label])
            item.setData(0, NAV_ROLE, ("project", project.id))
            item.setToolTip(0, project.text)
            for led in ledgers:
                child = QTreeWidgetItem([led.label])
                child.setData(0, NAV_ROLE, ("ledger", led.id))
                item.addChild(child)
                self._ledger_items[led.id] = child
            self.nav.addTopLevelItem(item)
        self.nav.expandAll()
        self.nav.setCurrentItem(home)

    def _refresh_counts(self) -> None:
        ids = list(self._ledger_items)

        def counts(store, progress):
            return {lid: store.ledger(lid).count() for lid in ids}

        def show(result):
            for lid, n in result.items():
                led = self.catalog.ledger(lid)
                self._ledger_items[lid].setText(0, f"{led.label}（{n:,}）")
        self.ids_runner.run(counts, on_done=show)

    def _scopes(self) -> list[tuple[str, str]]:
        """The 统计范围 choices: the whole install (or, for a user bound to a unit, that unit)
        and each unit right below it."""
        own = self.tree.get(policy_for(self.reader).default_org(self.node.org))
        if own.code != self.node.org:
            label = f"本单位（{own.name}）"
        else:
            label = {"district": "全区", "town": f"全镇（{own.name}）", "village": own.name}[own.level]
        return [("", label)] + [(o.code, o.name) for o in self.tree.children(own.code)]

    def as_of_date(self) -> dt.date:
        d = self.as_of.date()
        return dt.date(d.year(), d.month(), d.day())

    # ------------------------------------------------------------ navigation
    def _nav_changed(self, current: QTreeWidgetItem, _previous) -> None:
        if current is None:
            return
        kind, key = current.data(0, NAV_ROLE)
        if kind == "home":
            self.pages.setCurrentWidget(self.dashboard)
            if self._stale:
                self.refresh()
        elif kind == "ledger":
            self.ledger_page.show_ledger(key)
            self.pages.setCurrentWidget(self.ledger_page)
        elif kind == "person":
            self.open_person(None)
        elif kind == "sync":
            self.sync_page.refresh()
            self.pages.setCurrentWidget(self.sync_page)
        elif kind == "reviews":
            self.reviews_page.refresh()
            self.pages.setCurrentWidget(self.reviews_page)
        elif kind == "district":
            self.show_district_page(key)

    def open_indicator(self, indicator_id: str) -> None:
        """Drill down from the dashboard: the ledger filtered to the rows an indicator counts."""
        self.open_indicator_at(indicator_id, self.dashboard.current_scope() or self.node.org)

    def open_indicator_at(self, indicator_id: str, org: str) -> None:
        """The ledger filtered to the rows an indicator counts for ``org`` (a drill-down)."""
        lid, counted = counted_selection(self.catalog, indicator_id, self.as_of_date(), org)
        item = self._ledger_items[lid]
        self.nav.blockSignals(True)
        self.nav.setCurrentItem(item)
        self.nav.blockSignals(False)
        self.ledger_page.show_ledger(lid, counted)
        self.pages.setCurrentWidget(self.ledger_page)

    # ------------------------------------------------------------ district
    def _make_district_pages(self) -> None:
        self.board_page = BoardPage(self.runner, self.reader)
        self.progress_page = ConsolidatedPage(self.runner, self.reader)
        self.progress_page.drill.connect(self.open_indicator_at)
        self.progress_page.changed.connect(self._data_changed)        # quotas: targets changed
        self.duplicates_page = DuplicatesPage(self.runner, self.reader)
        self.duplicates_page.changed.connect(self._data_changed)      # a row stopped counting
        self.reviews_page = ReviewsPage(self.runner, self.reader)
        self.reviews_page.flagged.connect(
            lambda _rid: self.statusBar().showMessage("已保存核实意见，将随下一个核实意见数据包发给该镇", 6000))
        self.ledger_page.review_requested.connect(
            lambda lid, uid: self.reviews_page.ask_flag(lid, uid, self))
        self.district_pages = {"district_progress": self.progress_page, "board": self.board_page,
                               "duplicates": self.duplicates_page, "reviews": self.reviews_page}
        for page in self.district_pages.values():
            self.pages.addWidget(page)

    def _make_provenance_dock(self) -> None:
        """记录来历 of the ledger row under the cursor (a drill-down row shows where it came from)."""
        self.provenance_view = ProvenanceView(self.reader, title="所选记录的来历")
        dock = QDockWidget("记录来历", self)
        dock.setObjectName("provenance")
        dock.setWidget(self.provenance_view)
        dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        dock.hide()
        self.provenance_dock = dock
        self.ledger_page.table.selectionModel().currentRowChanged.connect(
            lambda *_: self._show_provenance())

    def _show_provenance(self) -> None:
        uid = self.ledger_page.selected_uuid()
        if uid and self.ledger_page.ledger is not None and not self.ledger_page.recycle.isChecked():
            self.provenance_view.show_row(self.ledger_page.ledger.id, uid)
            self.provenance_dock.show()

    def show_district_page(self, key: str) -> None:
        page = self.district_pages[key]
        if key in ("board", "district_progress"):
            page.refresh(self.as_of_date())
        else:
            page.refresh()
        self.pages.setCurrentWidget(page)

    def open_monthly_report(self) -> None:
        dialog = MonthlyReportDialog(self.runner, self.reader, parent=self, today=self.as_of_date())
        dialog.generated.connect(
            lambda xlsx, pdf: self.statusBar().showMessage(f"已生成：{xlsx.name}、{pdf.name}", 8000))
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        self.monthly_dialog = dialog
        dialog.open()

    def open_person(self, person_uuid: str | None) -> None:
        from .person_page import PersonPage
        if self.person_page is None:
            self.person_page = PersonPage(self.reader)
            self.person_page.open_record.connect(self._open_record_from_person)
            self.pages.addWidget(self.person_page)
        # the reveal choice (audited) made on the ledger page holds here too
        self.person_page.set_reveal(self.ledger_page.reveal.isChecked())
        if person_uuid:
            self.person_page.show_person(person_uuid)
        self.pages.setCurrentWidget(self.person_page)

    def _open_record_from_person(self, ledger_id: str, uid: str) -> None:
        self.nav.setCurrentItem(self._ledger_items[ledger_id])
        self.ledger_page.open_record(uid)

    def _new_record(self) -> None:
        if self.pages.currentWidget() is self.ledger_page:
            self.ledger_page.open_record(None)
        else:
            self.statusBar().showMessage("请先在左侧选择一个台账，再新增记录", 4000)

    def export(self, kind: str) -> None:
        """Open the export dialog ("data", "template" or "report")."""
        from .export_dialog import ExportDialog
        ledger = self.ledger_page.ledger.id if self.ledger_page.ledger else None
        dialog = ExportDialog(self.runner, self.reader, kind, ledger_id=ledger,
                              as_of=self.as_of_date(), scope=self.dashboard.current_scope() or None,
                              parent=self)
        dialog.done.connect(lambda path: self.statusBar().showMessage(f"已保存：{path}", 8000))
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        self.export_dialog = dialog
        dialog.open()

    def import_excel(self, files=None) -> None:
        dialog = ImportDialog(self.runner, self.reader, files=files, parent=self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.imported.connect(self._imported)
        dialog.open()

    def _imported(self, _results) -> None:
        self.ledger_page.after_write()  # reloads the ledger shown and marks counts/progress stale
        self.history_page.refresh()

    def show_import_history(self) -> None:
        self.history_page.refresh()
        self.pages.setCurrentWidget(self.history_page)

    # ------------------------------------------------------------ actions
    def refresh(self) -> None:
        as_of = self.as_of_date()
        scope = self.dashboard.current_scope() or None
        self._stale = False
        current = self.pages.currentWidget()
        if current in (self.district_pages.get("board"), self.district_pages.get("district_progress")):
            current.refresh(as_of)
        def work(store, progress):
            from ..core.district import changed_since_last_report
            return compute(store, as_of, scope=scope), changed_since_last_report(store)
        self.figures_runner.run(work,
                                on_done=lambda result: self.dashboard.show_report(self.catalog, *result),
                                label="正在计算进度…", parent=self)
        self._refresh_counts()

    def _data_changed(self) -> None:
        self._stale = True
        self._refresh_counts()
        self._warm_figures()

    def _warm_figures(self) -> None:
        """After a change (a save, an import, packages merged), work out the dashboard's
        figures in the background, silently: core keeps them until the next change, so the
        dashboard and 全区进度 then show them at once instead of computing when opened."""
        if self._warming:
            self._warm_again = True
            return
        self._warming, self._warm_again = True, False
        as_of, scope = self.as_of_date(), self.dashboard.current_scope() or None

        def done(_result=None) -> None:
            self._warming = False
            if self._warm_again:
                self._warm_figures()
        self.figures_runner.run(lambda store, progress: compute(store, as_of, scope=scope),
                                on_done=done, on_error=done)

    def _open_store(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "打开数据库", str(self.path.parent),
                                              "台账数据库 (*.sqlite3);;所有文件 (*)")
        if path:
            self.switch_to(Path(path))

    def _create_store(self) -> None:
        from .setup_dialog import SetupDialog
        dialog = SetupDialog(self)
        dialog.finished_setup.connect(lambda p: p and self.switch_to(Path(p)))
        dialog.open()

    def switch_to(self, path: Path) -> None:
        """Open another store (after its log-in) in a new window and close this one."""
        if Path(path).resolve() == self.path.resolve():
            return
        if open_window(path, parent=self) is not None:
            self.close()

    def show_guide(self) -> None:
        from .help_dialog import HelpDialog
        dialog = HelpDialog(self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        self.help_dialog = dialog
        dialog.open()

    def show_data_dir(self) -> None:
        from .help_dialog import open_folder
        box = QMessageBox(QMessageBox.Information, "数据目录",
                          f"本机的数据文件：\n{self.path}\n\n所在文件夹：\n{self.path.parent}\n\n"
                          "程序和数据分开存放：升级或重装程序不会删除这里的数据。", QMessageBox.Ok, self)
        show = box.addButton("打开文件夹", QMessageBox.ActionRole)
        show.clicked.connect(lambda: open_folder(self.path.parent))
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    def log_folder_url(self) -> QUrl:
        """Where 帮助 → 打开日志文件夹 goes: the folder of the log file."""
        return QUrl.fromLocalFile(str(log_folder()))

    def open_log_folder(self) -> bool:
        """帮助 → 打开日志文件夹 (made when missing: no error logged yet)."""
        try:
            log_folder().mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            show_error(exc, self)
            return False
        return QDesktopServices.openUrl(self.log_folder_url())

    def _about(self) -> None:
        QMessageBox.about(self, "关于", f"民生实事台账 {__version__}\n\n离线记录民生实事台账，"
                                       "以增量数据包逐级上报，按计划指标统计进度。")

    def close_store(self) -> None:
        """Close every handle on the store (safe to call twice)."""
        # readers first: the writer, closing last, checkpoints and removes the -wal file
        self.reader.close()
        self.ids_runner.shutdown()
        self.figures_runner.shutdown()
        self.runner.shutdown()

    def closeEvent(self, event) -> None:
        self.close_store()
        _windows.discard(self)
        super().closeEvent(event)


_windows: set[MainWindow] = set()  # top-level windows opened by open_window stay alive


def open_window(path: Path, parent=None) -> MainWindow | None:
    """Check the store, log in, and show its window (None when refused or cancelled)."""
    from .app import remember_store
    from .startup import check_after_login, log_in, open_store_or_explain
    path = Path(path)
    if not open_store_or_explain(path, parent):
        return None
    session = log_in(path, parent)
    if session is None or not check_after_login(path, session, parent):
        return None
    try:
        window = MainWindow(path, session)
    except StoreError as exc:
        QMessageBox.critical(parent, "无法打开数据库", str(exc))
        return None
    _windows.add(window)
    from .app import data_dir
    if path.resolve() != (data_dir() / "示例数据.sqlite3").resolve():
        remember_store(path)  # trying the demo once must not skip the setup later
    window.show()
    return window
