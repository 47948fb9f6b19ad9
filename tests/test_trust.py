"""Roles and log-in, audit of reveal/export/print, backups and restore, one writer, disk full."""
import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from openpyxl import Workbook
from support import TODAY, logical_dump, make_id, raw_connect, trust_profile

from desktop_app.cli import main
from desktop_app.core.excel.deidentify import export_deidentified
from desktop_app.core.excel.error_book import write_error_workbook
from desktop_app.core.excel.importer import apply_plan, plan_import
from desktop_app.core.store import backup, users
from desktop_app.core.store.database import Store, StoreError
from desktop_app.core.sync import export_package

ADMIN, CLERK, REVIEWER = "张管理", "李录入", "王审核"
PASSWORDS = {ADMIN: "示例密码-2024", CLERK: "录入员密码123", REVIEWER: "审核员密码123"}
WOMAN = make_id("19710916", 154)


def woman(i: int) -> dict:
    return {"姓名": f"示例{i}", "身份证号": make_id("19710916", 100 + 2 * i), "联系电话": "13800001234"}


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    """A town store made by ``init`` with a 管理员, a 录入员 and a 审核员; ``cli(user, …)``."""
    path = tmp_path / "town.sqlite3"

    def run(user, *argv, new_password=None):
        monkeypatch.setenv("MINSHENG_USER", user)
        monkeypatch.setenv("MINSHENG_PASSWORD", PASSWORDS.get(user, "错误的密码123"))
        if new_password:
            monkeypatch.setenv("MINSHENG_NEW_PASSWORD", new_password)
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.startswith("{") else out), err
    assert run(ADMIN, "init", "--db", path, "--level", "town", "--org", "河坝镇",
               "--operator", ADMIN)[0] == 0
    assert run(ADMIN, "villages", "add", "--db", path, "示例村一")[0] == 0
    for name, role in ((CLERK, "录入员"), (REVIEWER, "审核员")):
        assert run(ADMIN, "users", "add", "--db", path, "--name", name, "--role", role,
                   new_password=PASSWORDS[name])[0] == 0
    run.path = path
    return run


def audit(path, action):
    conn = raw_connect(path)
    try:
        return [(user, json.loads(after or "{}")) for user, after in conn.execute(
            "SELECT user, after FROM audit WHERE action = ? ORDER BY id", (action,))]
    finally:
        conn.close()


# ------------------------------------------------------------ roles, through the CLI

def test_each_role_through_the_cli(cli):
    db = cli.path
    row = json.dumps(woman(1), ensure_ascii=False)
    assert cli(CLERK, "add", "--db", db, "--ledger", "two_cancer", "--org", "示例村一",
               "--json-row", row)[0] == 0
    # 录入员: enters rows, sees them masked, may not reveal, manage users, back up or restore
    code, out, _ = cli(CLERK, "records", "--db", db, "--ledger", "two_cancer", "--json")
    assert code == 0 and out["rows"][0]["id_number"].count("*") == 11
    for argv in (["records", "--db", db, "--ledger", "two_cancer", "--reveal", "--purpose", "核对"],
                 ["export-excel", "--db", db, "--ledger", "two_cancer", "--out", db.parent / "a.csv",
                  "--reveal", "--purpose", "核对"],
                 ["users", "list", "--db", db],
                 ["backup", "--db", db],
                 ["restore", "--db", db, "--from", db]):
        code, _, err = cli(CLERK, *argv)
        assert code == 1 and "李录入" in err and "无权" in err, argv
    # 审核员: reveals with a stated purpose, audited with the user's name
    code, _, err = cli(REVIEWER, "records", "--db", db, "--ledger", "two_cancer", "--reveal")
    assert code == 1 and "--purpose" in err
    code, out, _ = cli(REVIEWER, "records", "--db", db, "--ledger", "two_cancer", "--json",
                       "--reveal", "--purpose", "电话回访")
    assert code == 0 and out["rows"][0]["id_number"] == woman(1)["身份证号"]
    assert audit(db, "reveal")[-1] == (REVIEWER, {"purpose": "电话回访", "rows": 1})
    assert cli(REVIEWER, "users", "list", "--db", db)[0] == 1
    # 管理员: users
    code, out, _ = cli(ADMIN, "users", "list", "--db", db, "--json")
    assert [(u["name"], u["role"]) for u in out["users"]] == [
        (ADMIN, "管理员"), (CLERK, "录入员"), (REVIEWER, "审核员")]
    # every audit entry carries the user who did it
    conn = raw_connect(db)
    assert {u for (u,) in conn.execute("SELECT DISTINCT user FROM audit WHERE action = 'insert'")} == {CLERK}
    conn.close()


def test_log_in_is_required_and_locks_after_five_failures(cli, monkeypatch, capsys):
    db = cli.path
    monkeypatch.delenv("MINSHENG_USER")
    assert main(["records", "--db", str(db), "--ledger", "two_cancer"]) == 1
    assert "--user" in capsys.readouterr().err
    code, _, err = cli("不存在的人", "records", "--db", db, "--ledger", "two_cancer")
    assert code == 1 and "用户名或密码不对" in err
    for attempt in range(1, 6):
        monkeypatch.setitem(PASSWORDS, CLERK, f"错误{attempt}-xxxxxxxx")
        code, _, err = cli(CLERK, "records", "--db", db, "--ledger", "two_cancer")
        assert code == 1
    assert "已锁定 15 分钟" in err
    monkeypatch.setitem(PASSWORDS, CLERK, "录入员密码123")
    code, _, err = cli(CLERK, "records", "--db", db, "--ledger", "two_cancer")
    assert code == 1 and "已锁定到" in err
    with Store.open(db) as store:
        assert users.login(store, CLERK, "录入员密码123",
                           now=dt.datetime.now() + dt.timedelta(minutes=16)).role == "录入员"


def test_init_needs_an_admin_password(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINSHENG_PASSWORD", "短")
    path = tmp_path / "t.sqlite3"
    assert main(["init", "--db", str(path), "--level", "town", "--org", "河坝镇",
                 "--operator", ADMIN]) == 1
    assert "至少 8 位" in capsys.readouterr().err and not path.exists()


# ------------------------------------------------------------ privacy

def test_exports_prints_and_error_workbooks_are_audited_with_purpose(cli, tmp_path):
    db = cli.path
    for i in range(3):
        cli(CLERK, "add", "--db", db, "--ledger", "two_cancer", "--org", "示例村一",
            "--json-row", json.dumps(woman(i), ensure_ascii=False))
    assert cli(CLERK, "export-excel", "--db", db, "--ledger", "two_cancer",
               "--out", tmp_path / "m.xlsx")[0] == 0
    assert cli(REVIEWER, "export-excel", "--db", db, "--ledger", "two_cancer",
               "--out", tmp_path / "r.csv", "--reveal", "--purpose", "上报核对")[0] == 0
    assert cli(CLERK, "export-excel", "--db", db, "--ledger", "two_cancer", "--deidentify",
               "--out", tmp_path / "d.csv", "--purpose", "统计分析")[0] == 0
    bad = tmp_path / "bad.xlsx"
    wb = Workbook()
    wb.active.append(["村（社区）", "姓名", "身份证号", "联系电话"])
    wb.active.append(["示例村一", "示例九", make_id("19710916", 155), "13800001234"])  # a man
    wb.save(bad)
    assert cli(CLERK, "import-excel", "--db", db, bad, "--ledger", "two_cancer", "--errors", tmp_path / "err.xlsx")[0] == 1
    assert cli(ADMIN, "report", "--db", db, "--month", "2024-06", "--pdf", tmp_path / "m.pdf",
               "--purpose", "月度调度")[0] == 0
    exports = audit(db, "export")
    assert [(u, d["revealed"], d["purpose"], d.get("deidentified", False)) for u, d in exports] == [
        (CLERK, False, None, False), (REVIEWER, True, "上报核对", False),
        (CLERK, False, "统计分析", True), (CLERK, True, None, False)]       # the file's own full values
    assert exports[-1][1]["errors_of"] == "bad.xlsx"
    assert audit(db, "print") == [(ADMIN, {"purpose": "月度调度", "report": "2024-06"})]


def test_deidentified_export_has_no_names_ids_or_phones_and_stable_codes(town, tmp_path):
    records = town.ledger("two_cancer")
    people = [{"name": f"示例{i}", "id_number": make_id("19710916", 100 + 2 * i),
               "phone": f"1380000{i:04d}", "address": f"示例路{i}号"} for i in range(5)]
    for p in people:
        records.add(p, org="示例村一", today=TODAY)
    records.add(people[0] | {"cervical_date": "2024-05-01"}, org="示例村一", today=TODAY,
                allow_duplicate=True)
    first = export_deidentified(town, "two_cancer", tmp_path / "a.csv", purpose="统计")
    second = export_deidentified(town, "two_cancer", tmp_path / "b.xlsx", purpose="统计")
    text = first.read_text(encoding="utf-8-sig")
    for p in people:
        for value in p.values():
            assert value not in text
    assert second.read_bytes().find(people[0]["id_number"].encode()) == -1
    codes = [r["受检妇女代码"] for r in csv.DictReader(text.splitlines())]
    assert len(codes) == 6 and len(set(codes)) == 5 and codes[0] == codes[5]
    again = export_deidentified(town, "two_cancer", tmp_path / "c.csv", purpose="统计")
    assert [r["受检妇女代码"] for r in csv.DictReader(
        again.read_text(encoding="utf-8-sig").splitlines())] == codes
    with pytest.raises(StoreError, match="须写明用途"):
        export_deidentified(town, "two_cancer", tmp_path / "e.csv")


def test_error_messages_do_not_echo_sensitive_values(town):
    from desktop_app.core.store.records import RowsRejected
    with pytest.raises(RowsRejected) as caught:
        town.ledger("two_cancer").add({"name": "示例一", "id_number": "430902711016154",
                                       "phone": "99912345678"}, org="示例村一", today=TODAY)
    text = "；".join(caught.value.messages())
    assert "99912345678" not in text and "430902711016154" not in text and "4309021971" not in text
    assert "15 位旧号码" in text and "联系电话" in text


def test_the_error_workbook_returns_the_files_own_cells_and_nothing_stored(town, tmp_path):
    """A 录入员's error workbook holds what her file held, in full (she just supplied it), and
    nothing of the store: a row matching a stored record of another unit says so without
    a value of it."""
    town.add_villages(["示例村三"])
    stored = {"name": "示例八", "id_number": WOMAN, "phone": "13999990000", "address": "示例路八号"}
    town.ledger("two_cancer").add(stored, org="示例村三", today=TODAY)
    users.add_user(town, ADMIN, PASSWORDS[ADMIN], "管理员")
    users.login(town, ADMIN, PASSWORDS[ADMIN])
    users.add_user(town, CLERK, PASSWORDS[CLERK], "录入员", unit="示例村一")
    users.login(town, CLERK, PASSWORDS[CLERK])
    man = make_id("19710916", 155)
    bad = tmp_path / "bad.xlsx"
    wb = Workbook()
    wb.active.append(["村（社区）", "姓名", "身份证号", "联系电话"])
    wb.active.append(["示例村一", "示例九", man, "13800001234"])                   # a man: rejected
    wb.active.append(["示例村一", "示例八", WOMAN, "13800005678"])                 # another unit's record
    wb.save(bad)
    plan = plan_import(town, bad, ledger="two_cancer", today=TODAY)
    assert plan.counts()["rejected"] == 2
    out = write_error_workbook(town, plan, tmp_path / "e.xlsx")
    text = xlsx_text(out)
    assert man in text and WOMAN in text and "13800005678" in text      # the file's own cells
    assert "13999990000" not in text and "示例路八号" not in text
    [(user, detail)] = audit(town.path, "export")
    assert user == CLERK and detail["returned_to_sender"] and detail["sha256"] == plan.sha256
    assert (detail["rows"], detail["org"], detail["revealed"], detail["values"]) == (
        2, "430971121001", True, "sender_file_unmasked")     # her unit; the file's own full IDs


def xlsx_text(path: Path) -> str:
    """Every part of an .xlsx, as text (what anyone unzipping it could read)."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


# ------------------------------------------------------------ backups

def test_backups_rotate_verify_and_skip_unchanged_state(town):
    made = []
    for i in range(13):
        town.ledger("two_cancer").add({"name": f"示例{i}", "id_number": make_id("19710916", 100 + 2 * i)},
                                      org="示例村一", today=TODAY)
        made.append(backup.make_backup(town, "import", keep=10))
    assert backup.make_backup(town, "import") is None          # nothing changed since
    kept = backup.list_backups(town.path)
    assert len(kept) == 10 and [b.path for b in kept] == [b.path for b in made[::-1][:10]]
    assert all(not b.path.exists() for b in made[:3])
    newest = raw_connect(kept[0].path)
    assert newest.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert newest.execute("SELECT COUNT(*) FROM ledger_two_cancer").fetchone()[0] == 13
    newest.close()
    assert backup.daily_backup(town) is None                    # already backed up today
    for b in kept:
        b.path.unlink()
    assert backup.daily_backup(town).reason == "daily" and backup.daily_backup(town) is None


def test_import_and_package_are_backed_up_first(town, tmp_path):
    fixture = Path(__file__).parent / "fixtures" / "legacy_two_cancer.xlsx"
    apply_plan(town, plan_import(town, fixture, today=TODAY), accept_valid=True)
    assert [b.reason for b in backup.list_backups(town.path)] == ["import"]
    [before] = backup.list_backups(town.path)
    conn = raw_connect(before.path)
    assert conn.execute("SELECT COUNT(*) FROM ledger_two_cancer").fetchone()[0] == 0
    conn.close()


def test_restore_keeps_numbers_already_sent_and_can_be_undone(town, district, tmp_path):
    from desktop_app.core.sync.profiles import export_profile
    trust_profile(town, export_profile(district, tmp_path / "d.msprofile"))
    records = town.ledger("two_cancer")
    records.add({"name": "示例一", "id_number": WOMAN}, org="示例村一", today=TODAY)
    first = export_package(town, tmp_path / "out")
    good = backup.make_backup(town, "manual")
    records.add({"name": "示例二", "id_number": make_id("19710916", 156)}, org="示例村一", today=TODAY)
    second = export_package(town, tmp_path / "out")
    audit_before = town.conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
    hlc_before = int(town.setting("hlc"))
    after_state = logical_dump(town.path)
    town.close()
    saved = backup.restore(town.path, good.path)
    with Store.open(town.path) as store:
        assert store.ledger("two_cancer").count() == 1
        assert store.conn.execute("SELECT MAX(id) FROM audit").fetchone()[0] >= audit_before
        assert int(store.setting("hlc")) >= hlc_before
        third = export_package(store, tmp_path / "out")
    assert [e.manifest["seq_to"] for e in (first, second, third)] == [1, 2, 3]   # never numbered twice
    # the restore itself can be undone: the state before it was backed up
    assert saved.reason == "restore"
    assert raw_connect(saved.path).execute(
        "SELECT COUNT(*) FROM ledger_two_cancer").fetchone()[0] == 2
    assert after_state != logical_dump(town.path)


def test_restore_refuses_another_install_and_damaged_files(town, district, tmp_path):
    town.close()
    before = logical_dump(town.path)
    with pytest.raises(backup.BackupError, match="另一个安装") as caught:
        backup.restore(town.path, district.path)
    assert caught.value.exit_code == 1
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"SQLite format 3\x00" + bytes(5000))
    with pytest.raises(backup.BackupError):
        backup.restore(town.path, junk)
    assert logical_dump(town.path) == before


def test_a_damaged_store_is_kept_and_replaced_by_the_backup(town, tmp_path):
    town.ledger("two_cancer").add({"name": "示例一", "id_number": WOMAN}, org="示例村一", today=TODAY)
    good = backup.make_backup(town, "manual")
    town.close()
    data = bytearray(town.path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 4096] = b"\xff" * 4096
    town.path.write_bytes(bytes(data))
    assert backup.store_problem(town.path) is not None
    saved = backup.restore(town.path, backup.newest_good(town.path).path)
    assert saved.reason == "damaged" and saved.path.read_bytes() == bytes(data)
    assert backup.store_problem(town.path) is None
    with Store.open(town.path) as store:
        assert store.ledger("two_cancer").count() == 1
    assert good.path.exists()


def test_backup_and_restore_through_the_cli(cli, tmp_path):
    db = cli.path
    copy = tmp_path / "u盘备份.sqlite3"
    assert cli(ADMIN, "backup", "--db", db, "--out", copy)[0] == 0
    assert cli(ADMIN, "backup", "--db", db, "--out", copy)[0] == 1          # never overwrites
    cli(CLERK, "add", "--db", db, "--ledger", "two_cancer", "--org", "示例村一",
        "--json-row", json.dumps(woman(1), ensure_ascii=False))
    code, out, _ = cli(ADMIN, "restore", "--db", db, "--from", copy, "--json")
    assert code == 0 and out["previous"]
    code, out, _ = cli(ADMIN, "records", "--db", db, "--ledger", "two_cancer", "--json")
    assert out["rows"] == []
    assert [u for u, _d in audit(db, "restore")] == [ADMIN]
    code, out, _ = cli(ADMIN, "backup", "--db", db, "--list", "--json")
    assert [b["reason"] for b in out["backups"]] == ["restore"]


def test_a_migration_is_backed_up_first(tmp_path, monkeypatch):
    from desktop_app.core.store import migrations
    everything = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda directory=None: everything[:-1])
    Store.create(tmp_path / "old.sqlite3", level="town", org="河坝镇", operator="示例").close()
    monkeypatch.undo()
    Store.open(tmp_path / "old.sqlite3").close()
    [made] = backup.list_backups(tmp_path / "old.sqlite3")
    assert made.reason == "migration"
    old = raw_connect(made.path)
    assert old.execute("PRAGMA user_version").fetchone()[0] == len(everything) - 1
    old.close()


# ------------------------------------------------------------ one writer, disk full

def test_a_second_writer_is_refused_and_a_reader_still_works(town, capsys):
    path = town.path
    town.close()
    first = Store.open(path, exclusive=True)
    try:
        with pytest.raises(StoreError, match="已被另一个程序窗口或命令打开"):
            Store.open(path, exclusive=True)
        assert main(["records", "--db", str(path), "--ledger", "two_cancer"]) == 2
        assert "已被另一个程序窗口" in capsys.readouterr().err
        with Store.open_readonly(path) as reader:
            assert reader.ledger("two_cancer").count() == 0
    finally:
        first.close()
    Store.open(path, exclusive=True).close()


def test_disk_full_during_an_import_leaves_the_store_as_it_was(town, tmp_path):
    wb = Workbook()
    wb.active.append(["村（社区）", "姓名", "身份证号", "联系电话"])
    for i in range(3000):
        wb.active.append(["示例村一", f"示例{i}", make_id("19600101", i * 2 % 1000, f"4309{i // 500:02d}"),
                          "13800001234"])
    wb.save(tmp_path / "big.xlsx")
    plan = plan_import(town, tmp_path / "big.xlsx", ledger="two_cancer", today=TODAY)
    assert plan.counts()["rejected"] == 0
    before = logical_dump(town.path)
    pages = town.conn.execute("PRAGMA page_count").fetchone()[0]
    town.conn.execute(f"PRAGMA max_page_count = {pages + 20}")
    with pytest.raises(StoreError, match="磁盘空间不足"):
        apply_plan(town, plan, backup=False)
    town.conn.execute("PRAGMA max_page_count = 1073741823")
    assert logical_dump(town.path) == before
    assert town.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
