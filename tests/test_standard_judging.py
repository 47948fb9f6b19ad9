"""Standards judged as the plan writes them: per person where the standard is per person
(发放金额 ÷ 保障人数), the target shown is the standard in force on the as-of date (target,
achieved and met never contradict), and the district's effective dates and rotation are
checked before they are kept."""
import datetime as dt

import pytest
from support import make_id

from desktop_app.cli import main
from desktop_app.core.catalog.choices import load_choices, save_choices
from desktop_app.core.district.explain import explain
from desktop_app.core.district.progress import compute

END = dt.date(2024, 12, 31)


def pay(store, i, category, month, *, amount, persons=1, standard=None):
    row = {"name": f"示例{i}", "id_number": make_id("19600101", 11 + 2 * i), "category": category,
           "pay_date": f"{month}-10", "month": month, "persons_covered": persons, "amount": amount,
           "pay_method": "社会保障卡"}
    if standard is not None:
        row["standard"] = standard
    if "残疾人" in category:
        row |= {"disability_cert": make_id("19600101", 11 + 2 * i) + "11", "disability_grade": "一级"}
    return store.ledger("relief_payments").add(row, org="示例村一", today=END)


@pytest.fixture
def relief(district):
    district.add_villages(["示例村一"], town="河坝镇")
    return district


def test_subsidies_and_orphan_allowances_are_judged_per_person(relief):
    pair = pay(relief, 1, "困难残疾人生活补贴", "2024-05", amount=100, persons=2)    # 50 元/人
    pay(relief, 2, "困难残疾人生活补贴", "2024-05", amount=90)
    orphans = pay(relief, 3, "散居孤儿", "2024-05", amount=1200, persons=2)          # 600 元/人
    pay(relief, 4, "事实无人抚养儿童", "2024-05", amount=2300, persons=2)            # 1150 元/人
    report = compute(relief, END)
    living = report.get("disability_living_subsidy_standard")
    assert (living.target, living.achieved, living.met) == (90, 50, False)
    assert [(v["uuid"], v["value"]) for v in living.violations] == [(pair.uuid, 50)]
    scattered = report.get("orphan_scattered_standard")
    assert (scattered.achieved, scattered.met) == (600, False)
    de_facto = report.get("de_facto_orphan_standard")
    assert (de_facto.achieved, de_facto.met) == (1150, True)
    assert "人均发放金额（发放金额 ÷ 保障人数）" in living.counting
    e = explain(relief, "orphan_scattered_standard", END)
    assert [(x["uuid"], x["reason"]) for x in e.excluded] == [(orphans.uuid, "under_standard")]
    assert "1200 ÷ 保障人数 2 = 600" in e.excluded[0]["reason_text"]


def test_the_per_person_rule_is_catalog_data():
    from desktop_app.core.catalog import load_catalog
    cat = load_catalog()
    per = {i.id for i in cat.indicators if i.measure.per == "persons_covered"}
    assert per == {"disability_living_subsidy_standard", "disability_care_subsidy_standard",
                   "orphan_scattered_standard", "orphan_institutional_standard", "de_facto_orphan_standard"}
    assert cat.indicator("urban_dibao_standard").measure.per is None


def figure(store, day):
    p = compute(store, day).get("urban_dibao_standard")
    return p.target, p.achieved, p.met


def test_a_mid_year_standard_shows_the_standard_in_force_and_never_contradicts(relief):
    save_choices(relief, load_choices(relief).with_standard(
        relief.catalog, "urban_dibao_standard", [("2024-01", 650), ("2024-07", 700)]))
    pay(relief, 1, "城市低保", "2024-03", amount=300, standard=650)
    assert figure(relief, dt.date(2024, 6, 30)) == (650, 650, True)
    assert figure(relief, dt.date(2024, 7, 1)) == (700, None, True)     # nothing paid under 700 yet
    pay(relief, 2, "城市低保", "2024-07", amount=300, standard=700)
    assert figure(relief, END) == (700, 700, True)
    pay(relief, 3, "城市低保", "2024-04", amount=300, standard=600)     # under April's 650
    assert figure(relief, dt.date(2024, 6, 30)) == (650, 600, False)
    assert figure(relief, END) == (700, 600, False)                     # not 700 / 700 / unmet
    p = compute(relief, END).get("urban_dibao_standard")
    assert [(o.target, o.achieved) for o in p.by_org if o.achieved is not None] == [(700, 600)]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def district_db(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINSHENG_USER", "示例专班")
    db = tmp_path / "district.sqlite3"
    assert run(capsys, "init", "--db", db, "--level", "district", "--org", "430971", "--operator", "示例专班")[0] == 0
    return db


@pytest.mark.parametrize("entries, message", [
    (["2024-01=650", "2025-01=700"], "执行月份 2025-01 不在计划年度 2024 年内"),
    (["2023-07=650", "2024-01=700"], "执行月份 2023-07 不在计划年度 2024 年内"),
    (["2024-01=900", "2024-07=700"], "标准只升不降，2024-07 起的 700 低于 2024-01 起的 900"),
])
def test_rules_refuses_a_standard_outside_the_year_or_decreasing(district_db, capsys, entries, message):
    code, _, err = run(capsys, "rules", "--db", district_db, "--standard", "urban_dibao_standard", *entries)
    assert code == 1 and message in err
    code, out, _ = run(capsys, "rules", "--db", district_db)
    assert code == 0 and "未设定" in out                                 # nothing kept


@pytest.mark.parametrize("unit", ["430971", "430971121001"])
def test_rules_rotation_lists_only_towns(district_db, capsys, unit):
    assert run(capsys, "villages", "add", "--db", district_db, "--town", "河坝镇", "示例村一")[0] == 0
    code, _, err = run(capsys, "rules", "--db", district_db, "--rotation", "xiangjiuye_monthly_rotation",
                       "河坝镇", unit, "北洲子镇", "千山红镇")
    assert code == 1 and "轮流的只能是各镇" in err
    code, _, _ = run(capsys, "rules", "--db", district_db, "--rotation", "xiangjiuye_monthly_rotation",
                     "河坝镇", "金盆镇", "北洲子镇", "南湾湖管理处")
    assert code == 0
