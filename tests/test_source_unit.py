"""The unit a sheet comes from: a district importing a town's sheet (village names every town
has, resolved within the town the file, its title and its 填报单位 line name, or ``--org``),
and a sheet without a 村（社区） column, whose rows never fall silently to a unit with villages."""
import json
import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook
from support import TODAY, make_id, screening

from desktop_app.cli import main
from desktop_app.core.errors import StoreError
from desktop_app.core.store import users
from desktop_app.core.excel.importer import apply_plan, plan_import

FIX = Path(__file__).parent / "fixtures"
SAMPLE = FIX / "河坝镇_两癌检查台账_示例.xlsx"
SAMPLE_COUNTS = {"new": 0, "updated": 0, "unchanged": 0, "duplicate": 1, "incomplete": 11,
                 "conflict": 0, "rejected": 3, "skipped": 2}
HEBA, JINPEN = "430971121", "430971123"
PASSWORD = "示例密码-2024"      # the conftest's


def book(path: Path, *rows, title: str | None = None) -> Path:
    wb = Workbook()
    if title:
        wb.active.append([title])
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


def rejected(plan) -> dict[int, list[str]]:
    return {r.row_no: [p.message for p in r.problems if p.severity == "error"]
            for r in plan.rows if r.status == "rejected"}


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- a town's sheet in the district

def test_the_district_imports_a_towns_sheet_by_the_town_the_sheet_names(towns):
    plan = plan_import(towns, SAMPLE, today=TODAY)
    assert plan.counts() == SAMPLE_COUNTS        # only the sheet's own problems are left
    assert (plan.source.code, plan.source.given) == (HEBA, False)
    assert plan.source.how(towns.orgs) == "按文件名、标题、填报单位识别"
    assert {c.where: c.text for c in plan.source.clues} == {
        "文件名": "河坝镇_两癌检查台账_示例", "标题": "河坝镇2024年农村适龄妇女“两癌”免费检查工作台账",
        "填报单位": "河坝镇人民政府（盖章）"}
    assert {r.org for r in plan.rows if r.org} == {HEBA + "001", HEBA + "002", HEBA + "003"}
    assert rejected(plan) == {
        7: ["身份证号：已被 Excel 转成数字（4.30981E+17），后几位已经丢失，无法恢复。"
            "请把该列设置为“文本”格式后重新录入完整的 18 位号码"],
        9: ["身份证号：校验位不对（最后一位应为 X），请核对是否有数字录错"],
        17: ["身份证号：两癌检查对象应为女性"]}
    result = apply_plan(towns, plan, accept_valid=True)
    assert result.status == "partial" and towns.ledger("two_cancer").count() == 11


def test_a_sheet_that_names_no_unit_lists_each_same_name_village_with_its_town(towns, tmp_path):
    path = book(tmp_path / "两癌台账.xlsx", ["村（社区）", "姓名", "身份证号"],
                ["示例村一", "示例一", make_id("19700312", 2)])
    plan = plan_import(towns, path, ledger="two_cancer", today=TODAY)
    assert plan.source.code is None and plan.source.how(towns.orgs) == "表中没有写明单位"
    [message] = rejected(plan)[2]
    assert message == (
        "村（社区）：“示例村一”在大通湖区有 5 个同名单位，请改用代码：430971121001（河坝镇示例村一）、"
        "430971123001（金盆镇示例村一）、430971124001（北洲子镇示例村一）、430971130001（千山红镇示例村一）、"
        "430971405001（南湾湖管理处示例村一）；或者指明本表来自哪个镇（导入向导中选择“本表的单位”，命令行加 --org 镇名）")
    given = plan_import(towns, path, ledger="two_cancer", org="金盆镇", today=TODAY)
    assert given.source.given and given.rows[0].org == JINPEN + "001" and not rejected(given)


def test_clues_that_disagree_name_no_unit_and_say_so(towns, tmp_path):
    path = book(tmp_path / "金盆镇_两癌.xlsx", ["村（社区）", "姓名", "身份证号"],
                ["示例村一", "示例一", make_id("19700312", 2)], title="河坝镇两癌检查台账")
    plan = plan_import(towns, path, ledger="two_cancer", today=TODAY)
    assert plan.source.code is None and set(plan.source.candidates) == {HEBA, JINPEN}
    assert plan.source.how(towns.orgs) == "文件名写着金盆镇，标题写着河坝镇，不一致"
    assert "同名单位" in rejected(plan)[3][0]


def test_a_village_of_another_town_is_named_as_such(towns, tmp_path):
    users.login(towns, "示例管理员", PASSWORD)
    towns.add_villages(["金盆村"], town=JINPEN)
    path = book(tmp_path / "河坝镇.xlsx", ["村（社区）", "姓名", "身份证号"],
                ["金盆村", "示例一", make_id("19700312", 2)], ["示例村九", "示例二", make_id("19700312", 4)])
    plan = plan_import(towns, path, ledger="two_cancer", today=TODAY)
    assert rejected(plan) == {
        2: ["村（社区）：“金盆村”是金盆镇金盆村，不在河坝镇。本表的单位是河坝镇（按文件名识别），"
            "如果不对，请改选本表的单位（命令行用 --org）"],
        3: ["村（社区）：河坝镇没有名为“示例村九”的单位（已有：示例村一、示例村二、示例社区）。"
            "本表的单位是河坝镇（按文件名识别），如果不对，请改选本表的单位（命令行用 --org）"]}


def test_a_village_sheet_names_its_village(towns, tmp_path):
    path = book(tmp_path / "河坝镇示例村二_两癌.xlsx", ["姓名", "身份证号", "联系电话"],
                ["示例一", make_id("19700312", 2), "13800000001"])
    plan = plan_import(towns, path, ledger="two_cancer", today=TODAY)
    assert plan.source.code == HEBA + "002" and not plan.unit_needed   # a village: its rows are its own
    assert plan.rows[0].org == HEBA + "002"


def test_cli_org_applies_to_every_file_and_the_lines_say_the_unit(towns, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MINSHENG_USER", "示例录入员")
    plain = shutil.copy(SAMPLE, tmp_path / "两癌.xlsx")
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, SAMPLE, plain, "--org", "河坝镇",
                         "--dry-run", "--json")
    files = json.loads(out)["files"]
    assert code == 1 and [f["incomplete"] for f in files] == [11, 11]
    assert [(f["org"], f["org_name"], f["org_how"]) for f in files] == [(HEBA, "河坝镇", "导入时指定")] * 2
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, SAMPLE, "--dry-run")
    assert code == 1 and out.startswith(f"{SAMPLE.name}（台账，单位河坝镇（按文件名、标题、填报单位识别））：")
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, SAMPLE, "--org", "示例村一", "--dry-run")
    assert code == 1 and "有 5 个同名单位" in err and "430971121001（河坝镇示例村一）" in err


def test_a_town_bound_clerk_cannot_import_another_towns_sheet(towns, tmp_path):
    users.login(towns, "示例管理员", PASSWORD)
    users.add_user(towns, "金盆录入", PASSWORD, "录入员", unit="金盆镇")
    users.login(towns, "金盆录入", PASSWORD)
    for given in (None, "金盆镇"):              # naming her own unit does not make it hers
        with pytest.raises(StoreError) as caught:
            plan_import(towns, SAMPLE, org=given, today=TODAY)
        assert caught.value.exit_code == 1
        assert str(caught.value) == (
            "本表写着河坝镇，不在你负责的单位内（你负责金盆镇；见本表的文件名、标题、填报单位）。"
            "没有导入任何内容；请确认选对了文件，河坝镇的表由河坝镇导入")
    own = book(tmp_path / "金盆镇_两癌.xlsx", ["村（社区）", "姓名", "身份证号"],
               ["示例村一", "示例一", make_id("19700312", 2)], title="大通湖区示例村一两癌台账")
    plan = plan_import(towns, own, ledger="two_cancer", today=TODAY)   # her town, and the district above it
    assert plan.source.code == JINPEN + "001" and plan.rows[0].org == JINPEN + "001"


def test_cli_refuses_another_towns_sheet_for_a_town_bound_clerk(towns, capsys, monkeypatch):
    users.login(towns, "示例管理员", PASSWORD)
    users.add_user(towns, "金盆录入", PASSWORD, "录入员", unit="金盆镇")
    monkeypatch.setenv("MINSHENG_USER", "金盆录入")
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, SAMPLE, "--accept-valid")
    assert code == 1 and towns.ledger("two_cancer").count() == 0
    assert err.count("本表写着河坝镇，不在你负责的单位内") == 1


# ---------------------------------------------------------------- a sheet without 村（社区）

def no_village_column(path: Path) -> Path:
    row = screening(1)
    return book(path, ["姓名", "身份证号", "联系电话", "人群类别"],
                [row["name"], row["id_number"], row["phone"], row["population"]])


def test_a_sheet_without_a_village_column_needs_a_unit_in_a_district(towns, tmp_path):
    plan = plan_import(towns, no_village_column(tmp_path / "表.xlsx"), ledger="two_cancer", today=TODAY)
    assert plan.unit_needed.startswith("表中没有“村（社区）”列，不知道这些记录属于哪个村（社区）。没有导入任何内容；")
    assert "--village" in plan.unit_needed and plan.rows[0].org is None
    result = apply_plan(towns, plan, accept_valid=True)
    assert (result.status, result.message) == ("refused", plan.unit_needed)
    assert towns.ledger("two_cancer").count() == 0


def test_cli_without_a_village_column_exits_1_until_a_village_is_given(towns, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MINSHENG_USER", "示例录入员")
    path = no_village_column(tmp_path / "河坝镇的表.xlsx")
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, path, "--ledger", "two_cancer")
    assert code == 1 and "本表来自河坝镇，其下有多个村（社区）" in out and "--village" in out
    assert towns.ledger("two_cancer").count() == 0
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, path, "--ledger", "two_cancer",
                         "--village", "示例村二", "--json")
    assert code == 0 and json.loads(out)["files"][0]["incomplete"] == 1
    [row] = towns.ledger("two_cancer").rows()
    assert row["org"] == HEBA + "002"                # 示例村二 of the town the file names


def test_cli_dry_run_says_the_village_column_is_missing_as_the_import_does(towns, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MINSHENG_USER", "示例录入员")
    path = no_village_column(tmp_path / "河坝镇的表.xlsx")
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, path, "--ledger", "two_cancer", "--dry-run")
    assert code == 1 and out.startswith("河坝镇的表.xlsx（")
    assert "（试导入，未写入）。表中没有“村（社区）”列" in out and "加 --village 村名" in out


def test_village_outside_the_sheets_unit_or_with_villages_is_refused(towns, tmp_path):
    path = no_village_column(tmp_path / "河坝镇的表.xlsx")
    for village, said in [
            ("金盆镇", "记录所属的单位“金盆镇”是金盆镇，不在本表的单位河坝镇内（按文件名识别）。"),
            (JINPEN + "002", "记录所属的单位“430971123002”是金盆镇示例村二，不在本表的单位河坝镇内（按文件名识别）。"),
            ("河坝镇", "记录所属的单位“河坝镇”是河坝镇，其下有多个村（社区）。"),
            ("示例村九", "河坝镇没有名为“示例村九”的单位（已有：示例村一、示例村二、示例社区）。")]:
        with pytest.raises(StoreError) as caught:
            plan_import(towns, path, ledger="two_cancer", default_org=village, today=TODAY)
        assert caught.value.exit_code == 1 and str(caught.value).startswith(said), village
    with pytest.raises(StoreError, match="不在本表的单位金盆镇内（导入时指定）"):
        plan_import(towns, path, ledger="two_cancer", org="金盆镇", default_org=HEBA + "001", today=TODAY)
    plan = plan_import(towns, path, ledger="two_cancer", org="金盆镇", default_org="示例村二", today=TODAY)
    assert plan.rows[0].org == JINPEN + "002"


def test_cli_unknown_units_say_the_input_problem_once_and_list_villages_with_their_town(
        towns, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MINSHENG_USER", "示例录入员")
    path = no_village_column(tmp_path / "表.xlsx")
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, path, "--ledger", "two_cancer",
                         "--org", "不存在镇")
    assert code == 1 and out == "表.xlsx：没有导入（输入有问题，原因见下方“错误：”一行）\n"
    assert err == ("错误：表.xlsx：大通湖区没有名为“不存在镇”的单位（已有：河坝镇（示例村一、示例村二、示例社区）、"
                   "金盆镇（示例村一、示例村二、示例社区）、北洲子镇（示例村一、示例村二、示例社区）、"
                   "千山红镇（示例村一、示例村二、示例社区）、南湾湖管理处（示例村一、示例村二、示例社区））\n")
    code, out, err = cli(capsys, "import-excel", "--db", towns.path, path, "--ledger", "two_cancer",
                         "--village", "不存在村")
    assert code == 1 and "无法使用" not in out + err and err.count("不存在村") == 1


def test_a_blank_village_cell_is_that_rows_problem(towns, tmp_path):
    path = book(tmp_path / "河坝镇.xlsx", ["村（社区）", "姓名", "身份证号"],
                ["示例村一", "示例一", make_id("19700312", 2)], ["", "示例二", make_id("19700312", 4)])
    plan = plan_import(towns, path, ledger="two_cancer", today=TODAY)
    assert not plan.unit_needed
    assert rejected(plan) == {3: ["村（社区）：未填写，本表也没有指明单位；请填写本行所属的村（社区）"]}


def test_a_village_store_and_units_without_villages_keep_their_own_unit(chain, district, tmp_path):
    _d, _t, village, _root = chain
    plan = plan_import(village, no_village_column(tmp_path / "表.xlsx"), ledger="two_cancer", today=TODAY)
    assert not plan.unit_needed and plan.rows[0].org == village.node.org
    plan = plan_import(district, no_village_column(tmp_path / "表1.xlsx"), ledger="two_cancer", today=TODAY)
    assert not plan.unit_needed and plan.rows[0].org == "430971"    # no village registered anywhere
    from desktop_app.core.store.database import Store
    bare = Store.create(tmp_path / "新镇.sqlite3", level="town", org="金盆镇", operator="示例")
    try:
        plan = plan_import(bare, no_village_column(tmp_path / "表2.xlsx"), ledger="two_cancer", today=TODAY)
        assert not plan.unit_needed and plan.rows[0].org == JINPEN
    finally:
        bare.close()
