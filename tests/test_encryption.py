"""Encryption at rest: the store, its WAL, backups and attachments hold nothing readable; the
password (or the 恢复码) is what opens them; roles and disabled users hold against file edits."""
import gzip
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as _db
from support import TODAY, copy_store, forget_key, raw_connect, screening

from desktop_app.cli import main
from desktop_app.core.errors import StoreError
from desktop_app.core.store import (Attachments, BackupError, LoginError, add_user, backup, cipher,
                                    copy_to, keyring, login, recover_with_code, restore_store,
                                    set_active, set_password, unlock_backup, users)
from desktop_app.core.store.attachments import tiny_png
from desktop_app.core.store.database import Store

ADMIN, CLERK = "张管理", "李录入"
PW = {ADMIN: "示例密码-2024", CLERK: "录入员密码123"}
WOMAN = screening(3, phone="13912345678")          # a name, an ID number and a phone to look for
SECRETS = [WOMAN["id_number"].encode(), WOMAN["phone"].encode(), WOMAN["name"].encode("utf-8")]


@pytest.fixture
def store(tmp_path):
    """A town store with a 管理员 and a 录入员 (the code returned), one row, one photo."""
    s = Store.create(tmp_path / "town.sqlite3", level="town", org="河坝镇", operator=ADMIN)
    s.add_villages(["示例村一"])
    s.code = add_user(s, ADMIN, PW[ADMIN], "管理员")
    login(s, ADMIN, PW[ADMIN])
    add_user(s, CLERK, PW[CLERK], "录入员")
    s.ledger("two_cancer").add(WOMAN, org="示例村一", today=TODAY)
    yield s
    s.close()


def readable(path) -> list[bytes]:
    data = path.read_bytes()
    return [s for s in SECRETS if s in data]


def files_of(folder):
    return [p for p in folder.rglob("*") if p.is_file()]


def test_store_wal_backups_and_attachments_hold_nothing_readable(store, tmp_path):
    png = tmp_path / "改造前.png"
    png.write_bytes(tiny_png())
    ref = Attachments(store).put(png)
    made = backup.make_backup(store, "manual")
    (tmp_path / "u盘").mkdir()
    out = copy_to(store, tmp_path / "u盘" / "备份.sqlite3")
    wal = tmp_path / "town.sqlite3-wal"
    assert wal.stat().st_size > 0                                   # written, not yet checkpointed
    for path in [store.path, wal, made.path, out] + files_of(tmp_path / "attachments"):
        assert readable(path) == [], path
    stored = Attachments(store).path_for(ref["sha256"])
    assert stored.name != ref["sha256"] and tiny_png() not in stored.read_bytes()
    # private keys live only inside the encrypted store
    for key in ("sign_private", "enc_private"):
        assert store.setting(key).encode() not in store.path.read_bytes() + wal.read_bytes()
    # not a plain SQLite file: the standard library cannot read it
    for path in (store.path, made.path, out):
        with pytest.raises(sqlite3.DatabaseError):
            sqlite3.connect(path).execute("SELECT * FROM sqlite_master").fetchall()
    sidecar = keyring.sidecar(store.path).read_text(encoding="utf-8")
    assert store.code.replace("-", "") not in sidecar.replace("-", "") and PW[ADMIN] not in sidecar


def test_without_a_password_nothing_opens_and_a_copy_opens_elsewhere_with_one(store, tmp_path):
    made = backup.make_backup(store, "manual")
    store.close()
    forget_key(store.path)                                          # as a new process, another PC
    with pytest.raises(StoreError, match="需要登录"):
        Store.open(store.path)
    with pytest.raises(StoreError, match="需要登录"):
        Store.open_readonly(store.path)
    with pytest.raises(BackupError, match="管理员的用户名和密码"):
        backup.check_backup_file(made.path)
    assert backup.store_problem(store.path) is None                 # cannot even be checked
    other = tmp_path / "另一台电脑"
    other.mkdir()
    copy = copy_store(store.path, other / "town.sqlite3")
    with Store.unlock(copy, CLERK, PW[CLERK]) as s:
        assert s.session.role == "录入员" and s.ledger("two_cancer").count() == 1
    forget_key(copy)
    bare = other / "无密钥.sqlite3"
    shutil.copy(store.path, bare)                                   # the sidecar left behind
    with pytest.raises(StoreError, match="找不到它的密钥文件"):
        Store.unlock(bare, CLERK, PW[CLERK])


def test_a_password_change_rewraps_the_key_and_leaves_the_data_as_it_is(store):
    path = store.path
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    ring_before = keyring.sidecar(path).read_bytes()
    set_password(store, CLERK, "新的录入员密码1")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = path.read_bytes()
    # not re-encrypted (that would change every page and the salt in the first): only the few
    # pages of the users row, its audit entry, the clock and their indexes differ
    pages = [i for i in range(0, len(before), 4096) if before[i:i + 4096] != after[i:i + 4096]]
    assert len(after) == len(before) and 0 not in pages and len(pages) <= 8, pages
    assert len(pages) * 10 < len(before) // 4096
    assert keyring.sidecar(path).read_bytes() != ring_before
    store.close()
    forget_key(path)
    with pytest.raises(LoginError):
        Store.unlock(path, CLERK, PW[CLERK])
    with Store.unlock(path, CLERK, "新的录入员密码1") as s:
        assert s.key == store.key                                   # the same database key


def test_the_recovery_code_restores_access_once(store):
    path, code = store.path, store.code
    store.close()
    forget_key(path)
    with pytest.raises(LoginError, match="恢复码不对"):
        recover_with_code(path, "ABCD-EFGH-JKMN-PQRS-TUVW-XYZ2", "新的管理员密码1")
    with pytest.raises(StoreError, match="6 组"):
        recover_with_code(path, "不是恢复码", "新的管理员密码1")
    name, new_code = recover_with_code(path, code.lower().replace("-", " "), "新的管理员密码1")
    assert name == ADMIN and new_code != code
    forget_key(path)
    with Store.unlock(path, ADMIN, "新的管理员密码1") as s:
        assert s.conn.execute("SELECT user, action FROM audit ORDER BY id DESC").fetchone() == (ADMIN, "recover")
    with pytest.raises(LoginError):                                   # used up
        recover_with_code(path, code, "又一个新密码12")


def test_roles_in_the_sidecar_do_not_verify_when_edited(store):
    path = store.path
    store.close()
    forget_key(path)
    data = json.loads(keyring.sidecar(path).read_text(encoding="utf-8"))
    data["users"][CLERK]["role"] = "管理员"                          # a clerk with a text editor
    keyring.sidecar(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LoginError):
        Store.unlock(path, CLERK, PW[CLERK])
    data["users"][CLERK]["role"] = "录入员"
    data["users"]["王某"] = data["users"][CLERK]                      # an entry copied to a new name
    data["users"] = {k: v for k, v in data["users"].items() if k != ADMIN}
    data.pop("had_users")
    keyring.sidecar(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LoginError):
        Store.unlock(path, "王某", PW[CLERK])
    with pytest.raises(StoreError, match="需要登录"):                  # no open key ever comes back
        Store.open(path)


def test_disabled_users_have_no_key_and_stay_disabled_after_a_restore(store):
    made = backup.make_backup(store, "manual")                        # the clerk was active then
    set_active(store, CLERK, False)
    assert not keyring.Keyring.load(store.path).can_unwrap(CLERK)
    with pytest.raises(StoreError, match="新密码"):
        set_active(store, CLERK, True)
    session = store.session
    store.close()
    restore_store(store.path, made.path, session=session)
    forget_key(store.path)
    with pytest.raises(LoginError, match="用户名或密码不对"):
        Store.unlock(store.path, CLERK, PW[CLERK])
    with Store.unlock(store.path, ADMIN, PW[ADMIN]) as s:
        assert [u["active"] for u in users.list_users(s) if u["name"] == CLERK] == [0]
        assert users.has_users(s)
    # the backup itself still opens with the passwords valid when it was made
    forget_key(store.path)
    assert unlock_backup(made.path, ADMIN, PW[ADMIN]).role == "管理员"


def test_a_damaged_store_needs_an_administrator_or_the_code_to_be_restored(store, tmp_path):
    made = backup.make_backup(store, "manual")
    code = store.code
    store.close()
    data = bytearray(store.path.read_bytes())
    data[4096:4096 * 3] = b"\x00" * 8192
    store.path.write_bytes(bytes(data))
    forget_key(store.path)
    with pytest.raises(BackupError, match="管理员的用户名和密码"):
        restore_store(store.path, made.path)
    with pytest.raises(LoginError, match="需要管理员"):
        unlock_backup(made.path, CLERK, PW[CLERK])
    with pytest.raises(LoginError):
        unlock_backup(made.path, ADMIN, "不对的密码123")
    session = unlock_backup(made.path, code=code)
    saved = restore_store(store.path, made.path, session=session)
    assert saved.reason == "damaged" and saved.path.read_bytes() == bytes(data)
    forget_key(store.path)
    with Store.unlock(store.path, ADMIN, PW[ADMIN]) as s:
        assert s.ledger("two_cancer").count() == 1


def test_another_installs_backup_is_refused(store, tmp_path):
    other = Store.create(tmp_path / "other.sqlite3", level="town", org="河坝镇", operator="别人")
    theirs = backup.make_backup(other, "manual")
    other.close()
    session = store.session
    store.close()
    with pytest.raises(BackupError, match="另一个安装"):
        restore_store(store.path, theirs.path, session=session)


def test_failed_log_ins_are_counted_for_names_that_do_not_exist_too(store):
    path = store.path
    store.close()
    messages = {}
    for name in (CLERK, "不存在的人"):
        for _ in range(5):
            with pytest.raises(LoginError) as caught:
                Store.authenticate(path, name, "错误的密码-xyz")
        messages[name] = str(caught.value).replace(name, "某")
    assert messages[CLERK] == messages["不存在的人"] and "已锁定" in messages[CLERK]


def test_the_production_key_derivation_runs_at_owasp_cost(tmp_path, monkeypatch):
    monkeypatch.delenv(keyring.TEST_FAST_ENV)
    assert keyring.scrypt_params() == (2 ** 17, 8, 1)
    key = b"k" * 32
    ring = keyring.Keyring.new(tmp_path / "t.sqlite3", key)
    ring.add_user(ADMIN, PW[ADMIN], "管理员", None, key)
    assert ring.entry(ADMIN)["kdf"] == {"name": "scrypt", "n": 2 ** 17, "r": 8, "p": 1}
    assert ring.unwrap_user(ADMIN, PW[ADMIN])[0] == key


def test_an_attachment_changed_or_cut_off_on_disk_is_refused(store, tmp_path):
    big = tmp_path / "scan.pdf"
    big.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 9000 + b"\nstartxref\n0\n%%EOF\n")
    ref = Attachments(store).put(big)
    path = Attachments(store).path_for(ref["sha256"])
    good = path.read_bytes()
    assert Attachments(store).read(ref["sha256"]) == big.read_bytes()
    assert b"".join(Attachments(store).blocks(ref["sha256"])) == big.read_bytes()
    for bad in (good[:-1], good[:20 + (1 << 20) + 16], good[:100] + b"\x00" + good[101:]):
        path.write_bytes(bad)
        with pytest.raises(StoreError, match="已损坏"):
            Attachments(store).read(ref["sha256"])


def test_plaintext_attachments_of_an_old_store_are_encrypted(store, tmp_path):
    data = tiny_png()
    sha = hashlib.sha256(data).hexdigest()
    box = Attachments(store)
    plain = box.root / sha[:2] / sha                                   # where older versions put it
    plain.parent.mkdir(parents=True)
    plain.write_bytes(data)
    assert box.encrypt_plain_files() == 1 and not plain.exists()
    assert box.read(sha) == data and data not in box.path_for(sha).read_bytes()


def test_old_plaintext_backups_are_encrypted_with_the_store(tmp_path):
    level = tmp_path / "town.sqlite3"
    with gzip.open(Path(__file__).parent / "fixtures" / "schema_levels" / "level7.sqlite3.gz") as src, \
            open(level, "wb") as dst:
        shutil.copyfileobj(src, dst)
    old = backup.backup_dir(level) / "town-20240101-080000-000000-daily-1.sqlite3"
    old.parent.mkdir(parents=True)
    shutil.copy(level, old)
    assert cipher.is_plaintext(old)
    with Store.unlock(level, "示例管理员", "示例密码-2024"):
        pass
    for b in backup.list_backups(level):
        assert not cipher.is_plaintext(b.path) and keyring.sidecar(b.path).is_file(), b.path
        assert raw_connect(b.path).execute("SELECT COUNT(*) FROM ledger_two_cancer").fetchone()[0] >= 4


def test_the_command_line_gives_the_code_once_and_recovers_with_it(tmp_path, capsys, monkeypatch):
    db = tmp_path / "t.sqlite3"
    monkeypatch.setenv("MINSHENG_PASSWORD", PW[ADMIN])
    assert main(["init", "--db", str(db), "--level", "town", "--org", "河坝镇", "--operator", ADMIN,
                 "--json"]) == 0
    code = json.loads(capsys.readouterr().out)["recovery_code"]
    assert keyring.normalise_recovery_code(code) == code
    assert main(["init", "--db", str(tmp_path / "u.sqlite3"), "--level", "town", "--org", "河坝镇",
                 "--operator", ADMIN]) == 0
    text = capsys.readouterr().out
    assert "恢复码：" in text and "只显示这一次" in text and "打印" in text
    forget_key(db)
    monkeypatch.setenv("MINSHENG_NEW_PASSWORD", "忘了又设的新密码1")
    assert main(["recover", "--db", str(db), "--code", code, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["user"] == ADMIN and out["recovery_code"] != code
    monkeypatch.setenv("MINSHENG_USER", ADMIN)
    monkeypatch.setenv("MINSHENG_PASSWORD", "忘了又设的新密码1")
    assert main(["backup", "--db", str(db), "--out", str(tmp_path / "b.sqlite3")]) == 0
    assert keyring.sidecar(tmp_path / "b.sqlite3").is_file()
    # a damaged store: restored with the backup's administrator password
    db.write_bytes(b"\x00" * 8192)
    forget_key(db)
    capsys.readouterr()
    assert main(["restore", "--db", str(db), "--from", str(tmp_path / "b.sqlite3")]) == 0
    forget_key(db)
    with Store.unlock(db, ADMIN, "忘了又设的新密码1") as s:
        assert s.conn.execute("SELECT user FROM audit WHERE action = 'restore'").fetchone()[0] == ADMIN


def test_none_is_bound_as_null_through_its_own_adapter(tmp_path):
    conn = cipher.connect(tmp_path / "n.sqlite3", os.urandom(32))
    conn.execute("CREATE TABLE t (a, b)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(None, "x"), ("", None)])
    assert conn.execute("SELECT a IS NULL, b IS NULL, typeof(a) FROM t").fetchall() == \
        [(1, 0, "null"), (0, 1, "text")]
    assert (type(None), _db.PrepareProtocol) in _db.adapters   # the adapter look-up finds it
