"""Issue 16: counting the district can defend (households, outcome statuses, a state, the
就业信息 task, the ledger fields real ledgers keep, responsible units)."""
import datetime as dt
import json

import pytest
from support import household, make_id, screening

from desktop_app.cli import main
from desktop_app.core.catalog.model import load_catalog
from desktop_app.core.catalog import load_choices, save_choices
from desktop_app.core.district.progress import compute
from desktop_app.core.excel.columns import Matcher
from desktop_app.core.errors import StoreError
from desktop_app.core.store import RowsRejected

LATER = dt.date(2024, 12, 31)
HOUSEHOLDER = make_id("19550101", 91)


def achieved(store, indicator, as_of=LATER):
    return compute(store, as_of, indicators=[indicator]).get(indicator).achieved


# ---------------------------------------------------------------- 1. 无障碍改造按户计
def test_two_disabled_persons_of_one_household_count_as_one_household(town):
    bf = town.ledger("barrier_free")
    same = {"householder_name": "示例户主", "householder_id": HOUSEHOLDER, "householder_relation": "父母"}
    bf.add(household(1) | same, org="示例村一", today=LATER)
    bf.add(household(2) | same | {"hardship": "低保、一户多残"}, org="示例村一", today=LATER)
    bf.add(household(3) | {"householder_name": "示例残3", "householder_relation": "本人",
                           "householder_id": household(3)["id_number"]}, org="示例村一", today=LATER)
    progress = compute(town, LATER, indicators=["barrier_free_households"]).get("barrier_free_households")
    assert (progress.rows, progress.achieved) == (3, 2)      # 3 disabled persons, 2 households


def test_a_row_without_householder_counts_by_its_disabled_person_and_is_told(town):
    bf = town.ledger("barrier_free")
    saved = bf.add(household(1), org="示例村一", today=LATER)          # no 户主 yet
    assert not saved.incomplete
    assert [w.field for w in saved.warnings] == ["householder_id"]
    assert "暂按残疾人本人计为一户" in saved.warnings[0].message
    bf.add(household(2) | {"householder_name": "示例残1", "householder_id": household(1)["id_number"],
                           "householder_relation": "配偶"}, org="示例村一", today=LATER)
    # the first row counts by its disabled person, who is the second row's 户主: one household
    assert achieved(town, "barrier_free_households") == 1


def test_householder_is_a_sensitive_person_master_reference(town):
    led = town.catalog.ledger("barrier_free")
    assert led.is_sensitive("householder_id")
    assert [(p.role, p.column) for p in led.persons] == [("残疾人", "person_id"), ("户主", "householder_person_id")]
    saved = town.ledger("barrier_free").add(household(1) | {"householder_name": "示例户主",
                                                            "householder_id": HOUSEHOLDER}, org="示例村一", today=LATER)
    row = town.ledger("barrier_free").get(saved.uuid)
    assert town.persons.get(row["householder_person_id"])["name"] == "示例户主"


def test_a_legacy_householder_column_maps_to_the_household_not_the_disabled_person():
    match = Matcher(load_catalog().ledger("barrier_free")).match
    assert match("户主姓名") == "householder_name"
    assert match("户主身份证号") == "householder_id"
    assert match("残疾人姓名") == "name" and match("姓名") == "name"


# ---------------------------------------------------------------- 2. 只计结果状态
def test_childcare_counts_only_recognised_slots_and_refuses_a_date_before_recognition(town):
    cc = town.ledger("childcare_slots")
    base = {"name": "示例托育中心", "credit_code": "91350100M000100Y43", "address": "示例路1号",
            "care_type": "托育机构", "new_slots": 20, "fee": 800, "record_date": "2024-02-01"}
    with pytest.raises(RowsRejected, match="申报中的机构还没有认定日期"):
        cc.add(base | {"status": "申报中", "recognize_date": "2024-03-01"}, org="河坝镇", today=LATER)
    cc.add(base | {"status": "申报中"}, org="河坝镇", today=LATER)
    assert achieved(town, "childcare_slots") == 0
    cc.add(base | {"name": "示例托育二", "credit_code": "91430900MA4L0000XJ", "status": "已认定",
                   "recognize_date": "2024-03-01", "new_slots": 15}, org="河坝镇", today=LATER)
    assert achieved(town, "childcare_slots") == 15
    assert load_catalog().indicator("childcare_slots").measure.where == {"status": ("已认定",)}


def test_full_employment_counts_only_accepted_communities(town):
    fe = town.ledger("full_employment")
    base = {"name": "示例社区", "level": "省级", "create_year": 2024, "declare_date": "2024-02-01"}
    with pytest.raises(RowsRejected, match="还未通过验收"):
        fe.add(base | {"status": "已申报", "accept_date": "2024-05-01"}, org="河坝镇", today=LATER)
    fe.add(base | {"status": "已申报"}, org="河坝镇", today=LATER)
    fe.add(base | {"name": "示例村", "status": "已通过验收", "accept_date": "2024-05-01", "doc_no": "示例〔2024〕1号"},
           org="河坝镇", today=LATER)
    assert achieved(town, "full_employment_provincial") == 1
    for level in ("provincial", "city", "district"):
        assert load_catalog().indicator(f"full_employment_{level}").measure.where["status"] == ("已通过验收",)


# ---------------------------------------------------------------- 5. 益老食堂是一种状态
def canteen(name, accept, status="运营中", **over):
    return {"name": name, "address": "示例路2号", "site_type": "益老食堂", "operator": "示例村委会",
            "operator_code": "91350100M000100Y43", "food_license": "JY14309000000001", "capacity": 60,
            "daily_served": 55, "accept_date": accept, "open_date": accept, "status": status} | over


def test_a_canteen_built_last_year_and_still_running_counts_for_its_town(district):
    meals = district.ledger("meal_points")
    meals.add(canteen("示例食堂一", "2023-10-16"), org="河坝镇", today=LATER)
    meals.add(canteen("示例食堂二", "2023-09-01", status="已停业"), org="金盆镇", today=LATER)
    meals.add(canteen("示例食堂三", "2024-05-01"), org="北洲子镇", today=LATER)
    progress = compute(district, LATER, indicators=["yilao_canteen_per_town"]).get("yilao_canteen_per_town")
    assert progress.achieved == 2                                   # 河坝 (2023, running), 北洲子
    assert {f.name: f.achieved for f in progress.by_org} == {"河坝镇": 1, "金盆镇": 0, "北洲子镇": 1, "千山红镇": 0}
    # as of a date before it was built, it does not count yet
    assert achieved(district, "yilao_canteen_per_town", dt.date(2024, 1, 1)) == 1


def test_a_canteen_counts_until_its_closing_date_whatever_its_status_now(district, capsys):
    """停业日期: a canteen closed in September still counts at the end of June; 已建成 but not
    yet open counts (建立 = built); 已停业 without the date is 待补充."""
    meals = district.ledger("meal_points")
    meals.add(canteen("示例食堂一", "2023-10-16", status="已停业", close_date="2024-09-01"), org="河坝镇",
              today=LATER)
    meals.add(canteen("示例食堂二", "2024-03-01", status="已建成", open_date=None, daily_served=None),
              org="金盆镇", today=LATER)
    unknown = meals.add(canteen("示例食堂三", "2023-05-01", status="已停业"), org="北洲子镇", today=LATER)
    assert unknown.missing == ["close_date"]
    june = compute(district, dt.date(2024, 6, 30), indicators=["yilao_canteen_per_town"]).get("yilao_canteen_per_town")
    assert {f.name: f.achieved for f in june.by_org} == {"河坝镇": 1, "金盆镇": 1, "北洲子镇": 0, "千山红镇": 0}
    assert achieved(district, "yilao_canteen_per_town", dt.date(2024, 9, 1)) == 1   # closed that day
    assert achieved(district, "yilao_canteen_per_town") == 1
    code, out, _ = run(capsys, "progress", "--db", district.path, "--json", "--as-of", "2024-12-31",
                       "--explain", "yilao_canteen_per_town")
    reasons = sorted((e["reason"], e["reason_text"]) for e in json.loads(out)["excluded"])
    assert code == 0 and reasons == [
        ("ended", "停业日期 2024-09-01 不晚于统计日 2024-12-31，统计日已不再成立"),
        ("incomplete", "待补充：必填信息不全，补全后才计入")]


def test_a_closing_date_must_agree_with_the_status_and_the_other_dates(district):
    meals = district.ledger("meal_points")
    with pytest.raises(RowsRejected, match="停业日期不能早于验收日期"):
        meals.add(canteen("示例食堂", "2023-10-16", status="已停业", open_date=None, close_date="2023-10-01"),
                  org="河坝镇", today=LATER)
    with pytest.raises(RowsRejected, match="停业日期不能早于开业日期"):
        meals.add(canteen("示例食堂", "2023-10-16", status="已停业", open_date="2023-12-01",
                          close_date="2023-11-01"), org="河坝镇", today=LATER)
    with pytest.raises(RowsRejected, match="还在运营的站点没有停业日期"):
        meals.add(canteen("示例食堂", "2023-10-16", close_date="2024-03-01"), org="河坝镇", today=LATER)
    with pytest.raises(RowsRejected, match="停业日期"):
        meals.add(canteen("示例食堂", "2023-10-16", status="已停业", close_date="2025-03-01"),
                  org="河坝镇", today=dt.date(2024, 12, 31))


# ---------------------------------------------------------------- 8. 就业信息、政企联系
def test_job_information_and_enterprise_contact_is_a_qualitative_task_with_evidence(district):
    ind = district.catalog.indicator("job_info_outreach")
    assert (ind.kind, ind.name, ind.measure.ledger, ind.measure.method) == (
        "qualitative", "及时发布就业信息、加大政企联系频率", "indicator_progress", "notes")
    assert "及时发布就业信息，加大政企联系频率" in ind.text
    progress = district.ledger("indicator_progress")
    saved = progress.add({"indicator": ind.name, "date": "2024-04-10"}, today=LATER)
    assert saved.missing == ["note"]                                 # 定性任务须填写进展说明
    progress.add({"indicator": ind.name, "date": "2024-05-10", "note": "湘就业平台发布岗位 40 条，走访企业 6 家"},
                 today=LATER)
    [note] = compute(district, LATER, indicators=[ind.id]).get(ind.id).notes
    assert note["note"].startswith("湘就业平台发布岗位")
    assert district.catalog.ledger("indicator_progress").field("evidence").type == "attachment"


# ---------------------------------------------------------------- 9. 台账字段
def test_two_cancer_institutions_pathology_breast_method_and_report(town):
    tc = town.ledger("two_cancer")
    saved = tc.add(screening(1), org="示例村一", today=LATER)
    row = tc.get(saved.uuid)
    assert (row["institution"], row["breast_institution"]) == ("示例卫生院", "示例卫生院")
    other = tc.add(screening(2, breast_institution="示例妇幼保健院"), org="示例村一", today=LATER)
    assert tc.get(other.uuid)["breast_institution"] == "示例妇幼保健院"
    abnormal = tc.add(screening(3, cervical_result="异常", colposcopy="高级别病变"), org="示例村一", today=LATER)
    assert abnormal.missing == ["pathology"]                          # 待补充 until the pathology is in
    assert achieved(town, "two_cancer_screening") == 2
    led = town.catalog.ledger("two_cancer")
    assert led.field("breast_method").choices[0] == "触诊+彩超"
    assert led.field("report_scan").type == "attachment"
    assert led.field("institution").label == "宫颈癌检查机构"


def test_newborn_recall_date_and_result_for_metabolic_recall(town):
    led = town.catalog.ledger("newborn_screening")
    assert led.field("metabolic_recall_date").type == "date"
    assert "确诊" in led.field("metabolic_recall_result").choices
    check = town.ledger("newborn_screening").check(
        {"mother_id": make_id("19950101", 2), "metabolic_result": "召回", "status": "复筛召回中"}, today=LATER)
    assert {p.field for p in check.warnings} >= {"metabolic_recall_date", "metabolic_recall_result"}
    normal = town.ledger("newborn_screening").check(
        {"mother_id": make_id("19950101", 2), "metabolic_result": "正常", "blood_date": "2024-03-05",
         "metabolic_recall_date": "2024-03-20"}, today=LATER)
    assert "正常时不应有召回复查日期" in normal.warnings[0].message


def payment(i, category, **over):
    return {"name": f"示例{i}", "id_number": make_id("19600101", 11 + 2 * i), "category": category,
            "pay_date": "2024-03-10", "persons_covered": 1, "amount": 100, "pay_method": "社会保障卡"} | over


def test_relief_certificate_grade_month_and_standard_unit(town):
    relief = town.ledger("relief_payments")
    number = make_id("19600101", 13)
    missing = relief.add(payment(1, "重度残疾人护理补贴"), org="示例村一", today=LATER)
    assert missing.missing == ["disability_cert", "disability_grade"]
    with pytest.raises(RowsRejected, match="只发给一级、二级"):
        relief.add(payment(1, "重度残疾人护理补贴", disability_cert=number + "43", disability_grade="三级"),
                   org="示例村一", today=LATER)
    with pytest.raises(RowsRejected, match="残疾证号"):
        relief.add(payment(1, "重度残疾人护理补贴", disability_cert=number + "41", disability_grade="二级"),
                   org="示例村一", today=LATER)
    ok = relief.add(payment(1, "重度残疾人护理补贴", pay_date="2024-04-10", disability_cert=number + "42",
                            disability_grade="二级", month="2024年3月"), org="示例村一", today=LATER)
    assert not ok.incomplete and relief.get(ok.uuid)["month"] == "2024-03"      # 补发上月
    urban = relief.add(payment(2, "城市低保", standard=700), org="示例村一", today=LATER)
    rural = relief.add(payment(3, "农村低保", standard=5400), org="示例村一", today=LATER)
    assert (relief.get(urban.uuid)["standard_unit"], relief.get(rural.uuid)["standard_unit"]) == ("元/月", "元/年")
    assert relief.get(urban.uuid)["month"] == "2024-03"                          # 发放日期所在月份
    with pytest.raises(RowsRejected, match="元/月"):
        relief.add(payment(4, "城市低保", standard=700, standard_unit="元/年"), org="示例村一", today=LATER)


def test_one_thing_items_come_from_the_fixed_list_and_count_once(district):
    progress = district.ledger("indicator_progress")
    name = "“高效办成一件事”事项落地生效"
    progress.add({"indicator": name, "date": "2024-03-01", "one_thing_item": "企业信息变更"}, today=LATER)
    progress.add({"indicator": name, "date": "2024-05-01", "item": "企业信息变更"}, today=LATER)   # the same item
    progress.add({"indicator": name, "date": "2024-06-01", "item": "就医"}, today=LATER)
    outside = progress.add({"indicator": name, "date": "2024-06-02", "item": "企业信息变更登记"}, today=LATER)
    assert outside.missing == ["one_thing_item"] and progress.get(outside.uuid)["item"] == "企业信息变更登记"
    progress_figure = compute(district, LATER, indicators=["efficient_one_thing"]).get("efficient_one_thing")
    assert (progress_figure.rows, progress_figure.achieved) == (3, 2)
    assert "就医" in district.catalog.ledger("indicator_progress").field("one_thing_item").choices


def test_meal_point_fifty_a_day_and_capacity_are_checked(district):
    meals = district.ledger("meal_points")
    check = meals.check(canteen("示例食堂", "2024-05-01", daily_served=30, capacity=40), today=LATER)
    assert check.ok
    assert sorted(p.field for p in check.warnings) == ["capacity", "daily_served"]
    assert "日均不少于 50 人次" in next(p.message for p in check.warnings if p.field == "daily_served")
    assert meals.check(canteen("示例食堂", "2024-05-01"), today=LATER).warnings == []


# ---------------------------------------------------------------- 10. 责任单位
def test_catalog_marks_its_own_choice_of_units_and_two_cancer_includes_health():
    cat = load_catalog()
    assert cat.indicator("two_cancer_screening").units == ("区妇联", "区教育卫生健康局")
    assert cat.indicator("two_cancer_screening").units_chosen
    assert not cat.indicator("newborn_screening").units_chosen        # p01 has one unit: the plan's words
    for ind in cat.indicators:
        project_units = {u for p in ind.projects for u in cat.project(p).units}
        assert ind.units_chosen == (set(ind.units) != project_units), ind.id
    assert cat.to_json()["indicators"][0]["units_chosen"] is False


def set_lead(store, indicator, units):
    return save_choices(store, load_choices(store).with_leads(store.catalog, indicator, units))


def lead_of(store, indicator):
    return load_choices(store).units(store.catalog.indicator(indicator))


def test_district_sets_the_lead_unit_and_progress_shows_it(district, town):
    set_lead(district, "two_cancer_screening", ["区教育卫生健康局"])
    assert lead_of(district, "two_cancer_screening") == ("区教育卫生健康局",)
    assert compute(district, LATER).get("two_cancer_screening").to_json()["units"] == ["区教育卫生健康局"]
    data = district.catalog.to_json(load_choices(district))
    [two_cancer] = [i for i in data["indicators"] if i["id"] == "two_cancer_screening"]
    assert (two_cancer["units"], two_cancer["catalog_units"]) == (["区教育卫生健康局"], ["区妇联", "区教育卫生健康局"])
    with pytest.raises(StoreError, match="区司法局”不是.*所属项目的责任单位"):
        set_lead(district, "two_cancer_screening", ["区司法局"])
    with pytest.raises(StoreError, match="由区里设定"):
        set_lead(town, "two_cancer_screening", ["区妇联"])
    set_lead(district, "two_cancer_screening", None)
    assert lead_of(district, "two_cancer_screening") == ("区妇联", "区教育卫生健康局")
    assert load_choices(district).leads == {}


def test_lead_units_travel_down_in_the_district_profile(chain):
    district, town = chain[0], chain[1]
    from desktop_app.core.sync import profiles
    set_lead(district, "barrier_free_households", ["区妇联"])
    profiles.import_profile(town, profiles.export_profile(district, district.path.with_suffix(".new.msprofile")))
    assert lead_of(town, "barrier_free_households") == ("区妇联",)
    assert compute(town, LATER).get("barrier_free_households").to_json()["units"] == ["区妇联"]


def test_rules_lead_command(tmp_path, capsys, monkeypatch):
    path = tmp_path / "d.sqlite3"
    assert main(["init", "--db", str(path), "--level", "district", "--org", "430971", "--operator", "示例"]) == 0
    monkeypatch.setenv("MINSHENG_USER", "示例")
    capsys.readouterr()
    assert main(["rules", "--db", str(path), "--json", "--lead", "two_cancer_screening", "区教育卫生健康局"]) == 0
    assert json.loads(capsys.readouterr().out)["leads"] == {"two_cancer_screening": ["区教育卫生健康局"]}
    assert main(["catalog", "--db", str(path), "--json"]) == 0
    [row] = [i for i in json.loads(capsys.readouterr().out)["indicators"] if i["id"] == "two_cancer_screening"]
    assert (row["units"], row["catalog_units"]) == (["区教育卫生健康局"], ["区妇联", "区教育卫生健康局"])
    assert main(["rules", "--db", str(path), "--lead", "two_cancer_screening", "区司法局"]) == 1
    assert "区司法局" in capsys.readouterr().err
    assert main(["rules", "--db", str(path), "--json", "--lead", "two_cancer_screening"]) == 0
    assert json.loads(capsys.readouterr().out)["leads"] == {}


# ---------------------------------------------------------------- 1. through the command line
def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def town_db(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINSHENG_USER", "示例录入员")
    path = tmp_path / "town.sqlite3"
    assert run(capsys, "init", "--db", path, "--level", "town", "--org", "河坝镇", "--operator", "示例录入员")[0] == 0
    assert run(capsys, "villages", "add", "--db", path, "示例村一")[0] == 0
    return path


def barrier_free_book(path, headers: list[str], rows: list[dict]):
    """A 无障碍改造 sheet: 村（社区）, the given headers, then the other fields by their labels."""
    from openpyxl import Workbook
    led = load_catalog().ledger("barrier_free")
    rest = [f for f in household(1) if led.field(f).label not in headers]
    book = Workbook()
    book.active.title = "无障碍改造"
    book.active.append(["村（社区）", *headers, *(led.field(f).label for f in rest)])
    for row in rows:
        book.active.append(["示例村一", *(row[h] for h in headers), *(row["fields"][f] for f in rest)])
    book.save(path)
    return path


def test_a_legacy_householder_column_is_imported_as_the_householder(town_db, tmp_path, capsys):
    """A county sheet of the time before: one name column, 户主姓名, and the disabled
    person's 身份证号. The 户主 goes to the household, not into 残疾人姓名."""
    person = household(1)
    book = barrier_free_book(tmp_path / "旧表.xlsx", ["户主姓名", "身份证号"], [
        {"户主姓名": "示例户主", "身份证号": person["id_number"], "fields": person}])
    code, out, _ = run(capsys, "import-excel", "--db", town_db, book, "--json")
    assert code == 0, out
    code, out, _ = run(capsys, "records", "--db", town_db, "--ledger", "barrier_free", "--json")
    [row] = json.loads(out)["rows"]
    assert row["householder_name"] == "示例户主" and row["name"] != "示例户主"


def test_one_household_with_two_disabled_persons_imported_counts_once(town_db, tmp_path, capsys):
    headers = ["户主姓名", "户主身份证号", "与残疾人关系", "残疾人姓名", "身份证号"]
    rows = [{"户主姓名": "示例户主", "户主身份证号": HOUSEHOLDER, "与残疾人关系": relation,
             "残疾人姓名": household(i)["name"], "身份证号": household(i)["id_number"], "fields": household(i)}
            for i, relation in ((1, "父母"), (2, "子女"))]
    book = barrier_free_book(tmp_path / "一户多残.xlsx", headers, rows)
    assert run(capsys, "import-excel", "--db", town_db, book, "--json")[0] == 0
    code, out, _ = run(capsys, "progress", "--db", town_db, "--as-of", "2024-12-31", "--json")
    [figure] = [i for i in json.loads(out)["indicators"] if i["id"] == "barrier_free_households"]
    assert (figure["rows"], figure["achieved"]) == (2, 1)
    assert "一户以户主计" in figure["counting"]
    # the 户主's ID number is masked like every ID number, and the 户主 is in the person master
    code, out, _ = run(capsys, "records", "--db", town_db, "--ledger", "barrier_free", "--json")
    shown = {r["householder_id"] for r in json.loads(out)["rows"]}
    assert shown == {HOUSEHOLDER[:3] + "*" * 11 + HOUSEHOLDER[-4:]}
    code, out, _ = run(capsys, "progress", "--db", town_db, "--as-of", "2024-12-31",
                       "--json", "--explain", "barrier_free_households")
    data = json.loads(out)
    assert data["counted_total"] == 1 and [e["reason"] for e in data["excluded"]] == ["duplicate"]
    assert "同一户主" in data["excluded"][0]["reason_text"]


def test_catalog_json_says_how_each_indicator_counts_including_the_new_rules(capsys):
    code, out, _ = run(capsys, "catalog", "--json")
    counting = {i["id"]: i["counting"] for i in json.loads(out)["indicators"]}
    assert code == 0 and len(counting) == len(load_catalog().indicators) and all(counting.values())
    assert "一户以户主计" in counting["barrier_free_households"]
    assert "户主未填写的行暂按残疾人本人计为一户" in counting["barrier_free_households"]
    assert "状态为已认定" in counting["childcare_slots"]
    for level in ("provincial", "city", "district"):
        assert "状态为已通过验收" in counting[f"full_employment_{level}"]
    assert "状态为已建成、运营中、已停业、验收日期不晚于统计日（不限年份）、停业日期未填或晚于统计日" in \
        counting["yilao_canteen_per_town"]
    assert "两个镇报了统一社会信用代码相同的同一项时只计一次" in counting["childcare_slots"]
    assert "不同高效办成一件事事项" in counting["efficient_one_thing"]
    assert counting["job_info_outreach"].startswith("按日期列出指标进展台账中指标为“及时发布就业信息、加大政企联系频率”")


def test_explain_marks_a_household_counted_by_its_own_person(town_db, capsys):
    """The officer finds the rows whose 户主 is still to fill: counted, with the reason."""
    from desktop_app.core.store.database import Store
    store = Store.open(town_db)
    try:
        bf = store.ledger("barrier_free")
        waiting = bf.add(household(1), org="示例村一", today=LATER)
        bf.add(household(2) | {"householder_name": "示例户主", "householder_id": make_id("19500101", 93),
                               "householder_relation": "父母"}, org="示例村一", today=LATER)
    finally:
        store.close()
    code = main(["progress", "--db", str(town_db), "--json", "--as-of", "2024-12-31",
                 "--explain", "barrier_free_households"])
    counted = json.loads(capsys.readouterr().out)["counted"]
    assert code == 0 and [(c["uuid"], c.get("reason_text", "")[:5]) for c in counted if c.get("reason_text")] == [
        (waiting.uuid, "户主未填写")]
    assert len(counted) == 2
