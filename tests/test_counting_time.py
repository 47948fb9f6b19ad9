"""Issue 16 items 3, 4, 6, 7: standards judged by the standard in force for the payment's
month, the derived 事实无人抚养儿童 standard, working-day duties from the 2024 holiday
calendar, the 湘就业 rotation and the 重点企业 list as district data travelling down."""
import datetime as dt
import json

import pytest
from support import make_chain, make_id

from desktop_app.cli import main
from desktop_app.core.catalog.choices import Choices, load_choices, save_choices
from desktop_app.core.district.explain import explain
from desktop_app.core.district.progress import compute
from desktop_app.core.sync import profiles

END = dt.date(2024, 12, 31)


def pay(store, i, category, day, *, standard=None, amount=300, org="示例村一"):
    row = {"name": f"示例{i}", "id_number": make_id("19600101", 11 + 2 * i), "category": category,
           "pay_date": day, "persons_covered": 1, "amount": amount, "pay_method": "社会保障卡"}
    if standard is not None:
        row["standard"] = standard
    return store.ledger("relief_payments").add(row, org=org, today=END)


@pytest.fixture
def relief(district):
    district.add_villages(["示例村一"], town="河坝镇")
    pay(district, 1, "城市低保", "2024-01-10", standard=650)
    pay(district, 2, "城市低保", "2024-06-10", standard=650)
    pay(district, 3, "城市低保", "2024-07-10", standard=700)
    return district


def test_a_standard_is_judged_by_the_standard_in_force_for_the_month(relief):
    before = compute(relief, END).get("urban_dibao_standard")      # catalog default: 700 all year
    assert (before.met, len(before.violations)) == (False, 2)
    save_choices(relief, load_choices(relief).with_standard(
        relief.catalog, "urban_dibao_standard", [("2024-01", 650), ("2024-07", 700)]))
    after = compute(relief, END).get("urban_dibao_standard")
    assert (after.met, after.violations, after.rate, after.achieved) == (True, [], 100.0, 700)
    late = pay(relief, 4, "城市低保", "2024-08-10", standard=650)     # after the raise: a violation
    p = compute(relief, END).get("urban_dibao_standard")
    assert [(v["uuid"], v["value"], v["standard"]) for v in p.violations] == [(late.uuid, 650, 700)]
    assert compute(relief, dt.date(2024, 6, 30)).get("urban_dibao_standard").met is True
    assert "1月起不低于 650元/月；7月起不低于 700元/月" in p.counting


def test_the_lookup_takes_a_month():
    from desktop_app.core.catalog import load_catalog
    cat = load_catalog()
    ind = cat.indicator("rural_dibao_standard")
    c = Choices().with_standard(cat, ind.id, [("2024-04", 5400), ("2024-01", 5000)])
    assert [c.standard_for(ind, m) for m in ("2024-01", "2024-03", "2024-04", "2024-12")] == [5000, 5000, 5400, 5400]
    with pytest.raises(Exception, match="最后一档应为方案目标 5400"):
        Choices().with_standard(cat, ind.id, [("2024-01", 5400), ("2024-07", 5000)])


def test_de_facto_orphans_are_checked_against_the_scattered_orphan_standard(relief):
    low = pay(relief, 5, "事实无人抚养儿童", "2024-03-10", amount=500)
    pay(relief, 6, "事实无人抚养儿童", "2024-03-10", amount=1150)
    p = compute(relief, END).get("de_facto_orphan_standard")
    assert (p.target, p.met, p.rows) == (1150, False, 2)
    assert [(v["uuid"], v["value"]) for v in p.violations] == [(low.uuid, 500)]
    ind = relief.catalog.indicator("de_facto_orphan_standard")
    assert "民发〔2019〕62号" in ind.derived and "散居孤儿" in ind.derived
    assert "标准来源" in p.counting


def test_holiday_calendar_2024_has_251_working_days(district):
    cal = district.catalog.calendar
    assert cal.working_days() == 251
    assert cal.is_working_day(dt.date(2024, 2, 4)) and cal.is_working_day(dt.date(2024, 10, 12))   # 调休上班
    assert not cal.is_working_day(dt.date(2024, 10, 1)) and not cal.is_working_day(dt.date(2024, 2, 12))
    assert cal.working_days(dt.date(2024, 1, 31)) == 22


def test_a_duty_done_every_working_day_reaches_100_percent(district):
    cal = district.catalog.calendar
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(366)]
    worked = [d for d in days if cal.is_working_day(d)]
    district.ledger("indicator_progress").add_many(
        [{"indicator": "“411”社保基金按日网上巡查", "date": d.isoformat(), "note": "已巡查"}
         for d in worked + [dt.date(2024, 10, 1)]], today=END)    # and once on 国庆
    p = compute(district, END).get("fund_daily_online_inspection")
    assert (p.target, p.achieved, p.rate, p.met, p.lagging, p.expected_rate) == (251, 251, 100.0, True, False, 100.0)
    mid = compute(district, dt.date(2024, 6, 30)).get("fund_daily_online_inspection")
    due = cal.working_days(dt.date(2024, 6, 30))
    assert (mid.achieved, mid.lagging, mid.expected_rate) == (due, False, round(due / 251 * 100, 1))
    e = explain(district, "fund_daily_online_inspection", END)
    assert [x["reason"] for x in e.excluded] == ["not_due"]


@pytest.fixture
def towns(district):
    district.add_villages(["示例村一"], town="河坝镇")
    return district


def rotation_row(store, month, town, item="示例企业"):
    return store.ledger("indicator_progress").add(
        {"indicator": "每月四镇轮流邀请企业入驻湘就业平台", "date": f"2024-{month:02d}-15", "item": item},
        org=town, today=END)


def test_a_rotation_month_counts_only_for_the_town_whose_turn_it_is(towns):
    rotation_row(towns, 1, "金盆镇")        # by default January is 河坝镇's
    rotation_row(towns, 2, "金盆镇")
    p = compute(towns, END).get("xiangjiuye_monthly_rotation")
    assert p.achieved == 1
    save_choices(towns, load_choices(towns).with_rotation(
        towns.catalog, "xiangjiuye_monthly_rotation",
        ["430971123", "430971121", "430971124", "430971130"] * 3, towns.orgs))
    p = compute(towns, END).get("xiangjiuye_monthly_rotation")
    assert p.achieved == 1                  # January is now 金盆镇's, February 河坝镇's
    assert [(o.name, o.target, o.achieved) for o in p.by_org][:2] == [("金盆镇", 3, 1), ("河坝镇", 3, 0)]
    assert "1月金盆镇、2月河坝镇" in p.counting and "轮流顺序由区里设定" in p.counting
    reasons = {x["reason"] for x in explain(towns, "xiangjiuye_monthly_rotation", END).excluded}
    assert reasons == {"not_turn"}


def quarter_row(store, day, company):
    store.ledger("indicator_progress").add(
        {"indicator": "重点企业每季度在湘就业平台发布岗位", "date": day, "item": company}, today=END)


def test_a_quarter_counts_when_every_listed_key_enterprise_posted(district):
    for day, company in (("2024-02-01", "示例甲公司"), ("2024-03-01", "示例乙公司"), ("2024-05-01", "示例甲公司")):
        quarter_row(district, day, company)
    assert compute(district, END).get("key_enterprise_quarterly").achieved == 2    # no list yet: any posting
    save_choices(district, load_choices(district).with_members(
        district.catalog, "key_enterprise_quarterly", ["示例甲公司", "示例乙公司"]))
    p = compute(district, END).get("key_enterprise_quarterly")
    assert (p.target, p.achieved) == (4, 1)
    e = explain(district, "key_enterprise_quarterly", END)
    assert [(x["reason"], x["reason_text"]) for x in e.excluded] == [
        ("members_missing", "第2季度名单中的示例乙公司尚未发布，该季度不计入")]


def test_district_choices_travel_down_in_the_profile(tmp_path):
    d, t, v = make_chain(tmp_path / "chain")
    try:
        save_choices(d, load_choices(d).with_standard(d.catalog, "urban_dibao_standard",
                                                      [("2024-01", 650), ("2024-07", 700)]))
        save_choices(d, load_choices(d).with_members(d.catalog, "key_enterprise_quarterly", ["示例甲公司"]))
        profiles.import_profile(t, profiles.export_profile(d, tmp_path / "d2.msprofile"))
        assert load_choices(t) == load_choices(d) and not load_choices(d).is_empty()
        profiles.import_profile(v, profiles.export_profile(t, tmp_path / "t2.msprofile"))
        assert load_choices(v) == load_choices(d)
        pay(t, 1, "城市低保", "2024-03-10", standard=650)
        assert compute(t, END).get("urban_dibao_standard").met is True   # the town counts as the district
        with pytest.raises(Exception, match="由区里设定"):
            save_choices(t, Choices())
    finally:
        for s in (d, t, v):
            s.close()


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_rules_command_sets_the_choices_and_catalog_counting_reflects_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINSHENG_USER", "示例专班")
    db = tmp_path / "district.sqlite3"
    assert run(capsys, "init", "--db", db, "--level", "district", "--org", "430971", "--operator", "示例专班")[0] == 0
    code, out, _ = run(capsys, "rules", "--db", db, "--json", "--standard", "urban_dibao_standard",
                       "2024-01=650", "2024-07=700", "--rotation", "xiangjiuye_monthly_rotation",
                       "金盆镇", "河坝镇", "北洲子镇", "千山红镇", "--members", "key_enterprise_quarterly", "示例甲公司")
    data = json.loads(out)
    assert code == 0 and data["standards"] == {"urban_dibao_standard": [["2024-01", 650], ["2024-07", 700]]}
    assert data["rotations"]["xiangjiuye_monthly_rotation"][:2] == ["430971123", "430971121"]
    code, out, _ = run(capsys, "catalog", "--db", db, "--json")
    counting = {i["id"]: i["counting"] for i in json.loads(out)["indicators"]}
    assert "7月起不低于 700元/月" in counting["urban_dibao_standard"]
    assert "示例甲公司" in counting["key_enterprise_quarterly"]
    code, out, _ = run(capsys, "catalog", "--json")
    assert "7月起" not in {i["id"]: i["counting"] for i in json.loads(out)["indicators"]}["urban_dibao_standard"]
    code, _, err = run(capsys, "rules", "--db", db, "--standard", "urban_dibao_standard", "2024-07=600")
    assert code == 1 and "最后一档应为方案目标 700" in err
