"""Merging one row that arrived in a package into the local row, field by field.

Every field keeps the *leaves* of its history: the versions no other known
version covers. Normally that is one version (the value); two sites editing
the same field without seeing each other's edit leave two, and the field has
a conflict: the winner (largest clock stamp, ties by origin) is the value, the
losers wait in the ``conflicts`` table for a reviewer. Arrival order does not
matter, because the leaves of a set of versions do not depend on it::

    >>> from desktop_app.core.store.versions import Version, successor
    >>> a = Version(10, "A")
    >>> b, c = successor(20, "B", [a]), successor(15, "C", [a])
    >>> merge_leaves([(a, "x")], b, "y")
    ([(Version(stamp=20, origin='B', seen={'A': 10}), 'y')], True)
    >>> leaves, _ = merge_leaves([(b, "y")], c, "z")
    >>> [v.origin for v, _ in leaves]        # concurrent: both kept, B wins (larger stamp)
    ['B', 'C']

A delete covers every field version of the row as the deleter saw it; an edit
the delete had not seen is concurrent with it and is listed as a conflict of
the row (``field = "_deleted:<field>"``) while the row stays deleted.

An edit of a person a package's sender may not make (the person has no row in its
scope) is never merged: it waits as a ``_scope:<field>`` conflict (:func:`hold_edit`) until a
reviewer takes it or drops it; it is not a leaf, so it never wins a later merge.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .schema import TableSpec
from .versions import RowVersions, Version

Leaf = tuple[Version, object]
SCOPE = "_scope:"     # conflicts field prefix of an edit held for review (not a leaf)


def merge_leaves(leaves: list[Leaf], incoming: Version, value) -> tuple[list[Leaf], bool]:
    """Add one incoming version to a field's leaves. Returns (new leaves winner first,
    whether anything changed). An incoming version some leaf covers is old news."""
    if any(v.covers(incoming) for v, _ in leaves):
        return sort_leaves(leaves), False
    kept = [(v, x) for v, x in leaves if not incoming.covers(v)]
    return sort_leaves(kept + [(incoming, value)]), True


def sort_leaves(leaves: list[Leaf]) -> list[Leaf]:
    return sorted(leaves, key=lambda leaf: leaf[0].key, reverse=True)


@dataclass
class RowState:
    """A row as the merge sees it: values, versions and each field's losing leaves."""

    values: dict
    versions: RowVersions
    losers: dict[str, list[Leaf]] = field(default_factory=dict)

    def leaves(self, col: str) -> list[Leaf]:
        return [(self.versions.get(col), self.values.get(col))] + self.losers.get(col, [])


@dataclass
class MergeOutcome:
    status: str            # new / updated / deleted / unchanged / older
    state: RowState
    changed: set[str]      # columns whose value changed


def merge_row(spec: TableSpec, local: RowState | None, incoming: RowState) -> MergeOutcome:
    """Merge ``incoming`` (a row with its versions and losers) into ``local`` (or None)."""
    if local is None:
        status = "deleted" if incoming.values.get("_deleted") else "new"
        return MergeOutcome(status, incoming, set(spec.versioned))
    values = dict(local.values)
    versions = RowVersions(local.versions.base, dict(local.versions.fields))
    losers = {k: list(v) for k, v in local.losers.items()}
    changed: set[str] = set()
    any_new = any_old = False
    for col in spec.versioned:
        leaves = local.leaves(col)
        for version, value in incoming.leaves(col):
            leaves, moved = merge_leaves(leaves, version, value)
            if moved:
                any_new = True
            elif not any(v.key == version.key for v, _ in leaves):
                any_old = True
        winner_version, winner_value = leaves[0]
        if winner_value != values.get(col) or winner_version.key != versions.get(col).key:
            if winner_value != values.get(col):
                changed.add(col)
            values[col] = winner_value
            versions.set(col, winner_version)
        if len(leaves) > 1:
            losers[col] = leaves[1:]
        else:
            losers.pop(col, None)
    state = RowState(values, versions, losers)
    if not any_new:
        return MergeOutcome("older" if any_old else "unchanged", state, set())
    if "_deleted" in changed and values.get("_deleted"):
        status = "deleted"
    else:
        status = "updated"
    return MergeOutcome(status, state, changed)


def delete_conflicts(spec: TableSpec, state: RowState) -> dict[str, list[Leaf]]:
    """Edits a winning delete had not seen: ``{"_deleted:<field>": leaves}``."""
    if not state.values.get("_deleted"):
        return {}
    delete = state.versions.get("_deleted")
    out: dict[str, list[Leaf]] = {}
    for col in spec.versioned:
        if col == "_deleted":
            continue
        unseen = [leaf for leaf in state.leaves(col) if not delete.covers(leaf[0])]
        if unseen:
            out[f"_deleted:{col}"] = unseen
    return out


# ---------------------------------------------------------------- the conflicts table

def load_losers(conn, tbl: str, uuids: list[str]) -> dict[str, dict[str, list[Leaf]]]:
    """Open losing leaves of these rows: {uuid: {field: [(version, value)]}} (not the
    ``_deleted:`` entries, which are derived)."""
    out: dict[str, dict[str, list[Leaf]]] = {}
    for start in range(0, len(uuids), 500):
        chunk = uuids[start:start + 500]
        for uid, fld, version, value in conn.execute(
                f"SELECT uuid, field, version, value FROM conflicts WHERE tbl = ? AND uuid IN "
                f"({','.join('?' * len(chunk))}) AND field NOT LIKE '\\_deleted:%' ESCAPE '\\' "
                "AND field NOT LIKE '\\_scope:%' ESCAPE '\\'",
                [tbl, *chunk]):
            out.setdefault(uid, {}).setdefault(fld, []).append(
                (Version.decode(json.loads(version)), json.loads(value)))
    return out


def save_conflicts(conn, tbl: str, uid: str, spec: TableSpec, state: RowState, now: str) -> int:
    """Make the conflicts table hold exactly this row's losing leaves. Returns how many
    new ones a person must look at: a loser whose value equals the winner's (two sites
    typing the same thing) is kept, so every install ends with the same leaves, but it
    is not a disagreement and is neither counted nor listed."""
    wanted: dict[tuple, tuple] = {}
    for col, leaves in list(state.losers.items()) + list(delete_conflicts(spec, state).items()):
        for version, value in leaves:
            wanted[(col, version.stamp, version.origin)] = (version, value)
    have = {(f, s, o) for f, s, o in conn.execute(
        "SELECT field, stamp, origin FROM conflicts WHERE tbl = ? AND uuid = ? AND field NOT LIKE "
        "'\\_scope:%' ESCAPE '\\'", (tbl, uid))}
    gone = have - set(wanted)
    if gone:
        conn.executemany("DELETE FROM conflicts WHERE tbl = ? AND uuid = ? AND field = ? AND "
                         "stamp = ? AND origin = ?", [(tbl, uid, *k) for k in gone])
    new = [k for k in wanted if k not in have]
    winners = {col: state.values.get(col) for col in spec.versioned}
    shown = sum(1 for k in new if k[0].startswith("_deleted:") or wanted[k][1] != winners.get(k[0]))
    conn.executemany(
        "INSERT INTO conflicts (tbl, uuid, field, stamp, origin, version, value, detected) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(tbl, uid, k[0], k[1], k[2], json.dumps(wanted[k][0].encode()),
          json.dumps(wanted[k][1], ensure_ascii=False), now) for k in new])
    return shown


def refresh_conflicts(conn, spec: TableSpec, row: dict, now: str) -> None:
    """After a local change to ``row``: drop the losers its new versions cover and
    re-derive the edits a delete had not seen."""
    rv = RowVersions.decode(row["_versions"])
    losers = load_losers(conn, spec.table, [row["uuid"]]).get(row["uuid"], {})
    kept = {col: [(v, x) for v, x in leaves if not rv.get(col).covers(v)] for col, leaves in losers.items()}
    state = RowState({c: row.get(c) for c in spec.versioned}, rv, {k: v for k, v in kept.items() if v})
    save_conflicts(conn, spec.table, row["uuid"], spec, state, now)


def hold_edit(conn, tbl: str, uid: str, spec: TableSpec, local: dict, incoming: RowState, now: str) -> int:
    """Keep the fields of ``incoming`` that differ from ``local`` (a delete included) as
    ``_scope:<field>`` conflicts, without changing the row. Returns how many were added."""
    added = 0
    for col in spec.versioned:
        value = incoming.values.get(col)
        if col == "org" or value == local.get(col):
            continue
        version = incoming.versions.get(col)
        cur = conn.execute(
            "INSERT OR IGNORE INTO conflicts (tbl, uuid, field, stamp, origin, version, value, detected) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (tbl, uid, SCOPE + col, version.stamp, version.origin, json.dumps(version.encode()),
             json.dumps(value, ensure_ascii=False), now))
        added += cur.rowcount
    return added
