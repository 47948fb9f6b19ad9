"""The same person (or the same institution) counted twice where the plan counts them once.

Found by the person (the id derived from the 身份证号), not by string matching:
two live rows of one ledger about the same person in the same year but in
different towns (两癌 screened in two towns, a child in two rehabilitation
lists), or — for ledgers the plan counts once whatever the year
(``once_per_person``, e.g. 两癌: 上一年已检查的不再重复检查) — in any two years.
A reviewer marks a pair "same person, keep one" or "not a duplicate"; a row
marked as the one not kept stops counting in progress.

A ledger without persons (托育机构, 社区, 工程…) pairs two rows of different towns with
the same natural key (统一社会信用代码, 名称＋级别…), kind ``same_key``: one institution
sent by two towns. With a national number as the key (统一社会信用代码) those count once
even before anyone decides — the row entered first (``entered_first``;
:func:`~..store.query.same_key_sql`) —; a key of names counts both until a reviewer
decides. "same" picks the row kept, "different" lets both count::

    >>> sorted_pair("b", "a")
    ('a', 'b')

Pairs follow the session's policy (:mod:`~desktop_app.core.store.policy`): a user bound
to a unit sees (and decides) the pairs whose two rows are both in that unit; a pair
names its person by ``person_id`` (derived from the ID number, so it can be guessed
back) only where the ID number itself is shown, and its names as the policy shows them::

    >>> DuplicatePair("two_cancer", None, {}, {}, "cross_town").to_json()["person_id"] is None
    True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..catalog.model import Ledger
from ..errors import StoreError
from ..store.policy import Policy, policy_for
from ..store.schema import LIVE
from ..store.versions import now_iso

if TYPE_CHECKING:
    from ..store.database import Store


KIND_WORDS = {"cross_town": "跨镇", "cross_year": "跨年度", "same_key": "跨镇同一项"}
KIND_TIPS = {"cross_town": "同一人同一年度在两个镇各计了一次",
             "cross_year": "这本台账每人只计一次（如两癌：上一年已检查的不再重复检查），"
                           "这个人在两个年度各有一条",
             "same_key": "同一机构（或同一社区、工程，按台账的识别信息如统一社会信用代码）由两个镇"
                         "各报了一条；未核实时只计先录入的一条"}


def sorted_pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


@dataclass
class DuplicatePair:
    ledger: str
    person_id: str | None     # None where the policy does not show person ids
    a: dict
    b: dict
    kind: str                 # "cross_town" (same year), "cross_year" or "same_key"
    decision: str | None = None
    keep: str | None = None
    first: str | None = None  # same_key: the row entered first (counted while undecided)

    def to_json(self) -> dict:
        out = {"ledger": self.ledger, "person_id": self.person_id, "kind": self.kind,
               "a": self.a, "b": self.b, "decision": self.decision, "keep": self.keep}
        if self.kind == "same_key":
            out["entered_first"] = self.first
        return out


def _key_sql(led: Ledger) -> str:
    """SQL for what makes two rows the same: the person, or (no persons) the natural key."""
    if led.persons:
        return f"[{led.persons[0].column}]"
    parts = [f"substr([{k[5:]}], 1, 4)" if k.startswith("year:") else f"[{k}]" for k in led.natural_key]
    return parts[0] if len(parts) == 1 else "json_array(" + ", ".join(parts) + ")"


def _candidates(store: Store, led: Ledger) -> dict[str, list[dict]]:
    """The live rows sharing a key with another live row: key (for a ledger with persons,
    the person id) → its rows, ordered by key, then date and uuid.

    Neither pass walks the search index row by row: the keys met more than once among all
    rows, live or deleted (a person's from the person index alone), then the live rows of
    those keys — looked up by the key's index where it has one (a duplicate is rare: a
    few rows of many); a key left with one live row is dropped here."""
    key, date = _key_sql(led), led.date_field
    title = led.title_field or led.fields[0].id
    # a row with a blank key part has a key no whole row has (NULL, or a JSON null in it)
    whole = " AND ".join(f"[{k.removeprefix('year:')}] IS NOT NULL"
                         for k in ([led.persons[0].column] if led.persons else led.natural_key))
    cur = store.conn.execute(
        f"SELECT uuid, org, {key} AS k, [{date}], [{title}], status, _incomplete, _created "
        f"FROM [{led.table}] WHERE {LIVE} AND {key} IN (SELECT {key} FROM [{led.table}] "
        f"WHERE {whole} GROUP BY {key} HAVING COUNT(*) > 1) ORDER BY k, [{date}], uuid")
    groups: dict[str, list[dict]] = {}
    for uid, org, pid, day, name, status, incomplete, created in cur:
        groups.setdefault(pid, []).append({"uuid": uid, "org": org, "date": day, "name": name,
                                           "status": status, "incomplete": bool(incomplete),
                                           "created": created})
    return {k: rows for k, rows in groups.items() if len(rows) > 1}


def find_duplicates(store: Store, ledger_id: str | None = None, *,
                    policy: Policy | None = None) -> list[DuplicatePair]:
    """Every pair of rows counting one person twice, with any decision already made, as
    ``policy`` shows them (default: as a window holds them, :meth:`Policy.for_screen`;
    the command line's JSON: :func:`policy_for`, names masked where sensitive and no
    person id); only pairs within the user's unit."""
    session_policy = policy_for(store)
    policy = policy or session_policy.for_screen()
    decisions = {(lid, a, b): (d, k) for lid, a, b, d, k in store.conn.execute(
        "SELECT ledger, uuid_a, uuid_b, decision, keep FROM duplicate_reviews")}
    out = []
    for led in store.catalog.ledgers:
        if ledger_id and led.id != ledger_id:
            continue
        title = led.title_field or (led.fields[0].id if led.fields else None)
        national, show_ids = led.key_is_national, bool(led.persons) and policy.shows_person_ids()
        for key, rows in _candidates(store, led).items():
            created = {r["uuid"]: r.pop("created") for r in rows}
            rows = [dict(r, name=policy.value(led, title, r["name"]) if title else r["name"])
                    for r in rows if session_policy.within(r["org"])]
            for i, x in enumerate(rows):
                for y in rows[i + 1:]:
                    same_year = (x["date"] or "")[:4] == (y["date"] or "")[:4]
                    if not led.persons and x["org"][:9] != y["org"][:9]:
                        kind = "same_key"   # one institution sent by two towns, whatever the year
                    elif led.persons and same_year and x["org"][:9] != y["org"][:9]:
                        kind = "cross_town"
                    elif led.persons and not same_year and led.once_per_person:
                        kind = "cross_year"
                    else:
                        continue  # same town, same year: the natural key already guards it
                    a, b = (x, y) if x["uuid"] <= y["uuid"] else (y, x)
                    d, k = decisions.get((led.id, a["uuid"], b["uuid"]), (None, None))
                    first = min((a, b), key=lambda r: (created[r["uuid"]] or "", r["uuid"]))["uuid"] \
                        if national else None
                    out.append(DuplicatePair(led.id, key if show_ids else None, a, b, kind, d, k, first))
    return out


def decide(store: Store, ledger_id: str, uuid_a: str, uuid_b: str, decision: str, *,
           keep: str | None = None) -> None:
    """Record "same" (keep one of the two) or "different" for a pair.

    :raises StoreError: for an unknown decision or a ``keep`` that is not in the pair.
    """
    store.require("review")
    a, b = sorted_pair(uuid_a, uuid_b)
    records = store.ledger(ledger_id)
    if records.get(a) is None or records.get(b) is None:   # unknown, or outside the user's unit
        raise StoreError("没有这一对记录（或不在当前用户负责的单位内）；请先用 duplicates 列出再核实", 1)
    if decision not in ("same", "different"):
        raise StoreError("请选择“同一人，保留一条”或“不是重复”", 1)
    if decision == "same" and keep not in (a, b):
        raise StoreError("请指明保留哪一条记录", 1)
    with store.transaction():
        store.conn.execute(
            "INSERT OR REPLACE INTO duplicate_reviews (ledger, uuid_a, uuid_b, decision, keep, reviewer, "
            "decided) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ledger_id, a, b, decision, keep if decision == "same" else None,
             store.actor, now_iso()))
