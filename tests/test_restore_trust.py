"""Restores and keys that hold against someone with the files: a disabled administrator does
not get back in by breaking the key file and restoring; another install's backup does not
replace this database; an old unencrypted copy does not open the encrypted store; and the
README says exactly what a kept copy of the key file still opens (issue 14, second round)."""
import base64
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from support import TODAY, forget_key, screening

from desktop_app.cli import main
from desktop_app.core.store import (BackupError, LoginError, Store, add_user, backup, cipher, keyring,
                                    list_users, login, restore_store, set_active, set_password,
                                    unlock_backup)
from desktop_app.core.store.users import hash_password

ADMIN, BAD, CLERK = "张管理", "坏管理员", "李录入"
PW = {ADMIN: "示例密码-2024", BAD: "坏人密码-2024", CLERK: "录入员密码123"}
LATER = screening(7, phone="13912345678")       # added after the disabled admin's backup


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def as_user(monkeypatch, name, password=None):
    monkeypatch.setenv("MINSHENG_USER", name)
    monkeypatch.setenv("MINSHENG_PASSWORD", password or PW[name])


@pytest.fixture
def town(tmp_path):
    """A town store: 张管理 and 坏管理员 (both 管理员) and a 录入员; a backup made while 坏管理员
    was active; then 坏管理员 disabled and a row added. Returns (path, backup)."""
    path = tmp_path / "town.sqlite3"
    with Store.create(path, level="town", org="河坝镇", operator=ADMIN) as s:
        s.add_villages(["示例村一"])
        add_user(s, ADMIN, PW[ADMIN], "管理员")
        login(s, ADMIN, PW[ADMIN])
        add_user(s, BAD, PW[BAD], "管理员")
        add_user(s, CLERK, PW[CLERK], "录入员")
        made = backup.make_backup(s, "manual")
        set_active(s, BAD, False)
        s.ledger("two_cancer").add(LATER, org="示例村一", today=TODAY)
    forget_key(path)
    return path, made.path


def test_a_disabled_admin_does_not_get_back_in_by_breaking_the_key_file(town, capsys, monkeypatch):
    path, made = town
    before = path.read_bytes()
    as_user(monkeypatch, BAD)
    code, _, err = run(capsys, "restore", "--db", path, "--from", made)
    assert code == 1                                             # the key file intact: he is disabled
    keyring.sidecar(path).write_text("garbage\n")                # a text editor
    forget_key(made)
    code, _, err = run(capsys, "restore", "--db", path, "--from", made)
    assert code == 1 and "仍是管理员" in err and BAD in err, err
    assert path.read_bytes() == before                           # nothing changed
    assert not [b for b in backup.list_backups(path) if b.reason == "damaged"]
    # no way around it through the core either (a 恢复码 of backup time cannot be checked now)
    forget_key(made)
    session = unlock_backup(made, BAD, PW[BAD])
    with pytest.raises(BackupError, match="管理员"):
        restore_store(path, made, session=session)


def test_an_active_admin_restores_over_a_broken_key_file_and_disabled_users_stay_disabled(
        town, capsys, monkeypatch):
    path, made = town
    keyring.sidecar(path).write_text("garbage\n")
    as_user(monkeypatch, ADMIN)
    code, out, err = run(capsys, "restore", "--db", path, "--from", made, "--json")
    assert code == 0, err
    notes = " ".join(json.loads(out)["notes"])
    assert "停用的人仍然停用" in notes and "备份当时的密码" in notes and "恢复码已作废" in notes
    ring = keyring.Keyring.load(path)
    assert ring.entry(BAD).get("disabled") and not ring.can_unwrap(BAD) and not ring.has_recovery
    keyring.forget()
    with pytest.raises(LoginError):
        Store.unlock(path, BAD, PW[BAD])
    with Store.unlock(path, CLERK, PW[CLERK]) as s:              # the others: passwords of backup time
        assert s.session.role == "录入员"
    with Store.unlock(path, ADMIN, PW[ADMIN]) as s:
        assert {u["name"]: u["active"] for u in list_users(s)}[BAD] == 0
        assert s.ledger("two_cancer").count() == 0               # the backup's rows
    # the pre-restore state was kept with the rebuilt key file: it opens, still without him
    [saved] = [b for b in backup.list_backups(path) if b.reason == "restore"]
    keyring.forget()
    with pytest.raises(LoginError):
        unlock_backup(saved.path, BAD, PW[BAD])
    assert unlock_backup(saved.path, ADMIN, PW[ADMIN]).role == "管理员"


def test_another_installs_backup_does_not_replace_a_database_whose_key_file_is_gone(
        town, tmp_path, capsys, monkeypatch):
    path, _made = town
    before = path.read_bytes()
    evil = tmp_path / "evil" / "e.sqlite3"
    as_user(monkeypatch, "外人", "外人的密码-123")
    assert run(capsys, "init", "--db", evil, "--level", "town", "--org", "河坝镇", "--operator", "外人")[0] == 0
    assert run(capsys, "backup", "--db", evil, "--out", tmp_path / "evil" / "eb.sqlite3")[0] == 0
    keyring.forget()
    code, _, err = run(capsys, "restore", "--db", path, "--from", tmp_path / "evil" / "eb.sqlite3")
    assert code == 1, err                                        # refused while the key file is there
    shutil.move(keyring.sidecar(path), tmp_path / "moved.keys")
    keyring.forget()
    code, _, err = run(capsys, "restore", "--db", path, "--from", tmp_path / "evil" / "eb.sqlite3")
    assert code == 1 and "不属于" in err and "移到别的文件夹" in err, err
    assert path.read_bytes() == before and not keyring.sidecar(path).exists()
    # moved away, the place is empty: starting from a backup (anyone with the files could)
    shutil.move(path, tmp_path / "moved.sqlite3")
    keyring.forget()
    assert run(capsys, "restore", "--db", path, "--from", tmp_path / "evil" / "eb.sqlite3")[0] == 0


def plaintext_store(tmp_path, name="plain.sqlite3") -> Path:
    """A store as versions before encryption kept it: plain SQLite, users with scrypt hashes."""
    enc = tmp_path / "made.sqlite3"
    with Store.create(enc, level="town", org="河坝镇", operator=ADMIN) as s:
        s.add_villages(["示例村一"])
        key = s.key
    plain = tmp_path / name
    conn = cipher.connect(enc, key)
    conn.execute("ATTACH DATABASE ? AS p KEY ''", (str(plain),))
    conn.execute("SELECT sqlcipher_export('p')")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute(f"PRAGMA p.user_version = {version}")
    conn.commit()
    conn.execute("DETACH DATABASE p")
    conn.close()
    c = sqlite3.connect(plain)
    for name_, role in ((ADMIN, "管理员"), (CLERK, "录入员")):
        salt, digest, kdf = hash_password(PW[name_])
        c.execute("INSERT INTO users (name, role, unit, salt, hash, kdf, created) VALUES "
                  "(?, ?, NULL, ?, ?, ?, datetime('now'))", (name_, role, salt, digest, kdf))
    c.commit()
    c.close()
    return plain


def test_a_plaintext_backup_is_checked_against_its_own_users(town, tmp_path):
    old = plaintext_store(tmp_path, "old.sqlite3")
    with pytest.raises(LoginError):
        unlock_backup(old)                                       # no password: no session
    with pytest.raises(LoginError):
        unlock_backup(old, ADMIN, "不对的密码123")
    with pytest.raises(LoginError, match="需要管理员"):
        unlock_backup(old, CLERK, PW[CLERK])
    assert unlock_backup(old, ADMIN, PW[ADMIN]).role == "管理员"
    # and it does not go in place of an encrypted database nobody logged in to
    path, _made = town
    before = path.read_bytes()
    with pytest.raises(BackupError):
        restore_store(path, old, session=unlock_backup(old, ADMIN, PW[ADMIN]), password=PW[ADMIN])
    assert path.read_bytes() == before


def test_an_old_unencrypted_copy_does_not_open_the_encrypted_store(tmp_path):
    db = plaintext_store(tmp_path, "town.sqlite3")
    usb = shutil.copy(db, tmp_path / "old_usb_copy.sqlite3")     # a copy kept somewhere
    with pytest.raises(LoginError, match="需要管理员先"):          # a 录入员 does not encrypt it
        Store.unlock(db, CLERK, PW[CLERK])
    assert cipher.is_plaintext(db)
    with Store.unlock(db, ADMIN, PW[ADMIN]) as s:               # the administrator encrypts it
        assert CLERK in s.notes[0] and "恢复码" in s.notes[0]
        s.ledger("two_cancer").add(LATER, org="示例村一", today=TODAY)
        assert [u["name"] for u in list_users(s) if u["needs_password"]] == [CLERK]
    keyring.forget()
    assert not cipher.is_plaintext(db)
    # the attacker: the old copy's hash and the sidecar of now, no password
    digest = sqlite3.connect(usb).execute("SELECT hash FROM users WHERE name = ?", (CLERK,)).fetchone()[0]
    ring = json.loads(keyring.sidecar(db).read_text())
    entry = ring["users"][CLERK]
    assert "wrapped" not in entry and entry.get("reset")
    kek = keyring.legacy_kek(bytes.fromhex(digest))
    assert kek not in keyring.sidecar(db).read_bytes() and base64.b64encode(kek) not in keyring.sidecar(db).read_bytes()
    # the clerk, with the old password, is told to ask the administrator, who sets a new one
    with pytest.raises(LoginError, match="请联系管理员"):
        Store.unlock(db, CLERK, PW[CLERK])
    with Store.unlock(db, ADMIN, PW[ADMIN]) as s:
        set_password(s, CLERK, "新的密码-2025")
    keyring.forget()
    with Store.unlock(db, CLERK, "新的密码-2025") as s:
        assert s.session.role == "录入员"


def test_a_wrap_by_an_old_hash_written_earlier_no_longer_opens_the_key(tmp_path):
    """A sidecar from the version that wrapped the key by the old hash: that wrap opens nothing."""
    db = plaintext_store(tmp_path, "town.sqlite3")
    digest = sqlite3.connect(db).execute("SELECT salt, hash FROM users WHERE name = ?", (CLERK,)).fetchone()
    with Store.unlock(db, ADMIN, PW[ADMIN]) as s:
        key = s.key
    with keyring.editing(db) as ring:                           # as the earlier version wrote it
        entry = {"role": "录入员", "unit": None, "legacy": True, "salt": digest[0],
                 "kdf": {"name": "legacy-scrypt", "n": 16384, "r": 8, "p": 1}}
        ring.data["users"][CLERK] = entry | ring._wrap(keyring.legacy_kek(bytes.fromhex(digest[1])), key,
                                                       ring._aad("user", CLERK, "录入员", None))
        ring.save()
    keyring.forget()
    assert keyring.Keyring.load(db).unwrap_user(CLERK, PW[CLERK]) is None
    with pytest.raises(LoginError, match="请联系管理员"):
        Store.unlock(db, CLERK, PW[CLERK])


README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_says_what_a_kept_key_file_still_opens(town, tmp_path):
    """Disabling stops the log-in in the program only: the data key never changes, so a key
    file kept from while the user was active still decrypts the database of now. The README
    says so (and this test shows it is true)."""
    path, made = town
    old_keys = keyring.Keyring(keyring.sidecar(made), json.loads(keyring.sidecar(made).read_text()))
    key, _ = old_keys.unwrap_user(BAD, PW[BAD])                # his wrap, from a backup's key file
    conn = cipher.connect(path, key, readonly=True)
    table = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE "
                         "'%two_cancer%' AND name NOT LIKE '%history%'").fetchone()[0]
    assert conn.execute(f"SELECT COUNT(*) FROM [{table}] WHERE name = ?", (LATER["name"],)).fetchone()[0] == 1
    conn.close()
    if not README.exists():
        pytest.skip("README not beside the tests")
    text = re.sub(r"\s+", "", README.read_text(encoding="utf-8"))
    assert "停用只是不能再登录本程序" in text
    assert "仍能用他当时的密码解开现在的数据库" in text
    assert "本程序不能更换数据库密钥" in text
