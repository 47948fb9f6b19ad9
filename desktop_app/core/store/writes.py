"""The one place rows are written: values, per-field versions, change log, audit.

A :class:`Writer` is made for one operation (who, from where, which batch) and
used inside ``store.transaction()``. Bulk inserts go through ``executemany``;
every row written gets one change-log entry and one audit entry.

An insert's audit entry records who, when and from where, but not the values:
those are the row's first state, which :func:`history` rebuilds from the
current row and the ``before`` values of every later change. (Writing them
twice doubled the cost of a bulk insert.)
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from .merge import refresh_conflicts
from .schema import TableSpec
from .versions import RowVersions, Version, base_json, now_iso, successor

if TYPE_CHECKING:
    from .database import Store


def dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def new_uuid() -> str:
    """A time-ordered random UUID (version 7, RFC 9562) for a new row.

    Rows made one after another get increasing ids, so a bulk insert appends to
    the uuid indexes instead of writing all over them (a 100,000-row import
    spends much less time in SQLite), and ids still never collide across installs.
    """
    global _last_ms, _seq
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms, _seq = _last_ms, _seq + 1
        if _seq > 0xFFF:
            ms, _seq = ms + 1, 0
    else:
        _seq = 0
    _last_ms = ms
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (_seq << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_last_ms, _seq = 0, 0


@dataclass
class MergedRow:
    """One row as a package merge decided it; ``before`` is None for a new row, else the
    changed fields' values before the merge."""

    uuid: str
    values: dict
    versions: str
    missing: list[str]
    before: dict | None = None
    created: str | None = None
    origin: str = ""


class Writer:
    def __init__(self, store: Store, *, source: str = "cli", batch: str | None = None):
        self.store = store
        self.user = store.actor       # who acts is the logged-in session, never an argument
        self.source = source
        self.batch = batch
        self.unit = store.actor_unit
        self.node = store.node.id

    # ------------------------------------------------------------ inserts
    def insert(self, spec: TableSpec, rows: list[dict], *, stamp: int | None = None,
               incomplete: Iterable[list[str]] | None = None, ts: str | None = None) -> list[str]:
        """Insert new rows (dicts of column → value; ``uuid`` optional). Returns uuids.
        ``ts``: the time they are written at (one batch written in parts: the same for all)."""
        if not rows:
            return []
        stamp = stamp or self.store.clock.tick()
        ts = ts or now_iso()
        versions = base_json(stamp, self.node)
        data_cols = tuple(spec.columns) + spec.person_columns
        cols = ("uuid",) + data_cols + ("_deleted", "_incomplete", "_missing", "_created",
                                        "_updated", "_origin", "_versions")
        missing_lists = list(incomplete) if incomplete is not None else [[] for _ in rows]
        uuids = [row.get("uuid") or new_uuid() for row in rows]
        table, node = spec.table, self.node
        values = (
            (uid, *map(row.get, data_cols), 0, 1 if missing else 0,
             "、".join(missing) if missing else None, ts, ts, node, versions)
            for uid, row, missing in zip(uuids, rows, missing_lists))
        conn = self.store.conn
        conn.executemany(f"INSERT INTO [{table}] ({','.join(f'[{c}]' for c in cols)}) "
                         f"VALUES ({','.join('?' * len(cols))})", values)
        head = (node, ts, stamp, self.user, self.unit, "insert", table)
        tail = (None, None, self.source, self.batch)
        self._log(((table, uid, stamp) for uid in uuids), (head + (uid,) + tail for uid in uuids))
        return uuids

    # ------------------------------------------------------------ updates
    def update(self, spec: TableSpec, current: dict, changes: dict, *,
               stamp: int | None = None, missing: list[str] | None = None,
               action: str = "update", cover: dict[str, list[Version]] | None = None) -> bool:
        """Apply ``changes`` (column → value) on top of the ``current`` row.

        Only values that differ are written; each gets a new version that
        covers the version it replaces (and, for a resolution, every version in
        ``cover``). Returns False when nothing changed.
        """
        changed = {c: v for c, v in changes.items() if current.get(c) != v}
        if not changed and not cover and (missing is None or _missing_same(current, missing)):
            return False
        stamp = stamp or self.store.clock.tick()
        rv = RowVersions.decode(current["_versions"])
        for col in set(changed) | set(cover or {}):
            replaced = [rv.get(col)] + list((cover or {}).get(col, []))
            rv.set(col, successor(stamp, self.node, replaced))
        ts = now_iso()
        sets = {**changed, "_versions": rv.encode(), "_updated": ts}
        if missing is not None:
            sets["_incomplete"] = 1 if missing else 0
            sets["_missing"] = "、".join(missing) if missing else None
        assignments = ",".join(f"[{c}] = ?" for c in sets)
        self.store.conn.execute(f"UPDATE [{spec.table}] SET {assignments} WHERE uuid = ?",
                                (*sets.values(), current["uuid"]))
        before = {c: current.get(c) for c in changed}
        self._log([(spec.table, current["uuid"], stamp)],
                  [self._audit(action, spec.table, current["uuid"], before, changed, stamp, ts)])
        conn = self.store.conn
        if "_deleted" in changed or cover or conn.execute(
                "SELECT 1 FROM conflicts WHERE tbl = ? AND uuid = ? LIMIT 1",
                (spec.table, current["uuid"])).fetchone():
            cols = ("uuid",) + spec.versioned + ("_versions",)
            row = dict(zip(cols, conn.execute(
                f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{spec.table}] WHERE uuid = ?",
                (current["uuid"],)).fetchone()))
            refresh_conflicts(conn, spec, row, ts)
        return True

    # ------------------------------------------------------------ merged rows
    def merged(self, spec: TableSpec, rows: list[MergedRow], *, stamp: int) -> None:
        """Write rows merged from a package as they were merged (values and versions decided
        by :func:`~.merge.merge_row`): new rows inserted, known ones updated, one change-log
        and one ``merge`` audit entry each (with the values before and after for an update)."""
        if not rows:
            return
        ts, table = now_iso(), spec.table
        inserts = [r for r in rows if r.before is None]
        updates = [r for r in rows if r.before is not None]
        conn = self.store.conn
        versioned = spec.versioned
        if inserts:
            cols = ("uuid", *versioned, "_incomplete", "_missing", "_created", "_updated",
                    "_origin", "_versions")
            conn.executemany(
                f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) "
                f"VALUES ({','.join('?' * len(cols))})",
                [(r.uuid, *map(r.values.get, versioned), 1 if r.missing else 0,
                  "、".join(r.missing) or None, r.created or ts, ts, r.origin, r.versions)
                 for r in inserts])
        if updates:
            sets = ", ".join(f"[{c}] = ?" for c in (*versioned, "_incomplete", "_missing",
                                                     "_updated", "_versions"))
            conn.executemany(
                f"UPDATE [{table}] SET {sets} WHERE uuid = ?",
                [(*map(r.values.get, versioned), 1 if r.missing else 0,
                  "、".join(r.missing) or None, ts, r.versions, r.uuid) for r in updates])
        # a new row's entry carries no values (see the module's notes)
        head = (self.node, ts, stamp, self.user, self.unit, "merge", table)
        tail = (None, None, self.source, self.batch)
        self._log([(table, r.uuid, stamp) for r in rows],
                  [self._audit("merge", table, r.uuid, r.before, {c: r.values.get(c) for c in r.before},
                               stamp, ts) if r.before else head + (r.uuid,) + tail for r in rows])

    # ------------------------------------------------------------ notes
    def note(self, action: str, *, tbl: str | None = None, uid: str | None = None,
             detail: dict | None = None) -> None:
        """An audit entry that changes no row (reveal, export, print …)."""
        stamp = self.store.clock.tick()
        self._log([], [self._audit(action, tbl, uid, None, detail, stamp, now_iso())])

    # ------------------------------------------------------------ internals
    def _audit(self, action, tbl, uid, before, after, stamp, ts) -> tuple:
        return (self.node, ts, stamp, self.user, self.unit, action, tbl, uid,
                dumps(before) if before is not None else None,
                dumps(after) if after is not None else None, self.source, self.batch)

    def _log(self, log, audit) -> None:
        """Change-log and audit entries (lists or generators of tuples)."""
        conn = self.store.conn
        conn.executemany("INSERT INTO change_log (tbl, uuid, stamp) VALUES (?, ?, ?)", log)
        conn.executemany(
                "INSERT INTO audit (origin, ts, stamp, user, unit, action, tbl, uuid, before, "
            "after, source, batch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", audit)


def _missing_same(current: dict, missing: list[str]) -> bool:
    return (current.get("_missing") or "") == "、".join(missing)
