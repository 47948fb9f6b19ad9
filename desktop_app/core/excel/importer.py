"""Importing a workbook into a ledger: plan (read, map, check, classify), then apply.

:func:`plan_import` writes nothing: it reads the sheet, maps its columns, checks
every row with the same rules as typed rows and says what would happen to each
(new / updated / unchanged / duplicate / incomplete / conflict / rejected /
skipped). :func:`apply_plan` writes the plan in one transaction as one batch
(every audit entry carries the batch id, so :func:`undo_import` can take it
back). Rows exported by this program carry their uuid and the values as
exported: a returned sheet updates those rows, and a field changed both in the
sheet and here since the export is a conflict, reported and not overwritten.

The session's policy holds (:func:`~desktop_app.core.store.policy.policy_for`): a user
bound to a unit imports rows of that unit only (a row naming another unit, or matching
a row of another unit, is rejected); what the plan and its messages say of a stored
value is what the role may see — a conflict's current value is masked in its message,
and the old value of a change is masked for a role that may not reveal (the new value
is the file's own).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

from ..bulk import gc_paused
from ..catalog.fieldtypes import display, normalize
from ..catalog.model import Ledger
from ..catalog.orgs import OrgError
from ..catalog.validation import Problem
from ..errors import INPUT_PROBLEMS, StoreError, UserError
from ..store.backup import make_backup
from ..store.masking import mask_value
from ..store.policy import policy_for
from ..store.records import Records
from ..store.schema import LIVE
from ..store.versions import now_iso
from ..store.writes import Writer, new_uuid
from .columns import BASE, IGNORE, ORG, ROW_ID, Layout, Matcher, RowKinds, find_layout
from .sheetmeta import decode_base
from .source_unit import SourceUnit, check_scope, guess_unit, has_villages, sheet_clues
from .workbook import Book, SheetData, WorkbookError, cell_text, is_blank, read_book

if TYPE_CHECKING:
    from ..store.database import Store

CHUNK = 5000     # rows checked together: few enough to hold, many enough for column-wise checks
# SQLite's page cache while a plan is written: with the plan's rows in memory, a 100,000-row
# import stays within 300 MB (a 128 MiB cache is ~10 % faster into a store of 300,000 rows)
WRITE_CACHE_MIB = 64
COUNT_NAMES = ("new", "updated", "unchanged", "duplicate", "incomplete", "conflict",
               "rejected", "skipped")


NO_CHANGES: Mapping[str, list] = MappingProxyType({})   # (100,000 rows need no empty dict each)


@dataclass(slots=True)
class RowPlan:
    row_no: int                      # 1-based row number in the sheet
    status: str
    cells: list | None                               # None once the row needs no error report
    org: str | None = None
    uuid: str | None = None
    missing: Sequence[str] = ()
    changes: Mapping[str, list] = field(default_factory=lambda: NO_CHANGES)   # field → [old, new]
    problems: list[Problem] = field(default_factory=list)
    current: dict | None = None
    base: dict | None = None                         # values as exported (rows we exported)
    conflicts: Sequence[tuple] = ()
    checked: dict[str, list] | None = None           # the checked values of the row's chunk, by field
    index: int = 0                                   # the row's place in them

    @property
    def values(self) -> dict:
        """The row's checked values (field → value, empty fields left out; none for a row
        not checked). Made when asked for: a plan of 100,000 rows holds them by column."""
        if self.checked is None:
            return {}
        i = self.index
        return {fid: col[i] for fid, col in self.checked.items() if col[i] is not None}


@dataclass
class ImportPlan:
    path: Path
    sha256: str
    sheet: str
    ledger: Ledger
    layout: Layout
    rows: list[RowPlan]
    meta: dict
    source: SourceUnit = SourceUnit(None)   # the unit the sheet comes from (given or read from it)
    unit_needed: str = ""            # why the rows have no unit yet (a sheet without 村（社区）), or ""

    def counts(self) -> dict[str, int]:
        c = Counter(r.status for r in self.rows)
        return {k: c.get(k, 0) for k in COUNT_NAMES}

    def rejected(self) -> list[RowPlan]:
        return [r for r in self.rows if r.status == "rejected"]


# ---------------------------------------------------------------- planning

def choose_ledger(store: Store, book: Book, ledger_id: str | None,
                  sheet_name: str | None) -> tuple[Ledger, SheetData, Layout]:
    """The ledger and sheet to import: as given, as our meta sheet says, or the best match.

    :raises WorkbookError: when no sheet looks like a ledger.
    """
    catalog = store.catalog
    if ledger_id:
        led = catalog.find_ledger(ledger_id)
        if led is None:
            raise StoreError(f"没有台账“{ledger_id}”", 1)
        candidates = [led]
    elif book.meta.get("ledger") and catalog.find_ledger(book.meta["ledger"]):
        candidates = [catalog.find_ledger(book.meta["ledger"])]
    else:
        candidates = list(catalog.ledgers)
    sheets = [book.sheet(sheet_name)] if sheet_name else book.sheets
    best, tied = None, []
    for led in candidates:
        matcher = Matcher(led)
        for sheet in sheets:
            layout = find_layout(sheet, matcher)
            if layout is None:
                continue
            if best is None or layout.score > best[2].score:
                best, tied = (led, sheet, layout), [led]
            elif layout.score == best[2].score and led not in tied:
                tied.append(led)
    if len(tied) > 1:
        raise WorkbookError(
            f"{book.path.name} 的表头同样符合 {len(tied)} 个台账（" +
            "、".join(f"{x.label}（{x.id}）" for x in tied[:5]) + "），无法确定导入哪一个。"
            "请指定台账（命令行用 --ledger），或用本程序生成的模板填写")
    if best is None:
        where = f"工作表“{sheet_name}”" if sheet_name else "任何工作表"
        what = f"台账“{candidates[0].label}”" if len(candidates) == 1 else "任何台账"
        raise WorkbookError(
            f"{book.path.name} 的{where}里没有找到像{what}的表头（应有“姓名”“身份证号”等列名）。"
            "请确认选对了文件和工作表，或用本程序生成的模板填写")
    return best


def plan_import(store: Store, path: Path | str, *, ledger: str | None = None,
                sheet: str | None = None, mapping: dict[int, str] | None = None,
                default_org: str | None = None, org: str | None = None,
                today: dt.date | None = None) -> ImportPlan:
    """Read and check a workbook; nothing is written.

    ``mapping`` (column index → field id, "org" or "_ignore") overrides the
    automatic column mapping, as the import wizard lets the user correct it.
    ``org`` (name or code; ``--org``) is the unit the sheet comes from; without it the
    unit is read from the sheet (:mod:`.source_unit`). Village names in the sheet are
    resolved within that unit, so a district can import a town's sheet whose 示例村一
    every town has. ``default_org`` (``--village``) is the unit of rows whose sheet
    names none.

    Rows never fall silently to a unit that has villages under it (the district, a
    town): a sheet without a 村（社区） column then leaves :attr:`ImportPlan.unit_needed`
    saying so (nothing can be applied until a unit is named), and a blank 村（社区）
    cell is that row's problem.

    :raises WorkbookError: the file cannot be used at all.
    :raises StoreError: ``org`` or ``default_org`` names no unit (exit 1).
    """
    book = read_book(path)
    led, sheet_data, layout = choose_ledger(store, book, ledger, sheet)
    if mapping is not None:
        layout = Layout(layout.header_rows, layout.labels, dict(mapping),
                        {c: t for c, t in layout.labels.items() if c not in mapping})
    records = store.ledger(led.id)
    source = _source_unit(store, book, sheet_data, layout, org)
    org_default = _default_org(store, book.meta, default_org, source)
    has_org_column = ORG in layout.mapping.values()
    unit_needed = "" if org_default is not None or has_org_column else _unit_question(store, source)
    planner = _Planner(store, records, layout, org_default, source, today or dt.date.today())
    with gc_paused():
        rows = planner.plan(sheet_data)
    return ImportPlan(Path(path), book.sha256, sheet_data.name, led, layout, rows, book.meta, source,
                      unit_needed)


def _same(a, b) -> bool:
    """Equal as stored values (12 == 12.0; None == "")."""
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) < 1e-9
    return a == b


def _source_unit(store: Store, book: Book, sheet: SheetData, layout: Layout, given: str | None) -> SourceUnit:
    """The unit named at import (checked against the user's unit), else the one the sheet names.

    :raises StoreError: the sheet names a unit outside the user's (even when one is given).
    """
    clues = sheet_clues(book.path.stem, sheet, layout.header_rows[0], book.meta)
    check_scope(store, clues)
    if given:
        code = store.resolve_row_org(given)
        policy_for(store).check_org(code, "导入")
        return SourceUnit(code, given=True)
    return guess_unit(store, clues)


def _default_org(store: Store, meta: dict, given: str | None, source: SourceUnit) -> str | None:
    """The unit of rows whose sheet names none: the one given (``--village``, found within
    the sheet's unit first), the template's own (its 村（社区） note says so), else the
    sheet's unit or the user's — but only a unit without villages under it (a village, or
    a unit whose villages are not registered yet): None when the person has to say which.

    :raises PermissionDenied: the unit given is outside the user's unit.
    :raises StoreError: (exit 1) the unit given is not in the sheet's unit, or has villages under it.
    """
    policy = policy_for(store)
    tree = store.orgs
    if given:
        code = _given_village(store, given, source)
        policy.check_org(code, "导入")
        return code
    org = meta.get("org")
    if (meta.get("kind") in ("template", "export") and org and tree.get(org)
            and tree.is_within(org, store.node.org) and policy.within(org)
            and (source.code is None or tree.is_within(org, source.code))):
        return org
    fallback = source.code or policy.default_org(store.node.org)
    return None if has_villages(tree, fallback) else fallback


def _given_village(store: Store, given: str, source: SourceUnit) -> str:
    """The unit ``--village`` names: within the sheet's unit when it is known; never a
    unit outside it, nor one with villages under it (whose village would it be?)."""
    tree = store.orgs
    if source.code is None:
        code = store.resolve_row_org(given)
    else:
        scope = tree.path(source.code).replace(" / ", "")
        try:
            code = tree.resolve(given, within=source.code).code
        except OrgError as exc:
            try:
                elsewhere = store.resolve_row_org(given)
            except StoreError:
                raise StoreError(f"{exc}。本表的单位是{scope}（{source.how(tree)}）", INPUT_PROBLEMS) from None
            raise StoreError(f"记录所属的单位“{given}”是{tree.path(elsewhere).replace(' / ', '')}，"
                             f"不在本表的单位{scope}内（{source.how(tree)}）。没有导入任何内容；请指明{scope}"
                             "下的村（社区），或改正本表的单位（命令行用 --org）", INPUT_PROBLEMS) from None
    if has_villages(tree, code):
        raise StoreError(f"记录所属的单位“{given}”是{tree.path(code).replace(' / ', '')}，其下有多个村（社区）。"
                         "没有导入任何内容；请指明具体的村（社区）（命令行用 --village 村名）", INPUT_PROBLEMS)
    return code


def _unit_question(store: Store, source: SourceUnit) -> str:
    """What to say when a sheet without a 村（社区） column has no unit for its rows."""
    where = f"：本表来自{store.orgs.path(source.code)}，其下有多个村（社区）" if source.code else ""
    return (f"表中没有“村（社区）”列，不知道这些记录属于哪个村（社区）{where}。没有导入任何内容；"
            "请指明这些记录属于哪个单位（导入向导中在“记录属于”里选择，命令行加 --village 村名）")


class _Planner:
    def __init__(self, store: Store, records: Records, layout: Layout, org_default: str | None,
                 source: SourceUnit, today: dt.date):
        self.store, self.records, self.layout = store, records, layout
        self.ledger = records.ledger
        self.org_default, self.source, self.today = org_default, source, today
        self.policy = policy_for(store)                 # messages: stored values masked
        self.screen = self.policy.for_screen()          # what the plan may hold of them
        self.fields = {c: t for c, t in layout.mapping.items() if t not in (IGNORE, ORG, ROW_ID, BASE)}
        self.present = set(self.fields.values())
        self.org_col = next((c for c, t in layout.mapping.items() if t == ORG), None)
        self.id_col = next((c for c, t in layout.mapping.items() if t == ROW_ID), None)
        self.base_col = next((c for c, t in layout.mapping.items() if t == BASE), None)
        self._orgs: dict[str, tuple[str | None, Problem | None]] = {}   # 村（社区） cell → unit, problem
        self.checker = records.checker(today)
        self.keys: dict[tuple, str] = {}             # natural key → uuid of a row here (this chunk's)
        self.seen: dict[tuple, int] = {}             # natural key → its first row in the sheet

    def plan(self, sheet: SheetData) -> list[RowPlan]:
        """Every row of the sheet, classified a chunk of rows at a time: a chunk's cells are
        checked column by column, and only the cells of bad rows are kept (for the error
        workbook), so a 100,000-row sheet is never held as Python values all at once."""
        out: list[RowPlan] = []
        pending: list[RowPlan] = []  # spacer rows: kept only if data follows them
        chunk: list[RowPlan] = []
        row_kind = RowKinds(self.layout.field_columns())
        rows = enumerate(sheet.iter_rows())
        for r, cells in itertools.islice(rows, self.layout.data_start, None):
            kind = row_kind(cells)
            if kind == "blank":
                if len(pending) < 1000:
                    pending.append(RowPlan(r + 1, "skipped", []))
                continue
            if pending:
                out += pending
                pending = []
            if kind == "total":
                out.append(RowPlan(r + 1, "skipped", cells))
                continue
            chunk.append(self._row(r + 1, cells))
            out.append(chunk[-1])
            if len(chunk) == CHUNK:
                self._match(chunk)
                chunk = []
        self._match(chunk)
        return out

    def _cell(self, cells: list, c: int):
        return cells[c] if c < len(cells) else ""

    def _org_cell(self, cell) -> tuple[str | None, Problem | None]:
        """The unit a 村（社区） cell names, or the problem with it (a text cell's: found once)."""
        known = self._orgs.get(cell) if cell.__class__ is str else None
        if known is None:
            if is_blank(cell):
                known = (self.org_default, None if self.org_default is not None else Problem(
                    ORG, "村（社区）：未填写，本表也没有指明单位；请填写本行所属的村（社区）"))
            else:
                text = cell_text(cell)
                try:
                    code = self._resolve(text)
                    self.policy.check_org(code, "导入")
                    known = (code, None)
                except (StoreError, OrgError) as exc:
                    known = (None, Problem(ORG, f"村（社区）：{exc}"))
            if cell.__class__ is str and len(self._orgs) < 10_000:
                self._orgs[cell] = known
        return known

    def _resolve(self, text: str) -> str:
        """The unit a 村（社区） cell names: within the sheet's unit when it is known.

        :raises OrgError: no such unit there (the message says where it is, if elsewhere),
            or (without the sheet's unit) a name several units share.
        """
        tree, scope = self.store.orgs, self.source.code
        if scope is None or scope == self.policy.default_org(self.store.node.org):   # the whole of it
            try:
                return self.store.resolve_row_org(text)
            except StoreError as exc:
                if "同名单位" not in str(exc):
                    raise
                raise OrgError(f"{exc}；或者指明本表来自哪个镇（导入向导中选择“本表的单位”，"
                               "命令行加 --org 镇名）") from None
        try:
            return tree.resolve(text, within=scope).code
        except OrgError as exc:
            message = str(exc)
        with contextlib.suppress(OrgError):
            elsewhere = tree.resolve(text, within=self.store.node.org)
            message = f"“{text}”是{tree.path(elsewhere.code).replace(' / ', '')}，不在{tree.path(scope)}"
        raise OrgError(f"{message}。本表的单位是{tree.path(scope)}（{self.source.how(tree)}），"
                       "如果不对，请改选本表的单位（命令行用 --org）")

    def _row(self, row_no: int, cells: list) -> RowPlan:
        plan = RowPlan(row_no, "new", cells)
        org = self.org_default
        if self.org_col is not None:
            org, problem = self._org_cell(cells[self.org_col] if self.org_col < len(cells) else "")
            if problem is not None:
                plan.problems.append(problem)
        plan.org = org
        if self.id_col is not None and not is_blank(self._cell(cells, self.id_col)):
            plan.uuid = cell_text(self._cell(cells, self.id_col))
            plan.base = decode_base(self._cell(cells, self.base_col)) if self.base_col is not None else {}
        return plan

    # -- classification
    def _match(self, rows: list[RowPlan]) -> None:
        """Check and classify a chunk of data rows (in sheet order, after the chunks before)."""
        if not rows:
            return
        by_uuid = self._current([r.uuid for r in rows if r.uuid])
        width = max(self.fields, default=-1) + 1
        cells = [r.cells if len(r.cells) >= width else r.cells + [""] * (width - len(r.cells)) for r in rows]
        by_column = list(zip(*cells))
        columns = {fid: list(by_column[c]) for c, fid in self.fields.items()}
        for j, plan in enumerate(rows) if by_uuid else ():
            current = by_uuid.get(plan.uuid) if plan.uuid else None
            if current is not None and self.policy.within(current["org"]):
                raw = {fid: col[j] for fid, col in columns.items()}
                self._returned_row(plan, current, raw)
                for fid, col in columns.items():
                    col[j] = raw[fid]
        checked = self.checker.check_columns(columns, len(rows))
        keys_of = self._keys(checked.values, len(rows))
        self.keys = self._existing_keys(set(keys_of) - {None})
        kept = {fid: col for fid, col in checked.values.items() if col.count(None) < len(col)}
        problems, missing = checked.problems, checked.missing
        for j, (plan, key) in enumerate(zip(rows, keys_of)):
            plan.checked, plan.index = kept, j
            self._classify(plan, by_uuid, problems.get(j, ()), missing.get(j, ()), key)
            if plan.status not in ("rejected", "conflict"):
                plan.cells = None  # only bad rows go to the error workbook

    def _classify(self, plan: RowPlan, by_uuid: dict, problems: list[Problem], missing: list[str],
                  key: tuple | None) -> None:
        current = by_uuid.get(plan.uuid) if plan.uuid else None
        if current is not None and not self.policy.within(current["org"]):
            plan.checked = None          # not checked: nothing of it is told
            self._not_ours(plan)
            return
        if problems:
            plan.problems += problems
        plan.missing = missing
        if plan.problems and any(p.severity == "error" for p in plan.problems):
            plan.status = "rejected"
            return
        if plan.uuid and current is None and plan.uuid not in by_uuid:
            plan.uuid = None  # exported from another install or since purged: match by key
        keys, seen = self.keys, self.seen
        if current is None and key is not None and key in keys:
            current = self._load(keys[key])
        if current is not None and not self.policy.within(current["org"]):
            self._not_ours(plan)
            return
        if key is not None and key in seen:
            plan.status = "duplicate"
            plan.problems.append(Problem(None, f"与本表第 {seen[key]} 行重复（{self.records.natural_key_label()}相同）",
                                         "warning"))
            return
        if key is not None:
            seen[key] = plan.row_no
        if current is None:
            plan.status = "incomplete" if plan.missing else "new"
            plan.uuid = new_uuid()
            return
        plan.current, plan.uuid = current, current["uuid"]
        self._compare(plan, current, plan.values)

    def _not_ours(self, plan: RowPlan) -> None:
        """A row that is a row of a unit outside the user's: rejected, nothing of it told."""
        plan.status = "rejected"
        plan.problems.append(Problem(None, f"此行对应其他单位的已有记录（{self.records.natural_key_label()}"
                                           "相同或行标识相同），当前用户不能修改；请与上级核实"))

    def _returned_row(self, plan: RowPlan, current: dict, raw: dict) -> None:
        """A row we exported: a cell still equal to the exported value means "not changed
        there" and takes today's value here; a cell changed both there and here since the
        export is a conflict. Values are compared as stored (masked where the export was)."""
        conflicts = []
        for fid in list(raw):
            f = self.ledger.field(fid)
            base = plan.base.get(fid)
            cell = raw[fid]
            masked = self.ledger.is_sensitive(fid) and isinstance(base, str) and "*" in base
            if masked:
                untouched = cell_text(cell) == base
                now = mask_value(f.type, current.get(fid))
            else:
                untouched = _same(normalize(f, cell, today=self.today).value, base)
                now = current.get(fid)
            if untouched:
                raw[fid] = current.get(fid)  # not changed there: keep what is here
                continue
            sheet = normalize(f, cell, today=self.today).value
            if not _same(now, base) and not _same(sheet, current.get(fid)):
                # the values of the file itself as they are; the one stored here as the role may see it
                conflicts.append((fid, display(f, base), display(f, sheet),
                                  self.policy.text(self.ledger, fid, now)))
                raw[fid] = current.get(fid)
        plan.conflicts = conflicts

    def _compare(self, plan: RowPlan, current: dict, values: dict) -> None:
        conflicts = plan.conflicts
        returned = plan.base is not None
        changes: dict[str, list] = {}
        for fid in self.present:
            new, old = values.get(fid), current.get(fid)
            if new is None and not returned:
                continue  # an empty cell in a legacy sheet does not erase what is known
            if new != old:
                changes[fid] = [self.screen.value(self.ledger, fid, old), new]
        if plan.org and plan.org != current["org"] and self.org_col is not None:
            changes[ORG] = [current["org"], plan.org]
        plan.changes = changes
        if conflicts:
            plan.status = "conflict"
            for fid, base, sheet, now in conflicts:
                label = self.ledger.field(fid).label
                plan.problems.append(Problem(fid, f"{label}：导出后两边都改了（导出时“{base}”，"
                                                  f"表中改为“{sheet}”，本机已改为“{now}”），未覆盖，请核实"))
        elif plan.changes:
            plan.status = "updated"
        else:
            plan.status = "unchanged"

    def _current(self, uuids: list[str]) -> dict[str, dict]:
        out = {}
        for start in range(0, len(uuids), 500):
            chunk = uuids[start:start + 500]
            for row in self.records.rows(uuids=chunk, any_unit=True):   # others: rejected by name
                out[row["uuid"]] = row
        return out

    def _keys(self, values: dict[str, list], n: int) -> list[tuple | None]:
        """Each row's natural key, with None for parts a legacy row lacks (a 待补充 row without
        its date still matches itself on the next import); None without any identity."""
        parts = []
        for k in self.ledger.natural_key:
            col = values.get(k.removeprefix("year:")) or [None] * n
            parts.append([None if v is None else str(v)[:4] for v in col] if k.startswith("year:") else col)
        keys: list = list(zip(*parts))
        identity = [values[f] for f in self.ledger.identity if f in values]
        if not identity:
            return [None] * n
        known = identity[0] if len(identity) == 1 else [any(v is not None for v in vs) or None for vs in zip(*identity)]
        return [key if v is not None else None for key, v in zip(keys, known)]

    def _existing_keys(self, wanted: set[tuple]) -> dict[tuple, str]:
        """The live rows here with one of the ``wanted`` natural keys: key → uuid (the last
        row of a key, in table order). Looked up by the first part of the key (indexed),
        a chunk of rows at a time: a store of a million rows is never read whole."""
        parts = self.ledger.natural_key
        cols = [p.removeprefix("year:") for p in parts]
        exprs = [f"substr([{c}], 1, 4)" if p.startswith("year:") else f"[{c}]" for p, c in zip(parts, cols)]
        firsts = list({k[0] for k in wanted} - {None})
        out: dict[tuple, tuple[int, str]] = {}
        for start in range(0, max(len(firsts), 1), 500):
            chunk = firsts[start:start + 500]
            conds = [f"{exprs[0]} IN ({','.join('?' * len(chunk))})"] if chunk else []
            if start == 0 and any(k[0] is None for k in wanted):
                conds.append(f"[{cols[0]}] IS NULL")
            if not conds:
                break
            cur = self.store.conn.execute(
                f"SELECT rowid, uuid, {', '.join(exprs)} FROM [{self.ledger.table}] "
                f"WHERE {LIVE} AND ({' OR '.join(conds)})", chunk)
            for r in cur:
                key = tuple(r[2:])
                if key in wanted and (key not in out or out[key][0] < r[0]):
                    out[key] = (r[0], r[1])
        return {k: uid for k, (_rowid, uid) in out.items()}

    def _load(self, uid: str) -> dict | None:
        return self.records.get_any(uid)


# ---------------------------------------------------------------- applying

@dataclass
class ImportResult:
    file: str
    status: str           # imported, partial, refused, dry-run, unusable, already
    counts: dict[str, int]
    batch: str | None
    message: str = ""
    errors: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"file": self.file, "status": self.status, **self.counts, "batch": self.batch,
                "message": self.message, "errors": self.errors}


def apply_plan(store: Store, plan: ImportPlan, *, accept_valid: bool = False, backup: bool = True) -> ImportResult:
    """Write the plan in one transaction, as one batch (after a backup of the store).

    Without ``accept_valid`` a plan with rejected rows writes nothing (only the
    import history notes the refusal). With it, the good rows are written. A plan
    whose rows still lack a unit (:attr:`ImportPlan.unit_needed`) writes nothing.
    ``backup=False`` when the caller already backed up before a series of files.
    """
    store.require("edit")
    counts = plan.counts()
    batch = new_uuid()
    errors = [_error_json(plan, r) for r in plan.rows if r.status in ("rejected", "conflict")]
    if plan.unit_needed:
        _history(store, plan, batch, "refused", counts)
        return ImportResult(plan.path.name, "refused", counts, None, plan.unit_needed, errors)
    bad = counts["rejected"] + counts["conflict"]
    if bad and not accept_valid:
        _history(store, plan, batch, "refused", counts)
        return ImportResult(plan.path.name, "refused", counts, None,
                            f"有 {counts['rejected']} 行不合格、{counts['conflict']} 行有冲突，"
                            "未导入任何内容（可改正后重新导入，或选择只导入合格的行）", errors)
    if backup:
        make_backup(store, "import")
    records = store.ledger(plan.ledger.id)
    source = f"excel:{plan.path.name}"
    with gc_paused(), store.page_cache(WRITE_CACHE_MIB), store.transaction():
        writer = Writer(store, source=source, batch=batch)
        inserts = [r for r in plan.rows if r.status in ("new", "incomplete")]
        if inserts:   # each row made as its chunk is written: no second copy of 100,000 rows
            records.insert_valid(_new_rows(inserts), (r.missing for r in inserts), source=source, batch=batch,
                                 report=False)
        updates = [r for r in plan.rows if r.status == "updated"]
        if updates:
            items = []
            for r in updates:
                row = dict(r.current)
                row.update({f: v[1] for f, v in r.changes.items()})
                items.append((r.current, row, r.missing))
            records.write_updates(writer, items)
        status = "partial" if bad else "imported"
        _history(store, plan, batch, status, counts)
    message = "已导入" if status == "imported" else \
        f"已导入合格的行；{counts['rejected']} 行不合格、{counts['conflict']} 行有冲突，未导入"
    return ImportResult(plan.path.name, status, counts, batch, message, errors)


def _new_rows(rows: list[RowPlan]) -> Iterator[dict]:
    """The values to insert of each of ``rows`` (field → value, with org and uuid), made a
    checked chunk at a time (a field empty in a row: None)."""
    for _, group in itertools.groupby(rows, key=lambda r: id(r.checked)):
        first = next(group)
        fids = (*first.checked, "org", "uuid")
        values = list(zip(*first.checked.values()))
        for r in itertools.chain([first], group):
            yield dict(zip(fids, (*values[r.index], r.org, r.uuid)))


def _error_json(plan: ImportPlan, r: RowPlan) -> dict:
    return {"row": r.row_no, "status": r.status,
            "messages": [p.message for p in r.problems if p.severity == "error" or r.status == "conflict"]}


def _history(store: Store, plan: ImportPlan, batch: str, status: str, counts: dict) -> None:
    with store.transaction():
        store.conn.execute(
            "INSERT INTO import_history (batch, file, sha256, sheet, ledger, ts, user, status, counts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (batch, plan.path.name, plan.sha256, plan.sheet, plan.ledger.id, now_iso(),
             store.actor, status, json.dumps(counts)))


def refused_history(store: Store, path: Path, error: Exception) -> None:
    """Note in the import history that a file could not be used at all."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    except OSError:   # unreadable (no permission, a pulled USB stick): noted all the same
        digest = ""
    with store.transaction():
        store.conn.execute(
            "INSERT INTO import_history (batch, file, sha256, ts, user, status, counts) "
            "VALUES (?, ?, ?, ?, ?, 'unusable', ?)",
            (new_uuid(), path.name, digest, now_iso(), store.actor,
             json.dumps({"message": str(error)}, ensure_ascii=False)))


def import_history(store: Store) -> list[dict]:
    """Every file offered for import, newest first (counts decoded)."""
    cols = ("batch", "ts", "file", "sheet", "ledger", "user", "status", "counts", "undone_at")
    out = []
    for r in store.conn.execute(f"SELECT {', '.join(cols)} FROM import_history ORDER BY ts DESC, rowid DESC"):
        item = dict(zip(cols, r))
        item["counts"] = json.loads(item["counts"] or "{}")
        out.append(item)
    return out


# ---------------------------------------------------------------- undo

class UndoRefused(UserError):
    """The batch cannot be undone as a whole; the message says which rows block it (exit 1)."""

    exit_code = INPUT_PROBLEMS


def undo_import(store: Store, batch: str) -> dict[str, int]:
    """Take back a whole import: rows it created become tombstones, rows it changed get
    their old values back — as new changes, so the undo travels in packages.

    :raises UndoRefused: unknown or already undone batch, or later edits touched its rows.
    """
    store.require("edit")
    history = store.conn.execute(
        "SELECT ledger, undone_at, file FROM import_history WHERE batch = ?", (batch,)).fetchone()
    if history is None:
        raise UndoRefused(f"没有导入批次 {batch}")
    if history[1]:
        raise UndoRefused(f"导入批次 {batch[:8]}（{history[2]}）已在 {history[1]} 撤销过")
    entries = store.conn.execute(
        "SELECT id, action, tbl, uuid, before FROM audit WHERE batch = ? AND action IN "
        "('insert', 'update') ORDER BY id", (batch,)).fetchall()
    led = store.catalog.ledger(history[0])
    rows = [e for e in entries if e[2] == led.table]
    if rows:
        last = max(e[0] for e in entries)
        uuids = [e[3] for e in rows]
        later = []
        for start in range(0, len(uuids), 500):
            chunk = uuids[start:start + 500]
            later += store.conn.execute(
                f"SELECT DISTINCT uuid FROM audit WHERE id > ? AND uuid IN ({','.join('?' * len(chunk))}) "
                "AND (batch IS NULL OR batch <> ?)", [last, *chunk, batch]).fetchall()
        if later:
            raise UndoRefused(f"导入之后，其中 {len(later)} 行又被修改过（例如记录 {later[0][0][:8]}），"
                              "不能整批撤销；请逐条修改这些记录")
    records = store.ledger(led.id)
    done = Counter()
    with store.transaction():
        writer = Writer(store, source=f"undo:{batch}")
        for _id, action, _tbl, uid, before in rows:
            current = records.get(uid)
            if action == "insert":
                records.delete(uid, source=f"undo:{batch}", action="undo")
                done["deleted"] += 1
            else:
                old = json.loads(before or "{}")
                writer.update(records.spec, current, old, action="undo")
                done["restored"] += 1
        store.conn.execute("UPDATE import_history SET undone_at = ? WHERE batch = ?",
                           (now_iso(), batch))
    return dict(done)
