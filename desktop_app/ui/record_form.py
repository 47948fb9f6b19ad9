"""The record form: one ledger row, checked by core on every keystroke.

Opened for a new row or an existing one (with its change history)::

    form = RecordForm(runner, reader, "two_cancer", parent=page)
    form.saved.connect(page.after_write)
    form.open()

Every check is core's (:meth:`Records.check_kept`); the form only shows the
messages beside their fields. Reads are instant reads on the read-only
``reader``; the save runs on the runner's store thread.

Sensitive values follow core's policy (:func:`~desktop_app.core.store.policy_for`): an
existing row's sensitive fields show their masked text in empty editors unless revealed
(the page's audited reveal, or 显示敏感信息 here: a stated purpose, audited; a 录入员
cannot). A masked field left empty keeps its stored value — core completes it on saving
(``keep``); filling it in replaces it. What the person master knows of a typed ID number
fills in the same way (a value the role may not see: masked and kept). A user bound to a
unit chooses among that unit and the units under it.
"""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.catalog import Problem, RowCheck, age_on, birth_from_id, is_blank, sex_from_id
from ..core.errors import StoreError
from ..core.store import RowsRejected, policy_for
from .errors import show_error
from .field_widgets import make_editor, set_masked
from .reveal import RevealControl
from .style import AMBER, GREEN, GREY, RED
from .window_size import fit_window

SOURCE = "screen:record_form"
TWO_COLUMNS_FROM = 10  # fields; fewer fit in one column
ACTIONS = {"insert": "新建", "update": "修改", "delete": "删除", "restore": "恢复"}
SOURCES = {"screen:record_form": "录入表单", "screen:ledger": "台账页面", "cli": "命令行",
           "cli:add": "命令行录入", "demo": "示例数据"}
HISTORY_COLUMNS = ("时间", "操作人", "操作", "来源", "修改内容")
ORG_LABEL = "所属单位"


class RecordForm(QDialog):
    """Add (``uuid=None``) or edit one row of ``ledger_id``; emits ``saved(uuid)``."""

    saved = Signal(str)

    def __init__(self, runner, reader, ledger_id: str, *, uuid: str | None = None,
                 org: str | None = None, today: dt.date | None = None, reveal: bool = False,
                 parent=None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.records = reader.ledger(ledger_id)
        self.ledger = self.records.ledger
        self.uuid = uuid
        self.today = today or dt.date.today()
        self.policy = policy_for(reader)            # masked; revealed below when allowed and audited
        self.reveal = bool(reveal) and self.policy.may_reveal   # the page's reveal (audited there)
        if self.reveal:
            self.policy = self.policy.for_screen()
        self.check: RowCheck | None = None
        self.duplicates: list[str] = []
        self.hidden: dict[str, str] = {}             # field -> masked text kept unless filled in
        self._looked_up: dict[str, str] = {}         # ID field -> number last looked up
        self._filled: dict[str, dict[str, object]] = {}  # ID field -> {field: raw it filled in}
        self._filled_hidden: dict[str, set[str]] = {}    # ID field -> fields it filled masked
        self._notes: dict[str, str] = {}             # ID field -> what the lookup found
        self._shown_in_full: dict[str, object] = {}  # field -> raw shown by a reveal here
        self._busy = self._saving = False
        self._general: list[str] = []               # messages about no one field
        row = self.records.get(uuid) if uuid else None
        if uuid and row is None:
            raise KeyError(uuid)
        self._deleted = bool(row and row["_deleted"])
        action = "修改" if uuid else "新增"
        self.setWindowTitle(f"{action}记录 — {self.ledger.label}")
        self._build(row["org"] if row else self.records.resolve_org(org))
        if row:
            self._load(self.policy.row(self.ledger, row))
        self.revalidate()

    # ------------------------------------------------------------ layout
    def _build(self, org_code: str) -> None:
        self.tabs = QTabWidget()
        self.tabs.addTab(self._form_page(org_code), "填写")
        if self.uuid:
            self.tabs.addTab(self._history_page(), "修改记录")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.save_button = buttons.addButton("保存", QDialogButtonBox.AcceptRole)
        self.cancel_button = buttons.addButton("取消", QDialogButtonBox.RejectRole)
        self.save_button.setDefault(True)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        editors = [w for e in self.editors.values()
                   for w in (e.tab_widgets() if hasattr(e, "tab_widgets") else (e,))]
        chain = [self.org_combo, *editors, self.confirm_duplicate, self.save_button, self.cancel_button]
        for a, b in zip(chain, chain[1:]):
            QWidget.setTabOrder(a, b)
        first = next(iter(self.editors.values()))
        first.setFocus()
        fit_window(self, f"record_{self.columns}", QSize(940 if self.columns == 2 else 600, 680))

    def _form_page(self, org_code: str) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.reveal_control = RevealControl(self.runner, lambda: [self.ledger.table] if self.hidden else [],
                                            SOURCE)
        self.reveal_control.changed.connect(self._reveal_changed)
        self.reveal_control.refused.connect(self._say)
        self.reveal_control.setVisible(not self.reveal)
        self.banner = QFrame()
        self.banner.setStyleSheet("QFrame { background: #fff3cd; border-radius: 4px }")
        self.duplicate_label = QLabel()
        self.duplicate_label.setWordWrap(True)
        self.confirm_duplicate = QCheckBox("确认不是重复记录")
        self.confirm_duplicate.toggled.connect(lambda _c: self._update_save())
        banner_layout = QVBoxLayout(self.banner)
        banner_layout.addWidget(self.duplicate_label)
        banner_layout.addWidget(self.confirm_duplicate)
        self.banner.hide()
        layout.addWidget(self.banner)
        self.org_combo = QComboBox()
        tree = self.reader.orgs
        for i, o in enumerate(self.policy.orgs(self.reader)):   # the user's unit and below
            self.org_combo.addItem(f"{o.name}（本单位）" if i == 0 else tree.path(o.code), o.code)
        if self.org_combo.findData(org_code) < 0:   # (a row's unit the list lacks: kept)
            self.org_combo.addItem(tree.path(org_code), org_code)
        self.org_combo.setCurrentIndex(self.org_combo.findData(org_code))
        org_row = QHBoxLayout()
        org_row.addWidget(QLabel(f"{ORG_LABEL}（村/社区）"))
        org_row.addWidget(self.org_combo, 1)
        org_row.addWidget(self.reveal_control)
        layout.addLayout(org_row)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.scroll.setWidget(self._fields_grid())
        layout.addWidget(self.scroll, 1)
        return page

    def _fields_grid(self) -> QWidget:
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        plain = [f for f in self.ledger.fields if f.type != "attachment"]
        files = [f for f in self.ledger.fields if f.type == "attachment"]
        self.columns = 2 if len(plain) >= TWO_COLUMNS_FROM else 1
        self.editors, self.messages, self.id_info = {}, {}, {}
        rows = -(-len(plain) // self.columns)
        for i, f in enumerate(plain + files):
            editor = make_editor(f, runner=self.runner)
            editor.changed.connect(lambda fid=f.id: self._edited(fid))
            self.editors[f.id] = editor
            star = f" <span style='color:{RED}'>*</span>" if f.required else ""
            label = QLabel(f"{f.label}{star}")
            label.setToolTip(f.help)
            label.setBuddy(editor)
            label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            label.setMinimumHeight(editor.sizeHint().height())  # level with the editor
            message = QLabel()
            message.setWordWrap(True)
            message.hide()
            self.messages[f.id] = message
            cell = QVBoxLayout()
            cell.setSpacing(2)
            cell.addWidget(editor)
            if f.type == "id_card":
                info = QLabel()
                info.setWordWrap(True)
                info.setStyleSheet(f"color: {GREY}")
                self.id_info[f.id] = info
                cell.addWidget(info)
            cell.addWidget(message)
            cell.addStretch()
            if f.type == "attachment":  # photos take the whole width, below the other fields
                row = rows + i - len(plain)
                grid.addWidget(label, row, 0, Qt.AlignRight | Qt.AlignTop)
                grid.addLayout(cell, row, 1, 1, self.columns * 2 - 1)
                continue
            row, col = divmod(i, self.columns)
            grid.addWidget(label, row, col * 2, Qt.AlignRight | Qt.AlignTop)
            grid.addLayout(cell, row, col * 2 + 1)
        for col in range(self.columns):
            grid.setColumnStretch(col * 2 + 1, 1)
        grid.setRowStretch(grid.rowCount(), 1)
        return grid_widget

    def _history_page(self) -> QWidget:
        self.history_model = QStandardItemModel(0, len(HISTORY_COLUMNS), self)
        self.history_model.setHorizontalHeaderLabels(HISTORY_COLUMNS)
        for entry in self.records.history(self.uuid):
            cells = [entry["ts"].replace("T", " "), entry["user"] or "",
                     ACTIONS.get(entry["action"], entry["action"]),
                     SOURCES.get(entry["source"], entry["source"] or ""),
                     "\n".join(self._describe_changes(entry))]
            items = [QStandardItem(text) for text in cells]
            for item in items:
                item.setEditable(False)
                item.setTextAlignment(Qt.AlignLeft | Qt.AlignTop)
            self.history_model.appendRow(items)
        table = QTableView()
        table.setModel(self.history_model)
        table.setWordWrap(True)
        table.setSelectionBehavior(QAbstractItemView.SelectRows)
        table.verticalHeader().hide()
        table.horizontalHeader().setStretchLastSection(True)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        table.resizeRowsToContents()
        return table

    # ------------------------------------------------------------ values
    def raw_values(self) -> dict:
        """What the user entered, field id → raw value (for core to normalise)."""
        return {fid: editor.raw() for fid, editor in self.editors.items()}

    def kept(self) -> list[str]:
        """The masked fields the user left empty: core keeps their stored value."""
        return [fid for fid in self.hidden if is_blank(self.editors[fid].raw())]

    def _shown(self, field_id: str, value) -> str:
        return self.policy.text(self.ledger, field_id, value)

    # ------------------------------------------------------------ masked values
    def _hide(self, field_id: str, masked: str) -> None:
        """Show ``masked`` in the empty editor of ``field_id``: kept unless filled in."""
        self.hidden[field_id] = masked
        set_masked(self.editors[field_id], masked)

    def _unhide(self, field_id: str) -> None:
        self.hidden.pop(field_id, None)
        set_masked(self.editors[field_id], None)

    def _say(self, text: str) -> None:
        self.summary.setText(text)
        self.summary.setStyleSheet(f"color: {AMBER}")

    def set_reveal(self, on: bool, purpose: str | None = None) -> None:
        """显示敏感信息 here (True: audited with ``purpose``; a 录入员 cannot)."""
        if purpose:
            self.reveal_control.set_purpose(purpose)
        self.reveal_control.setChecked(on)

    def _reveal_changed(self, on: bool) -> None:
        self._busy = True
        try:
            if on:   # audited by the control: the masked fields left empty show their values
                self.reveal = True
                self.policy = self.policy.for_screen()
                kept = self.kept()
                full = self.records.complete(self.raw_values(), uuid=self.uuid, keep=kept) if kept else {}
                for fid in kept:
                    self._unhide(fid)
                    self.editors[fid].set_value(full.get(fid))
                    self._shown_in_full[fid] = self.editors[fid].raw()
            else:    # masked again: what a reveal put in and nobody changed
                self.reveal = False
                self.policy = policy_for(self.reader)
                for fid, raw in self._shown_in_full.items():
                    if self.editors[fid].raw() == raw:
                        self.editors[fid].set_value(None)
                        self._hide(fid, self._shown(fid, raw))
                self._shown_in_full.clear()
        finally:
            self._busy = False
        self.revalidate()

    def _describe_changes(self, entry: dict) -> list[str]:
        """``字段名：旧 → 新`` for each changed field (new values only for 新建)."""
        lines = []
        for col, (old, new) in entry["changes"].items():
            if col == "org":
                label, fmt = ORG_LABEL, (lambda v: self.reader.orgs.path(v) if v else "")
            elif self.ledger.has_field(col):
                label, fmt = self.ledger.field(col).label, (lambda v, c=col: self._shown(c, v))
            else:
                continue  # person links and the deleted flag: the action says it
            if entry["action"] == "insert":
                lines.append(f"{label}：{fmt(new)}")
            else:
                lines.append(f"{label}：{fmt(old) or '（空）'} → {fmt(new) or '（空）'}")
        return lines

    def _load(self, row: dict) -> None:
        """Fill the editors from ``row`` as the policy shows it: a masked value goes into
        no editor, only its hint (:meth:`_hide`)."""
        self._busy = True
        for fid, editor in self.editors.items():
            value = row.get(fid)
            if (editor.field.type != "attachment" and not self.policy.shows(self.ledger, fid)
                    and not is_blank(value)):
                self._hide(fid, self._shown(fid, value))
                editor.set_value(None)
            else:
                editor.set_value(value)
            if editor.field.type == "id_card" and value:
                self._looked_up[fid] = value
        self._busy = False

    # ------------------------------------------------------------ checking
    def _edited(self, field_id: str) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            check = self.revalidate()
            is_id = self.ledger.field(field_id).type == "id_card"
            if is_id and self._fill_from_id(field_id, check):
                self.revalidate()
        finally:
            self._busy = False

    def revalidate(self) -> RowCheck:
        """Check the whole row with core and show every message beside its field."""
        check = self.check = self.records.check_kept(self.raw_values(), uuid=self.uuid, keep=self.kept(),
                                                     reveal=self.reveal, today=self.today)
        if check.ok and self.ledger.persons:
            check.problems += self.records.person_warnings(check.values)
        self._show_problems(check.problems)
        self._show_id_info(check)
        dups = self.records.duplicates_of(check.values, exclude=self.uuid)
        if dups != self.duplicates:
            self.duplicates = dups
            self.confirm_duplicate.setChecked(False)
            self._show_duplicates()
        self._update_save()
        return check

    def _show_problems(self, problems: list[Problem]) -> None:
        by_field: dict[str | None, list[Problem]] = {}
        for p in problems:
            by_field.setdefault(p.field if p.field in self.messages else None, []).append(p)
        for fid, label in self.messages.items():
            found = by_field.get(fid, [])
            errors = [p for p in found if p.severity == "error"]
            shown = errors or found
            prefix = f"{self.ledger.field(fid).label}："
            label.setText("；".join(p.message.removeprefix(prefix) for p in shown))
            label.setStyleSheet(f"color: {RED if errors else AMBER}")
            label.setVisible(bool(shown))
        self._general = [p.message for p in by_field.get(None, [])]

    def _show_id_info(self, check: RowCheck) -> None:
        """Birth date, sex and age from each valid ID number (age on the event date)."""
        event = check.values.get(self.ledger.date_field)
        on = dt.date.fromisoformat(event) if event else self.today
        kept = self.kept()
        for fid, info in self.id_info.items():
            number = check.values.get(fid)
            if not number or fid in kept:   # a kept number says nothing of itself
                info.clear()
                continue
            birth = birth_from_id(number)
            text = f"出生日期 {birth:%Y-%m-%d}　{sex_from_id(number)}　{age_on(birth, on)} 周岁"
            if self._looked_up.get(fid) == number and fid in self._notes:
                text += f"　{self._notes[fid]}"
            info.setText(text)

    def _fill_from_id(self, id_field: str, check: RowCheck) -> bool:
        """Fill the fields derived from a newly typed valid ID, and what the person
        master knows, into empty fields (or ones this form filled before)."""
        number = check.values.get(id_field)
        if not number or self._looked_up.get(id_field) == number:
            return False
        self._looked_up[id_field] = number
        derived = [f.id for f in self.ledger.fields if f.derive_from == id_field]
        values = self.records.check(self.raw_values() | dict.fromkeys(derived, ""),
                                    today=self.today).values
        wanted = {fid: values[fid] for fid in derived}
        shown, hidden = self.records.person_fill(id_field, number, reveal=self.reveal)
        person = bool(shown or hidden)
        from_master = []
        for lf, value in shown.items():
            if lf not in wanted:
                wanted[lf] = value
                from_master.append(lf)
        previous = self._filled.pop(id_field, {})
        mine = {fid: raw for fid, raw in previous.items() if self.editors[fid].raw() == raw}
        for fid in self._filled_hidden.pop(id_field, set()):   # masked fills of an earlier number
            if fid in self.hidden and is_blank(self.editors[fid].raw()):
                self._unhide(fid)
        filled = {}
        for fid in set(mine) | set(wanted):
            editor = self.editors[fid]
            if fid not in mine and not is_blank(editor.raw()):
                continue  # the user's own entry: never overwritten
            editor.set_value(wanted.get(fid))
            if fid in wanted:
                filled[fid] = editor.raw()
        masked = set()
        for fid, text in hidden.items():    # what the role may not see: masked, kept on saving
            if fid in wanted or fid in self.hidden or not is_blank(self.editors[fid].raw()):
                continue
            self._hide(fid, text)
            masked.add(fid)
        self._filled[id_field] = filled
        self._filled_hidden[id_field] = masked
        names = [self.ledger.field(fid).label for fid in from_master if fid in filled] + \
            [self.ledger.field(fid).label for fid in hidden if fid in masked]
        if names:
            self._notes[id_field] = f"已从人员主档带出（{'、'.join(names)}）"
        elif person:
            self._notes[id_field] = "人员主档中已有此人"
        else:
            self._notes.pop(id_field, None)
        return bool(filled or previous or masked)

    def _show_duplicates(self) -> None:
        if not self.duplicates:
            self.banner.hide()
            return
        other = self.records.get(self.duplicates[0]) or {}   # (another unit's row: not named)
        key = self.records.natural_key_label()
        title = self.ledger.title_field
        who = self._shown(title, other.get(title)) if title else ""
        where = self.reader.orgs.path(other.get("org", ""))
        self.duplicate_label.setText(
            f"⚠ 可能重复：本台账已有 {len(self.duplicates)} 条记录的{key}与此相同"
            f"（{'，'.join(x for x in (who, where, other.get('status')) if x)}）。"
            "如是同一人同一次，请取消并修改已有记录；如确实不是重复记录，请勾选下面的方框后保存。")
        self.banner.show()

    def _update_save(self) -> None:
        check = self.check
        if check is None:
            return
        unconfirmed = bool(self.duplicates) and not self.confirm_duplicate.isChecked()
        self.save_button.setEnabled(check.ok and not unconfirmed and not self._saving
                                    and not self._deleted)
        if self._deleted:
            text, color = "此记录在回收站中，恢复后才能修改", GREY
        elif check.errors:
            text, color = f"有 {len(check.errors)} 处需要改正", RED
        elif unconfirmed:
            text, color = "可能与已有记录重复：请核对上方提示，确认后才能保存", AMBER
        elif check.missing:
            names = "、".join(self.ledger.field(f).label for f in check.missing)
            text, color = f"可保存为待补充：缺 {names}", AMBER
        else:
            text, color = "填写完整，可以保存", GREEN
        if self._general:
            text += "：" + "；".join(self._general)
        self.summary.setText(text)
        self.summary.setStyleSheet(f"color: {color}")

    # ------------------------------------------------------------ saving
    def save(self) -> None:
        """Save on the store thread; on success emit ``saved(uuid)`` and close."""
        if not self.save_button.isEnabled():
            return
        lid, uid, today = self.ledger.id, self.uuid, self.today
        raw, org, keep = self.raw_values(), self.org_combo.currentData(), self.kept()
        confirmed = bool(self.duplicates) and self.confirm_duplicate.isChecked()
        if uid is None:
            def op(store, progress):
                return store.ledger(lid).add(raw, org=org, source=SOURCE, today=today,
                                             allow_duplicate=confirmed, keep=keep)
        else:
            def op(store, progress):
                return store.ledger(lid).update(uid, raw | {"org": org}, source=SOURCE,
                                                today=today, allow_duplicate=confirmed, keep=keep)
        self._saving = True
        self._update_save()
        self.summary.setText("正在保存…")
        self.runner.run(op, on_done=self._saved, on_error=self._save_failed)

    def _saved(self, result) -> None:
        self._saving = False
        self.saved.emit(result.uuid)
        self.accept()

    def _save_failed(self, error: BaseException) -> None:
        self._saving = False
        self.revalidate()
        if isinstance(error, RowsRejected):
            problems = [p for probs in error.failures.values() for p in probs]
            self._show_problems(problems)
            text = "没有保存：" + "；".join(error.messages())
        elif isinstance(error, (StoreError, KeyError)):
            text = "没有保存：" + (str(error) if isinstance(error, StoreError)
                               else "此记录已被删除或不存在")
        else:
            show_error(error, self)
            return
        self.summary.setText(text)
        self.summary.setStyleSheet(f"color: {RED}")

    def reject(self) -> None:
        if not self._saving:  # a save under way finishes first (it cannot be taken back)
            super().reject()
