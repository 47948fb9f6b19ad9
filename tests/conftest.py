"""Shared fixtures. Tests import the installed package (importlib mode)."""
from __future__ import annotations

import os

# key wrapping at a test cost (scrypt N=2^10 instead of 2^17), for this process and every
# command it starts; tests/test_encryption.py runs the production cost once
os.environ["MINSHENG_TEST_FAST_KDF"] = "1"

import pytest  # noqa: E402
from support import TODAY, make_chain  # noqa: E402

from desktop_app.core.store.database import Store  # noqa: E402

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
def towns(tmp_path) -> Store:
    """A district whose every town has 示例村一, 示例村二 and 示例社区 (as the demo district),
    with a 管理员 示例管理员 and a 录入员 示例录入员 (password :data:`PASSWORD`); the 录入员
    is logged in."""
    from desktop_app.core.store import users
    store = Store.create(tmp_path / "district.sqlite3", level="district", org="430971",
                         operator="示例管理员")
    for town in store.orgs.children(store.node.org):
        store.add_villages(["示例村一", "示例村二", "示例社区"], town=town.code)
    users.add_user(store, "示例管理员", PASSWORD, "管理员")
    users.login(store, "示例管理员", PASSWORD)
    users.add_user(store, "示例录入员", PASSWORD, "录入员")
    users.login(store, "示例录入员", PASSWORD)
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
    d, t, v = make_chain(tmp_path)
    yield d, t, v, tmp_path
    for s in (d, t, v):
        s.close()
