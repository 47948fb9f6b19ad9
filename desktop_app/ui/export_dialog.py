"""Excel out: a ledger's data, an empty template, and the progress report.

For a user bound to a unit the choices and the default are that unit (core's policy,
:func:`~desktop_app.core.store.policy_for`); 不打码 is offered only to a role that may reveal."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ..core.catalog import Org, file_label
from ..core.store import policy_for
from .tasks import TaskRunner
from .window_size import fit_window

KINDS = {"data": "导出台账数据", "template": "生成填报模板", "report": "导出进展统计表"}


class ExportDialog(QDialog):
    """``kind`` is "data", "template" or "report"; ``done(str)`` carries the written path."""

    done = Signal(str)

    def __init__(self, runner: TaskRunner, reader, kind: str, *, ledger_id: str | None = None,
                 as_of: dt.date | None = None, scope: str | None = None, parent=None):
        super().__init__(parent)
        self.runner, self.reader, self.kind = runner, reader, kind
        self.as_of, self.scope = as_of or dt.date.today(), scope
        self.setWindowTitle(KINDS[kind])
        form = QFormLayout(self)
        self.ledger = QComboBox()
        for led in reader.catalog.ledgers:
            self.ledger.addItem(led.label, led.id)
        if ledger_id:
            self.ledger.setCurrentIndex(self.ledger.findData(ledger_id))
        self.village = QComboBox()
        self.village.addItem("本单位全部" if kind == "data" else "（不指定）", None)
        tree = reader.orgs
        policy = policy_for(reader)
        for org in policy.orgs(reader)[1:]:        # under the user's unit (or the install)
            if kind == "data" or org.level == "village":
                self.village.addItem(tree.path(org.code), org.code)
        self.reveal = QCheckBox("不打码（显示完整的身份证号、电话等）")
        if not policy.may_reveal:
            self.reveal.setEnabled(False)
            self.reveal.setToolTip("只有审核员、管理员可以不打码导出")
        self.purpose = QLineEdit()
        self.purpose.setPlaceholderText("例如：报区民政人社局核对低保发放")
        self.path = QLineEdit()
        browse = QPushButton("浏览…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.path, 1)
        box.addWidget(browse)
        self.message = QLabel()
        self.message.setWordWrap(True)
        if kind in ("data", "template"):
            form.addRow("台账：", self.ledger)
            form.addRow("村（社区）：", self.village)
        if kind == "data":
            form.addRow("", self.reveal)
            form.addRow("用途：", self.purpose)
            self.purpose.setEnabled(False)
            self.reveal.toggled.connect(self.purpose.setEnabled)
        if kind == "report":
            form.addRow("统计日期：", QLabel(f"{self.as_of:%Y年%m月%d日}（主窗口左上角可改）"))
        form.addRow("保存到：", row)
        form.addRow(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.path.setText(str(self._default_path()))
        for w in (self.ledger, self.village):
            w.currentIndexChanged.connect(lambda _i: self.path.setText(str(self._default_path())))
        fit_window(self, "export", QSize(560, self.sizeHint().height()))

    def _default_path(self) -> Path:
        folder = Path(self.path.text()).parent if self.path.text() else Path.home()
        label = self.ledger.currentText()
        village = self.village.currentText().split(" / ")[-1] if self.village.currentData() else ""
        village = file_label(Org("", village, "village")) if village else ""   # never a path
        name = {"data": f"{label}{('_' + village) if village else ''}_{dt.date.today():%Y%m%d}.xlsx",
                "template": f"{label}_填报模板{('_' + village) if village else ''}.xlsx",
                "report": f"民生实事进展情况统计表_{self.as_of:%Y%m%d}.xlsx"}[self.kind]
        return folder / name

    def _browse(self) -> None:
        chosen = self._ask_path()
        if chosen:
            self.path.setText(chosen)

    def _ask_path(self) -> str:
        filters = "Excel 文件 (*.xlsx);;CSV 文件 (*.csv)" if self.kind == "data" else "Excel 文件 (*.xlsx)"
        path, _ = QFileDialog.getSaveFileName(self, KINDS[self.kind], self.path.text(), filters)
        return path

    def start(self) -> None:
        """Write the file on the store thread; errors are shown in the dialog."""
        out = Path(self.path.text().strip())
        if not out.name:
            self.message.setText("<span style='color:#c62828'>请选择保存位置</span>")
            return
        lid, village = self.ledger.currentData(), self.village.currentData()
        reveal, purpose = self.reveal.isChecked(), self.purpose.text()
        as_of, scope, kind = self.as_of, self.scope, self.kind

        def work(store, progress):
            if kind == "data":
                from ..core.excel import export_ledger
                return str(export_ledger(store, lid, out, village=village,
                                         reveal=reveal, purpose=purpose).path)
            if kind == "template":
                from ..core.excel import write_template
                return str(write_template(store, lid, out, village=village))
            from ..core.district import compute, progress_workbook
            return str(progress_workbook(store, compute(store, as_of, scope=scope), out))
        self.buttons.setEnabled(False)
        self.message.setText("正在写入…")
        self.runner.run(work, on_done=self._finished, on_error=self._failed,
                        label=f"正在{KINDS[kind]}…", parent=self)

    def _finished(self, path: str) -> None:
        self.buttons.setEnabled(True)
        self.done.emit(path)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(f"<span style='color:#c62828'>{error}</span>")
