"""Home: every indicator of the plan grouped by project, with a completion chart."""
from __future__ import annotations

from PySide6.QtCharts import QBarCategoryAxis, QBarSet, QChart, QChartView, QHorizontalBarSeries, QValueAxis
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTreeView, QVBoxLayout, QWidget

from ..core.catalog import Catalog
from ..core.district import ProgressReport

COLUMNS = ("项目 / 指标", "目标", "完成", "完成率", "序时进度", "状态", "责任单位")
LAG = QColor("#c62828")
OK = QColor("#2e7d32")
ID_ROLE = Qt.UserRole + 1


def _num(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}"


def status_text(p) -> str:
    if p.indicator.kind == "qualitative":
        return "定性任务" if not p.notes else f"最近进展 {p.notes[0].get('date', '')}"
    if p.lagging is None:
        return "暂无数据"
    if p.lagging:
        return "▼ 滞后" if p.indicator.kind != "standard" else "▼ 有低于标准的发放"
    return "✔ 已完成" if p.met else "正常"


def rule_changes_text(rule_changes) -> str:
    """The dashboard's note when counting rules changed since the last monthly report."""
    if not rule_changes or not rule_changes[1]:
        return ""
    month, changes = rule_changes
    y, m = month.split("-")
    names = "、".join(c.name for c in changes)
    return (f"<br><span style='color:#8a6d3b'>注意：自{y}年{int(m)}月调度报告以来，{len(changes)} 项指标的"
            f"计数规则已变更（{names}），这些数字与上次报告不可直接比较。</span>")


class IndicatorModel(QStandardItemModel):
    """Projects → indicators, built from one :class:`ProgressReport`."""

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)

    def load(self, catalog: Catalog, report: ProgressReport) -> None:
        self.removeRows(0, self.rowCount())
        by_id = {p.indicator.id: p for p in report.indicators}
        bold = QFont()
        bold.setBold(True)
        for project in catalog.projects:
            head = QStandardItem(project.label)
            head.setFont(bold)
            head.setEditable(False)
            cells = [head] + [QStandardItem("") for _ in COLUMNS[1:]]
            cells[-1].setText("、".join(project.units))
            for c in cells:
                c.setEditable(False)
            for ind in catalog.indicators:
                if ind.projects[0] != project.id or ind.id not in by_id:
                    continue
                head.appendRow(self._row(by_id[ind.id]))
            self.appendRow(cells)

    def _row(self, p) -> list[QStandardItem]:
        ind = p.indicator
        target, achieved, rate = p.target, p.achieved, p.rate
        comparator = {">=": "≥", ">": ">", "=": "=", "<=": "≤"}[ind.comparator]
        cells = [
            ind.name,
            "—" if target is None else f"{comparator}{_num(target)} {ind.unit}",
            "—" if achieved is None else f"{_num(achieved)} {ind.unit}",
            "—" if rate is None else f"{rate:.1f}%",
            "—" if p.expected_rate is None else f"{p.expected_rate:.1f}%",
            status_text(p),
            "、".join(ind.units),
        ]
        items = [QStandardItem(c) for c in cells]
        for i, item in enumerate(items):
            item.setEditable(False)
            item.setData(ind.id, ID_ROLE)
            if 0 < i < 5:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        counting = f"计数规则：{p.counting}" if p.counting else ""
        items[0].setToolTip("\n\n".join(t for t in (ind.text, counting) if t))
        for item in items[1:6]:
            item.setToolTip(counting)
        if p.lagging:
            items[5].setForeground(QBrush(LAG))
            items[0].setForeground(QBrush(LAG))
        elif p.met:
            items[5].setForeground(QBrush(OK))
        return items


class DashboardPage(QWidget):
    """The progress dashboard; emits ``indicator_activated(id)`` on a double click."""

    indicator_activated = Signal(str)
    scope_changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.catalog: Catalog | None = None
        self.report: ProgressReport | None = None
        self.model = IndicatorModel(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.scope = QComboBox()
        self.scope.setMinimumContentsLength(12)
        self.scope.currentIndexChanged.connect(self._scope_chosen)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.resizeSection(0, 300)  # indicator names are long; the units column takes the rest
        for col in range(1, len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.tree.doubleClicked.connect(self._activated)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        self.chart = QChart()
        self.chart.setTitle("完成率与序时进度")
        self.chart.legend().setAlignment(Qt.AlignBottom)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.Antialiasing)
        self.chart_view.setMinimumWidth(320)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("统计范围："))
        top.addWidget(self.scope)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.tree)
        split.addWidget(self.chart_view)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        hint = QLabel("双击指标，打开计入该指标的台账记录。")
        hint.setStyleSheet("color: #666")
        layout.addWidget(hint)

    def set_scopes(self, scopes: list[tuple[str, str]]) -> None:
        """(org code or "", label) choices: the install's own unit first, then its units."""
        self.scope.blockSignals(True)
        self.scope.clear()
        for code, label in scopes:
            self.scope.addItem(label, code)
        self.scope.blockSignals(False)

    def current_scope(self) -> str:
        return self.scope.currentData() or ""

    def show_report(self, catalog: Catalog, report: ProgressReport, rule_changes=None) -> None:
        """``rule_changes``: (month of the last monthly report, the rules changed since)."""
        self.catalog, self.report = catalog, report
        self.model.load(catalog, report)
        self.tree.expandAll()
        lag = sum(1 for p in report.indicators if p.lagging)
        measurable = sum(1 for p in report.indicators if p.indicator.kind != "qualitative")
        done = sum(1 for p in report.indicators if p.met)
        self.summary.setText(
            f"<b>统计日期 {report.as_of:%Y年%m月%d日}</b>　序时进度 {report.expected_rate:.1f}%　"
            f"可量化指标 {measurable} 项：已完成 {done} 项，"
            f"<span style='color:#c62828'>滞后 {lag} 项</span>" + rule_changes_text(rule_changes))
        self._chart_for(None)

    def _scope_chosen(self, _index: int) -> None:
        self.scope_changed.emit(self.current_scope())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid() or self.report is None:
            return
        node = current.siblingAtColumn(0)
        project_index = node.parent() if node.parent().isValid() else node
        self._chart_for(project_index.row())

    def _chart_for(self, project_row: int | None) -> None:
        """Bars of completion vs 序时进度 for one project (default: the lagging indicators)."""
        if self.report is None or self.catalog is None:
            return
        chart = self.chart
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        items = [p for p in self.report.indicators if p.rate is not None]
        if project_row is not None:
            pid = self.catalog.projects[project_row].id
            items = [p for p in items if p.indicator.projects[0] == pid]
            chart.setTitle(f"{self.catalog.projects[project_row].name}：完成率与序时进度")
        else:
            items = [p for p in items if p.lagging][:12] or items[:12]
            chart.setTitle("滞后指标：完成率与序时进度")
        items = list(reversed(items[:12]))
        done = QBarSet("完成率 %")
        expected = QBarSet("序时进度 %")
        done.setColor(QColor("#1565c0"))
        expected.setColor(QColor("#bdbdbd"))
        for p in items:
            done.append(min(p.rate or 0, 150))
            expected.append(p.expected_rate if p.expected_rate is not None else 100)
        series = QHorizontalBarSeries()
        series.append(done)
        series.append(expected)
        chart.addSeries(series)
        labels = QBarCategoryAxis()
        labels.append([p.indicator.name[:14] for p in items] or [""])
        values = QValueAxis()
        values.setRange(0, 120)
        values.setLabelFormat("%d%%")
        chart.addAxis(labels, Qt.AlignLeft)
        chart.addAxis(values, Qt.AlignBottom)
        series.attachAxis(labels)
        series.attachAxis(values)

    def _activated(self, index: QModelIndex) -> None:
        ind_id = index.siblingAtColumn(0).data(ID_ROLE)
        if ind_id:
            self.indicator_activated.emit(ind_id)
