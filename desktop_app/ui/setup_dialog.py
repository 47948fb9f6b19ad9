"""First-run setup: which unit this computer keeps the ledgers for, and where the data lives.

Shown when there is no store yet. The user picks the level, the unit, the operator's
name and the data file. A town may list its villages (codes are assigned by
:meth:`Store.add_villages`). A village (村（社区）) starts from its town's profile file and
a town (镇) from its district's, as ``init --level village|town --profile … --fingerprint …``
does: the dialog shows the profile's fingerprint, grouped as everywhere a person reads one
aloud; the user phones the level above, types the fingerprint read out (spaces and dashes
ignored) and picks the unit from the profile's list
(:func:`~desktop_app.core.sync.units_to_start`); the store is made by
:func:`~desktop_app.core.sync.init_from_profile`, trusts the level above at once and has
its plan, counting choices and quotas. A town that has no district profile yet may tick
还没有区的配置文件 and pick itself from the plan's list (``init --level town`` without
``--profile``); it imports the district's profile in the sync centre later. Mistakes are
explained next to the field and 确定 stays disabled until everything is valid. The store is created on a worker thread, so the window never
freezes; a failure is shown inside the dialog and leaves no file behind (an unexpected
one is also written to the log).

For tests (no real modal dialogs): ``set_level``, ``set_without_profile``, ``set_profile``,
``set_fingerprint``, ``set_org``, ``set_operator``, ``set_villages``, ``set_path``, ``can_accept``,
``accept_setup`` and the ``finished_setup`` signal (the new path, or ``None`` when
nothing was created).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ..core.catalog import LEVEL_NAMES, Org, OrgError, OrgTree, file_label, fold
from ..core.errors import describe
from ..core.store import Store
from ..core.sync import init_from_profile
from .errors import log_folder
from .setup_profile import ProfileRows, note, stack
from .tasks import TaskRunner
from .window_size import fit_window, grow_to_content

VILLAGE_TOOLTIP = "村（社区）用镇发来的配置文件开始：与镇电话核对指纹后，从镇的名单中选择本村（社区）"
TOWN_NOTE = "镇用区发来的配置文件开始：与区电话核对指纹后，从区的名单中选择本镇"
WITHOUT_PROFILE = "还没有区的配置文件：先从本程序自带的名单中选本镇"
WITHOUT_PROFILE_NOTE = ("这样建好的数据库还不认得区的钥匙，也没有区分解给本镇的目标：收到区的配置文件后，"
                        "请在“同步中心 → 单位与配置文件”导入，并与区电话核对指纹。")
SUFFIX = ".sqlite3"
FIX_FIRST = "请先按提示改正上面标红的内容。"


def parse_villages(text: str) -> tuple[list[str], str]:
    """Village names from a multi-line box (one per line, blank lines skipped) and an error.

    Names are stripped; two names that differ only in full-/half-width characters
    or spaces count as the same name (they would be ambiguous later).

    >>> parse_villages(" 示例村一 \\n\\n示例社区\\n")
    (['示例村一', '示例社区'], '')
    >>> parse_villages("示例村一\\n示例村 一")[1]
    '第 2 行“示例村 一”与第 1 行重复'
    """
    names: list[str] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        name = raw.strip()
        if not name:
            continue
        key = fold(name)
        if key in seen:
            return names, f"第 {lineno} 行“{name}”与第 {seen[key]} 行重复"
        seen[key] = lineno
        names.append(name)
    return names, ""


def create_store(path: Path, level: str, org: str, operator: str, villages: list[str], *,
                 profile: Path | None = None, fingerprint: str = "") -> Path:
    """Make the store as ``init`` does — from the level above's ``profile`` (checked
    against the ``fingerprint`` read over the phone) when given — and the town's
    villages; on any failure no file remains.

    Runs on the worker thread; raises a :class:`UserError` (or ``OSError``) for the dialog.
    """
    if profile is not None:
        store = init_from_profile(path, profile, level=level, org=org, operator=operator,
                                  fingerprint=fingerprint)
    else:
        store = Store.create(path, level=level, org=org, operator=operator)
    try:
        if villages:
            store.add_villages(villages)
    except BaseException:
        store.discard()
        raise
    store.close()
    return Path(path)


class SetupDialog(QDialog):
    """The short setup shown when there is no store yet."""

    finished_setup = Signal(object)  # the created Path, or None

    def __init__(self, parent: QWidget | None = None, *, tree: OrgTree | None = None,
                 default_dir: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("新建数据文件 — 民生实事台账")
        self.setModal(True)
        self.tree = tree or OrgTree.shipped()
        self._default_dir = Path(default_dir) if default_dir else None
        self._path_chosen = False  # the user picked or typed a path: stop following the unit
        self._busy = False
        self._created: Path | None = None
        self._existing: Path | None = None
        self._runner: TaskRunner | None = None  # a store-less runner while creating
        self._build()
        self.set_level("town")
        self._validate()
        fit_window(self, "setup", QSize(600, self.sizeHint().height()))

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        intro = QLabel("第一次使用，请设置这台电脑为哪个单位记台账、谁来录入、数据存在哪里。"
                       "单位选定后不能更改。")
        intro.setWordWrap(True)

        self.form = QWidget()
        form = QFormLayout(self.form)
        form.setFieldGrowthPolicy(QFormLayout.ExpandingFieldsGrow)

        # 级别
        self.level_buttons = {
            "village": QRadioButton("村（社区）(&C)"),
            "town": QRadioButton("镇(&T)"),
            "district": QRadioButton("区(&D)"),
        }
        self.level_group = QButtonGroup(self)
        radios = QWidget()
        level_row = QHBoxLayout(radios)
        level_row.setContentsMargins(0, 0, 0, 0)
        for level, button in self.level_buttons.items():
            self.level_group.addButton(button)
            level_row.addWidget(button)
            button.toggled.connect(lambda on, lv=level: on and self._level_changed(lv))
        level_row.addStretch(1)
        self.level_buttons["village"].setToolTip(VILLAGE_TOOLTIP)
        self.level_buttons["town"].setToolTip("镇，以及像镇一样工作的南湾湖管理处")
        self.level_buttons["district"].setToolTip("区里的工作专班办公室或责任单位，汇总各镇数据")
        self.village_note = note(VILLAGE_TOOLTIP, hint=True)
        self.town_note = note(TOWN_NOTE, hint=True)
        self.without_profile = QCheckBox(WITHOUT_PROFILE + "(&N)")
        self.without_profile.toggled.connect(lambda _on: self._level_changed(self.level()))
        self.without_profile_note = note(WITHOUT_PROFILE_NOTE, hint=True)
        self.level_label = QLabel("级别：")
        form.addRow(self.level_label, stack(radios, self.village_note, self.town_note, self.without_profile,
                                            self.without_profile_note))

        # the level above's profile and its fingerprint (a village: the town's; a town: the district's)
        self.profile_rows = ProfileRows(form, self)
        self.profile_rows.changed.connect(self._profile_changed)
        self.profile_rows.typed.connect(self._validate)

        # 单位
        self.org_combo = QComboBox()
        self.org_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)   # its list and hint change with the level
        self.org_combo.currentIndexChanged.connect(lambda _i: self._org_changed())
        self.org_error = note()
        org_box = stack(self.org_combo, self.org_error)
        self.org_label = QLabel("单位(&U)：")
        self.org_label.setBuddy(self.org_combo)
        form.addRow(self.org_label, org_box)

        # 村（社区）名单
        self.villages_edit = QPlainTextEdit()
        self.villages_edit.setPlaceholderText("每行一个村（社区）名称，例如：\n示例村一\n示例社区")
        self.villages_edit.setTabChangesFocus(True)
        self.villages_edit.setFixedHeight(110)
        self.villages_edit.textChanged.connect(self._validate)
        self.villages_hint = note("可不填，以后也可以添加；代码自动分配（镇代码 + 3 位顺序号）。",
                                        hint=True)
        self.villages_error = note()
        self.villages_row = stack(self.villages_edit, self.villages_hint, self.villages_error)
        self.villages_label = QLabel("村（社区）名单(&V)：")
        self.villages_label.setBuddy(self.villages_edit)
        form.addRow(self.villages_label, self.villages_row)

        # 操作员姓名
        self.operator_edit = QLineEdit()
        self.operator_edit.setPlaceholderText("必填，例如：张三")
        self.operator_edit.setMaxLength(40)
        self.operator_edit.textChanged.connect(self._validate)
        self.operator_error = note()
        self.operator_label = QLabel("操作员姓名(&O)：")
        self.operator_label.setBuddy(self.operator_edit)
        form.addRow(self.operator_label, stack(self.operator_edit, self.operator_error))

        # 数据文件位置
        self.path_edit = QLineEdit()
        self.path_edit.textEdited.connect(self._path_typed)
        self.path_edit.textChanged.connect(self._validate)
        self.browse_button = QPushButton("浏览(&B)…")
        self.browse_button.setAutoDefault(False)
        self.browse_button.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.setContentsMargins(0, 0, 0, 0)
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        self.path_error = note()
        self.open_existing_button = QPushButton("打开这个已有文件(&E)")
        self.open_existing_button.setAutoDefault(False)
        self.open_existing_button.clicked.connect(self._open_existing)
        path_box = QVBoxLayout()
        path_box.setContentsMargins(0, 0, 0, 0)
        path_box.addLayout(path_row)
        path_box.addWidget(self.path_error)
        path_box.addWidget(self.open_existing_button, 0, Qt.AlignLeft)
        self.path_label = QLabel("数据文件位置(&P)：")
        self.path_label.setBuddy(self.path_edit)
        form.addRow(self.path_label, path_box)

        # busy and failure, inside the dialog
        self.busy_label = QLabel("正在新建数据文件，请稍候…")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_label.hide()
        self.busy_bar.hide()
        self.error_label = note()
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("确定")
        self.cancel_button = self.buttons.button(QDialogButtonBox.Cancel)
        self.cancel_button.setText("取消")
        self.buttons.accepted.connect(self.accept_setup)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.busy_label)
        layout.addWidget(self.busy_bar)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

    # ------------------------------------------------------------ public API
    def set_level(self, level: str) -> None:
        """Choose ``"village"``, ``"town"`` or ``"district"``."""
        if level not in LEVEL_NAMES:
            raise ValueError(f"级别应为 village、town 或 district，而不是“{level}”")
        button = self.level_buttons[level]
        if button.isChecked():
            self._level_changed(level)
        else:
            button.setChecked(True)  # → _level_changed

    def level(self) -> str:
        return next(lv for lv, b in self.level_buttons.items() if b.isChecked())

    def set_without_profile(self, on: bool = True) -> None:
        """Tick 还没有区的配置文件: a town picked from the plan's list, without the
        district's profile (``init --level town`` without ``--profile``)."""
        self.without_profile.setChecked(on)

    def from_profile(self) -> bool:
        """Whether the unit starts from the level above's profile (a village always; a town
        unless 还没有区的配置文件 is ticked)."""
        level = self.level()
        return level == "village" or (level == "town" and not self.without_profile.isChecked())

    def set_profile(self, path: Path | str) -> None:
        """Use the level above's profile file at ``path`` (what 浏览… does)."""
        self.profile_rows.set_path(path)

    def set_fingerprint(self, text: str) -> None:
        """Type the fingerprint the level above read out over the phone."""
        self.profile_rows.set_fingerprint(text)

    def set_org(self, code: str) -> None:
        """Choose the unit by code, name or alias (switching the level to the unit's): a
        village from the town's profile, a town from the district's (or, without it, the
        plan's list)."""
        try:
            org = self._units().resolve(code)
        except OrgError:
            org = None
        if org is None or org.level != self.level():   # another level's unit: the plan's
            try:
                org = self.tree.resolve(code)
            except OrgError as exc:
                raise ValueError(str(exc)) from None
            if org.level != self.level():
                self.set_level(org.level)
        index = self.org_combo.findData(org.code)
        if index < 0:
            raise ValueError(f"“{org.name}”不能在这里选择")
        self.org_combo.setCurrentIndex(index)

    def org(self) -> Org | None:
        code = self.org_combo.currentData()
        return self._units().get(code) if code else None

    def _units(self) -> OrgTree:
        """Where the unit is chosen from: the level above's profile (:meth:`from_profile`),
        else the plan's."""
        if self.from_profile():
            return self.profile_rows.units or OrgTree([])
        return self.tree

    def set_operator(self, text: str) -> None:
        self.operator_edit.setText(text)

    def set_villages(self, text: str) -> None:
        self.villages_edit.setPlainText(text)

    def set_path(self, path: Path | str) -> None:
        """Use ``path`` for the data file (what 浏览… does once the user has chosen)."""
        self._path_chosen = True
        self.path_edit.setText(str(path))

    def path(self) -> Path | None:
        text = self.path_edit.text().strip()
        return Path(text).expanduser() if text else None

    def can_accept(self) -> bool:
        return self._validate()

    def created_path(self) -> Path | None:
        """The store this dialog created (``None`` until created)."""
        return self._created

    def result_path(self) -> Path | None:
        """The store to open: the one created, or an existing file the user chose to open."""
        return self._created or self._existing

    def is_busy(self) -> bool:
        return self._busy

    def accept_setup(self) -> bool:
        """What 确定 does: start creating the store on a worker thread.

        Returns whether creation started. ``finished_setup`` is emitted with the
        new path (and the dialog accepts) or with ``None`` (the reason is shown
        in the dialog, which stays open).
        """
        if self._busy:
            return False
        if not self._validate():
            self.error_label.setText(FIX_FIRST)
            self.error_label.show()
            self.finished_setup.emit(None)
            return False
        org = self.org()
        level, path = org.level, self.path()
        operator = self.operator_edit.text().strip()
        villages = parse_villages(self.villages_edit.toPlainText())[0] if level == "town" else []
        profile = self.profile_rows.path() if self.from_profile() else None
        typed = self.profile_rows.fingerprint()
        self._set_busy(True)
        self._runner = TaskRunner(None, self)
        self._runner.run(lambda _store, _progress: create_store(
                             path, level, org.code, operator, villages, profile=profile, fingerprint=typed),
                         on_done=lambda created: self._finish(created, None),
                         on_error=lambda error: self._finish(None, error))
        return True

    # ------------------------------------------------------------ reactions
    def _level_changed(self, level: str) -> None:
        is_town, is_village, with_profile = level == "town", level == "village", self.from_profile()
        if with_profile and self.profile_rows.level != level:
            self.profile_rows.set_level(level)   # the file named is read again for this level
        self._fill_units()
        self.villages_label.setVisible(is_town)
        self.villages_row.setVisible(is_town)
        self.village_note.setVisible(is_village)
        self.town_note.setVisible(is_town and with_profile)
        self.without_profile.setVisible(is_town)
        self.without_profile_note.setVisible(is_town and not with_profile)
        self.profile_rows.set_visible(with_profile)
        self.org_label.setText("本村（社区）(&U)：" if is_village else "本镇(&U)：" if is_town else "单位(&U)：")
        self._relayout()
        self._org_changed()

    def _fill_units(self) -> None:
        """The units to choose from at the chosen level (a village: the town's list)."""
        level = self.level()
        keep = self.org_combo.currentData()
        self.org_combo.blockSignals(True)
        self.org_combo.clear()
        units = [o for o in self._units() if o.level == level]
        for o in sorted(units, key=lambda o: o.code):
            self.org_combo.addItem(o.name, o.code)
        index = self.org_combo.findData(keep) if keep else -1
        if index >= 0:
            self.org_combo.setCurrentIndex(index)
        elif len(units) == 1:
            self.org_combo.setCurrentIndex(0)
        else:  # several units: the user must choose, never a silent default
            self.org_combo.setPlaceholderText(
                f"请先选择{self.profile_rows.above()}发来的配置文件" if self.from_profile() and not units else
                "请选择本村（社区）" if level == "village" else "请选择本镇（或南湾湖管理处）")
            self.org_combo.setCurrentIndex(-1)
        self.org_combo.blockSignals(False)

    def _profile_changed(self) -> None:
        self._fill_units()
        self._relayout()
        self._org_changed()

    def _relayout(self) -> None:
        """Rows shown or hidden: once Qt has laid them out, lay the form out again (the
        word-wrapped notes' heights depend on the width that pass gives them) and grow the
        dialog to what its rows need (else they overlap by a line)."""
        QTimer.singleShot(0, self, self._fit_rows)

    def _fit_rows(self) -> None:
        self.form.layout().invalidate()
        grow_to_content(self)

    def _org_changed(self) -> None:
        if not self._path_chosen:
            org = self.org()
            self.path_edit.setText(str(self._default_folder() / f"{file_label(org)}{SUFFIX}") if org else "")
        self._validate()

    def _default_folder(self) -> Path:
        if self._default_dir is None:
            from .app import data_dir
            try:
                self._default_dir = data_dir()
            except OSError:
                self._default_dir = Path.home()
        return self._default_dir

    def _path_typed(self, _text: str) -> None:
        self._path_chosen = True

    def _browse(self) -> None:
        chosen = self._ask_save_path(self.path() or self._default_folder())
        if chosen:
            path = Path(chosen)
            if not path.suffix:
                path = path.with_suffix(SUFFIX)
            self.set_path(path)

    def _ask_save_path(self, start: Path) -> str:
        """The file chooser (the one real modal; tests call :meth:`set_path` instead)."""
        name, _filter = QFileDialog.getSaveFileName(
            self, "数据文件保存到", str(start), f"台账数据文件 (*{SUFFIX});;所有文件 (*)",
            options=QFileDialog.DontConfirmOverwrite)  # an existing file is explained inline
        return name

    def _open_existing(self) -> None:
        path = self.path()
        if path is not None and path.is_file():
            self._existing = path
            self.accept()

    # ------------------------------------------------------------ validation
    def _validate(self) -> bool:
        """Update the messages beside the fields and 确定; return whether all is valid."""
        org = self.org()
        org_msg = "" if org else "请选择单位"

        operator_msg = "" if self.operator_edit.text().strip() else "请填写操作员姓名（录入人，会记在每条修改记录里）"

        profile_msg = fingerprint_msg = ""
        if self.from_profile():
            rows = self.profile_rows
            profile_msg, fingerprint_msg = rows.problems()
            if org_msg:   # the unit comes from the profile: say so once the profile is read
                org_msg = (f"请从{rows.above()}的名单中选择本{LEVEL_NAMES[self.level()]}"
                           if rows.profile is not None else "")

        villages_msg = ""
        if org is not None and org.level == "town":
            villages_msg = parse_villages(self.villages_edit.toPlainText())[1]
            if villages_msg:
                villages_msg += "；每个村（社区）只写一次"

        path_msg, exists = self._path_problem(org)

        for label, msg in ((self.org_error, org_msg), (self.operator_error, operator_msg),
                           (self.villages_error, villages_msg), (self.path_error, path_msg)):
            label.setText(msg)
            label.setVisible(bool(msg))
        self.open_existing_button.setVisible(exists)
        ok = org is not None and not (org_msg or operator_msg or villages_msg or path_msg
                                      or profile_msg or fingerprint_msg)
        self.ok_button.setEnabled(ok and not self._busy)
        if ok and self.error_label.text() == FIX_FIRST:
            self.error_label.hide()
        return ok

    def _path_problem(self, org: Org | None) -> tuple[str, bool]:
        path = self.path()
        if path is None:
            return ("" if org is None and not self._path_chosen else "请选择数据文件位置"), False
        if not path.is_absolute():
            return f"请填写完整路径，例如 {self._default_folder() / ('河坝镇' + SUFFIX)}", False
        if path.is_dir():
            return f"“{path}”是一个文件夹，请在后面加上文件名，例如 {path / ('河坝镇' + SUFFIX)}", False
        if path.exists():
            return (f"“{path.name}”已经存在，不会覆盖它。要使用它，请点下面的按钮打开"
                    "（以后在主窗口用 文件 → 打开）；要新建，请换一个文件名。"), True
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            return f"“{parent}”不是文件夹，无法在其中新建文件", False
        return "", False

    # ------------------------------------------------------------ worker
    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.form.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)
        self.busy_label.setVisible(busy)
        self.busy_bar.setVisible(busy)
        if busy:
            self.error_label.hide()
            self.ok_button.setEnabled(False)
        else:
            self._validate()

    def _finish(self, path: Path | None, error: BaseException | None) -> None:
        if self._runner is not None:   # its one job is done: stop its thread
            self._runner.shutdown()
            self._runner.deleteLater()
            self._runner = None
        self._set_busy(False)
        if error is None:
            self._created = path
            self.accept()
            self.finished_setup.emit(path)
            return
        if isinstance(error, OSError):
            text = f"无法新建数据文件：{describe(error)}。"
        elif describe(error) is not None:       # a UserError: the fingerprint, the profile
            text = describe(error)
        else:  # a bug, already in the log (TaskRunner)
            text = (f"没有建成数据文件：程序内部出错（{type(error).__name__}）。没有留下不完整的文件，"
                    f"请重试；如果反复出现，请联系区里的技术人员（错误已记入日志：{log_folder()}）。")
        self.error_label.setText(text)
        self.error_label.show()
        self._validate()
        self.finished_setup.emit(None)

    # ------------------------------------------------------------ closing
    def reject(self) -> None:
        if self._busy:  # never leave a half-made file behind a closed window
            return
        super().reject()

    def closeEvent(self, event) -> None:
        if self._busy:
            event.ignore()
            return
        super().closeEvent(event)
