"""One editor widget per catalog field type.

Every editor is built from a :class:`~desktop_app.core.catalog.model.Field` and has
the same small interface: ``raw()`` gives what the user entered (to be
normalised by core, never here), ``set_value(stored)`` shows a stored value,
and ``changed`` fires on every edit::

    editor = make_editor(ledger.field("cervical_date"))
    editor.changed.connect(form.revalidate)

A value the user's role may not see is never put into an editor: :func:`set_masked`
shows its masked text in the empty editor instead, as what stays unless the user
fills the field in anew (``raw()`` stays empty; the form tells core to keep it).
"""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QValidator
from PySide6.QtWidgets import (
    QCalendarWidget,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QToolButton,
    QWidgetAction,
)

from ..core.catalog import Field, display, parse_date

PLACEHOLDER = "（请选择）"
EMPTY_NUMBER = " "          # shown by a number editor that is not filled
NUMBER_LIMIT = 999_999_999  # bounds for number fields the catalog leaves open
MAX_LENGTHS = {"id_card": 18, "credit_code": 18, "disability_cert": 20}
UPPER_CASE = {"id_card", "credit_code", "disability_cert"}
DATE_HINT = "可输入 2024-03-05、2024.3.5、2024年3月5日 或 20240305；Alt+↓ 打开日历"


class TextEditor(QLineEdit):
    """Text, 身份证号, 手机号, 统一社会信用代码 and 残疾证号."""

    changed = Signal()

    def __init__(self, field: Field, parent=None):
        super().__init__(parent)
        self.field = field
        limit = MAX_LENGTHS.get(field.type) or (field.max_length if field.type == "text" else None)
        if limit:
            self.setMaxLength(limit)
        if field.type in UPPER_CASE:
            self.textEdited.connect(self._upper)
        self.textChanged.connect(lambda _t: self.changed.emit())

    def _upper(self, text: str) -> None:
        if text != text.upper():
            pos = self.cursorPosition()
            self.setText(text.upper())
            self.setCursorPosition(pos)

    def raw(self) -> str:
        return self.text()

    def set_value(self, value) -> None:
        self.setText(display(self.field, value))


class DateEditor(QLineEdit):
    """Typed dates in any form core understands, plus a calendar popup."""

    changed = Signal()

    def __init__(self, field: Field, parent=None):
        super().__init__(parent)
        self.field = field
        self.setPlaceholderText("年-月-日")
        self.setToolTip(DATE_HINT)
        self.calendar = QCalendarWidget()
        self.calendar.setGridVisible(True)
        self.calendar.clicked.connect(self._picked)
        self.calendar.activated.connect(self._picked)
        self.popup = QMenu(self)
        holder = QWidgetAction(self.popup)
        holder.setDefaultWidget(self.calendar)
        self.popup.addAction(holder)
        button = self.addAction(self.style().standardIcon(QStyle.SP_ArrowDown),
                                QLineEdit.TrailingPosition)
        button.setToolTip("选择日期（Alt+↓）")
        button.triggered.connect(self.open_calendar)
        shortcut = QAction(self)
        shortcut.setShortcut(QKeySequence(Qt.ALT | Qt.Key_Down))
        shortcut.setShortcutContext(Qt.WidgetShortcut)
        shortcut.triggered.connect(self.open_calendar)
        self.addAction(shortcut)
        self.editingFinished.connect(self._tidy)
        self.textChanged.connect(lambda _t: self.changed.emit())

    def open_calendar(self) -> None:
        """Show the calendar under the field, on the typed date (or today)."""
        day = parse_date(self.text()) or dt.date.today()
        self.calendar.setSelectedDate(QDate(day.year, day.month, day.day))
        self.popup.popup(self.mapToGlobal(self.rect().bottomLeft()))
        self.calendar.setFocus()

    def _picked(self, day: QDate) -> None:
        self.popup.hide()
        self.setText(f"{day.year():04d}-{day.month():02d}-{day.day():02d}")
        self.setFocus()

    def _tidy(self) -> None:
        day = parse_date(self.text())
        if day is not None and self.text() != day.isoformat():
            self.setText(day.isoformat())

    def raw(self) -> str:
        return self.text()

    def set_value(self, value) -> None:
        self.setText(display(self.field, value))


class ChoiceEditor(QComboBox):
    """A single choice (including 状态), with an empty first entry."""

    changed = Signal()

    def __init__(self, field: Field, parent=None):
        super().__init__(parent)
        self.field = field
        self.addItem(PLACEHOLDER, "")
        for choice in field.choices:
            self.addItem(choice, choice)
        self.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def raw(self) -> str:
        return self.currentData() or ""

    def set_value(self, value) -> None:
        text = display(self.field, value)
        index = self.findData(text)
        if index < 0:  # a value the current catalog no longer offers: keep it visible
            self.addItem(text, text)
            index = self.count() - 1
        self.setCurrentIndex(index)


class _StickyMenu(QMenu):
    """A menu whose checkable actions toggle without closing it (mouse, Space, Enter)."""

    def mouseReleaseEvent(self, event) -> None:
        action = self.actionAt(event.position().toPoint())
        if action is not None and action.isCheckable():
            action.trigger()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:
        action = self.activeAction()
        if (event.key() in (Qt.Key_Space, Qt.Key_Return, Qt.Key_Enter)
                and action is not None and action.isCheckable()):
            action.trigger()
            return
        super().keyPressEvent(event)


class MultiChoiceEditor(QToolButton):
    """Several choices: a button whose menu holds one checkable entry per choice."""

    changed = Signal()

    def __init__(self, field: Field, parent=None):
        super().__init__(parent)
        self.field = field
        self.setPopupMode(QToolButton.InstantPopup)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        menu = _StickyMenu(self)
        self.actions_by_choice = {}
        for choice in field.choices:
            action = menu.addAction(choice)
            action.setCheckable(True)
            action.toggled.connect(self._toggled)
            self.actions_by_choice[choice] = action
        self.setMenu(menu)
        self._show_text()

    def _toggled(self, _checked: bool) -> None:
        self._show_text()
        self.changed.emit()

    def _show_text(self) -> None:
        self.setText(self.raw() or getattr(self, "empty_text", PLACEHOLDER))

    def raw(self) -> str:
        return "、".join(c for c, a in self.actions_by_choice.items() if a.isChecked())

    def set_value(self, value) -> None:
        before = self.raw()
        chosen = set(display(self.field, value).split("、"))
        for choice, action in self.actions_by_choice.items():
            action.blockSignals(True)
            action.setChecked(choice in chosen)
            action.blockSignals(False)
        self._show_text()
        if self.raw() != before:
            self.changed.emit()


class _NumberMixin:
    """Spin box behaviour shared by integers and decimals: an empty state one
    step below the field's minimum, clearing by deleting the text, the unit as
    suffix, and no accidental changes by the mouse wheel while scrolling past."""

    def _setup(self, field: Field, lowest: float, highest: float) -> None:
        self.field = field
        self.setRange(lowest - 1, highest)
        self.setSpecialValueText(EMPTY_NUMBER)
        if field.unit:
            self.setSuffix(f" {field.unit}")
        self.setFocusPolicy(Qt.StrongFocus)
        self.setValue(self.minimum())
        self.valueChanged.connect(lambda _v: self.changed.emit())

    def validate(self, text: str, pos: int):
        if self._blank(text):
            return QValidator.Acceptable, text, pos
        return super().validate(text, pos)

    def valueFromText(self, text: str):
        return self.minimum() if self._blank(text) else super().valueFromText(text)

    def _blank(self, text: str) -> bool:
        return not text.removesuffix(self.suffix()).strip()

    def wheelEvent(self, event) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()

    def is_empty(self) -> bool:
        return self.value() == self.minimum()

    def set_value(self, value) -> None:
        self.setValue(self.minimum() if value is None or value == "" else value)


class IntegerEditor(_NumberMixin, QSpinBox):
    changed = Signal()

    def __init__(self, field: Field, parent=None):
        super().__init__(parent)
        self._setup(field, int(field.min) if field.min is not None else -NUMBER_LIMIT,
                    int(field.max) if field.max is not None else NUMBER_LIMIT)

    def raw(self):
        return "" if self.is_empty() else self.value()


class DecimalEditor(_NumberMixin, QDoubleSpinBox):
    changed = Signal()

    def __init__(self, field: Field, parent=None):
        super().__init__(parent)
        self.setDecimals(3)
        self._setup(field, field.min if field.min is not None else -NUMBER_LIMIT,
                    field.max if field.max is not None else NUMBER_LIMIT)

    def textFromValue(self, value: float) -> str:
        return f"{value:.3f}".rstrip("0").rstrip(".")

    def raw(self):
        return "" if self.is_empty() else round(self.value(), 3)


class YesNoEditor(QComboBox):
    changed = Signal()

    def __init__(self, field: Field, parent=None):
        super().__init__(parent)
        self.field = field
        self.addItems(["", "是", "否"])
        self.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def raw(self) -> str:
        return self.currentText() if self.currentIndex() > 0 else ""

    def set_value(self, value) -> None:
        text = display(self.field, value)
        self.setCurrentIndex(self.findText(text) if text else 0)


EDITORS = {
    "text": TextEditor, "id_card": TextEditor, "phone": TextEditor, "credit_code": TextEditor,
    "disability_cert": TextEditor, "month": TextEditor, "date": DateEditor, "choice": ChoiceEditor,
    "multichoice": MultiChoiceEditor, "integer": IntegerEditor, "decimal": DecimalEditor,
    "yesno": YesNoEditor,
}


KEPT_HINT = "（不变）"
KEPT_TIP = "已登记的内容不显示；留空则保持不变，重新填写则替换"


def set_masked(editor, text: str | None) -> None:
    """Show ``text`` (a stored value, masked) in the empty ``editor`` as what stays unless
    the user fills the field in anew; ``None`` gives the editor its own hint back."""
    masked = None if text is None else f"{text}{KEPT_HINT}"
    if not hasattr(editor, "own_hint"):
        editor.own_hint = (editor.placeholderText() if isinstance(editor, QLineEdit) else
                           editor.itemText(0) if isinstance(editor, QComboBox) else
                           editor.specialValueText() if isinstance(editor, (QSpinBox, QDoubleSpinBox)) else
                           PLACEHOLDER, editor.toolTip())
    hint, tip = editor.own_hint
    if isinstance(editor, QLineEdit):
        editor.setPlaceholderText(masked or hint)
    elif isinstance(editor, QComboBox):
        editor.setItemText(0, masked or hint)
    elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
        editor.setSpecialValueText(masked or hint)
    elif isinstance(editor, MultiChoiceEditor):
        editor.empty_text = masked or hint
        editor._show_text()
    editor.setToolTip(KEPT_TIP if masked else tip)


def make_editor(field: Field, parent=None, *, runner=None):
    """The editor widget for ``field``, chosen by its type (an attachment editor stores its
    files through ``runner``)."""
    if field.type == "attachment":
        from .attachment_editor import AttachmentEditor
        editor = AttachmentEditor(field, runner, parent)
    else:
        editor = EDITORS[field.type](field, parent)
    if field.help:
        editor.setToolTip(field.help if field.type != "date" else f"{field.help}\n{DATE_HINT}")
    return editor
