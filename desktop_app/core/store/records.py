"""The rows of one ledger: check, add, update, delete, restore, find.

    >>> import tempfile, pathlib, datetime as dt
    >>> from desktop_app.core.store.database import Store
    >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3",
    ...                      level="town", org="河坝镇", operator="示例")
    >>> led = store.ledger("two_cancer")
    >>> res = led.add({"name": "示例一", "id_number": "43090219710916154X"},
    ...               today=dt.date(2024, 6, 30))
    >>> res.incomplete, led.get(res.uuid)["name"]
    (True, '示例一')
    >>> store.close()

Who acts is the store's session, and its policy (:func:`~.policy.policy_for`) holds here:
a user bound to a unit reads, adds, changes and deletes only the rows of that unit and
the units under it (a row of another unit is not found; writing one is refused). A form
that shows a sensitive value masked sends back what the user left untouched as ``keep``:
the stored value stays (:meth:`Records.complete`).
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from ..bulk import gc_paused
from ..catalog.fieldtypes import is_blank, normalize
from ..catalog.model import Ledger
from ..catalog.validation import Checker, CheckedRows, Problem, RowCheck
from ..errors import INPUT_PROBLEMS, UserError
from .policy import Policy, policy_for
from .schema import LIVE, ledger_spec, within_sql
from .versions import RowVersions, now_iso
from .writes import Writer


CHUNK = 5000      # rows linked and written together by insert_valid


class RowsRejected(UserError):
    """Some rows failed their checks; nothing was written.

    ``failures`` maps the index of each bad row to its :class:`RowCheck`.
    """

    def __init__(self, ledger: Ledger, failures: dict[int, RowCheck | list[Problem]]):
        self.ledger = ledger
        self.failures = {i: (c.problems if isinstance(c, RowCheck) else c)
                         for i, c in failures.items()}
        first = next(iter(self.failures.values()))
        msgs = [p.message for p in first if p.severity == "error"]
        super().__init__("；".join(msgs), INPUT_PROBLEMS)

    def messages(self) -> list[str]:
        return [p.message for probs in self.failures.values() for p in probs
                if p.severity == "error"]


@dataclass
class Saved:
    uuid: str
    incomplete: bool
    missing: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def to_json(self, ledger: Ledger) -> dict:
        return {"uuid": self.uuid, "incomplete": self.incomplete,
                "missing": [ledger.field(f).label for f in self.missing],
                "warnings": [w.message for w in self.warnings]}


class Records:
    def __init__(self, store, ledger: Ledger):
        self.store = store
        self.ledger = ledger
        self.spec = ledger_spec(ledger)
        self.table = ledger.table

    # ------------------------------------------------------------ reading
    def _dicts(self, sql: str, params: Iterable = ()) -> list[dict]:
        cur = self.store.conn.execute(sql, tuple(params))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    @property
    def policy(self) -> Policy:
        """The session's policy (:func:`~.policy.policy_for`), read afresh at each call."""
        return policy_for(self.store)

    def get(self, uid: str) -> dict | None:
        """One row by uuid (None: no such row, or one outside the user's unit)."""
        row = self.get_any(uid)
        return row if row is not None and self.policy.within(row["org"]) else None

    def get_any(self, uid: str) -> dict | None:
        """One row by uuid whatever the user's unit (core's own checks: duplicates, imports)."""
        rows = self._dicts(f"SELECT * FROM [{self.table}] WHERE uuid = ?", (uid,))
        return rows[0] if rows else None

    def _conditions(self, org, match, uuids, incomplete, deleted, any_unit=False) -> tuple[str, list]:
        conds, params = [], []
        if deleted is not None:   # the live rows scanned, the recycle bin's few by the index
            conds.append("_deleted = 1" if deleted else LIVE)
        if not any_unit:
            org = self.policy.scope(org)
        if org:
            cond, p = within_sql(org, install=self.store.node.org)
            conds.append(cond)
            params += p
        for column, value in (match or {}).items():
            if column not in self.spec.all_columns:
                raise KeyError(column)
            conds.append(f"[{column}] IS ?")
            params.append(value)
        if uuids is not None:
            uuids = list(uuids)
            conds.append(f"uuid IN ({','.join('?' * len(uuids))})")
            params += uuids
        if incomplete is not None:
            conds.append("_incomplete = ?")
            params.append(1 if incomplete else 0)
        return (" WHERE " + " AND ".join(conds)) if conds else "", params

    def rows(self, *, org: str | None = None, match: dict | None = None,
             uuids: Iterable[str] | None = None, incomplete: bool | None = None,
             deleted: bool | None = False, limit: int | None = None,
             any_unit: bool = False) -> list[dict]:
        """Rows as dicts, oldest first: the live ones (``deleted=True``: the recycle bin,
        ``None``: both), under a unit (``org``, a code), with equal values (``match``,
        column → value), among ``uuids``, 待补充 or complete (``incomplete``) — always
        within the user's unit (:meth:`Policy.scope`). Values are as stored: an output
        shows them through the policy (:meth:`Policy.row`). ``any_unit``: whatever the
        user's unit (core's own checks, e.g. an import matching rows it may not change)."""
        where, params = self._conditions(org, match, uuids, incomplete, deleted, any_unit)
        sql = f"SELECT * FROM [{self.table}]{where} ORDER BY _created, rowid"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._dicts(sql, params)

    def count(self, *, org: str | None = None, match: dict | None = None,
              incomplete: bool | None = None, deleted: bool | None = False) -> int:
        """How many rows :meth:`rows` would return for the same conditions."""
        where, params = self._conditions(org, match, None, incomplete, deleted)
        return self.store.conn.execute(f"SELECT COUNT(*) FROM [{self.table}]{where}",
                                       params).fetchone()[0]

    def natural_key(self, values: dict) -> tuple | None:
        parts = []
        for k in self.ledger.natural_key:
            v = values.get(k.removeprefix("year:"))
            if v is None:
                return None
            parts.append(str(v)[:4] if k.startswith("year:") else v)
        return tuple(parts)

    def duplicates_of(self, values: dict, exclude: str | None = None) -> list[str]:
        """uuids of live rows with the same natural key (e.g. 身份证号 + 年度)."""
        key = self.natural_key(values)
        if key is None:
            return []
        conds, params = [LIVE], []     # found by the key's index
        for k, v in zip(self.ledger.natural_key, key):
            if k.startswith("year:"):
                conds.append(f"substr([{k[5:]}], 1, 4) = ?")
            else:
                conds.append(f"[{k}] = ?")
            params.append(v)
        if exclude:
            conds.append("uuid <> ?")
            params.append(exclude)
        sql = f"SELECT uuid FROM [{self.table}] WHERE {' AND '.join(conds)}"
        return [r[0] for r in self.store.conn.execute(sql, params)]

    def history(self, uid: str) -> list[dict]:
        """The audit trail of one row, oldest first, each entry with the fields it
        changed (``{field: [before, after]}``); the insert shows the first values,
        rebuilt from the current row and the ``before`` of every later change. A row
        outside the user's unit has no history for them."""
        found = self.get_any(uid)
        if found is not None and not self.policy.within(found["org"]):
            return []
        cur = self.store.conn.execute(
            "SELECT id, ts, user, unit, action, source, batch, before, after FROM audit "
            "WHERE uuid = ? ORDER BY id", (uid,))
        entries = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
        row = self.get(uid) or {}
        state = {c: row.get(c) for c in self.spec.columns} | {"_deleted": row.get("_deleted")}
        for e in reversed(entries):
            before = json.loads(e.pop("before")) if e["before"] else {}
            after = json.loads(e.pop("after")) if e["after"] else {}
            if e["action"] == "insert":
                e["changes"] = {c: [None, v] for c, v in state.items()
                                if v is not None and c != "_deleted"}
            else:
                e["changes"] = {c: [before.get(c), after.get(c)] for c in after}
                state.update(before)
        return entries

    def provenance(self, uid: str) -> dict:
        """Where a row came from: its village and town, who entered it where and when, and
        the packages that brought it here (newest last)."""
        row = self.get(uid)
        if row is None:
            raise KeyError(uid)
        conn, tree = self.store.conn, self.store.orgs
        peers = dict(conn.execute("SELECT node, org FROM peers"))
        origin_org = self.store.node.org if row["_origin"] == self.store.node.id else peers.get(row["_origin"])
        entered = conn.execute(
            "SELECT user, ts, source FROM audit WHERE uuid = ? AND action = 'insert' AND origin = ? "
            "ORDER BY id LIMIT 1", (uid, row["_origin"])).fetchone()
        packages = []
        for (source,) in conn.execute("SELECT DISTINCT source FROM audit WHERE uuid = ? AND action = 'merge' "
                                      "ORDER BY id", (uid,)):
            pid = source.removeprefix("package:")
            pkg = conn.execute("SELECT file, source, seq_from, seq_to, handled FROM packages WHERE "
                               "package_id = ? AND direction = 'in'", (pid,)).fetchone()
            if pkg:
                packages.append({"package_id": pid, "file": pkg[0], "from": tree.path(peers.get(pkg[1], "")) or pkg[1],
                                 "seq": pkg[2] if pkg[2] == pkg[3] else f"{pkg[2]}-{pkg[3]}",
                                 "received": pkg[4]})
        town = tree.town_of(row["org"])
        return {"uuid": uid, "org": row["org"], "org_path": tree.path(row["org"]),
                "town": town.name if town else None,
                "entered_at_org": tree.path(origin_org) if origin_org else row["_origin"],
                "entered_by": entered[0] if entered else None,
                "entered_on": entered[1] if entered else row["_created"],
                "entered_via": entered[2] if entered else None, "packages": packages}

    # ------------------------------------------------------------ checking
    def check(self, raw: dict, *, today: dt.date | None = None) -> RowCheck:
        """Validate ``raw`` (field ids or Chinese labels → values); see ``validate_row``."""
        return self.check_many([raw], today=today).row(0)

    def check_many(self, raws: list[dict], *, today: dt.date | None = None) -> CheckedRows:
        """Validate rows (field ids or Chinese labels → values) column by column; see
        :class:`~desktop_app.core.catalog.validation.Checker`."""
        return self.checker(today).check_rows([self.to_ids(r) for r in raws])

    def checker(self, today: dt.date | None = None) -> Checker:
        """This ledger's checks for the plan year (``today``: the day "not in the future" is
        measured from)."""
        return Checker(self.ledger, plan_year=self.store.catalog.plan_year, today=today)

    def to_ids(self, raw: dict) -> dict:
        """Accept Chinese labels as keys as well as field ids."""
        by_label = self._by_label
        return {by_label.get(k, k): v for k, v in raw.items()}

    @cached_property
    def _by_label(self) -> dict[str, str]:
        return {f.label: f.id for f in self.ledger.fields}

    # ------------------------------------------------------------ writing
    def add(self, raw: dict, *, org: str | None = None,
            source: str = "cli", today: dt.date | None = None,
            allow_duplicate: bool = False, keep: Iterable[str] = ()) -> Saved:
        """Validate and save one row (in the user's unit unless ``org`` names one under it).

        :raises RowsRejected: on invalid values, a missing identity or a duplicate.
        :raises PermissionDenied: ``org`` outside the user's unit.
        """
        return self.add_many([raw], org=org, source=source, today=today,
                             allow_duplicate=allow_duplicate, keep=keep)[0]

    def resolve_org(self, name_or_code: str | None) -> str:
        """The unit a row is written to: the one named (at or below the install), or by
        default the user's unit (the install's own for a user bound to none).

        :raises StoreError: an unknown unit. :raises PermissionDenied: outside the user's unit.
        """
        policy = self.policy
        code = self.store.resolve_row_org(name_or_code) if name_or_code else \
            policy.default_org(self.store.node.org)
        policy.check_org(code)
        return code

    def complete(self, raw: dict, *, uuid: str | None = None, keep: Iterable[str] = ()) -> dict:
        """``raw`` with each field of ``keep`` taken from what is stored — the row's own
        value (``uuid``), or what the person master holds for the row's ID number.

        A form shows a sensitive value masked to a role that may not see it; a field the
        user left untouched is kept this way (the old value stays unless replaced),
        without the value ever reaching the form. Fields not kept are as given.
        """
        keep = [f for f in keep if self.ledger.has_field(f)]
        out = self.to_ids(raw)
        if not keep:
            return out
        current = self.get(uuid) if uuid else None
        if uuid and current is None:
            raise KeyError(uuid)
        for fid in keep:
            value = current.get(fid) if current else None
            out[fid] = value if not is_blank(value) else self._from_person(fid, out)
        return out

    def check_kept(self, raw: dict, *, uuid: str | None = None, keep: Iterable[str] = (),
                   reveal: bool = False, today: dt.date | None = None) -> RowCheck:
        """:meth:`check` of what a form holds, its kept fields completed (:meth:`complete`);
        a kept value the role may not see (or, without ``reveal``, does not see yet) is
        masked wherever a message would name it."""
        keep = list(keep)
        full = self.complete(raw, uuid=uuid, keep=keep)
        check = self.check(full, today=today)
        policy = self.policy.for_screen() if reveal else self.policy
        kept = {f: full.get(f) for f in keep}
        if kept and not policy.revealed:
            check.problems = [Problem(p.field, policy.scrub(p.message, self.ledger, kept), p.severity,
                                      p.suggestion) for p in check.problems]
        return check

    def _from_person(self, field_id: str, values: dict):
        """What the person master holds for ``field_id`` of the person the row's ID names."""
        for link in self.ledger.persons:
            pf = next((p for p, lf in link.fields.items() if lf == field_id), None)
            id_field = link.fields.get("id_number")
            if pf is None or id_field is None or pf == "id_number":
                continue
            number = normalize(self.ledger.field(id_field), values.get(id_field)).value
            person = self.store.persons.visible_by_id_number(number) if number else None
            if person and not is_blank(person.get(pf)):
                return person[pf]
        return None

    def person_fill(self, id_field: str, number, *, reveal: bool = False) -> tuple[dict, dict]:
        """What the person master knows of the person a typed ID number names, for a form
        to fill in: ``(shown, hidden)`` — field → value the role may see (``reveal``: the
        form's values are shown in full after an audited reveal), and field → the masked
        text of the values it may not (kept on saving, see :meth:`complete`). Both empty
        when the number is unknown (or not a valid one)."""
        link = next((p for p in self.ledger.persons if p.fields.get("id_number") == id_field), None)
        number = normalize(self.ledger.field(id_field), number).value if link else None
        person = self.store.persons.visible_by_id_number(number) if number else None
        if person is None:
            return {}, {}
        policy = self.policy.for_screen() if reveal else self.policy
        shown, hidden = {}, {}
        for pf, lf in link.fields.items():
            if pf == "id_number" or is_blank(person.get(pf)) or not self.ledger.has_field(lf):
                continue
            if policy.shows(self.ledger, lf):
                shown[lf] = person[pf]
            else:
                hidden[lf] = policy.text(self.ledger, lf, person[pf])
        return shown, hidden

    def add_many(self, raws: list[dict], *, org: str | None = None,
                 source: str = "cli", batch: str | None = None, today: dt.date | None = None,
                 allow_duplicate: bool = False, orgs: list[str | None] | None = None,
                 keep: Iterable[str] = ()) -> list[Saved]:
        """Validate every row, then write all of them in one transaction, or none.

        ``keep``: fields whose value comes from what the person master holds for the
        row's ID number (a form showed them masked; see :meth:`complete`).

        :raises RowsRejected: listing every bad row by index; nothing is written.
        :raises PermissionDenied: a unit outside the user's unit.
        """
        self.store.require("edit")
        default_org = self.resolve_org(org)
        if keep:
            raws = [self.complete(r, keep=keep) for r in raws]
        checked = self.check_many(raws, today=today)
        problems = checked.problems
        failures: dict[int, list[Problem]] = {i: problems[i] for i in sorted(problems) if not checked.ok(i)}
        rows, resolved = [], {}
        fids = list(checked.values)
        for i, values in enumerate(zip(*checked.values.values())):
            row = dict(zip(fids, values))
            given = orgs[i] if orgs else None
            if given and given not in resolved:
                resolved[given] = self.resolve_org(given)
            row["org"] = resolved[given] if given else default_org
            rows.append(row)
        if not allow_duplicate:
            self._check_duplicates(rows, failures)
        if failures:
            raise RowsRejected(self.ledger, failures)
        return self.insert_valid(rows, [checked.missing.get(i, []) for i in range(len(rows))],
                                 [[p for p in problems.get(i, ()) if p.severity == "warning"]
                                  for i in range(len(rows))], source=source, batch=batch)

    def natural_key_label(self) -> str:
        """The duplicate key in words, e.g. ``身份证号＋宫颈癌检查日期年度``."""
        return self.ledger.key_label()

    def person_warnings(self, values: dict) -> list[Problem]:
        """Person-master warnings (another name for a known 身份证号), before saving; reads only."""
        row = dict(values, org=values.get("org") or self.store.node.org)
        return self.store.persons.plan(self.ledger, [row]).warnings.get(0, [])

    def _check_duplicates(self, rows: list[dict], failures: dict[int, list[Problem]]) -> None:
        seen: dict[tuple, int] = {}
        labels = self.natural_key_label()
        for i, row in enumerate(rows):
            key = self.natural_key(row)
            if key is None or i in failures:
                continue
            if key in seen:
                failures.setdefault(i, []).append(Problem(
                    None, f"与本批第 {seen[key] + 1} 行重复（{labels}相同）"))
                continue
            seen[key] = i
            dups = self.duplicates_of(row)
            if dups:
                failures.setdefault(i, []).append(Problem(None, self._duplicate_text(labels, dups[0])))

    def _duplicate_text(self, labels: str, other: str) -> str:
        """Why a row is a duplicate; a row outside the user's unit is not named."""
        if self.get(other) is None:
            return (f"与其他单位的已有记录重复（{labels}相同）；如确属另一条，"
                    "请与上级核实后再录入")
        return (f"与已有记录重复（{labels}相同，记录 {other[:8]}）；"
                "如确属另一条，请修改已有记录而不是重复录入")

    def insert_valid(self, rows: Iterable[dict], missing: Iterable[list[str]],
                     warnings: list[list[Problem]] | None = None, *,
                     source: str = "cli", batch: str | None = None, report: bool = True) -> list[Saved]:
        """Write rows that have already been checked, in one transaction, a chunk of rows at
        a time (persons linked, then the rows: executemany), so only one chunk's rows need be
        held (``rows`` may be a generator). ``report=False``: return no :class:`Saved` per
        row (an import of 100,000 rows needs none).

        :raises PermissionDenied: a row's unit is outside the user's (nothing is written).
        """
        self.store.require("edit")
        policy = self.policy
        store = self.store
        uuids: list[str] = []
        kept: list[list[str]] = []
        person_warnings: dict[int, list[Problem]] = {}
        rows, missing = iter(rows), iter(missing)
        with gc_paused(), store.transaction():
            writer = Writer(store, source=source, batch=batch)
            stamp, ts, seen = store.clock.tick(), now_iso(), set()
            while chunk := list(itertools.islice(rows, CHUNK)):
                for org in dict.fromkeys(row.get("org") for row in chunk):
                    policy.check_org(org)
                gaps = list(itertools.islice(missing, len(chunk)))
                plan = store.persons.plan(self.ledger, chunk, seen=seen)
                store.persons.apply(plan, writer, stamp)
                person_warnings |= {len(uuids) + i: w for i, w in plan.warnings.items()}
                uuids += writer.insert(self.spec, chunk, stamp=stamp, incomplete=gaps, ts=ts)
                if report:
                    kept += gaps
        if not report:
            return []
        warnings = warnings or [[] for _ in uuids]
        return [Saved(u, bool(m), m, list(w) + person_warnings.get(i, []))
                for i, (u, m, w) in enumerate(zip(uuids, kept, warnings))]

    def update(self, uid: str, changes: dict, *, source: str = "cli",
               today: dt.date | None = None, allow_duplicate: bool = False,
               keep: Iterable[str] = ()) -> Saved:
        """Change some fields of a row; the whole row is re-checked. Fields in ``keep``
        keep their stored value whatever ``changes`` says (see :meth:`complete`).

        :raises RowsRejected: if the changed row is invalid; nothing is written.
        :raises KeyError: if there is no such row (or it is outside the user's unit).
        :raises PermissionDenied: a new unit outside the user's unit.
        """
        self.store.require("edit")
        current = self.get(uid)
        if current is None or current["_deleted"]:
            raise KeyError(uid)
        changes = self.complete(changes, uuid=uid, keep=keep)
        org = changes.pop("org", None)
        merged = {f.id: current.get(f.id) for f in self.ledger.fields} | changes
        check = self.check(merged, today=today)
        failures = {} if check.ok else {0: check.problems}
        row = dict(check.values)
        row["org"] = self.resolve_org(org) if org else current["org"]
        if not allow_duplicate and not failures and self.duplicates_of(row, exclude=uid):
            self._check_duplicates_update(row, uid, failures)
        if failures:
            raise RowsRejected(self.ledger, failures)
        with self.store.transaction():
            writer = Writer(self.store, source=source)
            warnings = self.write_updates(writer, [(current, row, check.missing)])
        return Saved(uid, check.incomplete, check.missing, check.warnings + warnings.get(0, []))

    def write_updates(self, writer: Writer, items: list[tuple[dict, dict, list[str]]],
                      stamp: int | None = None) -> dict[int, list[Problem]]:
        """Write checked rows over their current state (inside a transaction).

        ``items`` are ``(current row, new values incl. org, missing fields)``; only
        values that differ are written. Returns person-master warnings by item index.
        """
        policy = self.policy
        for current, row, _missing in items:
            policy.check_org(current.get("org"))
            policy.check_org(row.get("org", current.get("org")))
        stamp = stamp or self.store.clock.tick()
        rows = []
        for current, row, _missing in items:
            row = dict(row, uuid=current["uuid"])
            for link in self.ledger.persons:
                row[link.column] = current.get(link.column)
            rows.append(row)
        plan = self.store.persons.plan(self.ledger, rows)
        self.store.persons.apply(plan, writer, stamp)
        for (current, _row, missing), row in zip(items, rows):
            values = {c: row.get(c) for c in self.spec.columns} | {
                c: row.get(c) for c in self.spec.person_columns}
            writer.update(self.spec, current, values, stamp=stamp, missing=missing)
        return plan.warnings

    def _check_duplicates_update(self, row, uid, failures):
        dups = self.duplicates_of(row, exclude=uid)
        failures[0] = [Problem(None, f"修改后与已有记录 {dups[0][:8]} 重复（判重键相同）"
                               if self.get(dups[0]) else "修改后与其他单位的已有记录重复（判重键相同）")]

    def delete(self, uid: str, *, source: str = "cli", action: str = "delete") -> bool:
        """Move a row to the recycle bin (a tombstone that travels in packages); ``action``
        names it in the audit trail (an undone import says "undo")."""
        return self._set_deleted(uid, 1, action, source)

    def restore(self, uid: str, *, source: str = "cli") -> bool:
        """Bring a deleted row back."""
        return self._set_deleted(uid, 0, "restore", source)

    def _set_deleted(self, uid, flag, action, source) -> bool:
        self.store.require("edit")
        current = self.get(uid)
        if current is None:
            raise KeyError(uid)
        if current["_deleted"] == flag:
            return False
        store = self.store
        with store.transaction():
            writer = Writer(store, source=source)
            # A delete covers every field version of the row: an edit it has not
            # seen is concurrent with it (a conflict), one it has seen is older.
            rv = RowVersions.decode(current["_versions"])
            cover = {"_deleted": rv.all_versions(self.spec.versioned)} if flag else None
            writer.update(self.spec, current, {"_deleted": flag}, action=action, cover=cover)
        return True
