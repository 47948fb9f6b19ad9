"""Fixtures for the UI tests (pytest-qt, offscreen). No test waits on a real modal dialog."""
from __future__ import annotations

import importlib
import pkgutil

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox
from support import copy_store

from desktop_app.core.demo import create_demo
from desktop_app.core.store.database import Store
import desktop_app.ui
from desktop_app.ui.tasks import TaskRunner


@pytest.fixture(scope="session")
def demo_master(tmp_path_factory):
    """A small demo district store, generated once per test run."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    create_demo(path, scale=0.05).close()
    return path


@pytest.fixture
def demo_path(demo_master, tmp_path):
    """A fresh copy of the demo store for one test."""
    return copy_store(demo_master, tmp_path / "demo.sqlite3")


@pytest.fixture
def runner(demo_path, qtbot):
    r = TaskRunner(demo_path)
    yield r
    r.shutdown()


@pytest.fixture
def reader(demo_path):
    store = Store.open_readonly(demo_path)
    yield store
    store.close()


@pytest.fixture(autouse=True)
def own_settings(tmp_path):
    """The program's settings (window sizes, the last store) in this test's folder, never
    the user's."""
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))


@pytest.fixture(autouse=True)
def no_real_modals(monkeypatch):
    """A test that reached a real chooser, question or error box would hang or hide a
    failure: fail instead (tests drive the small methods behind them)."""
    def refuse(*_a, **_k):
        raise AssertionError("a real modal dialog was opened in a test")
    for name in ("getOpenFileName", "getOpenFileNames", "getExistingDirectory", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, refuse)
    monkeypatch.setattr(QMessageBox, "question", refuse)
    monkeypatch.setattr(QDesktopServices, "openUrl", refuse)   # another program (a folder, a file)
    for module in UI_MODULES:   # every module that shows errors, whatever it imported
        for name in ("show_error", "present"):   # present: the one place an error box opens
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refuse)


UI_MODULES = [importlib.import_module(m.name)
              for m in pkgutil.iter_modules(desktop_app.ui.__path__, "desktop_app.ui.")]
