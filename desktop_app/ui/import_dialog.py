"""The Excel import wizard: 选择文件 → 核对列 → 预览 → 结果.

    dialog = ImportDialog(runner, reader, files=paths, parent=window)
    dialog.imported.connect(window.after_import)  # result dicts, shaped as the CLI's --json
    dialog.open()

Every decision is core's. :func:`~desktop_app.core.batch.preview_workbooks`
reads, maps and classifies each file on the runner's store thread and writes
nothing: the preview *is* the dry run. The user may pick another sheet or
ledger and correct any column's target, which plans the file again. 导入 hands
the files and their previews to core's batch import
(:func:`~desktop_app.core.batch.import_workbooks`, as the command line does):
one backup for the whole batch, each file in its own transaction
(all-or-nothing per file unless 只导入合格的行 is chosen), a file planned again
if the store changed since its preview. A file that cannot be used is that
file's result (red, core's message) and is noted in the import history; the
other files still go ahead. Afterwards the rows that were not imported can be
saved as core's error workbook, to be corrected and sent back.

Each file comes from a unit: core reads it from the file name, the title and the
填报单位 line (:mod:`~desktop_app.core.excel.source_unit`), and 核对列 shows what it
found and why, for the clerk to confirm or to choose another unit (``set_unit``;
village names are then looked up in that unit, as ``import-excel --org`` does). A
sheet without a 村（社区） column asks which unit its rows belong to (``set_village``,
as ``--village``); 导入 waits until every such file has one.

For tests (no real modal dialogs): ``set_files``, ``add_files``, ``plan_all``
and the ``planned`` signal, ``set_sheet``, ``set_ledger``, ``set_mapping``,
``set_unit``, ``set_village``, ``set_accept_valid``, ``import_all`` and the
``imported`` signal, ``results``, ``save_errors`` and the ``errors_saved`` signal.
The file choosers are the small methods ``_ask_files`` and ``_ask_error_path``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from openpyxl.utils import get_column_letter
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.batch import BatchSummary, Preview, Workbook, import_workbooks, preview_workbooks
from ..core.excel import (
    COUNT_NAMES,
    NOT_IMPORTED,
    UNIT_COLUMN,
    ImportPlan,
    RowPlan,
    is_own_hidden,
    row_units,
    write_error_workbook,
)
from ..core.errors import INPUT_PROBLEMS, UserError, exit_code
from ..core.store import policy_for
from .errors import failure_text, show_error
from .reveal import RevealControl
from .style import AMBER, BLUE, GREEN, GREY, RED
from .window_size import fit_window

SOURCE = "screen:import"
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
COUNT_LABELS = {"new": "新增", "updated": "更新", "unchanged": "未变", "duplicate": "重复",
                "incomplete": "待补充", "conflict": "冲突", "rejected": "不合格", "skipped": "跳过"}
COUNT_COLORS = {"new": GREEN, "updated": BLUE, "unchanged": GREY, "duplicate": AMBER,
                "incomplete": AMBER, "conflict": AMBER, "rejected": RED, "skipped": GREY}
PROBLEM_STATUSES = frozenset({"rejected", "conflict", "duplicate", "incomplete"})
RESULT_LABELS = {"imported": "已导入", "partial": "部分导入", "refused": "未导入",
                 "unusable": "无法读取", "failed": "出错，未导入", "cancelled": "已取消，未导入"}
RESULT_COLORS = {"imported": GREEN, "partial": AMBER, "refused": RED, "unusable": RED,
                 "failed": RED, "cancelled": GREY}
IGNORE_LABEL = "（不导入）"
ORG_LABEL = "村（社区）"
ROW_ID_LABEL = "本程序导出的行标识（自动使用）"
STEPS = ("选择文件", "核对列", "预览", "结果")
FILES_PAGE, MAPPING_PAGE, PREVIEW_PAGE, RESULT_PAGE = range(4)
FILE_FILTER = "表格文件 (*.xlsx *.xlsm *.xls *.ods);;所有文件 (*)"


def counts_text(counts: dict) -> str:
    """``待补充 4，不合格 3，跳过 2``: the statuses that occur, in core's order."""
    parts = [f"{COUNT_LABELS[k]} {counts[k]:,}" for k in COUNT_NAMES if counts.get(k)]
    return "，".join(parts) or "没有数据行"


# ---------------------------------------------------------------- one chosen file

@dataclass(eq=False)
class ImportFile:
    """One chosen file and what the wizard knows of it (lives on the GUI thread)."""

    path: Path
    ledger: str | None = None               # None: automatic (meta sheet or best match)
    sheet: str | None = None                # None: automatic
    mapping: dict[int, str] | None = None   # None: as core matched the headers
    org: str | None = None                  # the unit the file comes from (None: as the file says)
    village: str | None = None              # the unit of rows of a sheet without 村（社区）
    sheets: list[str] = field(default_factory=list)
    plan: ImportPlan | None = None
    state: tuple | None = None              # the store's state the plan was made against
    error: BaseException | None = None
    result: dict | None = None
    generation: int = 0
    planning: bool = False

    @property
    def read(self) -> bool:
        return self.plan is not None or self.error is not None

    def item(self) -> Workbook:
        """What core needs to plan or import this file (a snapshot for the store thread)."""
        return Workbook(self.path, ledger=self.ledger, sheet=self.sheet, mapping=self.mapping,
                        org=self.org, village=self.village, plan=self.plan, state=self.state)

    @property
    def unit_needed(self) -> bool:
        """Read, but its rows have no unit yet (core says so)."""
        return self.plan is not None and bool(self.plan.unit_needed)


# ---------------------------------------------------------------- preview model

class PreviewModel(QAbstractTableModel):
    """The rows of one plan: 行号, 状态, who, where, 变化 (old → new) and 说明."""

    def __init__(self, reader, parent=None):
        super().__init__(parent)
        self.orgs = reader.orgs
        self.plan: ImportPlan | None = None
        self.rows: list[RowPlan] = []
        self.reveal = False
        self.policy = policy_for(reader)     # masked; for_screen once revealed (audited)
        self.shown = self.policy
        self.problems_only = False

    # -- what is shown
    def set_plan(self, plan: ImportPlan | None) -> None:
        self.plan = plan
        self._reload()

    def set_reveal(self, on: bool) -> None:
        self.reveal = on
        self.shown = self.policy.for_screen() if on else self.policy
        if self.rows:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self.rows) - 1, self.columnCount() - 1))

    def set_problems_only(self, on: bool) -> None:
        self.problems_only = on
        self._reload()

    def _reload(self) -> None:
        self.beginResetModel()
        rows = self.plan.rows if self.plan is not None else []
        self.rows = [r for r in rows if r.status in PROBLEM_STATUSES] if self.problems_only else list(rows)
        self.endResetModel()

    def columns(self) -> tuple[str, ...]:
        led = self.plan.ledger if self.plan is not None else None
        who = led.field(led.title_field).label if led is not None and led.title_field else "记录"
        return ("行号", "状态", who, ORG_LABEL, "变化", "说明")

    # -- Qt
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else 6

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role != Qt.DisplayRole:
            return None
        if orientation == Qt.Horizontal:
            return self.columns()[section] if 0 <= section < 6 else None
        return section + 1

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.DisplayRole:
            return self._text(row, col, "；")
        if role == Qt.ToolTipRole and col >= 4:
            return self._text(row, col, "\n") or None
        if role == Qt.ForegroundRole and col == 1:
            return QColor(COUNT_COLORS[row.status])
        if role == Qt.TextAlignmentRole and col == 0:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def _text(self, row: RowPlan, col: int, sep: str) -> str:
        if col == 0:
            return str(row.row_no)
        if col == 1:
            return COUNT_LABELS[row.status]
        if col == 2:
            title = self.plan.ledger.title_field
            return self._shown(title, row.values.get(title)) if title else ""
        if col == 3:
            return self.orgs.path(row.org) if row.org else ""
        if col == 4:
            return sep.join(self._changes(row))
        return sep.join(self._notes(row))

    def _shown(self, field_id: str, value) -> str:
        """A value as core's policy shows it (an old value the role may not see came from
        core masked already)."""
        return self.shown.text(self.plan.ledger, field_id, value)

    def _changes(self, row: RowPlan) -> list[str]:
        """``字段：旧 → 新`` for each field a row would change."""
        led, lines = self.plan.ledger, []
        for fid, (old, new) in row.changes.items():
            if fid == UNIT_COLUMN:
                label, old_text, new_text = ORG_LABEL, self.orgs.path(old), self.orgs.path(new)
            else:
                label, old_text, new_text = led.field(fid).label, self._shown(fid, old), self._shown(fid, new)
            lines.append(f"{label}：{old_text or '（空）'} → {new_text or '（空）'}")
        return lines

    def _notes(self, row: RowPlan) -> list[str]:
        """Why a row is not simply new: core's messages, then what it lacks."""
        notes = [p.message for p in row.problems if row.status != "rejected" or p.severity == "error"]
        if row.missing:
            notes.append("缺少：" + "、".join(self.plan.ledger.field(f).label for f in row.missing))
        return notes


# ---------------------------------------------------------------- the wizard

class ImportDialog(QDialog):
    """Import one or more workbooks; emits ``imported(results)`` once they are written."""

    imported = Signal(object)      # list of result dicts (one per file)
    planned = Signal()             # every file asked for has been read and checked
    errors_saved = Signal(str)     # the error workbook's path

    def __init__(self, runner, reader, *, files=None, ledger_id: str | None = None, parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.catalog = reader.catalog
        self.default_ledger = ledger_id
        self.files: list[ImportFile] = []
        self._current = -1
        self._planning = 0
        self._importing = False
        self._saving = False
        self._imported = False
        self.setWindowTitle("从 Excel 导入")
        self.setAcceptDrops(True)
        self.model = PreviewModel(reader, self)
        self._build()
        fit_window(self, "import", QSize(1080, 720))
        if files:
            self.set_files(files)
        self._update()

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        self.step_label = QLabel()
        self.step_label.setStyleSheet("font-size: 16px; font-weight: bold")
        self.file_combo = QComboBox()
        self.file_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.file_combo.currentIndexChanged.connect(self._file_chosen)
        self.file_bar = QWidget()
        bar = QHBoxLayout(self.file_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("文件"))
        bar.addWidget(self.file_combo, 1)
        self.pages = QStackedWidget()
        for page in (self._files_page(), self._mapping_page(), self._preview_page(),
                     self._result_page()):
            self.pages.addWidget(page)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.back_button = QPushButton("上一步")
        self.back_button.clicked.connect(self._back)
        self.next_button = QPushButton("下一步")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self._next)
        self.import_button = QPushButton("导入")
        self.import_button.clicked.connect(self.import_all)
        self.close_button = QPushButton("关闭")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for b in (self.back_button, self.next_button, self.import_button, self.close_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.step_label)
        layout.addWidget(self.file_bar)
        layout.addWidget(self.pages, 1)
        layout.addLayout(buttons)

    def _files_page(self) -> QWidget:
        page = QWidget()
        hint = QLabel("选择要导入的表格文件（.xlsx、.xlsm、.xls、.ods），可一次选多个，"
                      "也可以把文件拖到这个窗口里。下一步先检查，确认之前不会写入任何内容。")
        hint.setWordWrap(True)
        self.file_list = QListWidget()
        self.file_list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        browse = QPushButton("浏览…")
        browse.clicked.connect(self._browse)
        self.remove_button = QPushButton("移除所选")
        self.remove_button.clicked.connect(self._remove_selected)
        side = QVBoxLayout()
        side.addWidget(browse)
        side.addWidget(self.remove_button)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.file_list, 1)
        row.addLayout(side)
        layout = QVBoxLayout(page)
        layout.addWidget(hint)
        layout.addLayout(row, 1)
        return page

    def _mapping_page(self) -> QWidget:
        page = QWidget()
        self.sheet_combo = QComboBox()
        self.sheet_combo.setMinimumContentsLength(12)
        self.sheet_combo.activated.connect(
            lambda _i: self.set_sheet(self._current, self.sheet_combo.currentData()))
        self.ledger_combo = QComboBox()
        self.ledger_combo.addItem("自动识别", None)
        for led in self.catalog.ledgers:
            self.ledger_combo.addItem(led.label, led.id)
        self.ledger_combo.activated.connect(
            lambda _i: self.set_ledger(self._current, self.ledger_combo.currentData()))
        choose = QHBoxLayout()
        choose.addWidget(QLabel("工作表"))
        choose.addWidget(self.sheet_combo, 1)
        choose.addWidget(QLabel("台账"))
        choose.addWidget(self.ledger_combo, 2)
        self.unit_combo = QComboBox()
        self.unit_combo.setMinimumContentsLength(12)
        self.unit_combo.setToolTip("这个表来自哪个单位：表中的村（社区）名称在这个单位下查找")
        self.unit_combo.activated.connect(
            lambda _i: self.set_unit(self._current, self.unit_combo.currentData()))
        self.unit_note = QLabel()
        self.unit_note.setWordWrap(True)
        self.village_label = QLabel("记录属于")
        self.village_combo = QComboBox()
        self.village_combo.setMinimumContentsLength(12)
        self.village_combo.setToolTip("表中没有村（社区）列：这些记录属于哪个单位")
        self.village_combo.activated.connect(
            lambda _i: self.set_village(self._current, self.village_combo.currentData()))
        unit_row = QHBoxLayout()
        unit_row.addWidget(QLabel("本表的单位"))
        unit_row.addWidget(self.unit_combo)
        unit_row.addWidget(self.unit_note, 1)
        unit_row.addWidget(self.village_label)
        unit_row.addWidget(self.village_combo)
        self.mapping_note = QLabel()
        self.mapping_note.setWordWrap(True)
        self.mapping_table = QTableWidget(0, 3)
        self.mapping_table.setHorizontalHeaderLabels(("列", "表中的列名", "导入到"))
        self.mapping_table.verticalHeader().hide()
        self.mapping_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.mapping_table.setSelectionMode(QAbstractItemView.NoSelection)
        header = self.mapping_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        layout = QVBoxLayout(page)
        layout.addLayout(choose)
        layout.addLayout(unit_row)
        layout.addWidget(self.mapping_note)
        layout.addWidget(self.mapping_table, 1)
        return page

    def _preview_page(self) -> QWidget:
        page = QWidget()
        self.count_labels: dict[str, QLabel] = {}
        counts = QHBoxLayout()
        for key in COUNT_NAMES:
            label = QLabel()
            self.count_labels[key] = label
            counts.addWidget(label)
        counts.addStretch(1)
        self.problems_only = QCheckBox("只看有问题的行")
        self.problems_only.toggled.connect(self.model.set_problems_only)
        self.reveal = RevealControl(
            self.runner, lambda: sorted({f.plan.ledger.table for f in self.files if f.plan is not None}),
            SOURCE)
        self.reveal.changed.connect(lambda on: self.model.set_reveal(on))
        self.reveal.refused.connect(self.preview_note_text)
        counts.addWidget(self.problems_only)
        counts.addWidget(self.reveal)
        self.preview_note = QLabel()
        self.preview_note.setWordWrap(True)
        self.preview = QTableView()
        self.preview.setModel(self.model)
        self.preview.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.preview.setAlternatingRowColors(True)
        self.preview.setWordWrap(False)
        self.preview.verticalHeader().hide()
        self.preview.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.preview.verticalHeader().setDefaultSectionSize(24)
        header = self.preview.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((60, 70, 90, 170, 260)):
            self.preview.setColumnWidth(col, width)
        self.all_or_nothing = QRadioButton("全部合格才导入（有不合格或冲突行的文件不写入任何内容）")
        self.accept_valid = QRadioButton("只导入合格的行（不合格和有冲突的行留下，可保存为错误表改正后再导入）")
        self.all_or_nothing.setChecked(True)
        layout = QVBoxLayout(page)
        layout.addLayout(counts)
        layout.addWidget(self.preview_note)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.all_or_nothing)
        layout.addWidget(self.accept_valid)
        return page

    def _result_page(self) -> QWidget:
        page = QWidget()
        self.result_table = QTableWidget(0, 5)
        self.result_table.setHorizontalHeaderLabels(("文件", "结果", "行数", "说明", "批次"))
        self.result_table.verticalHeader().hide()
        self.result_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.result_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.result_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.result_table.setWordWrap(True)
        header = self.result_table.horizontalHeader()
        for col in (0, 1, 2, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.Stretch)
        self.result_table.itemSelectionChanged.connect(self._update)
        self.save_errors_button = QPushButton("保存错误行…")
        self.save_errors_button.setToolTip("把未导入的行存成表格，标明每个错误单元格和原因，改正后可重新导入")
        self.save_errors_button.clicked.connect(self._save_errors_clicked)
        self.result_note = QLabel()
        self.result_note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.result_note, 1)
        row.addWidget(self.save_errors_button)
        layout = QVBoxLayout(page)
        layout.addWidget(self.result_table, 1)
        layout.addLayout(row)
        return page

    # ------------------------------------------------------------ files
    def set_files(self, paths) -> None:
        """Replace the chosen files (nothing is read until :meth:`plan_all`)."""
        self.files = []
        self.add_files(paths)

    def add_files(self, paths) -> None:
        """Add files not chosen yet."""
        known = {f.path.resolve() for f in self.files}
        for p in map(Path, paths):
            if p.resolve() not in known:
                known.add(p.resolve())
                self.files.append(ImportFile(p, ledger=self.default_ledger))
        self._files_changed()

    def _files_changed(self) -> None:
        self.file_list.clear()
        self.file_list.addItems([str(f.path) for f in self.files])
        self._fill_file_combo()
        self._update()

    def _remove_selected(self) -> None:
        rows = {self.file_list.row(item) for item in self.file_list.selectedItems()}
        self.files = [f for i, f in enumerate(self.files) if i not in rows]
        self._files_changed()

    def _browse(self) -> None:
        paths = self._ask_files()
        if paths:
            self.add_files(paths)

    def _ask_files(self) -> list[str]:
        """The file chooser (tests never reach it)."""
        paths, _ = QFileDialog.getOpenFileNames(self, "选择要导入的表格文件", "", FILE_FILTER)
        return paths

    def _dropped_paths(self, mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
        return [p for p in paths if p.suffix.lower() in SUFFIXES]

    def dragEnterEvent(self, event) -> None:
        if not self._imported and not self._busy() and self._dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        paths = self._dropped_paths(event.mimeData())
        if not paths or self._imported or self._busy():
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_files(paths)
        self.pages.setCurrentIndex(FILES_PAGE)
        self._update()

    # ------------------------------------------------------------ planning
    def plan_all(self) -> None:
        """Read and check every file without a plan yet (nothing is written); ``planned`` follows."""
        todo = [f for f in self.files if f.plan is None]
        self.pages.setCurrentIndex(MAPPING_PAGE)
        if todo:
            self._start_planning(todo)
        else:
            self._update()
            self.planned.emit()

    def set_sheet(self, file_index: int, sheet: str | None) -> None:
        """Read the file from another sheet (``None``: the best one); the mapping starts afresh."""
        f = self.files[file_index]
        f.sheet, f.mapping = sheet, None
        self._start_planning([f])

    def set_ledger(self, file_index: int, ledger_id: str | None) -> None:
        """Import into another ledger (``None``: as the file or its headers say)."""
        f = self.files[file_index]
        f.ledger, f.mapping = ledger_id, None
        self._start_planning([f])

    def set_unit(self, file_index: int, org: str | None) -> None:
        """The unit file ``file_index`` comes from (a code; ``None``: as the file says);
        its village names are looked up there. The file is planned again."""
        f = self.files[file_index]
        f.org, f.village = org, None
        self._start_planning([f])

    def set_village(self, file_index: int, org: str | None) -> None:
        """The unit the rows of a sheet without 村（社区） belong to (a code). Planned again."""
        f = self.files[file_index]
        f.village = org
        self._start_planning([f])

    def set_mapping(self, file_index: int, column: int, target: str) -> None:
        """Import sheet ``column`` (0-based) into ``target``: a field id, ``"org"`` or
        ``"_ignore"``; a target takes one column, so a column that had it is no longer
        imported. The file is planned again."""
        f = self.files[file_index]
        layout = f.plan.layout
        mapping = dict(f.mapping) if f.mapping is not None else \
            {c: layout.mapping.get(c, NOT_IMPORTED) for c in layout.labels}
        if target != NOT_IMPORTED:
            mapping = {c: NOT_IMPORTED if t == target else t for c, t in mapping.items()}
        mapping[column] = target
        f.ledger, f.sheet, f.mapping = f.plan.ledger.id, f.plan.sheet, mapping
        self._start_planning([f])

    def _start_planning(self, files: list[ImportFile]) -> None:
        items, generations = [], []
        for f in files:
            f.generation += 1
            f.planning = True
            items.append(f.item())
            generations.append(f.generation)
        self._planning += 1
        self.status.setText("正在读取和检查…")
        self.status.setStyleSheet(f"color: {GREY}")
        self._refresh_current()
        self.runner.run(lambda store, progress: preview_workbooks(store, items, progress),
                        on_done=lambda previews: self._planned(files, generations, previews),
                        on_error=self._planning_failed, label="正在读取和检查表格…", parent=self)

    def _planned(self, files: list[ImportFile], generations: list[int], previews: list[Preview]) -> None:
        self._planning -= 1
        for f, generation, p in zip(files, generations, previews):
            if f.generation != generation:
                continue  # a newer choice for this file is on its way
            f.planning = False
            f.sheets = p.sheets
            f.plan, f.state, f.error = p.item.plan, p.item.state, p.error
        for f in self.files:
            if f.planning and not self._planning:
                f.planning = False  # cancelled before it was read
        if len(previews) < len(files):
            self.pages.setCurrentIndex(FILES_PAGE)
            self.status.setText("已取消读取。点“下一步”继续读取其余文件。")
        else:
            self.status.clear()
        self._fill_file_combo()
        self._refresh_current()
        if not self._planning:
            self.planned.emit()

    def _planning_failed(self, error: BaseException) -> None:
        self._planning -= 1
        for f in self.files:
            if f.planning and not self._planning:
                f.planning = False
        self.status.clear()
        self._refresh_current()
        show_error(error, self)

    # ------------------------------------------------------------ showing a file
    def current_file(self) -> ImportFile | None:
        return self.files[self._current] if 0 <= self._current < len(self.files) else None

    def _file_summary(self, f: ImportFile) -> str:
        if f.planning:
            return f"{f.path.name}：正在读取…"
        if f.error is not None:   # input problems (exit 1: another unit's sheet …) or unusable
            return f"{f.path.name}：" + ("不能导入" if exit_code(f.error) == INPUT_PROBLEMS else "无法使用")
        if f.plan is None:
            return f"{f.path.name}：未读取"
        if f.unit_needed:
            return f"{f.path.name}（{f.plan.ledger.label}）：请选择记录属于哪个单位"
        return f"{f.path.name}（{f.plan.ledger.label}）：{counts_text(f.plan.counts())}"

    def _fill_file_combo(self) -> None:
        keep = max(self._current, 0)
        self.file_combo.blockSignals(True)
        self.file_combo.clear()
        for f in self.files:
            self.file_combo.addItem(self._file_summary(f))
        self._current = min(keep, len(self.files) - 1)
        self.file_combo.setCurrentIndex(self._current)
        self.file_combo.blockSignals(False)

    def _file_chosen(self, index: int) -> None:
        self._current = index
        self._refresh_current()

    def _refresh_current(self) -> None:
        f = self.current_file()
        self._show_choices(f)
        self._show_mapping(f)
        self._show_preview(f)
        self._update()

    def _show_choices(self, f: ImportFile | None) -> None:
        self.sheet_combo.clear()
        self.sheet_combo.addItem("自动选择", None)
        if f is None:
            return
        for name in f.sheets:
            self.sheet_combo.addItem(name, name)
        sheet = f.plan.sheet if f.plan is not None else f.sheet
        self.sheet_combo.setCurrentIndex(max(self.sheet_combo.findData(sheet), 0))
        ledger = f.plan.ledger.id if f.plan is not None else f.ledger
        self.ledger_combo.setCurrentIndex(max(self.ledger_combo.findData(ledger), 0))
        editable = not f.planning and bool(f.sheets)
        self.sheet_combo.setEnabled(editable)
        self.ledger_combo.setEnabled(editable)
        self.mapping_table.setEnabled(not f.planning)
        self._show_unit(f, editable)

    def _units(self) -> list[tuple[str, str]]:
        """(label, code) of the units this user may import for (core's list)."""
        tree = self.reader.orgs
        return [(tree.path(o.code), o.code) for o in policy_for(self.reader).orgs(self.reader)]

    def _show_unit(self, f: ImportFile, editable: bool) -> None:
        """The unit the file comes from (core's reading and why), and — for a sheet without
        村（社区） — the unit of its rows."""
        plan, tree = f.plan, self.reader.orgs
        source = plan.source if plan is not None else None
        self.unit_combo.clear()
        found = tree.path(source.code) if source is not None and source.code and not source.given else "未识别出"
        self.unit_combo.addItem(f"按表中内容（{found}）", None)
        for label, code in self._units():
            self.unit_combo.addItem(label, code)
        self.unit_combo.setCurrentIndex(max(self.unit_combo.findData(f.org), 0))
        self.unit_combo.setEnabled(editable)
        self.unit_note.setToolTip("\n".join(f"{c.where}：{c.text}" for c in source.clues) if source else "")
        if source is None:
            self.unit_note.clear()
        elif source.code is None:
            self.unit_note.setText(f"{source.how(tree)}：表中的村（社区）名称在全部单位中查找；"
                                   "同名的村请选择本表的单位")
            self.unit_note.setStyleSheet(f"color: {AMBER}")
        else:
            self.unit_note.setText(f"{source.how(tree)}为{tree.path(source.code)}，请核对；不对请改选")
            self.unit_note.setStyleSheet(f"color: {GREY}")
        no_column = plan is not None and UNIT_COLUMN not in plan.layout.mapping.values()
        self.village_label.setVisible(no_column)
        self.village_combo.setVisible(no_column)
        self.village_combo.clear()
        if no_column:
            self.village_combo.addItem("请选择…", None)
            tree = self.reader.orgs
            for org in row_units(self.reader, source.code if source is not None else None):
                self.village_combo.addItem(tree.path(org.code), org.code)
            chosen = f.village or (None if plan.unit_needed else next(
                (r.org for r in plan.rows if r.org), None))
            self.village_combo.setCurrentIndex(max(self.village_combo.findData(chosen), 0))
            self.village_combo.setEnabled(editable)
        self.village_label.setStyleSheet(f"color: {RED}; font-weight: bold" if f.unit_needed else "")

    def _show_mapping(self, f: ImportFile | None) -> None:
        table = self.mapping_table
        table.setRowCount(0)
        if f is None or f.plan is None:
            self._show_error(self.mapping_note, f)
            return
        layout, led = f.plan.layout, f.plan.ledger
        rows = " – ".join(str(r + 1) for r in (layout.header_rows[0], layout.header_rows[-1])) \
            if len(layout.header_rows) > 1 else str(layout.header_rows[0] + 1)
        self.mapping_note.setText(f"表头在第 {rows} 行。每一列导入到哪里可在右侧修改，改后立即重新检查；"
                                  "没有认出的列不导入。")
        self.mapping_note.setStyleSheet(f"color: {GREY}")
        targets = [(IGNORE_LABEL, NOT_IMPORTED), (ORG_LABEL, UNIT_COLUMN)] + [(x.label, x.id) for x in led.fields]
        table.setRowCount(len(layout.labels))
        for row, col in enumerate(sorted(layout.labels)):
            table.setItem(row, 0, QTableWidgetItem(get_column_letter(col + 1)))
            table.setItem(row, 1, QTableWidgetItem(layout.unmapped.get(col, layout.labels[col])))
            target = layout.mapping.get(col, NOT_IMPORTED)
            if is_own_hidden(target):
                table.setCellWidget(row, 2, QLabel(ROW_ID_LABEL))
                continue
            combo = QComboBox()
            for text, value in targets:
                combo.addItem(text, value)
            combo.setCurrentIndex(combo.findData(target))
            combo.activated.connect(
                lambda _i, col=col, combo=combo: self.set_mapping(self._current, col, combo.currentData()))
            table.setCellWidget(row, 2, combo)

    def _show_error(self, label: QLabel, f: ImportFile | None) -> None:
        if f is not None and f.error is not None:
            label.setText(f"无法导入：{failure_text(f.error)}")
            label.setStyleSheet(f"color: {RED}")
        elif f is not None and f.planning:
            label.setText("正在读取…")
            label.setStyleSheet(f"color: {GREY}")
        else:
            label.clear()

    def _show_preview(self, f: ImportFile | None) -> None:
        plan = f.plan if f is not None else None
        self.model.set_plan(plan)
        counts = plan.counts() if plan is not None else dict.fromkeys(COUNT_NAMES, 0)
        for key, label in self.count_labels.items():
            n = counts[key]
            label.setText(f"{COUNT_LABELS[key]} {n:,}")
            color = COUNT_COLORS[key] if n else GREY
            label.setStyleSheet(f"color: {color}; font-weight: {'bold' if n else 'normal'}; "
                                "padding: 2px 6px")
        if plan is None:
            self._show_error(self.preview_note, f)
        elif plan.unit_needed:
            self.preview_note.setText(plan.unit_needed)
            self.preview_note.setStyleSheet(f"color: {RED}")
        else:
            tree = self.reader.orgs
            unit = f"（{tree.path(plan.source.code)}）" if plan.source.code else ""
            self.preview_note.setText(f"工作表“{plan.sheet}”{unit} → 台账“{plan.ledger.label}”。"
                                      "这是试导入的结果，点“导入”之前不会写入任何内容。")
            self.preview_note.setStyleSheet(f"color: {GREY}")

    def preview_note_text(self, text: str) -> None:
        self.preview_note.setText(text)

    # ------------------------------------------------------------ importing
    def set_accept_valid(self, on: bool) -> None:
        """``True``: import the good rows of a file with bad ones; ``False``: all or nothing."""
        (self.accept_valid if on else self.all_or_nothing).setChecked(True)

    def import_all(self) -> None:
        """Write every file through core's batch import (one backup, each file in its own
        transaction); ``imported`` follows."""
        if not self.import_button.isEnabled():
            return
        files = list(self.files)
        items, accept_valid = [f.item() for f in files], self.accept_valid.isChecked()
        self._importing = True
        self.status.setText("正在导入…")
        self.status.setStyleSheet(f"color: {GREY}")
        self._update()
        self.runner.run(lambda store, progress: import_workbooks(store, items, accept_valid=accept_valid,
                                                                 progress=progress),
                        on_done=lambda summary: self._done(files, summary),
                        on_error=self._import_failed, label="正在导入…", parent=self)

    def _done(self, files: list[ImportFile], summary: BatchSummary) -> None:
        self._importing = False
        self._imported = True
        for f, r in zip(files, summary.files):
            if r.plan is not None:
                f.plan = r.plan
            f.result = r.entry
        self.status.clear()
        self._show_results()
        self.pages.setCurrentIndex(RESULT_PAGE)
        self._update()
        self.imported.emit(self.results())

    def _import_failed(self, error: BaseException) -> None:
        self._importing = False
        self.status.clear()
        self._update()
        show_error(error, self)

    def results(self) -> list[dict]:
        """One result dict per imported file (as ``import-excel --json`` prints them)."""
        return [f.result for f in self.files if f.result is not None]

    def _show_results(self) -> None:
        table = self.result_table
        table.setRowCount(len(self.files))
        for row, f in enumerate(self.files):
            r = f.result
            color = QColor(RESULT_COLORS[r["status"]])
            counts = counts_text(r) if r["status"] not in ("unusable", "failed", "cancelled") else ""
            cells = (f.path.name, RESULT_LABELS[r["status"]], counts, r["message"], r["batch"] or "")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (1, 3):
                    item.setForeground(color)
                table.setItem(row, col, item)
        table.resizeRowsToContents()
        if self.files:
            table.selectRow(0)
        bad = sum(1 for f in self.files if self._has_errors(f))
        self.result_note.setText(f"有 {bad} 个文件有未导入的行：选中文件后点“保存错误行…”，"
                                 "把错误表发回改正后再导入。" if bad else "")

    def _has_errors(self, f: ImportFile) -> bool:
        r = f.result
        return f.plan is not None and r is not None and bool(r["rejected"] or r["conflict"])

    # ------------------------------------------------------------ the error workbook
    def _save_errors_clicked(self) -> None:
        row = self.result_table.currentRow()
        if not 0 <= row < len(self.files):
            return
        f = self.files[row]
        path = self._ask_error_path(f.path.with_name(f"{f.path.stem}_未导入的行.xlsx"))
        if path:
            self.save_errors(row, path)

    def _ask_error_path(self, default: Path) -> str | None:
        """The save-as chooser (tests never reach it)."""
        path, _ = QFileDialog.getSaveFileName(self, "保存错误行", str(default), "Excel 表格 (*.xlsx)")
        return path or None

    def save_errors(self, file_index: int, path) -> None:
        """Write the file's rejected and conflicting rows as core's error workbook (the
        file's own cells in the ledger's template, whatever is shown here);
        ``errors_saved(path)`` follows."""
        plan, out = self.files[file_index].plan, Path(path)
        if out.suffix.lower() != ".xlsx":
            out = out.with_name(out.name + ".xlsx")
        self._saving = True
        self._update()
        self.runner.run(lambda store, progress: write_error_workbook(store, plan, out),
                        on_done=self._errors_saved, on_error=lambda e: self._errors_failed(out, e),
                        label="正在保存错误行…", parent=self)

    def _errors_saved(self, path: Path) -> None:
        self._saving = False
        self.result_note.setText(f"错误行已保存到 {path}，改正标红的单元格后可重新导入。")
        self.result_note.setStyleSheet(f"color: {GREEN}")
        self._update()
        self.errors_saved.emit(str(path))

    def _errors_failed(self, out: Path, error: BaseException) -> None:
        self._saving = False
        self._update()
        if isinstance(error, (OSError, UserError)):
            self.result_note.setText(f"没有保存：{failure_text(error)}。请换一个位置再保存。"
                                     if isinstance(error, UserError) else
                                     f"没有保存：无法写入 {out}（文件夹不存在、没有写入权限，"
                                     "或同名文件正在 Excel/WPS 中打开）。请换一个位置再保存。")
            self.result_note.setStyleSheet(f"color: {RED}")
        else:
            show_error(error, self)

    # ------------------------------------------------------------ navigation
    def _busy(self) -> bool:
        return bool(self._planning) or self._importing or self._saving

    def _back(self) -> None:
        self.pages.setCurrentIndex(max(self.pages.currentIndex() - 1, FILES_PAGE))
        self._update()

    def _next(self) -> None:
        if self.pages.currentIndex() == FILES_PAGE:
            self.plan_all()
        else:
            self.pages.setCurrentIndex(PREVIEW_PAGE)
            self._update()

    def _update(self) -> None:
        page, busy = self.pages.currentIndex(), self._busy()
        all_read = bool(self.files) and all(f.read for f in self.files)
        self.step_label.setText(f"第 {page + 1} 步（共 {len(STEPS)} 步）：{STEPS[page]}")
        self.file_bar.setVisible(page in (MAPPING_PAGE, PREVIEW_PAGE))
        self.back_button.setVisible(page in (MAPPING_PAGE, PREVIEW_PAGE))
        self.back_button.setEnabled(not busy)
        self.next_button.setVisible(page in (FILES_PAGE, MAPPING_PAGE))
        self.next_button.setEnabled(not busy and bool(self.files) and (page == FILES_PAGE or all_read))
        waiting = [f for f in self.files if f.unit_needed]
        self.import_button.setVisible(page == PREVIEW_PAGE)
        self.import_button.setEnabled(not busy and all_read and not waiting and not self._imported)
        self.import_button.setToolTip(f"请先在“核对列”中选择 {waiting[0].path.name} 的记录属于哪个单位"
                                      if waiting else "")
        self.remove_button.setEnabled(not busy and bool(self.files))
        self.close_button.setText("完成" if self._imported else "关闭")
        self.close_button.setEnabled(not busy)
        row = self.result_table.currentRow()
        self.save_errors_button.setEnabled(
            not busy and 0 <= row < len(self.files) and self._has_errors(self.files[row]))

    def done(self, result: int) -> None:
        if self._busy():  # the store thread is still working for this dialog: it finishes first
            self.status.setText("正在处理，完成后才能关闭。")
            return
        super().done(result)
