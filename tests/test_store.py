"""The store: creation, migrations, villages, rows with versions, change log and audit."""
import json
import sqlite3

import pytest
from support import TODAY, logical_dump, make_id, raw_connect, screening

from desktop_app.core.store import migrations
from desktop_app.core.store.database import Store, StoreError
from desktop_app.core.store.records import RowsRejected
from desktop_app.core.store.versions import RowVersions

WOMAN = make_id("19710916", 154)


def full_row(**over):
    """Woman WOMAN's complete, finished screening."""
    return screening(1, name="示例一", id_number=WOMAN, phone="13800001234", status="已完成",
                     breast_method="触诊+彩超") | over


def test_create_sets_node_and_tables(town):
    assert town.node.level == "town" and town.node.org == "430971121"
    assert len(town.node.id) == 16
    assert town.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in town.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"settings", "orgs", "change_log", "audit", "persons", "ledger_two_cancer"} <= tables
    cols = [c.name for c in town.db["ledger_two_cancer"].columns]
    assert cols[:3] == ["uuid", "org", "name"] and "_versions" in cols and "person_id" in cols


@pytest.mark.parametrize("kwargs, message", [
    (dict(level="town", org="不存在镇"), "本区没有名为“不存在镇”的单位"),
    (dict(level="village", org="河坝镇"), "“河坝镇”是镇级单位，与所选级别“村（社区）”不符"),
    (dict(level="county", org="河坝镇"), "级别应为 village、town 或 district，而不是“county”"),
])
def test_create_refuses_bad_input_and_writes_nothing(tmp_path, kwargs, message):
    with pytest.raises(StoreError) as exc:
        Store.create(tmp_path / "x.sqlite3", operator="示例", **kwargs)
    assert str(exc.value).startswith(message) and exc.value.exit_code == 1
    assert list(tmp_path.iterdir()) == []


def test_create_refuses_an_existing_file(town):
    with pytest.raises(StoreError) as exc:
        Store.create(town.path, level="town", org="河坝镇", operator="示例")
    assert exc.value.exit_code == 2


def test_alias_of_nanwanhu(tmp_path):
    store = Store.create(tmp_path / "n.sqlite3", level="town", org="南湾湖办事处", operator="示例")
    assert store.node.org == "430971405"
    store.close()


def test_village_codes_are_assigned_and_never_reused(town):
    codes = [o.code for o in town.orgs.children("430971121")]
    assert codes == ["430971121001", "430971121002"]
    town.conn.execute("DELETE FROM orgs WHERE code = '430971121002'")
    assert town.add_villages(["示例社区"])[0].code == "430971121003"
    with pytest.raises(StoreError, match="已经有“示例村一”"):
        town.add_villages(["示例村一"])


def test_migrations_from_empty_and_from_previous_version(tmp_path, monkeypatch):
    conn = sqlite3.connect(":memory:")
    assert migrations.apply(conn) == migrations.latest() >= 2
    # a store made by the previous schema version opens, is upgraded, and keeps its data
    everything = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda directory=None: everything[:-1])
    store = Store.create(tmp_path / "old.sqlite3", level="town", org="河坝镇", operator="示例")
    saved = store.ledger("two_cancer").add(full_row(), today=TODAY)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(everything) - 1
    store.close()
    monkeypatch.undo()
    store = Store.open(tmp_path / "old.sqlite3")
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.latest()
    assert store.ledger("two_cancer").get(saved.uuid)["name"] == "示例一"
    store.close()


def test_a_newer_catalog_adds_columns_without_losing_data(town, tmp_path):
    saved = town.ledger("two_cancer").add(full_row(), today=TODAY)
    files = json.loads(town.setting("catalog"))
    name = next(n for n in files if "two_cancer" in n)
    files[name]["ledgers"][0]["fields"].append(
        {"id": "screening_no", "label": "筛查编号", "type": "text"})
    header = next(n for n in files if "catalog" in files[n])
    files[header]["catalog"]["version"] = "2024.99"
    town.adopt_catalog(files)
    row = town.ledger("two_cancer").get(saved.uuid)
    assert row["name"] == "示例一" and "screening_no" in row


def test_newer_database_is_refused_untouched(town, tmp_path):
    path = town.path
    town.close()
    conn = raw_connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="由更新版本的程序创建"):
        Store.open(path)
    assert path.read_bytes() == before


def test_not_a_database(tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="无法作为数据库打开|不是台账数据库"):
        Store.open(bad)


def test_add_writes_row_person_change_log_and_one_audit_entry(town):
    led = town.ledger("two_cancer")
    saved = led.add(full_row(), org="示例村一", today=TODAY)
    row = led.get(saved.uuid)
    assert (row["org"], row["status"], row["_incomplete"], row["_deleted"]) == (
        "430971121001", "已完成", 0, 0)
    person = town.persons.get(row["person_id"])
    assert (person["id_number"], person["name"], person["sex"], person["birth_date"]) == (
        WOMAN, "示例一", "女", "1971-09-16")
    log = town.conn.execute("SELECT tbl FROM change_log ORDER BY seq").fetchall()
    assert log == [("persons",), ("ledger_two_cancer",)]
    audit = town.conn.execute(
        "SELECT action, tbl, user, source FROM audit WHERE tbl='ledger_two_cancer'").fetchall()
    assert audit == [("insert", "ledger_two_cancer", "示例录入员", "cli")]
    [entry] = led.history(saved.uuid)
    assert entry["changes"]["name"] == [None, "示例一"]
    rv = RowVersions.decode(row["_versions"])
    assert rv.get("name").origin == town.node.id


def test_incomplete_rows_are_saved_and_listed(town):
    saved = town.ledger("two_cancer").add({"name": "示例二", "id_number": WOMAN}, today=TODAY)
    assert saved.incomplete and "institution" in saved.missing
    row = town.ledger("two_cancer").get(saved.uuid)
    assert row["_incomplete"] == 1 and "cervical_date" in row["_missing"]


def test_missing_identity_or_invalid_values_are_refused_and_nothing_written(town):
    before = logical_dump(town.path)
    with pytest.raises(RowsRejected) as exc:
        town.ledger("two_cancer").add_many(
            [full_row(), full_row(id_number=None), full_row(phone="12345")], today=TODAY)
    assert set(exc.value.failures) == {1, 2}
    assert exc.value.messages() == ["身份证号：必填，不能为空",
                                    "联系电话：号码格式不对：手机号 11 位、以 13–19 开头；固话写作 0737-1234567"]
    assert logical_dump(town.path) == before


def test_rules_of_the_two_cancer_ledger(town):
    led = town.ledger("two_cancer")
    man = make_id("19710916", 153)
    young = make_id("19950101", 2)
    check = led.check(full_row(id_number=man), today=TODAY)
    assert [p.message for p in check.errors] == ["身份证号：两癌检查对象应为女性"]
    check = led.check(full_row(id_number=young), today=TODAY)
    assert [p.message for p in check.errors] == ["身份证号：两癌检查对象应为检查日 35–64 周岁的妇女"]
    check = led.check(full_row(cervical_result="异常"), today=TODAY)
    assert check.ok and check.missing == ["colposcopy", "pathology"]   # 异常: 阴道镜 and 组织病理


def test_duplicates_by_natural_key(town):
    led = town.ledger("two_cancer")
    led.add(full_row(), today=TODAY)
    with pytest.raises(RowsRejected, match="与已有记录重复"):
        led.add(full_row(), today=TODAY)
    # same woman, next year's screening is another row (key: 身份证号 + 年度)
    assert led.duplicates_of({"id_number": WOMAN, "cervical_date": "2025-01-02"}) == []


def test_update_delete_restore_are_versioned_and_audited(town):
    led = town.ledger("two_cancer")
    uid = led.add(full_row(), today=TODAY).uuid
    base = RowVersions.decode(led.get(uid)["_versions"]).base
    led.update(uid, {"联系电话": "13900001111"}, today=TODAY)
    row = led.get(uid)
    phone_v = RowVersions.decode(row["_versions"]).get("phone")
    assert row["phone"] == "13900001111" and phone_v.covers(base) and phone_v.stamp > base.stamp
    led.delete(uid)
    assert led.get(uid)["_deleted"] == 1 and led.count() == 0
    led.restore(uid)
    assert led.count() == 1
    actions = [r[0] for r in town.conn.execute(
        "SELECT action FROM audit WHERE uuid = ? ORDER BY id", (uid,))]
    assert actions == ["insert", "update", "delete", "restore"]
    before, after = town.conn.execute(
        "SELECT before, after FROM audit WHERE action='update'").fetchone()
    assert json.loads(before) == {"phone": "13800001234"} and json.loads(after) == {"phone": "13900001111"}
    history = led.history(uid)
    assert history[0]["changes"]["phone"] == [None, "13800001234"]      # the first state, rebuilt
    assert history[1]["changes"] == {"phone": ["13800001234", "13900001111"]}
    assert history[2]["changes"] == {"_deleted": [0, 1]}


def test_a_failing_write_leaves_nothing_half_done(town, monkeypatch):
    led = town.ledger("two_cancer")
    before = logical_dump(town.path)
    from desktop_app.core.store import writes

    def boom(self, log, audit):
        raise RuntimeError("disk full")
    monkeypatch.setattr(writes.Writer, "_log", boom)
    with pytest.raises(RuntimeError):
        led.add_many([full_row(), full_row(id_number=make_id("19700101", 4))], today=TODAY)
    assert logical_dump(town.path) == before


def test_row_org_must_be_within_the_install(town):
    with pytest.raises(StoreError, match="没有名为“金盆镇”的单位"):
        town.ledger("two_cancer").add(full_row(), org="金盆镇", today=TODAY)


def test_known_person_details_and_name_mismatch_warning(town):
    led = town.ledger("two_cancer")
    led.add(full_row(address="示例路1号"), today=TODAY)
    person = town.persons.by_id_number(WOMAN)
    assert person["address"] == "示例路1号"
    saved = led.add(full_row(name="示例改名"),
                    today=TODAY, allow_duplicate=True)
    assert [w.message for w in saved.warnings] == [
        "此身份证号在人员主档中登记的姓名是“示例一”，这里填的是“示例改名”，请核对"]
    rows = town.persons.appearances(person["uuid"])
    assert [r["ledger"] for r in rows] == ["two_cancer", "two_cancer"]
