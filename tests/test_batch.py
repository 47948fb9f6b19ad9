"""The batch service: one backup per batch, each file its own transaction, one summary with
the worst exit code, dry runs that write nothing, cancel between files, broken files among
good ones — for workbooks and packages alike."""
import datetime as dt
import logging
from pathlib import Path

import pytest
from openpyxl import load_workbook
from support import logical_dump, screening, screening_book

from desktop_app.core import batch
from desktop_app.core.batch import Workbook, import_packages, import_workbooks, preview_workbooks, write_error_books
from desktop_app.core.errors import Cancelled
from desktop_app.core.excel import import_history, refused_history
from desktop_app.core.store import BackupError, backup, list_backups
from desktop_app.core.sync import export_package, incoming

FIX = Path(__file__).parent / "fixtures"
LEGACY = FIX / "legacy_two_cancer.xlsx"      # 4 incomplete, 3 rejected, 2 skipped rows


def garbage(path: Path) -> Path:
    path.write_bytes(b"\x00not a workbook" * 40)
    return path


def cancel_at(n: int):
    """A progress callback whose user pressed 取消 before file ``n`` (0-based)."""
    seen = []

    def progress(done, total, text):
        seen.append((done, total, text))
        if done == n:
            raise Cancelled()
    progress.seen = seen
    return progress


def statuses(summary) -> list[str]:
    return [f["status"] for f in summary.to_json()["files"]]


# ---------------------------------------------------------------- workbooks

def test_a_dozen_workbooks_back_up_once(town, tmp_path):
    items = [Workbook(screening_book(tmp_path / f"村{i}.xlsx", town, range(i * 3 + 1, i * 3 + 4)))
             for i in range(12)]
    summary = import_workbooks(town, items)
    assert statuses(summary) == ["imported"] * 12 and summary.exit_code == 0
    assert summary.totals["new"] == 36 == town.ledger("two_cancer").count()
    assert [b.reason for b in list_backups(town.path)] == ["import"]
    assert all(f.entry["batch"] and f.entry["ledger"] == "two_cancer" for f in summary.files)


def test_the_summary_is_the_command_lines_json(town, tmp_path):
    summary = import_workbooks(town, [Workbook(LEGACY), Workbook(garbage(tmp_path / "坏.xlsx"))],
                               accept_valid=True)
    data = summary.to_json()
    assert set(data) == {"files", "totals"}
    partial, bad = data["files"]
    assert (partial["file"], partial["status"], partial["incomplete"], partial["rejected"]) == \
        ("legacy_two_cancer.xlsx", "partial", 4, 3)
    assert partial["sheet"] == "台账" and [e["row"] for e in partial["errors"]] == [10, 11, 12]
    assert (bad["file"], bad["status"], bad["batch"]) == ("坏.xlsx", "unusable", None)
    assert "不是 Excel/WPS 表格文件" in bad["message"] and bad["new"] == 0
    assert data["totals"]["incomplete"] == 4 and data["totals"]["rejected"] == 3


def test_a_dry_run_writes_nothing_and_makes_no_backup(town, tmp_path):
    good = screening_book(tmp_path / "好.xlsx", town, range(1, 3))
    before = logical_dump(town.path)
    summary = import_workbooks(town, [Workbook(good), Workbook(LEGACY)], dry_run=True)
    assert statuses(summary) == ["dry-run", "dry-run"] and summary.exit_code == 1
    assert logical_dump(town.path) == before and list_backups(town.path) == []
    first, second = summary.to_json()["files"]
    assert [r["status"] for r in first["rows"]] == ["new", "new"] and first["message"]
    assert {r["row"] for r in second["rows"] if r["status"] == "rejected"} == {10, 11, 12}
    assert summary.files[1].error_rows == 3 and summary.files[1].plan.sheet == "台账"


def test_a_batch_that_writes_nothing_makes_no_backup(town, tmp_path):
    good = screening_book(tmp_path / "好.xlsx", town, range(1, 3))
    import_workbooks(town, [Workbook(good)])
    [first] = list_backups(town.path)
    first.path.unlink()                                   # so that any new backup would show
    summary = import_workbooks(town, [Workbook(good), Workbook(LEGACY),
                                      Workbook(garbage(tmp_path / "坏.xlsx"))])
    assert statuses(summary) == ["imported", "refused", "unusable"]
    assert summary.files[0].entry["unchanged"] == 2
    assert list_backups(town.path) == []


def test_a_broken_file_among_good_ones(town, tmp_path):
    items = [Workbook(screening_book(tmp_path / "一.xlsx", town, range(1, 3))),
             Workbook(garbage(tmp_path / "坏.xlsx")),
             Workbook(screening_book(tmp_path / "二.xlsx", town, range(3, 5)))]
    summary = import_workbooks(town, items)
    assert statuses(summary) == ["imported", "unusable", "imported"] and summary.exit_code == 2
    assert town.ledger("two_cancer").count() == 4 and len(list_backups(town.path)) == 1
    assert [(h["file"], h["status"]) for h in reversed(import_history(town))] == [
        ("一.xlsx", "imported"), ("坏.xlsx", "unusable"), ("二.xlsx", "imported")]


@pytest.mark.parametrize("items, accept_valid, code", [
    (lambda tmp, town: [Workbook(screening_book(tmp / "好.xlsx", town, range(1, 2)))], False, 0),
    (lambda tmp, town: [Workbook(LEGACY)], False, 1),                      # refused: nothing written
    (lambda tmp, town: [Workbook(LEGACY)], True, 1),                       # the good rows written
    (lambda tmp, town: [Workbook(LEGACY, ledger="没有的台账")], False, 1),   # core's own exit code
    (lambda tmp, town: [Workbook(LEGACY), Workbook(garbage(tmp / "坏.xlsx"))], False, 2),
    (lambda tmp, town: [], False, 0),
])
def test_the_exit_code_is_the_worst_of_the_files(town, tmp_path, items, accept_valid, code):
    assert import_workbooks(town, items(tmp_path, town), accept_valid=accept_valid).exit_code == code


def test_cancel_between_files_leaves_the_rest_unwritten(town, tmp_path):
    items = [Workbook(screening_book(tmp_path / f"村{i}.xlsx", town, range(i * 2 + 1, i * 2 + 3))) for i in range(4)]
    progress = cancel_at(2)
    summary = import_workbooks(town, items, progress=progress)
    assert statuses(summary) == ["imported", "imported", "cancelled", "cancelled"]
    assert summary.exit_code == 0 and town.ledger("two_cancer").count() == 4
    assert summary.files[2].entry["message"] == "导入前已取消，未写入任何内容"
    assert [(d, t) for d, t, _ in progress.seen] == [(0, 4), (1, 4), (2, 4)]
    assert progress.seen[0][2] == "正在导入 村0.xlsx（1/4）…"


def test_an_unexpected_error_is_that_files_result_and_is_logged(town, tmp_path, monkeypatch, caplog):
    real = batch.apply_plan

    def apply_plan(store, plan, **kw):
        if plan.path.name == "坏.xlsx":
            raise RuntimeError("a bug")
        return real(store, plan, **kw)
    monkeypatch.setattr(batch, "apply_plan", apply_plan)
    items = [Workbook(screening_book(tmp_path / "坏.xlsx", town, range(1, 2))),
             Workbook(screening_book(tmp_path / "好.xlsx", town, range(2, 3)))]
    with caplog.at_level(logging.ERROR, logger="desktop_app.core.batch"):
        summary = import_workbooks(town, items)
    assert statuses(summary) == ["failed", "imported"] and summary.exit_code == 2
    assert "程序内部出错（RuntimeError）" in summary.files[0].entry["message"]
    [record] = caplog.records
    # which file, by its place in the batch: a file name may name a person
    assert "第 1 个" in record.getMessage() and "坏" not in record.getMessage()
    assert record.exc_info[0] is RuntimeError
    assert screening(1)["id_number"] not in record.getMessage()


def test_a_backup_that_fails_stops_the_batch_before_anything_is_written(town, tmp_path, monkeypatch):
    def make_backup(store, reason):
        raise BackupError("无法备份（磁盘已满）")
    monkeypatch.setattr(backup, "make_backup", make_backup)
    before = logical_dump(town.path)
    with pytest.raises(BackupError):
        import_workbooks(town, [Workbook(screening_book(tmp_path / "好.xlsx", town, range(1, 3)))])
    assert logical_dump(town.path) == before


def test_a_preview_is_used_unless_the_store_changed_since(town, tmp_path, monkeypatch):
    first = screening_book(tmp_path / "一.xlsx", town, range(1, 3))
    again = tmp_path / "再次报送.xlsx"
    again.write_bytes(first.read_bytes())
    previews = preview_workbooks(town, [Workbook(first), Workbook(again), Workbook(garbage(tmp_path / "坏.xlsx"))])
    assert [p.sheets for p in previews] == [["Sheet"], ["Sheet"], []]
    assert previews[2].error is not None and previews[2].item.plan is None
    assert [p.item.plan.counts()["new"] for p in previews[:2]] == [2, 2]
    planned = []
    real = batch.plan_import
    monkeypatch.setattr(batch, "plan_import", lambda store, path, **kw: planned.append(path.name) or
                        real(store, path, **kw))
    summary = import_workbooks(town, [p.item for p in previews[:2]])
    assert planned == ["再次报送.xlsx"]            # the first file's preview was still current
    assert [f.entry["new"] for f in summary.files] == [2, 0]
    assert summary.files[1].entry["unchanged"] == 2 and town.ledger("two_cancer").count() == 2


def test_previews_stop_when_cancelled(town, tmp_path):
    items = [Workbook(screening_book(tmp_path / f"村{i}.xlsx", town, range(i + 1, i + 2))) for i in range(3)]
    assert len(preview_workbooks(town, items, cancel_at(1))) == 1


# ---------------------------------------------------------------- packages

def village_packages(v, folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        v.ledger("two_cancer").add(screening(i + 1))
        paths.append(export_package(v, folder).path)
    return paths


def test_packages_back_up_once_and_a_refused_one_does_not_stop_the_others(chain):
    _d, t, v, tmp = chain
    paths = village_packages(v, tmp / "usb", 3)
    tampered = tmp / "usb" / "tampered.mstz"
    raw = bytearray(paths[0].read_bytes())
    raw[-5] ^= 1
    tampered.write_bytes(bytes(raw))
    before = len(list_backups(t.path))
    summary = import_packages(t, [tampered, *paths])
    assert statuses(summary) == ["refused", "imported", "imported", "imported"]
    assert summary.exit_code == 2 and summary.totals["new"] == 6
    assert len(list_backups(t.path)) == before + 1
    assert summary.files[1].package.counts and summary.files[0].package.message
    again = import_packages(t, paths)
    assert statuses(again) == ["already"] * 3 and again.exit_code == 0
    assert len(list_backups(t.path)) == before + 1                   # nothing written, no backup


def test_a_package_dry_run_writes_nothing(chain):
    _d, t, v, tmp = chain
    paths = village_packages(v, tmp / "usb", 2)
    before, backups = logical_dump(t.path), len(list_backups(t.path))
    summary = import_packages(t, paths, dry_run=True)
    assert statuses(summary) == ["dry-run", "dry-run"] and summary.totals["new"] == 4  # each on its own
    assert logical_dump(t.path) == before and len(list_backups(t.path)) == backups


def test_cancelled_packages_are_not_imported(chain):
    _d, t, v, tmp = chain
    paths = village_packages(v, tmp / "usb", 3)
    summary = import_packages(t, paths, progress=cancel_at(1))
    assert statuses(summary) == ["imported", "cancelled", "cancelled"]
    assert t.ledger("two_cancer").count() == 1
    assert summary.to_json()["files"][2]["message"] == "导入前已取消，未写入任何内容"


def test_a_batch_asks_for_one_backup_even_when_its_first_package_is_held_after_it(chain, monkeypatch):
    _d, t, v, tmp = chain
    good = village_packages(v, tmp / "usb", 2)
    v.clock.wall = lambda: dt.datetime(2099, 12, 31, 12).timestamp()    # the village PC's date runs ahead
    v.ledger("two_cancer").add(screening(9))
    ahead = [export_package(v, tmp / "usb").path]
    asked = []
    monkeypatch.setattr(backup, "make_backup", lambda store, reason: asked.append(reason))
    monkeypatch.setattr(incoming, "make_backup", lambda store, reason: asked.append("own " + reason))
    summary = import_packages(t, [*ahead, *good])
    assert statuses(summary) == ["held", "imported", "imported"] and asked == ["package"]


def _snapshots(dumps: dict, path: Path, cancel_in: int | None = None):
    """A progress callback that takes the store's logical dump before each file (and, for
    file ``cancel_in``, presses 取消 once the file is being read)."""
    def progress(done, total, text):
        if "已读" not in text:
            dumps[done] = logical_dump(path)
        elif done == cancel_in:
            raise Cancelled()
    return progress


def test_a_package_that_fails_after_all_its_rows_are_written_leaves_the_store_as_before_it(chain, monkeypatch):
    _d, t, v, tmp = chain
    paths = village_packages(v, tmp / "usb", 3)
    finish, calls = incoming._Applier.finish, []

    def failing_finish(self):
        finish(self)
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("程序出错")
    monkeypatch.setattr(incoming._Applier, "finish", failing_finish)
    dumps = {}
    summary = import_packages(t, paths, progress=_snapshots(dumps, t.path))
    assert statuses(summary) == ["imported", "failed", "imported"] and summary.exit_code == 2
    assert dumps[2] == dumps[1] and len(list_backups(t.path)) == 1
    assert t.ledger("two_cancer").count() == 2


def test_a_package_cancelled_midway_is_rolled_back_whole(chain, monkeypatch):
    _d, t, v, tmp = chain
    paths = village_packages(v, tmp / "usb", 3)
    monkeypatch.setattr(incoming, "PROGRESS_EVERY", 1)       # a chance to cancel after every record
    dumps = {}
    summary = import_packages(t, paths, progress=_snapshots(dumps, t.path, cancel_in=1))
    assert statuses(summary) == ["imported", "cancelled", "cancelled"]
    assert [f["message"] for f in summary.to_json()["files"][1:]] == [batch.CANCELLED_MIDWAY, batch.CANCELLED_MESSAGE]
    assert logical_dump(t.path) == dumps[1] and len(list_backups(t.path)) == 1
    again = import_packages(t, paths)                      # nothing of it was kept: it comes in whole
    assert statuses(again) == ["already", "imported", "imported"] and again.totals["new"] == 4


def test_a_dry_run_notes_nothing_even_for_an_unusable_file(town, tmp_path):
    good = screening_book(tmp_path / "好.xlsx", town, range(1, 3))
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(b"not a workbook")
    before = logical_dump(town.path)
    summary = import_workbooks(town, [Workbook(good), Workbook(broken)], dry_run=True)
    assert [f.status for f in summary.files] == ["dry-run", "unusable"]
    assert logical_dump(town.path) == before and import_history(town) == []


def test_an_unreadable_file_is_noted_as_unusable_not_as_a_bug(town, tmp_path, monkeypatch):
    locked = screening_book(tmp_path / "锁住的.xlsx", town, range(1, 2))
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", str(self))) if self == locked else real(self))
    refused_history(town, locked, PermissionError(13, "Permission denied", str(locked)))
    [entry] = import_history(town)
    assert (entry["file"], entry["status"]) == ("锁住的.xlsx", "unusable")


def test_error_workbooks_that_cannot_be_written_leave_the_import_and_its_summary(town, tmp_path):
    books = [Workbook(screening_book(tmp_path / "一.xlsx", town, range(1, 3))),
             Workbook(_with_a_bad_row(tmp_path / "二.xlsx", town)),
             Workbook(_with_a_bad_row(tmp_path / "sub" / "二.xlsx", town))]
    summary = import_workbooks(town, books, accept_valid=True)
    write_error_books(town, summary, Path("/proc/no-such-folder/错误.xlsx"))
    entries = summary.to_json()["files"]
    assert [e["status"] for e in entries] == ["imported", "partial", "partial"]
    assert "errors_workbook_error" not in entries[0]
    assert all("/proc/no-such-folder/错误_二" in e["errors_workbook_error"] for e in entries[1:])
    write_error_books(town, summary, tmp_path / "错误.xlsx")        # two files of one name: two books
    assert [Path(e["errors_workbook"]).name for e in entries[1:]] == ["错误_二.xlsx", "错误_二_2.xlsx"]


def _with_a_bad_row(path: Path, town) -> Path:
    path.parent.mkdir(exist_ok=True)
    screening_book(path, town, range(20, 22))
    book = load_workbook(path)
    book.active.cell(row=2, column=3).value = "123"            # 身份证号 of the first row: wrong
    book.save(path)
    return path
