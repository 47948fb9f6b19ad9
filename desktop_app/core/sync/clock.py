"""This install's clock against its PC's date: checked before a package is made, and
repaired by a 管理员 when a stamp from the future got into the store.

A receiver holds a package whose stamps lie more than ``MAX_SKEW_MS`` ahead of its
own clock (:mod:`.held`), so a sender whose date is wrong is told before it exports
(:func:`check_clock`): its date is *earlier* than data it already wrote or received
(the store's clock is ahead of the PC by more than the bound), or *later* than the
newest data it ever received by more than :data:`STALE_MS` (a PC set to 2099).

:func:`clock_problem` is the same check as a sentence (or None), for the sync centre
and after a restore: a backup made while the store was poisoned brings the clock
back, and the next export says so.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..store.versions import MAX_SKEW_MS, RowVersions, Version, stamp_ms
from ..store.writes import Writer
from .peers import record_specs

if TYPE_CHECKING:
    from ..store.database import Store

STALE_MS = 366 * 86_400_000     # the PC's date this far after the newest data received: wrong
NEWEST_RECEIVED = "newest_received"   # settings: the newest stamp received in a package


def _days(ms: int) -> str:
    return f"约 {ms // 86_400_000} 天" if ms >= 2 * 86_400_000 else f"约 {max(ms // 3_600_000, 1)} 小时"


def _date(stamp: int) -> str:
    return dt.datetime.fromtimestamp(min(stamp_ms(stamp), 4102444800000) / 1000).strftime("%Y-%m-%d")


def clock_problem(store: Store) -> str | None:
    """Why this PC's date does not fit the store's data (Chinese), or None."""
    wall = int(store.clock.wall() * 1000)
    today = dt.datetime.fromtimestamp(wall / 1000).strftime("%Y-%m-%d")
    ahead = stamp_ms(store.clock.last) - wall
    if ahead > MAX_SKEW_MS:
        return (f"本机日期（{today}）比上次收到或写入的数据（{_date(store.clock.last)}）早{_days(ahead)}，"
                "请先校正电脑日期。如果电脑日期没有错，说明本机曾收到带未来时间戳的数据，"
                "请管理员运行“修复时钟”（repair-clock）")
    newest = int(store.setting(NEWEST_RECEIVED, "0") or 0)
    behind = wall - stamp_ms(newest)
    if newest and behind > STALE_MS:
        return (f"本机日期（{today}）比上次收到的数据（{_date(newest)}）晚{_days(behind)}，请先校正电脑日期")
    return None


def check_clock(store: Store) -> None:
    """Refuse to make a package while this PC's date is wrong (see the module's notes).

    :raises StoreError: (exit 1) naming the date and what to do.
    """
    problem = clock_problem(store)
    if problem:
        raise StoreError(problem + "；数据包没有生成", 1)


def note_received(store: Store, newest: int) -> None:
    """Remember the newest stamp received (inside the import's transaction)."""
    if newest > int(store.setting(NEWEST_RECEIVED, "0") or 0):
        store.set_setting(NEWEST_RECEIVED, str(newest))


def repair_clock(store: Store) -> dict:
    """Reset a poisoned store's clock to this PC's date (管理员), in one transaction.

    Every field version (and every losing version kept in the conflicts queue) whose
    stamp, or whose record of what its writer had seen, lies beyond this PC's clock
    bound (wall + ``MAX_SKEW_MS``) is rewritten: its value stays, and it gets a fresh
    stamp of this install with the seen-entries that were within the bound. The row
    goes into the change log, so the next package carries it: **peers see the
    rewritten values as new versions of this install** and take them (a peer that
    still holds the future stamps itself needs the same repair). The clock is then
    set to now, or to the newest stamp kept in the store if that is later (within the
    bound): an edit made after the repair is newer than every version kept here. Audited. Returns ``{"rows": n, "conflicts": n, "clock_before", "clock_after"}``
    (clock values as dates).

    :raises PermissionDenied: for a role other than 管理员.
    """
    store.require("admin")
    bound = store.clock.bound()
    before = store.clock.last
    conn = store.conn
    rows = conflicts = 0
    writer = Writer(store, source="repair-clock")
    with store.transaction():
        me = store.node.id

        def bad(v: Version) -> bool:
            return v.stamp > bound or any(s > bound for s in v.seen.values())

        # the clock goes back only as far as the newest stamp that stays (within the bound):
        # an edit made after the repair must still be newer than every version kept here
        highest, broken = 0, []
        for tbl in record_specs(store):
            for uid, text in conn.execute(f"SELECT uuid, _versions FROM [{tbl}]").fetchall():
                rv = RowVersions.decode(text)
                versions = [rv.base, *rv.fields.values()]
                if any(bad(v) for v in versions):
                    broken.append((tbl, uid, rv))
                highest = max([highest, *(s for v in versions for s in v.vector().values() if s <= bound)])
        store.clock.last = highest
        stamp = store.clock.tick()

        def fresh(v: Version) -> Version:
            seen = {o: s for o, s in v.vector().items() if s <= bound and o != me}
            return Version(stamp, me, seen)

        log = []
        for tbl, uid, rv in broken:
            fixed = RowVersions(fresh(rv.base) if bad(rv.base) else rv.base,
                                {k: fresh(v) if bad(v) else v for k, v in rv.fields.items()})
            conn.execute(f"UPDATE [{tbl}] SET _versions = ? WHERE uuid = ?", (fixed.encode(), uid))
            log.append((tbl, uid, stamp))
            rows += 1
        for cid, version in conn.execute("SELECT id, version FROM conflicts").fetchall():
            v = Version.decode(json.loads(version))
            if bad(v):   # a losing value keeps waiting for its reviewer, under a stamp of its own
                new = Version(store.clock.tick(), me, fresh(v).seen)
                conn.execute("UPDATE conflicts SET stamp = ?, origin = ?, version = ? WHERE id = ?",
                             (new.stamp, me, json.dumps(new.encode()), cid))
                conflicts += 1
        store.conn.executemany("INSERT INTO change_log (tbl, uuid, stamp) VALUES (?, ?, ?)", log)
        if int(store.setting(NEWEST_RECEIVED, "0") or 0) > bound:
            store.set_setting(NEWEST_RECEIVED, str(stamp))
        writer.note("repair_clock", detail={"rows": rows, "conflicts": conflicts, "clock_before": _date(before)})
    return {"rows": rows, "conflicts": conflicts, "clock_before": _date(before),
            "clock_after": _date(store.clock.last)}
