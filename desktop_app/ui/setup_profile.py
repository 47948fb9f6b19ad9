"""The rows of 新建数据文件 with which a unit starts from the profile of the level above:
a village (村（社区）) from its town's, a town (镇) from its district's.

The file (chosen with 浏览… or typed), what it is (``河坝镇（430971121）的配置文件，列有 3 个
村（社区）``, ``大通湖区（430971）的配置文件，列有 5 个镇``, or why it cannot be used —
:func:`~desktop_app.core.sync.units_to_start`), its fingerprint shown large in the grouping
used wherever a person reads one aloud, and a box for the fingerprint the level above reads
out over the phone: grey while it is being typed, red when core's
:func:`~desktop_app.core.sync.check_fingerprint` refuses it, green when it matches (spaces
and dashes ignored). The words name the level above (镇 or 区) and follow :meth:`set_level`.

For tests (no real modal): ``set_path``, ``set_fingerprint`` and the small method
``_ask_profile_path`` behind 浏览….
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ..core.catalog import LEVEL_NAMES, PARENT_LEVEL, OrgTree
from ..core.sync import (PROFILE_SUFFIX, FingerprintMismatch, Profile, ProfileError, check_fingerprint,
                         normalise_fingerprint, read_profile, spaced_fingerprint, units_to_start)
from .style import ERROR_STYLE, GREEN, HINT_STYLE
from .sync_peers import fingerprint_label


def note(text: str = "", *, hint: bool = False) -> QLabel:
    """A message under a field: red (grey for a ``hint``), hidden while empty."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(HINT_STYLE if hint else ERROR_STYLE)
    label.setVisible(bool(text))
    return label


def stack(*widgets: QWidget) -> QWidget:
    """Widgets one above the other, as one field of a form."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w)
    return box


class ProfileRows(QObject):
    """The 上级的配置文件 and 核对指纹 rows, added to ``form``, for a unit at ``level``
    (``"village"``: 镇的配置文件; ``"town"``: 区的配置文件); ``changed`` when another file
    is named or the level changes (the units listed change), ``typed`` when the fingerprint
    typed changes."""

    changed = Signal()
    typed = Signal()

    def __init__(self, form: QFormLayout, parent: QWidget, level: str = "village"):
        super().__init__(parent)
        self.level = level
        self.profile: Profile | None = None     # the level above's profile, once read
        self.units: OrgTree | None = None       # the units it carries (a town's villages, a district's towns)
        self.problem = ""                       # why the file named cannot be used
        self.edit = QLineEdit()
        self.edit.textChanged.connect(self._read)
        self.browse = QPushButton("浏览…")
        self.browse.setAutoDefault(False)
        self.browse.clicked.connect(self._browse)
        chooser = QWidget()
        row = QHBoxLayout(chooser)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)
        self.error = note()
        self.info = note(hint=True)
        file_box = stack(chooser, self.error, self.info)
        self.file_label = QLabel()
        self.file_label.setBuddy(self.edit)
        form.addRow(self.file_label, file_box)

        self.shown = fingerprint_label()
        self.hint = note(hint=True)
        self.fingerprint_edit = QLineEdit()
        self.fingerprint_edit.setPlaceholderText("对方读出的指纹，例如 3F2A 9C01 …（空格、横线可有可无）")
        self.fingerprint_edit.textChanged.connect(lambda _t: self.typed.emit())
        self.fingerprint_message = note()
        check_box = stack(self.shown, self.hint, self.fingerprint_edit, self.fingerprint_message)
        check_label = QLabel("核对指纹(&K)：")
        check_label.setBuddy(self.fingerprint_edit)
        form.addRow(check_label, check_box)
        self._rows = [self.file_label, file_box, check_label, check_box]
        self.set_level(level)

    # ------------------------------------------------------------ for the dialog and tests
    def set_level(self, level: str) -> None:
        """Start a unit at ``level`` (``"village"`` or ``"town"``): the words name the level
        above, and the file named is read again for that level."""
        self.level = level
        self.edit.setPlaceholderText(f"{self.above()}发来的配置文件（…{PROFILE_SUFFIX}），U 盘或微信收到的")
        self.file_label.setText(f"{self.above()}的配置文件(&F)：")
        self._read()

    def above(self) -> str:
        """The level above in words: ``镇`` for a village, ``区`` for a town."""
        return LEVEL_NAMES[PARENT_LEVEL[self.level]]

    def set_visible(self, visible: bool) -> None:
        for w in self._rows:
            w.setVisible(visible)

    def set_path(self, path: Path | str) -> None:
        """Use the profile file at ``path`` (what 浏览… does once the user has chosen)."""
        self.edit.setText(str(path))

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text).expanduser() if text else None

    def set_fingerprint(self, text: str) -> None:
        """Type the fingerprint the level above read out over the phone."""
        self.fingerprint_edit.setText(text)

    def fingerprint(self) -> str:
        return self.fingerprint_edit.text()

    def problems(self) -> tuple[str, str]:
        """(what is wrong with the file, what is wrong with the fingerprint typed), both ""
        when the unit can start; shows them under the rows."""
        path, above = self.path(), self.above()
        file_msg = (f"请选择{above}发来的配置文件（{above}在“同步中心 → 单位与配置文件”导出）" if path is None
                    else self.problem)
        self.error.setText(file_msg)
        self.error.setVisible(bool(file_msg))
        text, state = self._fingerprint_state()
        label = self.fingerprint_message
        label.setText("✔ 指纹一致" if state == "ok" else text)
        label.setStyleSheet({"ok": f"color: {GREEN};", "wrong": ERROR_STYLE}.get(state, HINT_STYLE))
        label.setVisible(bool(label.text()))
        return file_msg, ("" if state == "ok" else text or f"请输入{above}读出的指纹")

    # ------------------------------------------------------------ reactions
    def _read(self, _text: str = "") -> None:
        """Read the file named now: its fingerprint and the units it lists, or why not."""
        self.profile, self.units, self.problem = None, None, ""
        path = self.path()
        if path is not None:
            try:
                profile = read_profile(path)
                units = units_to_start(profile, self.level, path.name)
            except ProfileError as exc:
                self.problem = str(exc)
            else:
                self.profile, self.units = profile, OrgTree(profile.orgs())
                owner = profile.body.get("org_name", profile.org)
                self.info.setText(f"{owner}（{profile.org}）的配置文件，列有 {len(units)} 个{LEVEL_NAMES[self.level]}。")
                self.shown.setText(spaced_fingerprint(profile.fingerprint))
                self.hint.setText(f"上面是这个配置文件的指纹。请打电话给{owner}，请对方在“同步中心 → 单位与配置文件”"
                                  "读出本机指纹，在下面输入对方读出的指纹。两者一致，才说明这个文件确实是"
                                  f"{owner}发的、途中没有被改过。")
        for label in (self.info, self.shown, self.hint):
            label.setVisible(self.profile is not None)
        if self.profile is None:
            self.shown.clear()
        self.changed.emit()

    def _fingerprint_state(self) -> tuple[str, str]:
        """(what to say about the fingerprint typed, and whether it is ``"ok"``, still
        ``"typing"`` or ``"wrong"``)."""
        if self.profile is None:
            return "", "typing"
        typed = normalise_fingerprint(self.fingerprint())
        wanted = normalise_fingerprint(self.profile.fingerprint)
        if not typed:
            return f"请与{self.above()}电话核对指纹后，在这里输入对方读出的指纹", "typing"
        if len(typed) < len(wanted):
            return f"已输入 {len(typed)} 位，指纹共 {len(wanted)} 位", "typing"
        try:
            check_fingerprint(self.profile.body.get("org_name", self.profile.org), self.fingerprint(),
                              self.profile.fingerprint)
        except FingerprintMismatch as exc:
            return str(exc), "wrong"
        return "", "ok"

    def _browse(self) -> None:
        chosen = self._ask_profile_path(self.path() or Path.home())
        if chosen:
            self.set_path(chosen)

    def _ask_profile_path(self, start: Path) -> str:
        """The file chooser (the one real modal; tests call :meth:`set_path` instead)."""
        name, _filter = QFileDialog.getOpenFileName(
            self.parent(), f"选择{self.above()}发来的配置文件", str(start),
            f"配置文件 (*{PROFILE_SUFFIX});;所有文件 (*)")
        return name
