"""全区进度: every indicator district-wide, a column per town, the 责任单位 view and 目标分解.

    page = ConsolidatedPage(runner, reader)
    page.drill.connect(window.open_counted_rows)   # (indicator id, org code)
    page.refresh(as_of)                            # core.progress.compute on the store thread

The figures are those of :func:`~desktop_app.core.district.progress.compute` for the
district: the total (achieved / target, 完成率) and, per town, its ``by_org``
figure (achieved / the town's quota, or the target core gives it). The 责任单位
selector puts that unit's indicators first (只看本单位 hides the rest). The quota
editor calls ``store.set_quota`` on the runner; quotas reach the towns in the
district's profile. Double-clicking a figure emits ``drill(indicator_id, org_code)``
(the district's code for the total); the window opens the counted rows.

For tests: ``refresh``, ``set_unit``, ``select``, ``set_quota`` and the signals
``loaded``, ``quota_saved``, ``changed``, ``drill`` and ``failed``.
"""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QDoubleValidator, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.district import IndicatorProgress, OrgFigure, ProgressReport, clamp_as_of, compute
from ..core.catalog import load_choices, save_choices
from .district_pages import failure, fmt_num, title_label
from .style import GREEN, GREY, RED
from .tables import hint_label, make_table, message_label, say

ALL_UNITS = "全部责任单位"
FIXED = ("项目", "指标", "责任单位", "全区（完成 / 目标）", "完成率")
TOTAL_COL, RATE_COL = 3, 4
ID_ROLE = Qt.UserRole + 1
ORG_ROLE = Qt.UserRole + 2
SIGNS = {">=": "", ">": ">", "=": "=", "<=": "≤"}
DRILL_HINT = "双击查看计入的记录"


def catalog_units(catalog) -> list[str]:
    """Every 责任单位 named by the catalog's indicators, in the order they first appear."""
    out: list[str] = []
    for ind in catalog.indicators:
        out += [u for u in ind.units if u not in out]
    return out


def _pair(achieved, target, comparator: str, unit: str = "") -> str:
    text = fmt_num(achieved)
    if target is not None:
        text += f" / {SIGNS.get(comparator, '')}{fmt_num(target)}"
    return f"{text} {unit}".rstrip() if achieved is not None or target is not None else "—"


class ConsolidatedModel(QAbstractTableModel):
    """Indicators × (total, towns) from one district :class:`ProgressReport`."""

    def __init__(self, district: str, parent=None):
        super().__init__(parent)
        self.district = district
        self.rows: list[IndicatorProgress] = []
        self.orgs: list[tuple[str, str]] = []     # (code, name) of the town columns
        self.unit: str | None = None
        self._figures: list[dict[str, OrgFigure]] = []
        self._projects: dict[str, str] = {}

    def load(self, rows: list[IndicatorProgress], orgs: list[tuple[str, str]],
             projects: dict[str, str], unit: str | None) -> None:
        self.beginResetModel()
        self.rows, self.orgs, self._projects, self.unit = list(rows), list(orgs), projects, unit
        self._figures = [{f.org: f for f in p.by_org} for p in self.rows]
        self.endResetModel()

    def org_at(self, column: int) -> str | None:
        """The org a column's figures are of: the district for the fixed columns."""
        if 0 <= column < len(FIXED):
            return self.district
        i = column - len(FIXED)
        return self.orgs[i][0] if 0 <= i < len(self.orgs) else None

    def column_of(self, org: str) -> int | None:
        for i, (code, _name) in enumerate(self.orgs):
            if code == org:
                return len(FIXED) + i
        return None

    def figure(self, row: int, column: int) -> OrgFigure | None:
        org = self.org_at(column)
        if column < len(FIXED) or org is None:
            return None
        return self._figures[row].get(org)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(FIXED) + len(self.orgs)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation != Qt.Horizontal:
            return section + 1 if role == Qt.DisplayRole else None
        if not 0 <= section < self.columnCount():
            return None
        if role == Qt.DisplayRole:
            return FIXED[section] if section < len(FIXED) else self.orgs[section - len(FIXED)][1]
        if role == Qt.ToolTipRole and section >= len(FIXED):
            return f"{self.orgs[section - len(FIXED)][1]}：完成 / 分解目标（区未分解的只显示完成数）"
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        p, col = self.rows[index.row()], index.column()
        ind = p.indicator
        if role == ID_ROLE:
            return ind.id
        if role == ORG_ROLE:
            return self.org_at(col)
        if role == Qt.DisplayRole:
            return self._text(index.row(), col)
        if role == Qt.ToolTipRole:
            return self._tip(index.row(), col)
        if role == Qt.ForegroundRole and p.lagging and col in (1, TOTAL_COL, RATE_COL):
            return QBrush(QColor(RED))
        if role == Qt.FontRole and col == 2 and self.unit and self.unit in ind.units:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.TextAlignmentRole and col >= TOTAL_COL:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def _text(self, row: int, col: int) -> str:
        p = self.rows[row]
        ind = p.indicator
        if col == 0:
            return self._projects.get(ind.projects[0], ind.projects[0])
        if col == 1:
            return ind.name
        if col == 2:
            return "、".join(ind.units)
        if ind.kind == "qualitative":
            return "定性任务" if col == TOTAL_COL else "—"
        if col == TOTAL_COL:
            return _pair(p.achieved, p.target, ind.comparator, ind.unit)
        if col == RATE_COL:
            return "—" if p.rate is None else f"{p.rate:.1f}%"
        f = self.figure(row, col)
        return "—" if f is None else _pair(f.achieved, f.target, ind.comparator)

    def _tip(self, row: int, col: int) -> str | None:
        p = self.rows[row]
        ind = p.indicator
        if col == 1:
            return ind.text or ind.name
        if col < TOTAL_COL:
            return None
        if col in (TOTAL_COL, RATE_COL):
            if ind.kind == "qualitative":
                return f"定性任务，{DRILL_HINT}"
            expected = "" if p.expected_rate is None else f"，序时进度 {p.expected_rate:.1f}%"
            state = "，滞后" if p.lagging else ("，已完成" if p.met else "")
            return (f"全区：完成 {fmt_num(p.achieved)} {ind.unit}，目标 {fmt_num(p.target)} {ind.unit}"
                    f"{'' if p.rate is None else f'，完成率 {p.rate:.1f}%'}{expected}{state}\n{DRILL_HINT}")
        f = self.figure(row, col)
        name = self.orgs[col - len(FIXED)][1]
        if f is None or ind.kind == "qualitative":
            return f"{name}：没有这项数字\n{DRILL_HINT}"
        target = ("未分解目标" if f.target is None else f"目标 {fmt_num(f.target)} {ind.unit}")
        rate = "" if f.rate is None else f"，完成率 {f.rate:.1f}%"
        return f"{name}：完成 {fmt_num(f.achieved)} {ind.unit}，{target}{rate}\n{DRILL_HINT}"


class ConsolidatedPage(QWidget):
    """全区进度 of a district install; ``drill(indicator_id, org_code)`` on a double click."""

    drill = Signal(str, str)
    loaded = Signal()
    quota_saved = Signal(str, str, object)    # indicator id, town code, target (None: cleared)
    changed = Signal()                        # targets changed: other progress views are stale
    failed = Signal(str)

    def __init__(self, runner, reader, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.catalog = reader.catalog
        self.district = reader.node.org
        self.as_of: dt.date | None = None
        self.report: ProgressReport | None = None
        self.model = ConsolidatedModel(self.district, self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.unit = QComboBox()
        self.unit.addItem(ALL_UNITS, None)
        for u in catalog_units(self.catalog):
            self.unit.addItem(u, u)
        self.unit.setMinimumContentsLength(14)
        self.unit.currentIndexChanged.connect(lambda _i: self._reorder())
        self.only_unit = QCheckBox("只看本单位")
        self.only_unit.setEnabled(False)
        self.only_unit.toggled.connect(lambda _on: self._reorder())
        self.refresh_button = QPushButton("刷新")
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.table = make_table(self.model, (150, 260, 150, 160, 70))
        self.table.setSelectionBehavior(self.table.SelectionBehavior.SelectItems)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.doubleClicked.connect(self._activated)
        self.table.selectionModel().currentChanged.connect(lambda cur, _prev: self._current_changed(cur))
        self._build_quota_editor()
        top = QHBoxLayout()
        top.addWidget(title_label("全区进度"))
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("责任单位："))
        top.addWidget(self.unit)
        top.addWidget(self.only_unit)
        top.addWidget(self.refresh_button)
        hint = hint_label("每个镇一列：完成 / 分解目标。双击数字，打开计入该数字的台账记录。")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(hint)
        layout.addWidget(self.quota_box)

    def _build_quota_editor(self) -> None:
        self.quota_box = QGroupBox("目标分解（区把指标分解到各镇，随区的配置文件发给各镇）")
        self.quota_indicator = QLabel("先在表中选择一个指标")
        self.quota_town = QComboBox()
        for town in self.reader.orgs.children(self.district):
            self.quota_town.addItem(town.name, town.code)
        self.quota_town.currentIndexChanged.connect(lambda _i: self._show_quota())
        self.quota_value = QLineEdit()
        self.quota_value.setPlaceholderText("分解目标，例如 600")
        validator = QDoubleValidator(0, 1e12, 3, self)
        validator.setNotation(QDoubleValidator.StandardNotation)
        self.quota_value.setValidator(validator)
        self.quota_value.returnPressed.connect(self._save_clicked)
        self.quota_current = QLabel()
        self.quota_save = QPushButton("保存分解目标")
        self.quota_save.setProperty("permission", "admin")
        self.quota_save.clicked.connect(self._save_clicked)
        self.quota_clear = QPushButton("取消分解")
        self.quota_clear.setProperty("permission", "admin")
        self.quota_clear.setToolTip("删除这个镇的分解目标")
        self.quota_clear.clicked.connect(self._clear_clicked)
        self.quota_message = message_label()
        row = QHBoxLayout()
        for w in (self.quota_indicator, QLabel("单位"), self.quota_town, self.quota_value,
                  self.quota_save, self.quota_clear, self.quota_current):
            row.addWidget(w)
        row.addStretch(1)
        # 牵头责任单位: the plan names units per project; the district picks the lead
        self.lead_unit = QComboBox()
        self.lead_unit.setMinimumContentsLength(12)
        self.lead_current = QLabel()
        self.lead_save = QPushButton("设为牵头单位")
        self.lead_save.setProperty("permission", "admin")
        self.lead_save.clicked.connect(lambda: self._lead_clicked(False))
        self.lead_reset = QPushButton("恢复目录原定")
        self.lead_reset.setProperty("permission", "admin")
        self.lead_reset.clicked.connect(lambda: self._lead_clicked(True))
        lead_row = QHBoxLayout()
        for w in (QLabel("牵头责任单位"), self.lead_unit, self.lead_save, self.lead_reset, self.lead_current):
            lead_row.addWidget(w)
        lead_row.addStretch(1)
        box = QVBoxLayout(self.quota_box)
        box.addLayout(row)
        box.addLayout(lead_row)
        box.addWidget(self.quota_message)
        self._quota_indicator_id: str | None = None
        self._enable_quota()
        self._show_lead()

    # ------------------------------------------------------------ reading
    def refresh(self, as_of: dt.date | None = None) -> None:
        """Compute the district's progress as of a date on the store thread."""
        self.as_of = clamp_as_of(as_of or self.as_of or dt.date.today(), self.catalog.plan_year)
        day = self.as_of
        self.summary.setText("正在计算…")
        self.runner.run(lambda store, progress: compute(store, day), on_done=self._loaded,
                        on_error=self._failed, label="正在计算全区进度…", parent=self)

    def _loaded(self, report: ProgressReport) -> None:
        self.report = report
        lag = sum(1 for p in report.indicators if p.lagging)
        self.summary.setText(f"统计日期 {report.as_of:%Y年%m月%d日}　序时进度 {report.expected_rate:.1f}%　"
                             f"<span style='color:{RED}'>滞后 {lag} 项</span>")
        self._reorder()
        self.loaded.emit()

    def _columns(self) -> list[tuple[str, str]]:
        """The towns, then any other unit a figure is reported for (区本级 rows)."""
        tree = self.reader.orgs
        cols = [(t.code, t.name) for t in tree.children(self.district)]
        known = {c for c, _ in cols}
        for p in self.report.indicators if self.report else []:
            for f in p.by_org:
                if f.org not in known:
                    known.add(f.org)
                    cols.append((f.org, f.name))
        return cols

    def ordered(self) -> list[IndicatorProgress]:
        """Catalog order by project; the chosen unit's indicators first (or only)."""
        if self.report is None:
            return []
        rank = {p.id: i for i, p in enumerate(self.catalog.projects)}
        rows = sorted(self.report.indicators, key=lambda p: rank.get(p.indicator.projects[0], len(rank)))
        unit = self.unit.currentData()
        if unit:
            mine = [p for p in rows if unit in p.indicator.units]
            rows = mine if self.only_unit.isChecked() else mine + [p for p in rows if unit not in p.indicator.units]
        return rows

    def _reorder(self) -> None:
        self.only_unit.setEnabled(self.unit.currentData() is not None)
        keep = self._quota_indicator_id
        self.model.load(self.ordered(), self._columns(),
                        {p.id: p.label for p in self.catalog.projects}, self.unit.currentData())
        for col in range(len(FIXED), self.model.columnCount()):
            self.table.setColumnWidth(col, 110)
        if keep:
            self.select(keep)

    def set_unit(self, unit: str | None, only: bool = False) -> None:
        """Show ``unit``'s indicators first (``only``: only them); None: all in catalog order."""
        for w in (self.only_unit, self.unit):
            w.blockSignals(True)
        self.only_unit.setChecked(only)
        self.unit.setCurrentIndex(max(self.unit.findData(unit), 0) if unit else 0)
        for w in (self.only_unit, self.unit):
            w.blockSignals(False)
        self._reorder()

    def select(self, indicator_id: str, org: str | None = None) -> bool:
        """Select an indicator's figure for ``org`` (a town) or its total."""
        for row, p in enumerate(self.model.rows):
            if p.indicator.id == indicator_id:
                col = self.model.column_of(org) if org else None
                self.table.setCurrentIndex(self.model.index(row, col if col is not None else TOTAL_COL))
                return True
        return False

    # ------------------------------------------------------------ drill-down
    def _activated(self, index: QModelIndex) -> None:
        ind_id, org = index.data(ID_ROLE), index.data(ORG_ROLE)
        if ind_id and org:
            self.drill.emit(ind_id, org)

    # ------------------------------------------------------------ quotas
    def _current_changed(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        self._quota_indicator_id = index.data(ID_ROLE)
        org = self.model.org_at(index.column())
        if index.column() >= len(FIXED):
            i = self.quota_town.findData(org)
            if i >= 0:
                self.quota_town.setCurrentIndex(i)
        self._enable_quota()
        self._show_quota()
        self._show_lead()

    # ------------------------------------------------------------ lead units
    def _show_lead(self) -> None:
        ind = self._indicator()
        self.lead_unit.clear()
        for w in (self.lead_unit, self.lead_save, self.lead_reset):
            w.setEnabled(ind is not None)
        if ind is None:
            self.lead_current.clear()
            return
        now = load_choices(self.reader).units(ind)
        for u in self.catalog.project_units(ind):
            self.lead_unit.addItem(u, u)
        self.lead_unit.setCurrentIndex(max(self.lead_unit.findData(now[0]), 0))
        origin = ("目录原定" if now == ind.units else f"区里确定，目录原定为{'、'.join(ind.units)}")
        chosen = "（方案按项目列责任单位，由目录选定）" if ind.units_chosen and now == ind.units else ""
        self.lead_current.setText(f"当前：{'、'.join(now)}（{origin}）{chosen}")

    def _lead_clicked(self, reset: bool) -> None:
        ind = self._indicator()
        if ind is None:
            return
        units = None if reset else [self.lead_unit.currentData()]
        say(self.quota_message, "正在保存…", GREY)
        self.runner.run(lambda store, progress: save_choices(
                            store, load_choices(store).with_leads(store.catalog, ind.id, units)),
                        on_done=lambda choices: self._lead_done(ind.id, choices.units(ind)),
                        on_error=self._failed, label="正在保存牵头责任单位…", parent=self)

    def _lead_done(self, indicator_id: str, units) -> None:
        ind = self.catalog.indicator(indicator_id)
        say(self.quota_message, f"已保存：{ind.name}的牵头责任单位为{'、'.join(units)}。"
                                "各镇导入区的新配置文件后生效（同步中心 → 导出配置文件）。", GREEN)
        self._show_lead()
        self.changed.emit()
        self.refresh()

    def _indicator(self):
        return self.catalog.indicator(self._quota_indicator_id) if self._quota_indicator_id else None

    def _enable_quota(self) -> None:
        ind = self._indicator()
        usable = ind is not None and ind.kind != "qualitative"
        for w in (self.quota_town, self.quota_value, self.quota_save, self.quota_clear):
            w.setEnabled(usable)
        if ind is None:
            self.quota_indicator.setText("先在表中选择一个指标")
        elif ind.kind == "qualitative":
            self.quota_indicator.setText(f"{ind.name}：定性任务，没有可分解的数字")
        else:
            self.quota_indicator.setText(f"{ind.name}（全区目标 {fmt_num(ind.target)} {ind.unit}）")

    def _show_quota(self) -> None:
        ind = self._indicator()
        if ind is None:
            self.quota_current.clear()
            return
        current = self.reader.quotas().get((ind.id, self.quota_town.currentData()))
        self.quota_current.setText("当前：未分解" if current is None else
                                   f"当前：{fmt_num(current)} {ind.unit}")
        self.quota_value.setText("" if current is None else fmt_num(current).replace(",", ""))

    def _save_clicked(self) -> None:
        ind = self._indicator()
        if ind is None:
            return
        text = self.quota_value.text().strip().replace(",", "")
        try:
            target = float(text)
        except ValueError:
            say(self.quota_message, "请填写分解目标（数字），或点“取消分解”", RED)
            return
        self.set_quota(ind.id, self.quota_town.currentData(), target)

    def _clear_clicked(self) -> None:
        ind = self._indicator()
        if ind is not None:
            self.set_quota(ind.id, self.quota_town.currentData(), None)

    def set_quota(self, indicator_id: str, org: str, target: float | None) -> None:
        """Set (None: remove) a town's quota on the store thread; ``quota_saved`` follows."""
        self.quota_save.setEnabled(False)
        say(self.quota_message, "正在保存…", GREY)
        self.runner.run(lambda store, progress: store.set_quota(indicator_id, org, target),
                        on_done=lambda _r: self._quota_done(indicator_id, org, target),
                        on_error=self._failed, label="正在保存分解目标…", parent=self)

    def _quota_done(self, indicator_id: str, org: str, target: float | None) -> None:
        self._enable_quota()
        ind = self.catalog.indicator(indicator_id)
        town = self.reader.orgs.get(org)
        name = town.name if town else org
        text = (f"已取消{name}的分解目标（{ind.name}）。" if target is None else
                f"已保存：{name}的分解目标 {fmt_num(target)} {ind.unit}（{ind.name}）。")
        say(self.quota_message, text + "各镇导入区的新配置文件后生效（同步中心 → 导出配置文件）。", GREEN)
        self._show_quota()
        self.quota_saved.emit(indicator_id, org, target)
        self.changed.emit()
        self.refresh()

    def _failed(self, error: BaseException) -> None:
        self._enable_quota()
        if self.summary.text() == "正在计算…":
            self.summary.clear()
        text = failure(self.quota_message, error, self)
        self.failed.emit(text or type(error).__name__)
