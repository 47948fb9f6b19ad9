"""Application start-up: QApplication, Chinese translations, where the data and the log live."""
from __future__ import annotations

import logging
import platform
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QLocale, QSettings, QTranslator
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from .. import __version__
from ..core.logs import APP_ID, setup_logging, user_data_folder

APP_NAME = "民生实事台账"


def data_dir() -> Path:
    """The default data folder (the user's data dir); the store and backups live here."""
    path = user_data_folder()
    path.mkdir(parents=True, exist_ok=True)
    return path


def start_error_handling() -> Path:
    """The window's log (``<data folder>/logs/minsheng.log``, or under the temporary folder
    when the data folder cannot be made) and the hooks that send uncaught errors to it and
    to the error box. Returns the log file."""
    from .errors import install_excepthook
    try:
        folder = data_dir() / "logs"
    except OSError:
        folder = Path(tempfile.gettempdir()) / APP_ID / "logs"
    log = setup_logging(folder)
    install_excepthook()
    logging.getLogger("desktop_app").info("程序启动：%s %s，%s %s，Python %s", APP_NAME, __version__,
                                          platform.system(), platform.release(),
                                          platform.python_version())
    return log


def settings() -> QSettings:
    return QSettings(QSettings.IniFormat, QSettings.UserScope, APP_ID, APP_ID)


def last_store() -> Path | None:
    value = settings().value("last_store")
    return Path(value) if value and Path(value).is_file() else None


def remember_store(path: Path) -> None:
    s = settings()
    s.setValue("last_store", str(Path(path).resolve()))
    s.sync()


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication, speaking Chinese in Qt's own dialogs too."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_ID)
    from PySide6.QtGui import QIcon

    from ..core.paths import resources_dir
    app.setWindowIcon(QIcon(str(resources_dir() / "icons" / "app.png")))
    QLocale.setDefault(QLocale(QLocale.Chinese, QLocale.China))
    translator = QTranslator(app)
    if translator.load(QLocale(QLocale.Chinese, QLocale.China), "qtbase", "_",
                       QLibraryInfo.path(QLibraryInfo.TranslationsPath)):
        app.installTranslator(translator)
    app._translator = translator  # keep it alive
    font = QFont(app.font())
    font.setFamilies(["Microsoft YaHei UI", "Microsoft YaHei", "WenQuanYi Micro Hei",
                      "Noto Sans CJK SC", "Source Han Sans SC", font.family()])
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    return app
