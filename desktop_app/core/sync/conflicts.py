"""Open conflicts: two sites changed the same field without seeing each other's edit.

The winner (largest clock stamp, ties by origin) is the value; the losing value waits
here for a reviewer, who keeps one. The resolution is a new change covering every
version involved, so it travels in packages and closes the conflict everywhere.

The queue is the reviewers' (审核员, 管理员; for a user bound to a unit, the conflicts of
that unit's rows): another role finds it empty, and its values are as the session's
policy shows them (:mod:`~desktop_app.core.store.policy`) — a window holds them as the
role may (masking them on screen until an audited reveal), the command line prints them
masked; a conflict about a person of the person master is not named by the person's id
(derived from the ID number) unless revealed::

    >>> from desktop_app.core.store.policy import Policy
    >>> _shown(Policy("审核员"), None, "persons", "phone", "13812341234")
    '138****1234'
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..store.merge import SCOPE, load_losers, refresh_conflicts
from ..store.policy import Policy, policy_for
from ..store.versions import RowVersions, now_iso
from ..store.writes import Writer
from .peers import record_specs

if TYPE_CHECKING:
    from ..store.database import Store


def list_conflicts(store: Store, *, policy: Policy | None = None) -> list[dict]:
    """The open conflicts, with both values side by side, as ``policy`` shows them
    (default: as a window holds them, :meth:`Policy.for_screen`); empty for a role that
    may not review them, and only those of the user's unit.

    Each carries ``parties``: the units whose edits disagree (the unit of the install that
    wrote the current value and of the one that wrote the losing value, plus the row's
    own unit) — so a dispute between two towns about one person is theirs, whichever
    edit happened to win.
    """
    session_policy = policy_for(store)
    if not session_policy.may("review"):
        return []
    policy = policy or session_policy.for_screen()
    specs = record_specs(store)
    conflicts = store.conn.execute(
        "SELECT id, tbl, uuid, field, stamp, origin, value, detected FROM conflicts ORDER BY id").fetchall()
    rows: dict[str, dict[str, dict]] = {}
    for tbl in {c[1] for c in conflicts if c[1] in specs}:
        uuids = sorted({c[2] for c in conflicts if c[1] == tbl})
        for start in range(0, len(uuids), 500):
            chunk = uuids[start:start + 500]
            cur = store.conn.execute(f"SELECT * FROM [{tbl}] WHERE uuid IN ({','.join('?' * len(chunk))})",
                                     chunk)
            names = [d[0] for d in cur.description]
            rows.setdefault(tbl, {}).update({r[0]: dict(zip(names, r)) for r in cur})
    node_org = dict(store.conn.execute("SELECT node, org FROM peers"))
    node_org[store.node.id] = store.node.org
    out = []
    for cid, tbl, uid, fld, stamp, origin, value, detected in conflicts:
        spec, led = specs.get(tbl, (None, None))
        current = rows.get(tbl, {}).get(uid, {})
        col = fld.split(":", 1)[1] if fld.startswith(("_deleted:", SCOPE)) else fld
        label = (led.field(col).label if led is not None and led.has_field(col) else
                 {"_deleted": "删除", "org": "所属单位"}.get(col, col))
        # scope: an edit by a unit in whose scope the person has no row, held (never applied)
        kind = "delete" if fld.startswith("_deleted:") else "scope" if fld.startswith(SCOPE) else "field"
        theirs = json.loads(value) if value else None
        if kind != "delete" and (theirs == current.get(col) or (tbl == "persons" and col == "org")):
            continue  # the same value typed at two sites, or where a person was first seen: no dispute
        if not session_policy.within(current.get("org")):
            continue  # a row of a unit outside the user's
        versions = RowVersions.decode(current["_versions"]) if current.get("_versions") else None
        winner = versions.get("_deleted" if kind == "delete" else col).origin if versions else None
        parties = {node_org.get(origin), node_org.get(winner), current.get("org")} - {None}
        person = tbl == "persons"
        out.append({"id": cid, "ledger": led.id if led is not None else tbl,
                    "uuid": uid if not person or policy.shows_person_ids() else None, "field": col,
                    "org": current.get("org"), "parties": sorted(parties),
                    "label": label, "kind": kind, "mine": _shown(policy, led, tbl, col, current.get(col)),
                    "theirs": _shown(policy, led, tbl, col, theirs), "deleted": bool(current.get("_deleted")),
                    "theirs_origin": origin, "theirs_stamp": stamp, "detected": detected})
    return out


def _shown(policy: Policy, led, tbl: str, col: str, value):
    """A value of a conflict as ``policy`` shows it (``led`` None: the person master)."""
    if led is not None:
        return policy.value(led, col, value) if led.has_field(col) else value
    return policy.value(None, col, value) if tbl == "persons" else value


def resolve_conflict(store: Store, conflict_id: int, keep: str) -> dict:
    """Resolve one conflict: ``keep`` is "mine" (the current value) or "theirs" (the losing one).

    The resolution is a new change covering every version involved, so it travels in
    packages and closes the conflict everywhere.
    """
    store.require("review")
    row = store.conn.execute("SELECT tbl, uuid, field FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
    if row is None:
        raise StoreError(f"没有编号为 {conflict_id} 的冲突（可能已处理）", 1)
    if keep not in ("mine", "theirs"):
        raise StoreError("请选择保留 mine（本机的值）或 theirs（对方的值）", 1)
    tbl, uid, fld = row
    specs = record_specs(store)
    spec, led = specs[tbl]
    cols = ["uuid", *spec.all_columns[1:]]
    current = dict(zip(cols, store.conn.execute(
        f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{tbl}] WHERE uuid = ?", (uid,)).fetchone()))
    if not policy_for(store).within(current.get("org")):
        raise StoreError(f"没有编号为 {conflict_id} 的冲突（可能已处理）", 1)
    losers = load_losers(store.conn, tbl, [uid]).get(uid, {})
    rv = RowVersions.decode(current["_versions"])
    with store.transaction():
        writer = Writer(store, source="screen:conflicts")
        if fld.startswith(SCOPE):
            # an edit held for review: taking it is a new local edit (it travels); either way it goes
            col = fld[len(SCOPE):]
            if keep == "theirs":
                value = json.loads(store.conn.execute("SELECT value FROM conflicts WHERE id = ?",
                                                      (conflict_id,)).fetchone()[0] or "null")
                writer.update(spec, current, {col: value}, action="resolve")
            store.conn.execute("DELETE FROM conflicts WHERE id = ?", (conflict_id,))
            return {"id": conflict_id, "kept": keep}
        if fld.startswith("_deleted:"):
            # keep mine = stay deleted (a delete covering everything); theirs = bring the row back
            cover = {"_deleted": [rv.get(c) for c in spec.versioned] +
                     [v for ls in losers.values() for v, _ in ls]}
            writer.update(spec, current, {"_deleted": 1 if keep == "mine" else 0}, cover=cover,
                          action="resolve")
        else:
            leaves = losers.get(fld, [])
            theirs = next((x for v, x in leaves if v.key == tuple(store.conn.execute(
                "SELECT stamp, origin FROM conflicts WHERE id = ?", (conflict_id,)).fetchone())), None)
            value = current[fld] if keep == "mine" else theirs
            writer.update(spec, current, {fld: value}, cover={fld: [v for v, _ in leaves]},
                          action="resolve")
        refreshed = dict(zip(cols, store.conn.execute(
            f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{tbl}] WHERE uuid = ?", (uid,)).fetchone()))
        refresh_conflicts(store.conn, spec, refreshed, now_iso())
    return {"id": conflict_id, "kept": keep}
