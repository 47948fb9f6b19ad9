"""The district's working pages (shown only when ``reader.node.level == "district"``).

    board = BoardPage(runner, reader)                # 报送情况        (district_board)
    progress = ConsolidatedPage(runner, reader)      # 全区进度        (district_progress)
    progress.drill.connect(window.open_counted_rows) # (indicator id, org code)
    dupes = DuplicatesPage(runner, reader)           # 重复计数核实    (district_review)
    reviews = ReviewsPage(runner, reader)            # 核实意见        (reviews_page)
    MonthlyReportDialog(runner, reader, parent=window).open()   # 调度报告（xlsx + PDF）

Every figure, status and decision is core's (:mod:`~desktop_app.core.district.board`,
:mod:`~desktop_app.core.district.progress`, :mod:`~desktop_app.core.district.duplicates`,
:mod:`~desktop_app.core.district.reviews`, :mod:`~desktop_app.core.district.monthly`); the pages
only arrange them. Long reads and every write run on the runner's store
thread; single-row reads (provenance, the current quota) use the GUI thread's
read-only ``reader``. Results and refusals are shown on the page, not in
modal boxes; anything unexpected goes to :func:`~desktop_app.ui.tasks.show_error`.

This module holds what the pages share (formatting, the inline messages; the table
model is in tables.py) and :class:`MonthlyReportDialog`; the pages are in
district_board.py, district_progress.py and district_review.py. For tests (no real modal dialogs):
``MonthlyReportDialog.generate(year, month, folder)``; the folder chooser is the
small method ``_ask_folder``.
"""
from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.district import clamp_as_of, monthly_report, monthly_workbook
from ..core.errors import StoreError
from ..core.store import RowsRejected
from .errors import show_error
from .style import GREEN, GREY, RED
from .tables import hint_label, message_label, say
from .window_size import fit_window

# ---------------------------------------------------------------- formatting

def fmt_num(value) -> str:
    """``1,234``, ``138.894``; ``—`` for no value."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}"


def fmt_time(iso: str | None, empty: str = "—") -> str:
    return iso.replace("T", " ")[:16] if iso else empty


def fmt_day(iso: str) -> str:
    """``2024-03-05`` → ``3月5日``."""
    d = dt.date.fromisoformat(iso)
    return f"{d.month}月{d.day}日"


_dots: dict[str, QIcon] = {}


def dot(color: str) -> QIcon:
    """A small filled circle (the board's red / amber / green marker)."""
    if color not in _dots:
        pix = QPixmap(14, 14)
        pix.fill(Qt.transparent)
        painter = QPainter(pix)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setBrush(QColor(color))
        painter.setPen(Qt.NoPen)
        painter.drawEllipse(1, 1, 12, 12)
        painter.end()
        _dots[color] = QIcon(pix)
    return _dots[color]


# ---------------------------------------------------------------- messages

def failure(label: QLabel, error: BaseException, parent: QWidget | None = None,
            folder: Path | None = None) -> str:
    """Core's refusals (and an unwritable folder) on the page; anything else in the error box.
    Returns the text shown (empty when the error box took it)."""
    if isinstance(error, (StoreError, RowsRejected)):
        text = f"没有完成：{error}"
    elif isinstance(error, PermissionError) and folder is not None:
        text = (f"没有完成：无法写入 {folder}（没有写入权限，或同名文件正在 Excel 或 PDF 阅读器中打开，"
                "请关闭后再试）。")
    elif isinstance(error, OSError) and folder is not None:
        text = f"没有完成：无法写入 {folder}（文件夹不存在、没有写入权限，或 U 盘已拔出）。请换一个位置再试。"
    else:
        label.clear()
        show_error(error, parent)
        return ""
    say(label, text, RED)
    return text


def title_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-size: 16px; font-weight: bold")
    return label


# ---------------------------------------------------------------- the monthly report

def report_names(year: int, month: int) -> tuple[str, str]:
    stem = f"调度报告_{year}-{month:02d}"
    return f"{stem}.xlsx", f"{stem}.pdf"


class MonthlyReportDialog(QDialog):
    """调度报告: the month's report as an xlsx (written on the store thread) and an A4 PDF
    (printed on the GUI thread from the same report data); ``generated(xlsx, pdf)``."""

    generated = Signal(object, object)   # Path of the xlsx, Path of the PDF
    failed = Signal(str)

    def __init__(self, runner, reader, parent=None, *, today: dt.date | None = None):
        super().__init__(parent)
        self.runner, self.reader = runner, reader
        self.plan_year = reader.catalog.plan_year
        self.setWindowTitle("生成月度调度报告")
        self.setMinimumWidth(560)
        self.month = QComboBox()
        for m in range(1, 13):
            self.month.addItem(f"{self.plan_year}年{m}月（{self.plan_year}-{m:02d}）", m)
        default = clamp_as_of(today or dt.date.today(), self.plan_year)
        self.month.setCurrentIndex(default.month - 1)
        self.month.setToolTip("报告按所选月份的最后一天统计进度")
        docs = QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation)
        self.folder = QLineEdit(docs if docs and Path(docs).is_dir() else str(Path.home()))
        choose = QPushButton("选择…")
        choose.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(choose)
        form = QFormLayout()
        form.addRow("月份：", self.month)
        form.addRow("保存到：", folder_row)
        self.message = message_label()
        self.paths = QLabel()
        self.paths.setTextFormat(Qt.RichText)
        self.paths.setOpenExternalLinks(True)
        self.paths.setWordWrap(True)
        self.paths.setTextInteractionFlags(Qt.TextBrowserInteraction)
        self.generate_button = QPushButton("生成")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self._generate_clicked)
        self.open_folder_button = QPushButton("打开所在文件夹")
        self.open_folder_button.setEnabled(False)
        self.open_folder_button.clicked.connect(self._open_folder)
        close = QPushButton("关闭")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.generate_button)
        buttons.addWidget(close)
        hint = hint_label("生成 Excel 工作簿（各指标进展、各镇分表、滞后指标、报送情况、待办问题）"
                          "和可直接打印的 A4 PDF，文件名为“调度报告_年-月”。")
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.paths)
        layout.addLayout(buttons)
        fit_window(self, "monthly_report")
        self.xlsx: Path | None = None
        self.pdf: Path | None = None

    def _choose_folder(self) -> None:
        folder = self._ask_folder()
        if folder:
            self.folder.setText(folder)

    def _ask_folder(self) -> str | None:
        """The folder chooser (tests never reach it)."""
        return QFileDialog.getExistingDirectory(self, "保存到哪个文件夹", self.folder.text()) or None

    def _generate_clicked(self) -> None:
        self.generate(self.plan_year, self.month.currentData(), self.folder.text())

    def generate(self, year: int, month: int, folder) -> None:
        """Write 调度报告_YYYY-MM.xlsx (store thread), then the PDF (here); ``generated`` follows."""
        folder = Path(str(folder).strip()) if str(folder).strip() else None
        if year != self.plan_year or not 1 <= int(month) <= 12:
            self._refuse(f"请选择 {self.plan_year} 年（计划年度）内的月份")
            return
        if folder is None or not folder.is_dir():
            self._refuse(f"文件夹“{folder or ''}”不存在，请重新选择保存位置")
            return
        xlsx_name, pdf_name = report_names(year, month)
        self.generate_button.setEnabled(False)
        self.paths.clear()
        say(self.message, f"正在生成 {year} 年 {month} 月的调度报告…", GREY)

        def work(store, progress):
            progress(0, 3, "正在统计进度和报送情况…")
            report = monthly_report(store, year, int(month))
            progress(1, 3, "正在写 Excel 工作簿…")
            xlsx = monthly_workbook(store, report, folder / xlsx_name)
            progress(2, 3, "正在生成 PDF…")
            return report, xlsx

        self.runner.run(work, on_done=lambda r: self._workbook_done(r, folder / pdf_name),
                        on_error=lambda e: self._failed(e, folder),
                        label="正在生成月度调度报告…", parent=self)

    def _workbook_done(self, result, pdf_path: Path) -> None:
        from ..printing import monthly_pdf  # Qt printing: on the GUI thread
        report, xlsx = result
        try:
            pdf = monthly_pdf(report, pdf_path)
        except OSError as exc:
            self._failed(exc, pdf_path.parent)
            return
        self.xlsx, self.pdf = Path(xlsx), Path(pdf)
        from ..core.store import audit_use
        month = f"{report.year}-{report.month:02d}"
        self.runner.run(lambda store, progress: audit_use(store, "print", source=f"print:{self.pdf.name}",
                                                           purpose="月度调度", report=month))
        self.generate_button.setEnabled(True)
        self.open_folder_button.setEnabled(True)
        lagging = len(report.lagging)
        say(self.message, f"已生成“{report.title}”：滞后指标 {lagging} 项，待办问题 "
                          f"{len(report.issues)} 项。", GREEN)
        self.paths.setText("<br>".join(
            f"{kind}：<a href='{QUrl.fromLocalFile(str(p)).toString()}'>{html.escape(str(p))}</a>"
            for kind, p in (("Excel", self.xlsx), ("PDF", self.pdf))))
        self.generated.emit(self.xlsx, self.pdf)

    def _open_folder(self) -> None:
        if self.xlsx is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.xlsx.parent)))

    def _refuse(self, text: str) -> None:
        say(self.message, text, RED)
        self.failed.emit(text)

    def _failed(self, error: BaseException, folder: Path) -> None:
        self.generate_button.setEnabled(True)
        text = failure(self.message, error, self, folder)
        self.failed.emit(text or type(error).__name__)
