"""Every number explains itself: a counting rule per indicator (catalog --json, progress,
the monthly report), the rows counted and excluded with the reason (progress --explain),
masked like every output, and a note when a rule change moves a number."""
import datetime as dt
import json

import pytest
from support import make_id, screening

from desktop_app.cli import main
from desktop_app.core.catalog import load_catalog
from desktop_app.core.catalog.choices import load_choices, save_choices
from desktop_app.core.district import monthly_report, monthly_workbook
from desktop_app.core.district.rules import changed_since_last_report

END = dt.date(2024, 12, 31)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_catalog_json_gives_a_counting_rule_for_every_indicator(capsys):
    code, out, _ = run(capsys, "catalog", "--json")
    indicators = json.loads(out)["indicators"]
    assert code == 0 and all(isinstance(i["counting"], str) and len(i["counting"]) > 20 for i in indicators)
    by_id = {i["id"]: i["counting"] for i in indicators}
    assert by_id["two_cancer_screening"].startswith("统计两癌检查台账中宫颈癌检查日期在 2024 年内")
    assert "的人数（按受检妇女计），同一人只计一次" in by_id["two_cancer_screening"]
    assert "状态为已举办" in by_id["winter_spring_job_fairs"]
    assert "251 个工作日" in by_id["fund_daily_online_inspection"]


def test_the_rule_text_follows_the_catalog_definition_generically():
    """A rule the generator has never seen is described from its parts (a new where, a new
    method), not from a table of texts."""
    from desktop_app.core.catalog.counting import counting_text
    from desktop_app.core.catalog.model import read_catalog_files
    files = read_catalog_files()
    ind = next(i for i in files["indicators.toml"]["indicators"] if i["id"] == "childcare_slots")
    ind["measure"]["where"] = {"status": ["已认定"]}
    cat = load_catalog(files)
    text = counting_text(cat, cat.indicator("childcare_slots"))
    assert "状态为已认定" in text and "新增普惠托位数之和" in text


@pytest.fixture
def db(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINSHENG_USER", "示例录入员")
    path = tmp_path / "town.sqlite3"
    assert run(capsys, "init", "--db", path, "--level", "town", "--org", "河坝镇", "--operator", "示例录入员")[0] == 0
    assert run(capsys, "villages", "add", "--db", path, "示例村一", "示例村二")[0] == 0
    rows = [("示例村一", screening(1, id_number=make_id("19710101", 2))),
            ("示例村一", screening(2, id_number=make_id("19720101", 4), day="2024-04-01")),
            ("示例村二", {"name": "示例3", "id_number": make_id("19730101", 6)}),              # 待补充
            ("示例村二", screening(4, id_number=make_id("19740101", 8), day="2024-08-01"))]   # after the as-of date
    for org, row in rows:
        assert run(capsys, "add", "--db", path, "--ledger", "two_cancer", "--org", org,
                   "--json-row", json.dumps(row, ensure_ascii=False))[0] == 0
    return path


def test_progress_explain_lists_counted_and_excluded_rows_with_reasons(db, capsys):
    code, out, _ = run(capsys, "progress", "--db", db, "--json", "--as-of", "2024-06-30",
                       "--explain", "two_cancer_screening")
    data = json.loads(out)
    assert code == 0 and set(data) >= {"indicator", "counted", "excluded"}
    ind = data["indicator"]
    assert set(ind) >= {"id", "name", "target", "unit", "achieved", "rate", "expected_rate", "lagging",
                        "by_org", "counting"}
    assert ind["achieved"] == 2 == len(data["counted"])
    assert all(set(r) == {"uuid", "org"} for r in data["counted"])
    assert sorted((r["org"], r["reason"]) for r in data["excluded"]) == [
        ("430971121002", "after_as_of"), ("430971121002", "incomplete")]
    assert all(set(r) == {"uuid", "org", "reason", "reason_text"} for r in data["excluded"])
    after = next(r for r in data["excluded"] if r["reason"] == "after_as_of")
    assert after["reason_text"] == "宫颈癌检查日期 2024-08-01 晚于统计日 2024-06-30"
    for digits in (make_id("19710101", 2), make_id("19730101", 6), "19710101"):
        assert digits not in out                  # no stored sensitive value in the output
    code, out, _ = run(capsys, "progress", "--db", db, "--json", "--as-of", "2024-06-30",
                       "--explain", "two_cancer_screening", "--limit", "1")
    data = json.loads(out)
    assert (len(data["counted"]), data["counted_total"], len(data["excluded"]), data["truncated"]) == (1, 2, 1, True)
    code, _, err = run(capsys, "progress", "--db", db, "--explain", "no_such_indicator")
    assert code == 1 and "没有指标" in err


def test_explain_names_status_and_standard_reasons(district):
    from desktop_app.core.district.explain import explain
    district.add_villages(["示例村一"], town="河坝镇")
    led = district.ledger("relief_payments")
    low = led.add({"name": "示例一", "id_number": make_id("19600101", 11), "category": "城市低保",
                   "pay_date": "2024-03-10", "persons_covered": 1, "standard": 650, "amount": 300,
                   "pay_method": "社会保障卡"}, org="示例村一", today=END)
    e = explain(district, "urban_dibao_standard", END)
    assert [(x["uuid"], x["reason"], x["reason_text"]) for x in e.excluded] == [
        (low.uuid, "under_standard", "执行保障标准（城市元/月、农村元/年） 650 低于 2024-03 执行的标准 700元/月")]
    fairs = district.ledger("job_fairs")
    base = {f.id: None for f in fairs.ledger.fields}
    assert base  # the job-fair ledger exists; its status condition is described in words
    assert "状态为已举办" in e.indicator["counting"] or "状态为已举办" in district.catalog.counting("winter_spring_job_fairs")


def test_explain_follows_the_session_policy(district):
    """A 录入员 bound to a village sees only the rows of that village, as in every output;
    another unit is refused."""
    from desktop_app.core.district.explain import explain
    from desktop_app.core.store import PermissionDenied, add_user, login
    district.add_villages(["示例村一", "示例村二"], town="河坝镇")
    tc = district.ledger("two_cancer")
    tc.add(screening(1, id_number=make_id("19710101", 2)), org="示例村一", today=END)
    tc.add(screening(2, id_number=make_id("19720101", 4)), org="示例村二", today=END)
    village = district.orgs.resolve("示例村一").code
    add_user(district, "示例管理员", "pw-123456", "管理员")
    login(district, "示例管理员", "pw-123456")
    add_user(district, "示例录入员", "pw-123456", "录入员", unit=village)
    login(district, "示例录入员", "pw-123456")
    e = explain(district, "two_cancer_screening", END)
    assert [r["org"] for r in e.counted] == [village] and e.indicator["achieved"] == 1
    with pytest.raises(PermissionDenied):
        explain(district, "two_cancer_screening", END, scope="430971")


def test_monthly_report_and_dashboard_say_when_a_rule_changed(district, tmp_path):
    june = monthly_report(district, 2024, 6)
    assert june.rule_changes == [] and june.rule_note.startswith("按计划目录 2024.7 的计数规则统计")
    assert all(p.counting for p in june.progress.indicators)
    assert changed_since_last_report(district) == ("2024-06", [])
    save_choices(district, load_choices(district).with_standard(
        district.catalog, "urban_dibao_standard", [("2024-01", 650), ("2024-07", 700)]))
    month, changes = changed_since_last_report(district)
    assert month == "2024-06" and [c.indicator for c in changes] == ["urban_dibao_standard"]
    july = monthly_report(district, 2024, 7)
    assert [c.indicator for c in july.rule_changes] == ["urban_dibao_standard"]
    assert "与2024年6月报告相比" in july.rule_note and "城市低保标准" in july.rule_note
    assert july.issues[0].startswith("计数规则已变更：城市低保标准")
    from openpyxl import load_workbook
    wb = load_workbook(monthly_workbook(district, july, tmp_path / "7月.xlsx"))
    sheet = wb["计数规则"]
    rows = {r[1]: (r[2], r[3]) for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows["城市低保标准"][1] == "已变更" and "7月起不低于 700元/月" in rows["城市低保标准"][0]
    assert monthly_report(district, 2024, 8).rule_changes == []     # compared with July now
    from desktop_app.printing import report_html
    assert "计数规则" in report_html(july) and "（已变更）" in report_html(july)
