"""The CLI: JSON shapes, exit codes, and an unchanged store after refused input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from support import MALFORMED_PROFILES, logical_dump, make_id, resigned_town_profile, screening

from desktop_app.cli import main
from desktop_app.core.store import list_backups
from desktop_app.core.sync import export_package

WOMAN = make_id("19710916", 154)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINSHENG_USER", "示例录入员")  # init made this 管理员
    path = tmp_path / "town.sqlite3"
    assert run(capsys, "init", "--db", path, "--level", "town", "--org", "河坝镇",
               "--operator", "示例录入员")[0] == 0
    assert run(capsys, "villages", "add", "--db", path, "示例村一", "示例村二")[0] == 0
    return path


def test_init_reports_json(tmp_path, capsys):
    code, out, _ = run(capsys, "init", "--db", tmp_path / "d.sqlite3", "--level", "district",
                       "--org", "大通湖区", "--operator", "示例", "--json")
    data = json.loads(out)
    assert code == 0 and (data["level"], data["org"], data["org_name"]) == ("district", "430971", "大通湖区")


@pytest.mark.parametrize("args, code, message", [
    (["--level", "town", "--org", "不存在镇"], 1, "错误：本区没有名为“不存在镇”的单位"),
    (["--level", "village", "--org", "河坝镇"], 1, "错误：“河坝镇”是镇级单位，与所选级别“村（社区）”不符"),
])
def test_init_bad_input_writes_nothing(tmp_path, capsys, args, code, message):
    path = tmp_path / "x.sqlite3"
    got, _, err = run(capsys, "init", "--db", path, "--operator", "示例", *args)
    assert got == code and err.startswith(message)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_init_on_an_existing_file_is_refused_and_leaves_it(db, capsys):
    before = logical_dump(db)
    code, _, err = run(capsys, "init", "--db", db, "--level", "town", "--org", "金盆镇", "--operator", "x")
    assert code == 2 and "已经存在" in err and logical_dump(db) == before


def test_villages_get_codes(db, capsys):
    code, out, _ = run(capsys, "villages", "list", "--db", db, "--json")
    assert [v["code"] for v in json.loads(out)["villages"]] == ["430971121001", "430971121002"]


def test_catalog_json(capsys):
    code, out, _ = run(capsys, "catalog", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["indicators"]) >= 40 and len(data["ledgers"]) >= 15
    assert {"id", "label", "fields"} <= set(data["ledgers"][0])


def test_add_records_masked_and_revealed(db, capsys):
    row = {"姓名": "示例一", "身份证号": WOMAN, "联系电话": "138 0000 1234"}
    code, out, _ = run(capsys, "add", "--db", db, "--ledger", "two_cancer", "--org", "示例村一",
                       "--json-row", json.dumps(row, ensure_ascii=False), "--json")
    saved = json.loads(out)
    assert code == 0 and saved["ok"] and saved["incomplete"] is True
    assert "宫颈癌检查机构" in saved["missing"]
    code, out, _ = run(capsys, "records", "--db", db, "--ledger", "two_cancer", "--json")
    [rec] = json.loads(out)["rows"]
    assert (rec["uuid"], rec["org"], rec["name"], rec["id_number"], rec["phone"]) == (
        saved["uuid"], "430971121001", "示例一", "430***********154X", "138****1234")
    code, out, _ = run(capsys, "records", "--db", db, "--ledger", "two_cancer", "--json", "--reveal",
                       "--purpose", "核实身份")
    assert json.loads(out)["rows"][0]["id_number"] == WOMAN


@pytest.mark.parametrize("row, message", [
    ({"姓名": "示例一", "身份证号": "430902197109161541"}, "身份证号：校验位不对"),
    ({"姓名": "示例一"}, "身份证号：必填，不能为空"),
    ({"姓名": "示例一", "身份证号": WOMAN, "检查日期": "2024-03-05"}, "没有字段“检查日期”"),
    ({"姓名": "示例一", "身份证号": make_id("19710916", 153)}, "两癌检查对象应为女性"),
])
def test_add_bad_input_exit_1_store_unchanged(db, capsys, row, message):
    before = logical_dump(db)
    code, out, err = run(capsys, "add", "--db", db, "--ledger", "two_cancer",
                         "--json-row", json.dumps(row, ensure_ascii=False))
    assert code == 1 and message in err and "未保存任何内容" in err
    assert logical_dump(db) == before


@pytest.mark.parametrize("argv, code, message", [
    (["--ledger", "two_cancer", "--json-row", "{bad"], 1, "--json-row 不是有效的 JSON"),
    (["--ledger", "nope", "--json-row", "{}"], 1, "没有台账“nope”"),
    (["--ledger", "two_cancer", "--org", "金盆镇", "--json-row", "{}"], 1, "没有名为“金盆镇”的单位"),
])
def test_add_unusable_arguments(db, capsys, argv, code, message):
    before = logical_dump(db)
    got, _, err = run(capsys, "add", "--db", db, *argv)
    assert got == code and message in err and logical_dump(db) == before


def test_missing_database_is_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "records", "--db", tmp_path / "none.sqlite3", "--ledger", "two_cancer")
    assert code == 2 and "找不到数据库文件" in err


def test_progress_json_as_of(db, capsys):
    row = screening(1, id_number=WOMAN)
    assert run(capsys, "add", "--db", db, "--ledger", "two_cancer", "--org", "示例村二",
               "--json-row", json.dumps(row, ensure_ascii=False))[0] == 0
    code, out, _ = run(capsys, "progress", "--db", db, "--json", "--as-of", "2024-03-31")
    data = json.loads(out)
    ind = next(i for i in data["indicators"] if i["id"] == "two_cancer_screening")
    assert data["as_of"] == "2024-03-31" and ind["achieved"] == 1 and ind["expected_rate"] == 24.9
    assert [(o["org"], o["achieved"]) for o in ind["by_org"]] == [("430971121001", 0), ("430971121002", 1)]
    code, out, _ = run(capsys, "progress", "--db", db, "--json", "--as-of", "2024-03-04")
    before = next(i for i in json.loads(out)["indicators"] if i["id"] == "two_cancer_screening")
    assert code == 0 and before["achieved"] == 0    # screened on 03-05: not yet counted


def test_bad_as_of_is_a_usage_error(db, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["progress", "--db", str(db), "--as-of", "2024/13/40"])
    assert exc.value.code == 2


# ---------------------------------------------------------------- import-excel, import-package

def test_import_excel_several_files_one_backup_worst_exit_code(db, capsys, tmp_path):
    fixtures = Path(__file__).parent / "fixtures"
    bad = tmp_path / "坏文件.xlsx"
    bad.write_bytes(b"\x00not a workbook" * 40)
    good = tmp_path / "好.xlsx"
    book = Workbook()
    book.active.append(["姓名", "身份证号", "联系电话"])     # no 村（社区） column: --village says whose
    book.active.append(["示例一", WOMAN, "13800000001"])
    book.save(good)
    code, out, err = run(capsys, "import-excel", "--db", db, good, bad, fixtures / "legacy_two_cancer.xlsx",
                         "--ledger", "two_cancer", "--accept-valid", "--errors", tmp_path / "错误.xlsx",
                         "--village", "示例村一", "--json")
    data = json.loads(out)
    assert code == 2 and set(data) == {"files", "totals"}
    assert [(f["file"], f["status"]) for f in data["files"]] == [
        ("好.xlsx", "imported"), ("坏文件.xlsx", "unusable"), ("legacy_two_cancer.xlsx", "partial")]
    assert data["totals"]["incomplete"] == 5 and data["totals"]["rejected"] == 3
    assert err.startswith("错误：") and "坏文件.xlsx" in err and "好.xlsx" not in err
    assert data["files"][2]["errors_workbook"] == str(tmp_path / "错误_legacy_two_cancer.xlsx")
    assert (tmp_path / "错误_legacy_two_cancer.xlsx").is_file() and "errors_workbook" not in data["files"][0]
    assert [b.reason for b in list_backups(db)] == ["import"]


def test_error_workbook_that_cannot_be_written_still_reports_the_import(db, capsys):
    legacy = Path(__file__).parent / "fixtures" / "legacy_two_cancer.xlsx"
    code, out, err = run(capsys, "import-excel", "--db", db, legacy, "--ledger", "two_cancer",
                         "--accept-valid", "--errors", "/proc/no-such-folder/错误.xlsx")
    assert code == 2 and "批次" in out and "错误行没有写出" in out      # the rows that went in are said
    assert "无法写入或读取 /proc/no-such-folder/错误.xlsx" in err and "Traceback" not in err


def test_import_package_refused_file_exit_2_the_others_imported(chain, capsys):
    _d, t, v, tmp = chain
    v.ledger("two_cancer").add(screening(1))
    package = export_package(v, tmp / "usb").path
    stray = tmp / "usb" / "坏.mstz"
    stray.write_bytes(b"not a package")
    t.close()
    code, out, err = run(capsys, "import-package", "--db", tmp / "t.sqlite3", stray, package, "--json")
    data = json.loads(out)
    assert code == 2 and [(f["file"], f["status"]) for f in data["files"]] == [
        ("坏.mstz", "refused"), (package.name, "imported")]
    assert data["totals"]["new"] == 2 and err.startswith("错误：") and "坏.mstz" in err


def test_ctrl_c_says_what_was_kept_and_exits_130(db, capsys, monkeypatch):
    def interrupted(store, *args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("desktop_app.core.batch.import_workbooks", interrupted)
    code, _, err = run(capsys, "import-excel", "--db", db, "whatever.xlsx")
    assert code == 130 and err.startswith("已中断") and "Traceback" not in err


def test_usage_errors_and_help_are_in_chinese(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["records"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "缺少必填参数：--db, --ledger" in err and "required" not in err
    with pytest.raises(SystemExit):
        main(["records", "--help"])
    out = capsys.readouterr().out
    assert "显示本帮助并退出" in out and "show this help" not in out and "用法：" in out


def test_progress_on_a_town_without_a_quota_says_unsplit(db, capsys):
    row = screening(1, id_number=WOMAN)
    assert run(capsys, "add", "--db", db, "--ledger", "two_cancer", "--org", "示例村二",
               "--json-row", json.dumps(row, ensure_ascii=False))[0] == 0
    code, out, _ = run(capsys, "progress", "--db", db, "--json", "--as-of", "2024-06-30")
    ind = next(i for i in json.loads(out)["indicators"] if i["id"] == "two_cancer_screening")
    assert code == 0
    assert (ind["achieved"], ind["target"], ind["rate"], ind["lagging"], ind["quota"]) == (1, None, None, None, "未分解")
    code, out, _ = run(capsys, "progress", "--db", db, "--as-of", "2024-06-30")
    assert "“两癌”免费检查: 1人（目标未分解）\n" in out


def test_progress_on_a_town_uses_the_quota_from_the_district_profile(chain, capsys):
    from desktop_app.core.sync import export_profile, import_profile
    d, t, _v, tmp = chain
    d.set_quota("two_cancer_screening", "430971121", 600)
    assert import_profile(t, export_profile(d, tmp / "d2.msprofile"))["status"] == "updated"
    t.close()
    code, out, _ = run(capsys, "progress", "--db", tmp / "t.sqlite3", "--json", "--as-of", "2024-06-30")
    data = {i["id"]: i for i in json.loads(out)["indicators"]}
    assert code == 0
    assert (data["two_cancer_screening"]["target"], data["two_cancer_screening"]["quota"]) == (600, 600)
    assert (data["newborn_screening"]["target"], data["newborn_screening"]["quota"]) == (None, "未分解")


def test_init_from_a_profile_of_the_wrong_level_is_refused_before_the_phone_call(district, tmp_path, capsys):
    from desktop_app.core.sync import export_profile
    profile = export_profile(district, tmp_path / "区_配置.msprofile")
    path = tmp_path / "v.sqlite3"
    code, _, err = run(capsys, "init", "--db", path, "--level", "village", "--org", "示例村一",
                       "--operator", "村", "--profile", profile)
    assert code == 1 and not path.exists()
    assert err.startswith("错误：区_配置.msprofile 是大通湖区（区级）的配置文件；村（社区）请使用所属镇发来的配置文件")


def test_a_reader_that_went_away_ends_the_command_quietly(tmp_path):
    """``minsheng catalog | head -1``: the pipe is closed before the program writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "PYTHONIOENCODING": "utf-8"}
    try:
        done = subprocess.run([sys.executable, "-m", "desktop_app.cli", "catalog"], stdout=write_end,
                              stderr=subprocess.PIPE, env=env, cwd=tmp_path, timeout=120)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr.decode()) == (0, "")


@pytest.mark.parametrize("change, problem", MALFORMED_PROFILES.values(), ids=MALFORMED_PROFILES)
def test_init_from_a_signed_but_malformed_profile_says_so(tmp_path, capsys, change, problem):
    profile = resigned_town_profile(tmp_path, change)
    path = tmp_path / "v.sqlite3"
    code, _, err = run(capsys, "init", "--db", path, "--level", "village", "--org", "示例村一",
                       "--operator", "村", "--profile", profile, "--fingerprint", "0000")
    assert (code, err) == (2, f"错误：河坝镇_配置.msprofile 不是本程序的配置文件，或已损坏（{problem}）；"
                              "请向发出单位重新索取\n")
    assert not path.exists()
