"""The plan as data: every measurable target of the seed plan, validated on load."""
import copy

import pytest

from desktop_app.core.catalog.model import CatalogError, load_catalog, read_catalog_files

CATALOG = load_catalog()

# indicator → (target, unit, comparator, responsible unit, ledger): the spot check
SPOT = {
    "newborn_screening": (146, "人", ">=", "区教育卫生健康局", "newborn_screening"),
    "childcare_slots": (55, "个", ">=", "区教育卫生健康局", "childcare_slots"),
    "urban_dibao_standard": (700, "元/月", ">=", "区民政人社局", "relief_payments"),
    "rural_dibao_standard": (5400, "元/年", ">=", "区民政人社局", "relief_payments"),
    "disability_living_subsidy_standard": (90, "元/月·人", ">=", "区民政人社局", "relief_payments"),
    "disability_care_subsidy_standard": (90, "元/月·人", ">=", "区民政人社局", "relief_payments"),
    "orphan_scattered_standard": (1150, "元/月", ">=", "区民政人社局", "relief_payments"),
    "de_facto_orphan_standard": (1150, "元/月", ">=", "区民政人社局", "relief_payments"),  # derived
    "orphan_institutional_standard": (1600, "元/月", ">=", "区民政人社局", "relief_payments"),
    "two_cancer_screening": (3000, "人", ">=", "区妇联", "two_cancer"),
    "barrier_free_households": (93, "户", ">=", "区民政人社局", "barrier_free"),
    "child_rehab": (9, "人", ">=", "区民政人社局", "child_rehab"),
    "urban_new_jobs": (900, "人", ">=", "区民政人社局", "employment"),
    "meal_service_points": (4, "个", ">=", "区民政人社局", "meal_points"),
    "aiwan_school": (1, "所", ">=", "区教育卫生健康局", "works"),
    "legal_aid_cases": (95, "件", ">=", "区司法局", "legal_aid"),
    "emergency_broadcast": (1, "个", ">=", "区委宣传统战部", "works"),
    "efficient_one_thing": (17, "个", ">=", "区行政审批服务局", "indicator_progress"),
    "new_service_scenarios": (7, "个", ">", "区行政审批服务局", "indicator_progress"),
    "paperless_rate": (60, "%", ">=", "区行政审批服务局", "indicator_progress"),
    "unified_completion_rate": (90, "%", ">=", "区行政审批服务局", "indicator_progress"),
    "social_card_transport": (2700, "人", ">=", "区民政人社局", "indicator_progress"),
    "bus_device_rate": (90, "%", ">=", "区交通运输局", "indicator_progress"),
    "old_communities_started": (17, "个", ">=", "区住房城乡建设局", "old_communities"),
    "rural_road_upgrade": (0.5, "公里", ">=", "区交通运输局", "works"),
    "rural_road_safety": (138.894, "公里", ">=", "区交通运输局", "works"),
    "trunk_road_safety": (21, "公里", ">=", "区交通运输局", "works"),
    "water_storage": (210000, "方", ">=", "区农业农村水利局", "works"),
    "irrigation_area": (40000, "亩", ">=", "区农业农村水利局", "works"),
    "vocational_training": (300, "人", ">=", "区民政人社局", "training"),
    "rural_labor_transfer": (450, "人", ">=", "区民政人社局", "employment"),
    "winter_spring_job_fairs": (2, "场", ">=", "区民政人社局", "job_fairs"),
    "xiangjiuye_monthly_rotation": (12, "月", ">=", "区民政人社局", "indicator_progress"),
    "key_enterprise_quarterly": (4, "季度", ">=", "区民政人社局", "indicator_progress"),
    "full_employment_provincial": (4, "家", ">=", "区民政人社局", "full_employment"),
    "full_employment_city": (1, "家", ">=", "区民政人社局", "full_employment"),
    "full_employment_district": (3, "家", ">=", "区民政人社局", "full_employment"),
    "migrant_realname_coverage": (100, "%", "=", "区民政人社局", "indicator_progress"),
    "wage_payment_monthly_supervision": (12, "月", ">=", "区民政人社局", "indicator_progress"),
    "fund_daily_online_inspection": (251, "工作日", ">=", "区民政人社局", "indicator_progress"),
    "fund_monthly_data_check": (12, "月", ">=", "区民政人社局", "indicator_progress"),
    "fund_quarterly_audit": (4, "季度", ">=", "区民政人社局", "indicator_progress"),
    "fund_annual_onsite_check": (1, "年", ">=", "区民政人社局", "indicator_progress"),
    "yilao_canteen_per_town": (4, "镇", ">=", "区民政人社局", "meal_points"),
}


def test_projects_and_units_as_written_in_the_plan():
    assert [p.id for p in CATALOG.projects] == [f"p0{i}" for i in range(1, 10)] + ["e01", "e02", "e03"]
    assert CATALOG.project("p03").units == ("区妇联", "区教育卫生健康局", "区民政人社局")
    assert CATALOG.project("e01").units == ("区民政人社局", "各镇", "南湾湖办事处")
    assert CATALOG.project("p07").units == ("区行政审批服务局", "区政务中心", "区民政人社局", "区交通运输局")


@pytest.mark.parametrize("ind_id", sorted(SPOT))
def test_every_measurable_target(ind_id):
    ind = CATALOG.indicator(ind_id)
    target, unit, comparator, unit_name, ledger = SPOT[ind_id]
    assert (ind.target, ind.unit, ind.comparator, ind.measure.ledger) == (target, unit, comparator, ledger)
    assert unit_name in ind.units


def test_measurable_and_qualitative_counts():
    measurable = [i for i in CATALOG.indicators if i.kind != "qualitative"]
    assert {i.id for i in measurable} == set(SPOT)
    assert all(i.target is None for i in CATALOG.indicators if i.kind == "qualitative")
    assert len(CATALOG.indicators) - len(measurable) >= 6


def test_a_target_named_twice_is_one_indicator_under_both_projects():
    assert CATALOG.indicator("urban_new_jobs").projects == ("p04", "e02")


def test_required_ledgers_exist():
    ids = {led.id for led in CATALOG.ledgers}
    assert {"two_cancer", "barrier_free", "meal_points", "newborn_screening", "childcare_slots",
            "child_rehab", "legal_aid", "employment", "training", "job_fairs", "full_employment",
            "old_communities", "relief_payments", "works", "indicator_progress"} <= ids


def test_children_ledgers_are_all_sensitive():
    assert CATALOG.ledger("newborn_screening").all_sensitive
    assert CATALOG.ledger("child_rehab").is_sensitive("name")


def _broken(mutate):
    files = copy.deepcopy(read_catalog_files())
    mutate(files)
    with pytest.raises(CatalogError) as exc:
        load_catalog(files)
    return str(exc.value)


def test_errors_name_the_file_and_the_key():
    def bad_type(files):
        files["ledgers_p03_two_cancer.toml"]["ledgers"][0]["fields"][0]["type"] = "txt"
    assert _broken(bad_type).startswith(
        "目录文件 ledgers_p03_two_cancer.toml 的 ledgers[0].fields[0].type：未知字段类型 'txt'")

    def bad_ledger(files):
        files["indicators.toml"]["indicators"][0]["measure"]["ledger"] = "nope"
    assert _broken(bad_ledger) == "目录文件 indicators.toml 的 indicators[0].measure.ledger：未知台账 'nope'"

    def bad_period_target(files):
        ind = next(i for i in files["indicators.toml"]["indicators"] if i["id"] == "fund_daily_online_inspection")
        ind["target"] = 366
    assert "目标应为计划年度内的期数 251，而不是 366" in _broken(bad_period_target)

    def typo_key(files):
        files["plan.toml"]["projects"][0]["unit"] = ["x"]
    assert _broken(typo_key) == "目录文件 plan.toml 的 projects[0].unit：未知的键（拼写错误？）"

    def foreign_unit(files):
        files["indicators.toml"]["indicators"][0]["units"] = ["区税务局"]
    assert "责任单位 '区税务局' 不在所属项目的责任单位中" in _broken(foreign_unit)


def test_catalog_json_shape():
    data = CATALOG.to_json()
    ind = next(i for i in data["indicators"] if i["id"] == "two_cancer_screening")
    assert {k: ind[k] for k in ("id", "name", "target", "unit", "comparator", "kind", "project")} == {
        "id": "two_cancer_screening", "name": "“两癌”免费检查", "target": 3000, "unit": "人",
        "comparator": ">=", "kind": "count", "project": "p03"}
    led = next(x for x in data["ledgers"] if x["id"] == "two_cancer")
    f = next(x for x in led["fields"] if x["id"] == "population")
    assert f == {"id": "population", "label": "人群类别", "type": "choice", "required": True,
                 "sensitive": True, "choices": ["农村适龄", "城镇低保"]}
