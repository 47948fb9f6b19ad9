"""The person master (人员主档, "一张表"): each person once, every ledger row links to them.

A person's id is UUIDv5(namespace, 身份证号), so every install derives the same
id for the same person and merges unify without string matching::

    >>> person_id("6f1c3a52-3f0e-5b8e-9d0a-2f4b7c9e1a43", "43090219710916154X")
    'bb814785-170c-5842-ab9e-de5890ab3401'

A person without an ID number (a newborn) gets a random id and can be linked later.

The id is an unkeyed hash of the ID number, and the ID numbers of a district are few
enough to try them all: it stays inside core for merging, and an output shows it only
where it shows the ID number itself (:meth:`~.policy.Policy.person`). Reads follow the
session's policy: a user bound to a unit finds only the persons with a row in that unit
(or first seen there) and only that unit's rows of them; a search by ID number or phone
needs the whole number (or its last digits, for a role that may reveal).
"""
from __future__ import annotations

import hashlib
import uuid as uuidlib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from ..catalog.idnumbers import sex_from_id
from ..catalog.model import Ledger, PersonLink
from ..catalog.validation import Problem
from .policy import policy_for
from .schema import person_spec, within_sql

CHUNK = 500


def person_id(namespace: str | uuidlib.UUID, id_number: str) -> str:
    """``str(uuid.uuid5(namespace, id_number))``, without the UUID objects (a 100,000-row
    import derives 100,000 of them)."""
    return _uuid5(_namespace_bytes(namespace), id_number)


def _uuid5(namespace: bytes, name: str) -> str:
    h = hashlib.sha1(namespace + name.encode("utf-8")).hexdigest()
    # version 5 in the 13th hex digit, the RFC 4122 variant in the high bits of the 17th
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


@lru_cache(maxsize=16)
def _namespace_bytes(namespace: str | uuidlib.UUID) -> bytes:
    return (namespace if isinstance(namespace, uuidlib.UUID) else uuidlib.UUID(namespace)).bytes


@dataclass
class PersonPlan:
    """Persons to create or complete for a set of ledger rows, and the link values."""

    inserts: dict[str, dict] = field(default_factory=dict)
    fills: dict[str, dict] = field(default_factory=dict)   # uuid -> empty fields to fill
    current: dict[str, dict] = field(default_factory=dict)
    warnings: dict[int, list[Problem]] = field(default_factory=dict)


class PersonMaster:
    def __init__(self, store):
        self.store = store
        self.spec = person_spec()

    @cached_property
    def namespace(self) -> uuidlib.UUID:
        return uuidlib.UUID(self.store.setting("person_namespace"))

    @cached_property
    def _namespace(self) -> bytes:
        return self.namespace.bytes

    def get(self, uid: str) -> dict | None:
        cur = self.store.conn.execute("SELECT * FROM persons WHERE uuid = ?", (uid,))
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def by_id_number(self, number: str) -> dict | None:
        return self.get(person_id(self.namespace, number))

    def visible_by_id_number(self, number: str) -> dict | None:
        """The person a full ID number names, as the user may look them up (see
        :meth:`visible`): typing the number of someone of another village finds no one."""
        return self.visible(person_id(self.namespace, number))

    def search(self, text: str, limit: int = 50) -> list[dict]:
        """Persons whose name contains ``text``, or whose ID number is ``text`` (a role
        that may reveal: or whose ID number or phone ends with it, four digits or more) —
        within the user's unit. As stored: a window shows them through the policy."""
        policy = policy_for(self.store)
        text = (text or "").strip()
        if not text:
            return []
        number = text.replace(" ", "").replace("-", "").upper()
        conds, params = ["name LIKE ?"], [f"%{text}%"]
        numbers = ["id_number", "phone"] if policy.searches_phones() else ["id_number"]
        if policy.number_search(number) == "suffix":
            conds += [f"{c} LIKE ?" for c in numbers]
            params += [f"%{number}"] * len(numbers)
        else:
            conds += [f"{c} = ?" for c in numbers]
            params += [number] * len(numbers)
        where = f"_deleted = 0 AND ({' OR '.join(conds)})"
        if policy.unit:
            unit_where, unit_params = self._in_unit(policy.unit)
            where += f" AND {unit_where}"
            params += unit_params
        cur = self.store.conn.execute(f"SELECT * FROM persons WHERE {where} ORDER BY name LIMIT ?",
                                      (*params, limit))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def _in_unit(self, unit: str, *, one: bool = False) -> tuple[str, list]:
        """SQL for persons first seen in ``unit`` or with a row there (any ledger), each
        ledger's rows of the unit read through its org index: for many persons (a search)
        the unit's persons of every ledger gathered once, one look-up each; for ``one``
        person (``uuid = ?``), a look-up of theirs in each ledger by its person index."""
        own, params = within_sql(unit)
        subs = []
        for led in self.store.catalog.ledgers:
            for link in led.persons:
                cond, p = within_sql(unit, f"[{led.table}].org")
                subs.append(f"EXISTS (SELECT 1 FROM [{led.table}] WHERE [{link.column}] = persons.uuid AND {cond})"
                            if one else f"SELECT [{link.column}] FROM [{led.table}] WHERE {cond}")
                params += p
        if not subs:
            return own, params
        rows = " OR ".join(subs) if one else f"uuid IN ({' UNION ALL '.join(subs)})"
        return f"({own} OR {rows})", params

    def visible(self, uid: str) -> dict | None:
        """A person as the user may look them up: None when unknown, or (for a user bound
        to a unit) neither first seen nor with a row in that unit."""
        person = self.get(uid)
        unit = policy_for(self.store).unit
        if person is None or unit is None:
            return person
        where, params = self._in_unit(unit, one=True)
        found = self.store.conn.execute(f"SELECT 1 FROM persons WHERE uuid = ? AND {where}",
                                        (uid, *params)).fetchone()
        return person if found else None

    def appearances(self, uid: str) -> list[dict]:
        """Every ledger row that references the person, ledger by ledger (within the
        user's unit)."""
        out = []
        unit = policy_for(self.store).unit
        scope, params = ("", ()) if unit is None else (" AND substr(org, 1, ?) = ?", (len(unit), unit))
        for led in self.store.catalog.ledgers:
            for link in led.persons:
                cur = self.store.conn.execute(
                    f"SELECT * FROM [{led.table}] WHERE [{link.column}] = ?{scope} ORDER BY [{led.date_field}]",
                    (uid, *params))
                cols = [d[0] for d in cur.description]
                for r in cur.fetchall():
                    out.append({"ledger": led.id, "ledger_label": led.label,
                                "role": link.role, "row": dict(zip(cols, r))})
        return out

    # ------------------------------------------------------------ linking rows
    def plan(self, ledger: Ledger, rows: list[dict], *, seen: set[str] | None = None) -> PersonPlan:
        """Work out the person links for ``rows`` (mutated: link columns set).

        A person is created or completed from the first row naming them. ``seen``: the
        persons named by earlier rows of the same batch (a batch planned in chunks; the
        ones named here are added to it): a row naming one of them only links to them.
        """
        plan = PersonPlan()
        wanted: dict[str, tuple[int, dict]] = {}    # person → (first row naming them, details)
        links = [(link, tuple(link.fields), tuple(link.fields.values())) for link in ledger.persons]
        for i, row in enumerate(rows):
            for link, person_fields, row_fields in links:
                pid, details = self._link_values(link, row, person_fields, row_fields)
                row[link.column] = pid
                if pid and details.get("id_number"):
                    if (seen is None or pid not in seen) and pid not in wanted:
                        wanted[pid] = (i, details)
                elif pid:
                    plan.inserts[pid] = details | {"org": row["org"]}
        if seen is not None:
            seen.update(wanted)
        existing = self._fetch(list(wanted))
        plan.current = existing
        for pid, (i, details) in wanted.items():
            old = existing.get(pid)
            if old is None:
                details["org"] = rows[i]["org"]
                plan.inserts[pid] = details
                continue
            fill = {k: v for k, v in details.items() if v is not None and old.get(k) in (None, "")}
            if fill:
                plan.fills[pid] = fill
            if (details.get("name") and old.get("name") and details["name"] != old["name"]
                    and self.visible(pid) is not None):   # never name someone of another unit
                plan.warnings.setdefault(i, []).append(Problem(
                    None, f"此身份证号在人员主档中登记的姓名是“{old['name']}”，"
                          f"这里填的是“{details['name']}”，请核对", "warning"))
        return plan

    def _link_values(self, link: PersonLink, row: dict, person_fields: tuple[str, ...],
                     row_fields: tuple[str, ...]) -> tuple[str | None, dict]:
        details = dict(zip(person_fields, map(row.get, row_fields)))
        number = details.get("id_number")
        if number:
            if not details.get("sex"):
                details["sex"] = sex_from_id(number)
            if not details.get("birth_date"):
                details["birth_date"] = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
            return _uuid5(self._namespace, number), details
        existing = row.get(link.column)
        if existing:
            return existing, {}
        if "id_number" in link.fields and details.get("name"):
            return str(uuidlib.uuid4()), details
        return None, {}

    def _fetch(self, ids: list[str]) -> dict[str, dict]:
        out = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            cur = self.store.conn.execute(
                f"SELECT * FROM persons WHERE uuid IN ({','.join('?' * len(chunk))})", chunk)
            cols = [d[0] for d in cur.description]
            for r in cur.fetchall():
                out[r[0]] = dict(zip(cols, r))
        return out

    def apply(self, plan: PersonPlan, writer, stamp: int) -> None:
        """Write the planned person inserts and fills (inside the caller's transaction)."""
        if plan.inserts:
            rows = [{"uuid": pid, **d} for pid, d in plan.inserts.items()]   # (a key not a column: not written)
            writer.insert(self.spec, rows, stamp=stamp)
        for pid, fill in plan.fills.items():
            writer.update(self.spec, plan.current[pid], fill, stamp=stamp)
