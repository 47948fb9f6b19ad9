"""Old stores, one at each schema level (after migration 0001 … 0008), made by the program of
the time and kept under tests/fixtures/schema_levels/ (see make_schema_levels.py for how and
what they hold), as Anki keeps old collections: Store.open (or the log-in, for the levels
with users) backs each up encrypted, encrypts it, migrates it to the newest level, keeps
every row, and the store works — rows read and added, progress, log-in, a package sent
that a district merges."""
import datetime as dt
import gzip
import shutil
from pathlib import Path

import pytest
from support import forget_key, raw_connect, screening, trust_profile

from desktop_app.core import sync
from desktop_app.core.catalog.model import load_catalog
from desktop_app.core.district.progress import compute
from desktop_app.core.excel import undo_import
from desktop_app.core.store import LoginError, Store, list_backups, list_users, login, migrations, set_password
from desktop_app.core.store import cipher, keyring
from desktop_app.core.store.database import StoreError
from desktop_app.core.sync import profiles

FIXTURES = Path(__file__).parent / "fixtures" / "schema_levels"
LEVELS = list(range(1, 10))
TODAY = dt.date(2024, 6, 30)
PASSWORD = "示例密码-2024"

# what make_schema_levels.py put in each level's store
LIVE = {1: 4, 2: 4, 3: 6, 4: 6, 5: 7, 6: 7, 7: 7, 8: 7, 9: 7}         # 两癌 rows not deleted (+2 imported, +1 repeat)
WOMEN = {1: 4, 2: 4, 3: 6, 4: 6, 5: 6, 6: 6, 7: 6, 8: 6, 9: 6}        # distinct women among them
PERSONS = {1: 6, 2: 6, 3: 8, 4: 8, 5: 8, 6: 8, 7: 8, 8: 8, 9: 8}      # women (the deleted row's too) and one man
QUOTA = {("two_cancer_screening", "430971121"): 600.0}


def unpack(level: int, folder: Path) -> Path:
    path = folder / "town.sqlite3"
    with gzip.open(FIXTURES / f"level{level}.sqlite3.gz") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def open_level(level: int, folder: Path) -> Store:
    """The old store of ``level``, opened as the app does: by a log-in when it has users."""
    path = unpack(level, folder)
    return Store.unlock(path, "示例管理员", PASSWORD) if level >= 6 else Store.open(path)


def user_version(path: Path) -> int:
    conn = raw_connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def columns_of(path: Path) -> dict[str, list[str]]:
    conn = raw_connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: [c[1] for c in conn.execute(f"PRAGMA table_info([{t}])")] for t in tables}
    finally:
        conn.close()


def contents(path: Path, columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple]]:
    """Every table's rows, sorted; with ``columns`` only those tables and columns (what an
    older file had), so that a migrated file can be compared with it."""
    columns = columns or columns_of(path)
    conn = raw_connect(path)
    try:
        return {t: sorted(conn.execute(f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{t}]"),
                          key=repr)
                for t, cols in columns.items()}
    finally:
        conn.close()


def test_every_schema_level_has_an_old_store():
    """A new migration needs its old store: run make_schema_levels.py after adding one."""
    assert migrations.latest() == LEVELS[-1]
    assert sorted(p.name for p in FIXTURES.glob("*.gz")) == [f"level{n}.sqlite3.gz" for n in LEVELS]


@pytest.mark.parametrize("level", LEVELS)
def test_an_old_store_is_backed_up_then_migrated_and_keeps_every_row(tmp_path, level):
    path = unpack(level, tmp_path)
    assert user_version(path) == level
    old_columns = columns_of(path)
    before = contents(path)
    if level >= 6:
        with pytest.raises(StoreError, match="需要登录"):      # it has users: a log-in opens it
            Store.open(path)
    with (Store.unlock(path, "示例管理员", PASSWORD) if level >= 6 else Store.open(path)) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.latest()
        assert store.catalog.version == load_catalog().version      # the shipped plan, adopted
    assert not cipher.is_plaintext(path) and keyring.sidecar(path).is_file()   # encrypted now
    after = contents(path, old_columns)
    # every row of every table the old file had, column for column; of the settings only
    # the plan changes (a newer catalog adds fields), and so the store's generation token
    plan = {"catalog", "catalog_version", "generation"}
    assert {t: [r for r in rows if t != "settings" or r[0] not in plan] for t, rows in after.items()} == \
        {t: [r for r in rows if t != "settings" or r[0] not in plan] for t, rows in before.items()}
    # the backup was made before encrypting and migrating: the old file exactly, encrypted
    # (the same state: no second backup before the schema migration)
    backups = list_backups(path)
    assert [b.reason for b in backups] == ["encrypt"]
    assert not cipher.is_plaintext(backups[0].path) and keyring.sidecar(backups[0].path).is_file()
    assert user_version(backups[0].path) == level
    assert contents(backups[0].path) == before


@pytest.mark.parametrize("level", LEVELS)
def test_an_old_store_is_usable_after_migrating(tmp_path, level):
    with open_level(level, tmp_path) as store:
        led = store.ledger("two_cancer")
        assert led.count() == LIVE[level] and led.count(deleted=True) == 1
        [woman2] = led.rows(match={"id_number": screening(2)["id_number"]})
        assert woman2["phone"] == "13900001111" and woman2["org"] == "430971121001"   # edited
        assert [h["changes"].get("phone") for h in led.history(woman2["uuid"])][-1] == \
            ["13800000001", "13900001111"]
        assert [r["name"] for r in store.ledger("barrier_free").rows()] == ["示例残1"]
        assert store.conn.execute("SELECT COUNT(*) FROM persons").fetchone()[0] == PERSONS[level]
        assert store.quotas() == (QUOTA if level >= 2 else {})

        saved = led.add(screening(8), org="示例村二", today=TODAY)
        assert led.get(saved.uuid)["name"] == "示例8" and led.count() == LIVE[level] + 1
        assert store.conn.execute("SELECT COUNT(*) FROM persons").fetchone()[0] == PERSONS[level] + 1
        progress = compute(store, TODAY).get("two_cancer_screening")
        assert (progress.rows, progress.achieved) == (LIVE[level] + 1, WOMEN[level] + 1)


@pytest.mark.parametrize("level", [3, 4, 5, 6, 7])
def test_an_old_workbook_import_is_on_record_and_can_be_undone(tmp_path, level):
    with open_level(level, tmp_path) as store:
        history = store.conn.execute("SELECT file, status, batch FROM import_history").fetchall()
        assert [(f, s) for f, s, _ in history] == [("示例村二_两癌.xlsx", "imported")]
        batch = history[0][2]
        assert sorted(t for (t,) in store.conn.execute("SELECT tbl FROM audit WHERE batch = ?", (batch,))) == \
            ["ledger_two_cancer", "ledger_two_cancer", "persons", "persons"]
        undo_import(store, batch)
        assert store.ledger("two_cancer").count() == LIVE[level] - 2


@pytest.mark.parametrize("level", [5, 6, 7])
def test_an_old_duplicate_decision_is_kept(tmp_path, level):
    with open_level(level, tmp_path) as store:
        [(ledger, decision, reviewer)] = store.conn.execute(
            "SELECT ledger, decision, reviewer FROM duplicate_reviews").fetchall()
        assert (ledger, decision, reviewer) == ("two_cancer", "different", "示例审核员")


@pytest.mark.parametrize("level", [6, 7])
def test_the_users_of_an_old_store_still_log_in(tmp_path, level):
    path = unpack(level, tmp_path)
    with pytest.raises(LoginError):
        Store.unlock(path, "示例管理员", "不对的密码")
    with pytest.raises(LoginError, match="需要管理员先"):           # a 录入员 does not encrypt it
        Store.unlock(path, "示例录入员", PASSWORD)
    assert cipher.is_plaintext(path)                      # neither changes anything
    with Store.unlock(path, "示例管理员", PASSWORD) as store:      # the administrator: encrypted now
        assert store.session.role == "管理员" and "重设密码" in store.notes[0]
    forget_key(path)                                      # as in a new process
    with pytest.raises(StoreError, match="需要登录"):
        Store.open(path)
    # the others get no key until an administrator sets a new password (none from an old hash)
    assert not keyring.Keyring.load(path).can_unwrap("示例录入员")
    with pytest.raises(LoginError, match="请联系管理员"):          # the old password: told what to do
        Store.unlock(path, "示例录入员", PASSWORD)
    with pytest.raises(LoginError, match="用户名或密码不对"):
        Store.unlock(path, "示例录入员", "不对的密码123")
    with Store.unlock(path, "示例管理员", PASSWORD) as store:
        assert [u["name"] for u in list_users(store) if u["needs_password"]] == ["示例录入员"]
        with pytest.raises(LoginError):
            login(store, "示例管理员", "不对的密码")
        assert login(store, "示例管理员", PASSWORD).role == "管理员"
        set_password(store, "示例录入员", "新的密码-2025")
        session = login(store, "示例录入员", "新的密码-2025")
        assert (session.user, session.role) == ("示例录入员", "录入员")
        saved = store.ledger("two_cancer").add(screening(8), org="示例村一", today=TODAY)
        assert store.conn.execute("SELECT user FROM audit WHERE uuid = ? AND action = 'insert'",
                                  (saved.uuid,)).fetchone()[0] == "示例录入员"


@pytest.mark.parametrize("level", LEVELS)
def test_an_old_store_sends_a_package_that_a_district_merges(tmp_path, level):
    with open_level(level, tmp_path) as town:
        if level >= 4:   # the district it already sent package 1 to: the numbering goes on
            assert sync.export_package(town, tmp_path / "usb").manifest["seq_from"] == 2
        with Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="专班") as d:
            trust_profile(town, profiles.export_profile(d, tmp_path / "d.msprofile"))   # a new district PC
            trust_profile(d, profiles.export_profile(town, tmp_path / "t.msprofile"))
            pkg = sync.export_package(town, tmp_path / "usb", full=True)
            result = sync.import_package(d, pkg.path)
            assert result.status == "imported" and result.gaps == []
            here = sorted((r["uuid"], r["name"], r["phone"]) for r in town.ledger("two_cancer").rows())
            there = sorted((r["uuid"], r["name"], r["phone"]) for r in d.ledger("two_cancer").rows())
            assert len(here) == LIVE[level] and there == here
            assert d.ledger("two_cancer").count(deleted=True) == 1       # the tombstone travels
            assert d.ledger("barrier_free").count() == 1
