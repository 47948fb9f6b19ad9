"""Issue 16's catalog change reaches existing stores: every row kept, the new fields added
and filled where a row already says what they hold (one 检查机构 → both institutions, a
listed 事项名称 → the 高效办成一件事 item), rows the new rules need more of marked 待补充."""
import datetime as dt
import json

from support import household, make_id, raw_connect, screening
from test_migrations import LEVELS, open_level, unpack

from desktop_app.core.catalog.model import load_catalog
from desktop_app.core.district.progress import compute
from desktop_app.core.store import Store, database

LATER = dt.date(2024, 12, 31)
ONE_THING = "“高效办成一件事”事项落地生效"


def old_catalog_files(tmp_path) -> dict:
    """The catalog an existing store holds (the newest schema level's store: catalog 2024.3,
    whose ledgers are those of 2024.4 too)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    conn = raw_connect(unpack(LEVELS[-1], tmp_path))
    try:
        return json.loads(conn.execute("SELECT value FROM settings WHERE key = 'catalog'").fetchone()[0])
    finally:
        conn.close()


def test_the_shipped_catalog_is_newer_than_the_stores_have(tmp_path):
    old = load_catalog(old_catalog_files(tmp_path))
    assert (old.version, load_catalog().version) == ("2024.3", "2024.7")
    assert not old.ledger("two_cancer").has_field("breast_institution")


def test_adopting_the_new_catalog_keeps_every_row_and_fills_what_rows_already_say(tmp_path, monkeypatch):
    old_files = old_catalog_files(tmp_path / "fixture")
    # a store of the time before: the app then shipped the old catalog
    monkeypatch.setattr(database, "read_catalog_files", lambda: old_files)
    store = Store.create(tmp_path / "town.sqlite3", level="town", org="河坝镇", operator="示例",
                         catalog_files=old_files)
    store.add_villages(["示例村一"])
    tc = store.ledger("two_cancer")
    woman = tc.add(screening(1), org="示例村一", today=LATER)
    ip = store.ledger("indicator_progress")
    listed = ip.add({"indicator": ONE_THING, "date": "2024-03-01", "item": "企业信息变更"}, today=LATER)
    free = ip.add({"indicator": ONE_THING, "date": "2024-03-02", "item": "示例自拟事项"}, today=LATER)
    bf = store.ledger("barrier_free")
    bf.add(household(1), org="示例村一", today=LATER)
    bf.add(household(2), org="示例村一", today=LATER)
    relief = store.ledger("relief_payments")
    urban = relief.add({"name": "示例低保", "id_number": make_id("19600101", 11), "category": "城市低保",
                        "pay_date": "2024-03-10", "persons_covered": 1, "standard": 700, "amount": 300,
                        "pay_method": "社会保障卡"}, org="示例村一", today=LATER)
    care = relief.add({"name": "示例护理", "id_number": make_id("19600101", 13), "category": "重度残疾人护理补贴",
                       "pay_date": "2024-03-10", "persons_covered": 1, "amount": 90,
                       "pay_method": "社会保障卡"}, org="示例村一", today=LATER)
    meals = store.ledger("meal_points")
    canteen = {"address": "示例路2号", "site_type": "益老食堂", "operator": "示例村委会",
               "operator_code": "91350100M000100Y43", "food_license": "JY14309000000001", "capacity": 60,
               "daily_served": 55, "accept_date": "2024-03-01", "open_date": "2024-03-01"}
    running = meals.add(canteen | {"name": "示例食堂一", "status": "运营中"}, org="示例村一", today=LATER)
    closed = meals.add(canteen | {"name": "示例食堂二", "status": "已停业"}, org="示例村一", today=LATER)
    before = compute(store, LATER)
    assert before.get("efficient_one_thing").achieved == 2            # the old rule: any name counts
    assert before.get("yilao_canteen_per_town").by_org[0].achieved == 1
    assert before.get("barrier_free_households").achieved == 2
    counts = {led.id: store.ledger(led.id).count() for led in store.catalog.ledgers}

    monkeypatch.undo()
    store._upgrade_catalog()        # what opening the store with this version of the app does

    assert store.catalog.version == "2024.7"
    assert {led: store.ledger(led).count() for led in counts} == counts      # every row kept
    row = tc.get(woman.uuid)
    assert (row["institution"], row["breast_institution"], row["_incomplete"]) == ("示例卫生院", "示例卫生院", 0)
    assert ip.get(listed.uuid)["one_thing_item"] == "企业信息变更" and not ip.get(listed.uuid)["_incomplete"]
    kept = ip.get(free.uuid)
    assert (kept["item"], kept["one_thing_item"], kept["_incomplete"], kept["_missing"]) == (
        "示例自拟事项", None, 1, "one_thing_item")                          # kept, 待补充
    assert (relief.get(urban.uuid)["standard_unit"], relief.get(urban.uuid)["month"]) == ("元/月", "2024-03")
    assert relief.get(care.uuid)["_missing"] == "disability_cert、disability_grade"
    after = compute(store, LATER)
    assert after.get("efficient_one_thing").achieved == 1
    # no 户主 yet: each row counts by its disabled person until the 户主 is filled
    assert after.get("barrier_free_households").achieved == 2
    # 停业日期: the running canteen counts as before; the closed one, without the date, is 待补充
    assert after.get("yilao_canteen_per_town").by_org[0].achieved == 1
    assert not meals.get(running.uuid)["_incomplete"]
    assert (meals.get(closed.uuid)["_incomplete"], meals.get(closed.uuid)["_missing"]) == (1, "close_date")
    store.close()


def test_an_old_store_gains_the_fields_when_opened(tmp_path):
    with open_level(LEVELS[-1], tmp_path) as store:
        assert store.catalog.version == load_catalog().version
        rows = store.ledger("two_cancer").rows()
        assert rows and all(r["breast_institution"] == r["institution"] for r in rows)
        assert [r["name"] for r in store.ledger("barrier_free").rows()] == ["示例残1"]
        assert compute(store, LATER).get("barrier_free_households").achieved == 1


def test_the_dashboard_and_the_next_monthly_report_say_which_rules_changed(tmp_path, monkeypatch):
    """93 户 counted by household moves the number: the district is told the rule changed."""
    from desktop_app.core.district import monthly_report
    from desktop_app.core.district.rules import changed_since_last_report
    old_files = old_catalog_files(tmp_path / "fixture")
    monkeypatch.setattr(database, "read_catalog_files", lambda: old_files)
    district = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="示例",
                            catalog_files=old_files)
    june = monthly_report(district, 2024, 6)
    assert june.rule_note.startswith("按计划目录 2024.3 的计数规则统计")
    monkeypatch.undo()
    district._upgrade_catalog()
    month, changed = changed_since_last_report(district)
    assert month == "2024-06"
    moved = {"barrier_free_households", "childcare_slots", "full_employment_provincial", "full_employment_city",
             "full_employment_district", "yilao_canteen_per_town", "efficient_one_thing", "job_info_outreach"}
    assert moved <= {c.indicator for c in changed}
    texts = {c.indicator: c.text for c in changed}
    assert texts["barrier_free_households"] == "困难重度残疾人家庭无障碍改造：计数规则已变更"
    assert texts["job_info_outreach"] == "及时发布就业信息、加大政企联系频率：新增指标"
    july = monthly_report(district, 2024, 7)
    assert moved <= {c.indicator for c in july.rule_changes}
    assert "2024.7" in july.rule_note
    district.close()
