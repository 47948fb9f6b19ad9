"""Importing several files as one batch: workbooks or packages in, one summary out.

Every front end (the import wizard, the sync centre, the command line) imports
files through :func:`import_workbooks` or :func:`import_packages`, so the same
files give the same summary everywhere. In a batch:

- each file is its own transaction: a file that cannot be used, or that fails,
  is that file's result (nothing of it written) and the next file goes ahead;
- the store is backed up once, just before the first file that writes
  (never on a dry run, never for a batch that writes nothing), so a dozen
  workbooks do not rotate yesterday's backup out;
- ``progress(done, total, text)`` is called before each file (and, within a
  package, every few thousand records); when it raises
  :class:`~desktop_app.core.errors.Cancelled` the batch stops there: the file
  under way is rolled back whole, it and the files not started are reported
  ``cancelled``, and the files done stay done;
- the summary is the command line's JSON, ``{"files": [...], "totals": {...}}``,
  with the worst exit code of its files (0 ok, 1 the input had problems that
  were reported, 2 a file could not be used).

A workbook may come with the plan made for its preview (:func:`preview_workbooks`);
if the store changed since, the file is planned again against today's rows.
The error workbook stays a separate call on a file's plan
(:func:`~desktop_app.core.excel.write_error_workbook` on :attr:`FileResult.plan`)::

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store import Store
    >>> from desktop_app.core.excel import write_template
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.create(folder / "t.sqlite3", level="town", org="河坝镇", operator="示例")
    >>> template = write_template(store, "two_cancer", folder / "两癌.xlsx")
    >>> broken = folder / "坏文件.xlsx"
    >>> _ = broken.write_bytes(b"not a workbook")
    >>> summary = import_workbooks(store, [Workbook(template), Workbook(broken)], dry_run=True)
    >>> [(f["file"], f["status"]) for f in summary.to_json()["files"]], summary.exit_code
    ([('两癌.xlsx', 'dry-run'), ('坏文件.xlsx', 'unusable')], 2)
    >>> summary.totals["new"], summary.files[0].plan.ledger.id
    (0, 'two_cancer')
    >>> store.close()
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from .errors import INPUT_PROBLEMS, OK, UNUSABLE, Cancelled, UserError, describe, exit_code
from .excel import (COUNT_NAMES, ImportPlan, ImportResult, apply_plan, plan_import, read_book,
                    refused_history, write_error_workbook)
from .store import BackupError, BackupOnce, Store
from .store.policy import Policy, policy_for
from .sync import COUNTS, ImportSummary, import_package

__all__ = [
    "BatchSummary", "FileResult", "Preview", "Workbook", "import_packages", "import_workbooks",
    "preview_workbooks", "store_state", "write_error_books",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
CANCELLED_MESSAGE = "导入前已取消，未写入任何内容"
CANCELLED_MIDWAY = "导入中途已取消，这个文件已全部撤销，未写入任何内容"
DRY_RUN_MESSAGE = "试导入，未写入任何内容"


# ---------------------------------------------------------------- what goes in

@dataclass(frozen=True)
class Workbook:
    """One workbook to import and the choices made for it.

    ``ledger``, ``sheet`` and ``mapping`` (column → field id, "org" or "_ignore")
    override what core would choose; ``org`` is the unit the file comes from (the
    command line's ``--org``; None: as the file says, see
    :mod:`~desktop_app.core.excel.source_unit`); ``village`` is the unit of rows whose
    sheet names none (``--village``). ``plan`` and ``state`` are the plan made for a
    preview and the store's state it was made against.
    """

    path: Path
    ledger: str | None = None
    sheet: str | None = None
    mapping: dict[int, str] | None = None
    village: str | None = None
    org: str | None = None
    plan: ImportPlan | None = None
    state: tuple[int, int] | None = None


@dataclass(frozen=True)
class Preview:
    """A workbook read and checked for a preview (nothing written): its sheets and the
    item with its plan, or why it cannot be used."""

    item: Workbook
    sheets: list[str]
    error: BaseException | None = None


def store_state(store: Store) -> tuple[int, int]:
    """Changes a plan would miss: this connection's writes and other connections' commits."""
    return store.conn.total_changes, store.conn.execute("PRAGMA data_version").fetchone()[0]


def preview_workbooks(store: Store, items: list[Workbook], progress: Progress | None = None) -> list[Preview]:
    """Read and check each workbook with its choices (a plan it carries is made afresh),
    writing nothing: the preview is the dry run.

    A file that cannot be used is that file's preview (``error``). When ``progress``
    raises :class:`Cancelled` the files read so far are returned (a shorter list).
    """
    done = []
    for i, item in enumerate(items):
        try:
            _report(progress, i, len(items), f"正在读取 {item.path.name}（{i + 1}/{len(items)}）…")
        except Cancelled:
            break
        done.append(_preview(store, item))
    return done


def _preview(store: Store, item: Workbook) -> Preview:
    sheets: list[str] = []
    try:
        sheets = [s.name for s in read_book(item.path).sheets]
        state = store_state(store)
        plan = plan_import(store, item.path, ledger=item.ledger, sheet=item.sheet, mapping=item.mapping,
                           default_org=item.village, org=item.org)
    except Exception as exc:  # noqa: BLE001 — whatever stops this file is this file's preview
        if describe(exc) is None:
            log.exception("预览一个表格时程序出错")   # (a file name may name a person: not logged)
        return Preview(replace(item, plan=None, state=None), sheets, exc)
    return Preview(replace(item, plan=plan, state=state), sheets)


# ---------------------------------------------------------------- what comes out

@dataclass
class FileResult:
    """One file of a batch: its line of the summary and what the front ends need after it."""

    path: Path
    status: str
    exit_code: int
    entry: dict                             # the file's line of the JSON summary
    plan: ImportPlan | None = None          # a workbook's plan (for the error workbook)
    package: ImportSummary | None = None    # a package's summary (counts per ledger, gaps …)

    @property
    def error_rows(self) -> int:
        """Rows of a workbook the error workbook would list (rejected or conflicting)."""
        return self.entry["rejected"] + self.entry["conflict"] if self.plan is not None else 0


@dataclass
class BatchSummary:
    """Every file of a batch, in the order given; ``exit_code`` is the worst of them."""

    count_names: tuple[str, ...]
    files: list[FileResult] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {k: sum(f.entry[k] for f in self.files) for k in self.count_names}

    @property
    def exit_code(self) -> int:
        return max((f.exit_code for f in self.files), default=OK)

    def to_json(self) -> dict:
        return {"files": [f.entry for f in self.files], "totals": self.totals}


def _report(progress: Progress | None, done: int, total: int, text: str) -> None:
    if progress is not None:
        progress(done, total, text)


def _batch(paths: list[Path], count_names: tuple[str, ...], progress: Progress | None, verb: str,
           one: Callable[[int], FileResult], cancelled: Callable[[Path], FileResult]) -> BatchSummary:
    """Run ``one(i)`` for each file; a cancel between files leaves the rest ``cancelled``."""
    summary = BatchSummary(count_names)
    for i, path in enumerate(paths):
        try:
            _report(progress, i, len(paths), f"正在{verb} {path.name}（{i + 1}/{len(paths)}）…")
        except Cancelled:
            summary.files += [cancelled(p) for p in paths[i:]]
            break
        summary.files.append(one(i))
        if summary.files[-1].status == "cancelled":     # midway (that file rolled back whole)
            summary.files += [cancelled(p) for p in paths[i + 1:]]
            break
    return summary


def _bug_text(name: str, error: BaseException) -> str:
    return (f"{name}：程序内部出错（{type(error).__name__}），这个文件没有写入任何内容。请重试；"
            "如果反复出现，请联系区里的技术人员")


# ---------------------------------------------------------------- workbooks

def import_workbooks(store: Store, items: list[Workbook], *, accept_valid: bool = False,
                     dry_run: bool = False, progress: Progress | None = None) -> BatchSummary:
    """Import workbooks, each in its own transaction (see the module's notes).

    Without ``accept_valid`` a file with rejected or conflicting rows writes nothing
    (status ``refused``); with it the good rows are written (``partial``). A dry run
    plans each file and lists its rows that are not unchanged (``rows``).

    :raises PermissionDenied: the session may not edit (nothing read or written).
    :raises BackupError: the store could not be backed up before the first write.
    """
    if not dry_run:
        store.require("edit")
    backup = BackupOnce(store, "import", dry_run=dry_run)

    def one(i: int) -> FileResult:
        item = items[i]
        try:
            return _workbook(store, item, accept_valid, dry_run, backup)
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001 — a bug in one file is that file's result
            log.exception("导入第 %d 个表格时程序出错", i + 1)   # (a file name may name a person)
            return _workbook_without_rows(item.path, "failed", _bug_text(item.path.name, exc), UNUSABLE)

    return _batch([item.path for item in items], COUNT_NAMES, progress, "试导入" if dry_run else "导入",
                  one, lambda path: _workbook_without_rows(path, "cancelled", CANCELLED_MESSAGE, OK))


def _workbook(store: Store, item: Workbook, accept_valid: bool, dry_run: bool,
              backup: BackupOnce) -> FileResult:
    try:
        plan = item.plan
        if plan is None or item.state != store_state(store):  # written since the preview:
            plan = plan_import(store, item.path, mapping=item.mapping, default_org=item.village,
                               org=item.org, ledger=plan.ledger.id if plan else item.ledger,   # as previewed
                               sheet=plan.sheet if plan else item.sheet)
        if dry_run:
            return _dry_run(store, plan, policy_for(store))
        if _writes(plan, accept_valid):
            backup.before_write()
        result = apply_plan(store, plan, accept_valid=accept_valid, backup=False)
    except BackupError:
        raise
    except (UserError, OSError) as exc:   # the file cannot be used (changed or removed since its preview …)
        if not dry_run:                    # a dry run writes nothing, not even the history
            refused_history(store, item.path, exc)
        return _workbook_without_rows(item.path, "unusable", describe(exc), exit_code(exc))
    problems = result.counts["rejected"] or result.counts["conflict"] or plan.unit_needed
    entry = result.to_json() | _plan_json(store, plan)
    return FileResult(item.path, result.status, INPUT_PROBLEMS if problems else OK, entry, plan)


def _plan_json(store: Store, plan: ImportPlan) -> dict:
    """What a file's line says of its plan: ledger, sheet, and the unit it comes from
    (``org``, ``org_name``, ``org_how``: 导入时指定 / 按文件名、标题识别 …)."""
    return {"ledger": plan.ledger.id, "sheet": plan.sheet, **plan.source.to_json(store.orgs)}


def _writes(plan: ImportPlan, accept_valid: bool) -> bool:
    """Whether applying ``plan`` writes rows (what :func:`apply_plan` decides)."""
    counts = plan.counts()
    if plan.unit_needed or ((counts["rejected"] or counts["conflict"]) and not accept_valid):
        return False
    return bool(counts["new"] or counts["incomplete"] or counts["updated"])


def _dry_run(store: Store, plan: ImportPlan, policy: Policy) -> FileResult:
    counts = plan.counts()
    message = f"{DRY_RUN_MESSAGE}。{plan.unit_needed}" if plan.unit_needed else DRY_RUN_MESSAGE
    entry = ImportResult(plan.path.name, "dry-run", counts, None, message).to_json() | _plan_json(store, plan) | {
        "rows": [_row_json(plan, r, policy) for r in plan.rows if r.status != "unchanged"]}
    problems = counts["rejected"] or counts["conflict"] or plan.unit_needed
    return FileResult(plan.path, "dry-run", INPUT_PROBLEMS if problems else OK, entry, plan)


def _row_json(plan: ImportPlan, row, policy: Policy) -> dict:
    """One row of a dry run: its number, status, core's messages, changes and missing fields.

    A change is ``[old, new]``: the old value is the stored one, shown as the policy
    shows it (a sensitive one masked — a dry run reveals nothing and audits nothing);
    the new one is the file's own.
    """
    out = {"row": row.row_no, "status": row.status,
           "messages": [p.message for p in row.problems if p.severity == "error" or row.status == "conflict"]}
    led = plan.ledger
    if row.changes:
        out["changes"] = {(led.field(f).label if led.has_field(f) else f):
                          [policy.value(led, f, old) if led.has_field(f) else old, new]
                          for f, (old, new) in row.changes.items()}
    if row.missing:
        out["missing"] = [led.field(f).label for f in row.missing]
    return out


def write_error_books(store: Store, summary: BatchSummary, out: Path) -> None:
    """Write the error workbook of each file with rejected or conflicting rows to ``out``
    (``out_<file>.xlsx`` when the batch has several files, numbered if two files share a
    name). Its path goes into the file's entry as ``errors_workbook``; a workbook that
    cannot be written is that file's ``errors_workbook_error``, and the others go ahead —
    the rows the batch imported stay imported and the summary still says so.
    """
    used: set[Path] = set()
    for f in summary.files:
        if not f.error_rows:
            continue
        target = out
        if len(summary.files) > 1:
            target = out.with_name(f"{out.stem}_{f.path.stem}{out.suffix or '.xlsx'}")
            n = 2
            while target in used:
                target = out.with_name(f"{out.stem}_{f.path.stem}_{n}{out.suffix or '.xlsx'}")
                n += 1
        used.add(target)
        try:
            f.entry["errors_workbook"] = str(write_error_workbook(store, f.plan, target))
        except (UserError, OSError) as exc:
            f.entry["errors_workbook_error"] = describe(exc)


def _workbook_without_rows(path: Path, status: str, message: str, code: int) -> FileResult:
    entry = ImportResult(path.name, status, dict.fromkeys(COUNT_NAMES, 0), None, message).to_json() | {
        "ledger": None, "sheet": None, "org": None, "org_name": None, "org_how": None}
    return FileResult(path, status, code, entry)


# ---------------------------------------------------------------- packages

def import_packages(store: Store, paths: list[Path], *, dry_run: bool = False,
                    progress: Progress | None = None) -> BatchSummary:
    """Import (or, on a dry run, only check) packages, each in its own transaction.

    A package that cannot be used (not for us, damaged, out of scope …) is
    ``refused`` whole; the others go ahead. A package that cannot be applied *yet*
    (its sender waits for a fingerprint check, or its stamps are ahead of this PC's
    clock) is ``held`` (kept beside the store, nothing applied; see
    :mod:`~desktop_app.core.sync.held`): exit code 1, as a file with reported problems.

    :raises PermissionDenied: the session may not edit (nothing read or written).
    :raises BackupError: the store could not be backed up before the first write.
    """
    store.require("edit")
    paths = [Path(p) for p in paths]
    backup = BackupOnce(store, "package", dry_run=dry_run)

    def one(i: int) -> FileResult:
        path = paths[i]

        def read(records: int) -> None:   # within a package: progress, and a chance to cancel
            _report(progress, i, len(paths), f"正在{verb} {path.name}（{i + 1}/{len(paths)}），已读 {records:,} 条…")
        try:
            summary = import_package(store, path, dry_run=dry_run, before_write=backup.before_write,
                                     progress=read if progress is not None else None)
        except BackupError:
            raise
        except Cancelled:
            return _package(path, ImportSummary(path.name, "cancelled", message=CANCELLED_MIDWAY), OK)
        except (UserError, OSError) as exc:
            return _package(path, ImportSummary(path.name, "refused", message=describe(exc)), exit_code(exc))
        except Exception as exc:  # noqa: BLE001 — a bug in one file is that file's result
            log.exception("导入第 %d 个数据包时程序出错", i + 1)
            return _package(path, ImportSummary(path.name, "failed", message=_bug_text(path.name, exc)),
                            UNUSABLE)
        return _package(path, summary, INPUT_PROBLEMS if summary.status == "held" else OK)

    verb = "试导入" if dry_run else "导入"
    return _batch(paths, COUNTS, progress, verb, one,
                  lambda path: _package(path, ImportSummary(path.name, "cancelled", message=CANCELLED_MESSAGE), OK))


def _package(path: Path, summary: ImportSummary, code: int) -> FileResult:
    return FileResult(path, summary.status, code, summary.to_json(), package=summary)
