"""The main window: menus, the as-of date, and the pages."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDateEdit, QLabel, QMainWindow, QMessageBox, QStackedWidget,
                               QToolBar, QWidget, QSizePolicy)

from .. import __version__
from ..core.orgs import LEVEL_NAMES
from ..core.progress import clamp_as_of, compute
from .dashboard import DashboardPage
from .tasks import TaskRunner


class MainWindow(QMainWindow):
    def __init__(self, path: Path, runner: TaskRunner | None = None):
        super().__init__()
        self.path = Path(path)
        self.runner = runner or TaskRunner(self.path, self)
        info = self.runner.call(lambda s: (s.node, s.catalog, s.orgs))
        self.node, self.catalog, self.tree = info
        org = self.tree.get(self.node.org)
        self.setWindowTitle(f"民生实事台账 — {org.name}（{LEVEL_NAMES[self.node.level]}级）")
        self.resize(1280, 800)
        self.dashboard = DashboardPage()
        self.dashboard.set_scopes(self._scopes())
        self.dashboard.scope_changed.connect(lambda _code: self.refresh())
        self.pages = QStackedWidget()
        self.pages.addWidget(self.dashboard)
        self.setCentralWidget(self.pages)
        self._menus()
        self._toolbar()
        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status)
        self.status.setText(f"数据文件：{self.path}")
        self.refresh()

    # -- chrome
    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("文件(&F)")
        quit_action = QAction("退出(&X)", self)
        quit_action.setShortcut(QKeySequence.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view = self.menuBar().addMenu("查看(&V)")
        refresh = QAction("刷新进度(&R)", self)
        refresh.setShortcut(QKeySequence.Refresh)
        refresh.triggered.connect(self.refresh)
        view.addAction(refresh)
        help_menu = self.menuBar().addMenu("帮助(&H)")
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

    def _scopes(self) -> list[tuple[str, str]]:
        own = self.tree.get(self.node.org)
        label = {"district": "全区", "town": f"全镇（{own.name}）", "village": own.name}[own.level]
        scopes = [("", label)]
        scopes += [(o.code, o.name) for o in self.tree.children(own.code)]
        return scopes

    def as_of_date(self) -> dt.date:
        d = self.as_of.date()
        return dt.date(d.year(), d.month(), d.day())

    # -- actions
    def refresh(self) -> None:
        as_of = self.as_of_date()
        scope = self.dashboard.current_scope() or None
        self.runner.run(lambda store, progress: compute(store, as_of, scope=scope),
                        on_done=lambda report: self.dashboard.show_report(self.catalog, report),
                        label="正在计算进度…", parent=self)

    def _about(self) -> None:
        QMessageBox.about(self, "关于", f"民生实事台账 {__version__}\n\n离线记录民生实事台账，"
                                       "以增量数据包逐级上报，按计划指标统计进度。")

    def closeEvent(self, event) -> None:
        self.runner.shutdown()
        super().closeEvent(event)
