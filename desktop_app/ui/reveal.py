"""The 显示敏感信息 control: a stated purpose, the role check and the audit entry first.

One widget for every page that can show sensitive values in full (ledger, record
form, import preview, conflicts). Values are shown only after core's policy
(:meth:`~desktop_app.core.store.Policy.revealed_by`) has checked the role and written
the audit entry with the purpose; a 录入员 sees the control disabled.

For tests (no dialogs): ``set_purpose(text)`` then ``setChecked(True)``; wait for
``changed(True)``; ``isChecked()`` is True only once the audit entry exists.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QWidget

from ..core.store import allowed

PURPOSES = ("核实身份信息", "电话回访", "入户核查", "上报数据核对", "纠正录入错误")


class RevealControl(QWidget):
    changed = Signal(bool)   # True once audited; False when masked again
    refused = Signal(str)    # why the values stay masked (no purpose, role, store error)

    def __init__(self, runner, tables: Callable[[], list[str]], source: str,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.runner, self._tables, self.source = runner, tables, source
        self.shown = False
        self.box = QCheckBox("显示敏感信息")
        self.box.setToolTip("显示完整的身份证号、电话等；须选择或填写用途，每次都记入审计日志")
        self.purpose = QComboBox()
        self.purpose.setEditable(True)
        self.purpose.addItems(("",) + PURPOSES)
        self.purpose.lineEdit().setPlaceholderText("查看用途（必填）")
        self.purpose.setMinimumContentsLength(7)
        self.purpose.setToolTip("为什么要查看完整信息（记入审计日志）")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box)
        layout.addWidget(self.purpose)
        session = getattr(runner, "session", None)
        if session is not None and not allowed(session.role, "reveal"):
            for w in (self.box, self.purpose):
                w.setEnabled(False)
                w.setToolTip(f"{session.role}不能查看完整的敏感信息（需审核员或管理员）")
        self.box.toggled.connect(self._toggled)

    # -- the QCheckBox-like surface the pages and tests use
    def isChecked(self) -> bool:
        return self.shown

    def setChecked(self, on: bool) -> None:
        self.box.setChecked(on)

    def set_purpose(self, text: str) -> None:
        self.purpose.setCurrentText(text)

    def purpose_text(self) -> str:
        return self.purpose.currentText().strip()

    def _uncheck(self) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(False)
        self.box.blockSignals(False)

    def _toggled(self, on: bool) -> None:
        if not on:
            self.shown = False
            self.changed.emit(False)
            return
        tables = self._tables()
        if not tables:
            self._uncheck()
            self.refused.emit("现在没有可显示的敏感信息")
            return
        purpose = self.purpose_text()
        if not purpose:
            self._uncheck()
            self.refused.emit("请先选择或填写查看用途（记入审计日志），再勾选“显示敏感信息”")
            return
        from ..core.store import policy_for
        source = self.source

        def audit(store, progress):   # core's policy: the role check, then one entry per table
            for table in tables:
                policy_for(store).revealed_by(store, purpose=purpose, source=source, table=table)

        def done(_r):
            self.shown = True
            self.changed.emit(True)

        def failed(error):
            self._uncheck()
            self.refused.emit(str(error))
        self.runner.run(audit, on_done=done, on_error=failed)
