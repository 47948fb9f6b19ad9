"""Progress arithmetic as of a date: counts, sums, standards, rates, periods, per-org."""
import datetime as dt

import pytest
from support import make_id, screening

from desktop_app.core.district import progress
from desktop_app.core.district.progress import clamp_as_of, compute, expected_rate
from desktop_app.core.store.users import Session

AS_OF = dt.date(2024, 6, 30)
LATER = dt.date(2024, 12, 31)


def woman(i):
    return make_id(f"197{i}0101", 2 * i + 2)


@pytest.fixture
def plan(district):
    """A district with rows in two towns."""
    s = district
    s.add_villages(["示例村一"], town="河坝镇")
    s.add_villages(["示例村二"], town="金盆镇")
    tc = s.ledger("two_cancer")
    tc.add_many([screening(1, day="2024-03-01", id_number=woman(1)),
                 screening(2, day="2024-06-30", id_number=woman(2))], org="示例村一", today=LATER)
    tc.add(screening(3, day="2024-05-02", id_number=woman(3)), org="示例村二", today=LATER)
    tc.add(screening(4, day="2024-07-15", id_number=woman(4)), org="示例村二", today=LATER)  # after the as-of date
    tc.add({"name": "示例5", "id_number": woman(5)}, org="示例村二", today=LATER)   # 待补充
    gone = tc.add(screening(6, day="2024-04-01", id_number=woman(6)), org="示例村二", today=LATER)
    tc.delete(gone.uuid)
    works = s.ledger("works")
    base = {"category": "农村公路安防设施", "location": "示例", "content": "标志标牌",
            "qty_unit": "公里", "status": "在建", "contractor": "示例公司",
            "contractor_code": "91350100M000100Y43", "stat_date": "2024-06-01"}
    works.add(base | {"name": "示例安防一", "plan_qty": 60, "done_qty": 12.5, "start_date": "2024-03-01"},
              org="河坝镇", today=LATER)
    works.add(base | {"name": "示例安防二", "plan_qty": 80, "done_qty": 30.25, "start_date": "2024-04-01"},
              org="金盆镇", today=LATER)
    relief = s.ledger("relief_payments")
    for i, (std, day) in enumerate([(700, "2024-01-10"), (720, "2024-02-10"), (650, "2024-03-10")]):
        relief.add({"name": f"示例{i}", "id_number": make_id("19600101", 11 + 2 * i), "category": "城市低保",
                    "pay_date": day, "persons_covered": 1, "standard": std, "amount": 300,
                    "pay_method": "社会保障卡"}, org="示例村一", today=LATER)
    progress = s.ledger("indicator_progress")
    for m in range(1, 6):
        progress.add({"indicator": "“411”社保基金按月数据比对和疑点核查", "date": f"2024-{m:02d}-20",
                      "note": "已比对"}, today=LATER)
    for day, value in (("2024-03-31", 58), ("2024-05-31", 62)):
        progress.add({"indicator": "纸质证照免提交率", "date": day, "value": value}, today=LATER)
    for m, town in ((1, "河坝镇"), (2, "金盆镇"), (5, "河坝镇")):
        progress.add({"indicator": "每月四镇轮流邀请企业入驻湘就业平台", "date": f"2024-{m:02d}-15",
                      "item": f"示例企业{m}"}, org=town, today=LATER)
    return s


def test_expected_rate_and_clamping():
    assert expected_rate(dt.date(2024, 1, 1), 2024) == 0.3
    assert expected_rate(dt.date(2024, 12, 31), 2024) == 100.0
    assert clamp_as_of(dt.date(2023, 5, 1), 2024) == dt.date(2024, 1, 1)


def test_counts_only_live_complete_rows_dated_by_the_as_of_date(plan):
    report = compute(plan, AS_OF)
    p = report.get("two_cancer_screening")
    assert (p.target, p.achieved, p.rate, p.expected_rate, p.lagging) == (3000, 3, 0.1, 49.7, True)  # 182 of 366 days
    assert [(o.name, o.achieved) for o in p.by_org[:2]] == [("河坝镇", 2), ("金盆镇", 1)]
    assert compute(plan, LATER).get("two_cancer_screening").achieved == 4


def test_incomplete_row_counts_once_completed(plan):
    tc = plan.ledger("two_cancer")
    uid = tc.rows(incomplete=True)[0]["uuid"]
    tc.update(uid, screening(5, day="2024-06-01", id_number=woman(5)), today=LATER)
    assert compute(plan, AS_OF).get("two_cancer_screening").achieved == 4


def test_sum_of_quantities_by_town(plan):
    p = compute(plan, AS_OF).get("rural_road_safety")
    assert p.achieved == 42.75 and p.rate == round(42.75 / 138.894 * 100, 1)
    assert [(o.org, o.achieved) for o in p.by_org[:2]] == [("430971121", 12.5), ("430971123", 30.25)]


def test_standard_is_checked_row_by_row(plan):
    p = compute(plan, AS_OF).get("urban_dibao_standard")
    assert (p.achieved, p.rate, p.lagging, p.met) == (650, 66.7, True, False)
    assert [(v["name"], v["value"]) for v in p.violations] == [("示例2", 650)]
    assert compute(plan, AS_OF).get("rural_dibao_standard").lagging is None   # no rows: no verdict


def test_periodic_duty_and_rate(plan):
    report = compute(plan, AS_OF)
    monthly = report.get("fund_monthly_data_check")
    assert (monthly.achieved, monthly.target, monthly.expected_rate, monthly.lagging) == (5, 12, 50.0, True)
    assert compute(plan, dt.date(2024, 6, 29)).get("fund_monthly_data_check").lagging is False
    rate = report.get("paperless_rate")
    assert (rate.achieved, rate.met, rate.lagging) == (62, True, False)
    assert compute(plan, dt.date(2024, 4, 30)).get("paperless_rate").lagging is True


def test_rotation_gives_each_town_its_months(plan):
    p = compute(plan, AS_OF).get("xiangjiuye_monthly_rotation")
    assert p.achieved == 3
    assert [(o.name, o.target, o.achieved) for o in p.by_org] == [
        ("河坝镇", 3, 2), ("金盆镇", 3, 1), ("北洲子镇", 3, 0), ("千山红镇", 3, 0)]


def test_quota_is_the_town_target(plan):
    plan.set_quota("two_cancer_screening", "430971121", 600)
    p = compute(plan, AS_OF).get("two_cancer_screening")
    assert (p.by_org[0].target, p.by_org[0].rate) == (600, 0.3)


def test_town_scope_groups_by_village(plan):
    report = compute(plan, AS_OF, scope="430971121")
    p = report.get("two_cancer_screening")
    assert p.achieved == 2
    assert [(o.name, o.achieved) for o in p.by_org] == [("示例村一", 2)]


def test_json_shape(plan):
    data = compute(plan, AS_OF).to_json()
    assert data["as_of"] == "2024-06-30"
    item = next(i for i in data["indicators"] if i["id"] == "two_cancer_screening")
    assert set(item) >= {"id", "name", "target", "unit", "achieved", "rate", "expected_rate",
                         "lagging", "by_org"}
    assert set(item["by_org"][0]) >= {"org", "target", "achieved", "rate"}


def test_a_town_without_a_quota_is_never_judged_by_the_district_total(plan):
    report = compute(plan, AS_OF, scope="430971121")
    screened = report.get("two_cancer_screening")
    assert (screened.target, screened.achieved, screened.rate, screened.lagging, screened.met,
            screened.quota) == (None, 2, None, None, None, "未分解")
    roads = report.get("rural_road_safety")
    assert (roads.target, roads.achieved, roads.rate, roads.lagging, roads.quota) == (None, 12.5, None, None, "未分解")
    duty = report.get("fund_monthly_data_check")
    assert (duty.target, duty.rate, duty.lagging, duty.quota) == (None, None, None, "未分解")
    amounts = [i for i in report.indicators if i.indicator.is_amount]
    assert amounts and all(i.quota == "未分解" and i.target is None and i.lagging is None for i in amounts)
    # a level holds for every unit as the plan writes it: a rate, a standard
    assert (report.get("paperless_rate").target, report.get("paperless_rate").quota) == (60, None)
    dibao = report.get("urban_dibao_standard")     # 650 元 paid in 示例村一
    assert (dibao.target, dibao.lagging, dibao.quota) == (700, True, None)
    village = compute(plan, AS_OF, scope="430971121001").get("two_cancer_screening")
    assert (village.target, village.achieved, village.quota) == (None, 2, "未分解")


def test_a_town_quota_is_the_towns_own_target(plan):
    plan.set_quota("two_cancer_screening", "430971121", 600)
    plan.set_quota("fund_monthly_data_check", "430971121", 6)
    report = compute(plan, AS_OF, scope="430971121")
    screened = report.get("two_cancer_screening")
    assert (screened.target, screened.rate, screened.lagging, screened.quota) == (600, 0.3, True, 600)
    duty = report.get("fund_monthly_data_check")     # none of the district's checks is the town's
    assert (duty.target, duty.achieved, duty.rate, duty.lagging, duty.quota) == (6, 0, 0.0, True, 6)
    assert report.get("rural_road_safety").quota == "未分解"
    whole = compute(plan, AS_OF).get("two_cancer_screening")
    assert (whole.target, whole.quota) == (3000, None)   # the district keeps the plan's figure


def test_a_periodic_quota_lags_by_the_share_of_periods_elapsed(plan):
    progress = plan.ledger("indicator_progress")
    for m in range(1, 4):
        progress.add({"indicator": "“411”社保基金按月数据比对和疑点核查", "date": f"2024-{m:02d}-20",
                      "note": "已比对"}, org="河坝镇", today=LATER)
    plan.set_quota("fund_monthly_data_check", "430971121", 6)
    duty = compute(plan, AS_OF, scope="430971121").get("fund_monthly_data_check")
    assert (duty.achieved, duty.rate, duty.expected_rate, duty.lagging) == (3, 50.0, 50.0, False)
    data = {i["id"]: i for i in compute(plan, AS_OF, scope="430971121").to_json()["indicators"]}
    assert data["fund_monthly_data_check"]["quota"] == 6
    assert (data["newborn_screening"]["quota"], data["newborn_screening"]["target"]) == ("未分解", None)


def counting_work(monkeypatch) -> list:
    """Calls of the work behind compute (the figures before the policy shows them)."""
    calls, real = [], progress._worked
    monkeypatch.setattr(progress, "_worked", lambda *a: calls.append(a[3]) or real(*a))
    return calls


def test_figures_are_worked_out_once_while_the_store_is_unchanged(plan, monkeypatch):
    calls = counting_work(monkeypatch)
    first = compute(plan, AS_OF)
    assert compute(plan, AS_OF).to_json() == first.to_json()
    one = compute(plan, AS_OF, indicators=["two_cancer_screening"])   # served from the whole plan's figures
    assert [i.to_json() for i in one.indicators] == [first.get("two_cancer_screening").to_json()]
    assert calls == [AS_OF]
    compute(plan, LATER)                                               # another date: worked out
    assert calls == [AS_OF, LATER]
    plan.ledger("two_cancer").add(screening(7, day="2024-06-01", id_number=woman(7)), org="示例村一", today=LATER)
    assert compute(plan, AS_OF).get("two_cancer_screening").achieved == 4   # a write: worked out again
    assert calls == [AS_OF, LATER, AS_OF]


def test_a_quota_renews_the_figures(plan):
    town = compute(plan, AS_OF).get("two_cancer_screening").by_org[0]
    assert town.target is None
    plan.set_quota("two_cancer_screening", town.org, 1000)
    assert compute(plan, AS_OF).get("two_cancer_screening").by_org[0].target == 1000


def test_each_session_gets_its_own_copy_of_its_own_units_figures(plan):
    whole = compute(plan, AS_OF)
    whole.get("urban_dibao_standard").violations[0]["name"] = "改过"   # a caller changing what it got
    assert compute(plan, AS_OF).get("urban_dibao_standard").violations[0]["name"] == "示例2"
    plan.session = Session("示例录入员", "录入员", unit="示例村二")
    village = compute(plan, AS_OF)
    plan.session = None
    assert village.scope != whole.scope
    assert village.get("two_cancer_screening").achieved == 1 and whole.get("two_cancer_screening").achieved == 3


def test_figures_worked_out_while_a_write_landed_are_not_kept(plan, monkeypatch):
    calls, real = [], progress._worked

    def work_then_write(*args):
        calls.append(1)
        figures = real(*args)
        if len(calls) == 1:   # another thread's write lands while the figures are worked out
            plan.set_setting("idle_lock_minutes", "11")
        return figures
    monkeypatch.setattr(progress, "_worked", work_then_write)
    compute(plan, AS_OF)
    compute(plan, AS_OF)
    compute(plan, AS_OF)
    assert calls == [1, 1]


def test_the_generation_changes_only_with_a_change(plan):
    before = plan.generation()
    with plan.transaction():
        plan.conn.execute("SELECT COUNT(*) FROM settings").fetchone()
    assert plan.generation() == before is not None
    plan.set_setting("idle_lock_minutes", "12")
    assert plan.generation() != before


def test_figures_read_inside_a_transaction_are_neither_served_nor_kept(plan):
    """A figure read inside a write that is then undone must not outlive it."""
    assert compute(plan, AS_OF).get("two_cancer_screening").achieved == 3
    with pytest.raises(RuntimeError), plan.transaction():
        plan.ledger("two_cancer").add(screening(7, day="2024-06-01", id_number=woman(7)), org="示例村一",
                                      today=LATER)
        assert compute(plan, AS_OF).get("two_cancer_screening").achieved == 4   # not the kept 3
        raise RuntimeError("undone")
    assert compute(plan, AS_OF).get("two_cancer_screening").achieved == 3


def test_failing_work_leaves_nothing_and_only_the_newest_generation_is_kept(plan, tmp_path):
    from desktop_app.core.district import kept as kept_module
    key = ("test", str(tmp_path))
    with pytest.raises(ZeroDivisionError):
        kept_module.kept(plan, key, lambda: 1 / 0)
    assert not [k for k in kept_module._busy if k[2:] == key]
    assert kept_module.kept(plan, key, lambda: "first") == "first"
    plan.set_setting("idle_lock_minutes", "13")
    assert kept_module.kept(plan, key, lambda: "second") == "second"
    path = str(plan.path.resolve())
    assert {k[1] for k in kept_module._kept if k[0] == path} == {plan.generation()}
