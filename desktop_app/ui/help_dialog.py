"""帮助 → 使用说明: the guide (resources/help/guide.md, the same text as the README's)."""
from __future__ import annotations

from PySide6.QtCore import QSize, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from ..core.paths import resources_dir
from .window_size import fit_window


def guide_text() -> str:
    return (resources_dir() / "help" / "guide.md").read_text(encoding="utf-8")


class HelpDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("使用说明")
        fit_window(self, "help", QSize(900, 760))
        self.browser = QTextBrowser()
        self.browser.setSearchPaths([str(resources_dir() / "help")])
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(guide_text())
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


def open_folder(path) -> bool:
    """Show a folder in the system's file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
