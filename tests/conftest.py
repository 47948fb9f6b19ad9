"""Shared fixtures. Tests import the installed package (importlib mode)."""
from __future__ import annotations

import pytest

from desktop_app.core import profiles
from desktop_app.core.store import Store
from support import TODAY


PASSWORD = "示例密码-2024"


@pytest.fixture(autouse=True)
def cli_password(monkeypatch):
    """The command line reads the password from the environment, as scripts do."""
    monkeypatch.setenv("MINSHENG_PASSWORD", PASSWORD)
    monkeypatch.delenv("MINSHENG_USER", raising=False)


@pytest.fixture
def today():
    return TODAY


@pytest.fixture
def town(tmp_path) -> Store:
    """A town store (河坝镇) with two villages."""
    store = Store.create(tmp_path / "town.sqlite3", level="town", org="河坝镇", operator="示例录入员")
    store.add_villages(["示例村一", "示例村二"])
    yield store
    store.close()


@pytest.fixture
def district(tmp_path) -> Store:
    store = Store.create(tmp_path / "district.sqlite3", level="district", org="430971",
                         operator="示例专班")
    yield store
    store.close()


@pytest.fixture
def chain(tmp_path):
    """District, town (河坝镇), village (示例村一) with profiles exchanged both ways."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="区")
    profiles.export_profile(d, tmp_path / "d.msprofile")
    t = profiles.init_from_profile(tmp_path / "t.sqlite3", tmp_path / "d.msprofile", level="town",
                                   org="河坝镇", operator="镇")
    t.add_villages(["示例村一"])
    profiles.export_profile(t, tmp_path / "t.msprofile")
    profiles.import_profile(d, tmp_path / "t.msprofile")
    v = profiles.init_from_profile(tmp_path / "v.sqlite3", tmp_path / "t.msprofile", level="village",
                                   org="示例村一", operator="村")
    profiles.export_profile(v, tmp_path / "v.msprofile")
    profiles.import_profile(t, tmp_path / "v.msprofile")
    yield d, t, v, tmp_path
    for s in (d, t, v):
        s.close()
