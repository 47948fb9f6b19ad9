"""The district's submission board: for each town, what arrived, what is missing, what is late.

The schedule is a district setting: packages are due every month (or quarter)
by a day of the month (default: monthly, by the 5th). A due date is met when a
package from the town arrived after the previous due date and by this one; the
latest due date not met makes the town overdue::

    >>> due_dates(dt.date(2024, 3, 20), "month", 5, 2024)
    [datetime.date(2024, 1, 5), datetime.date(2024, 2, 5), datetime.date(2024, 3, 5)]
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..sync.conflicts import list_conflicts
from ..sync.incoming import gaps
from ..sync.status import ranges_text, spaced_fingerprint
from ..sync.trust import pending_peers

if TYPE_CHECKING:
    from ..store.database import Store

PERIODS = {"month": 1, "quarter": 3}


def due_dates(today: dt.date, period: str, due_day: int, year: int) -> list[dt.date]:
    """The due dates from the start of the plan year up to ``today`` (the last 12 at most)."""
    step = PERIODS[period]
    out = []
    y, m = year, 1
    while True:
        day = dt.date(y, m, min(due_day, 28))
        if day > today:
            return out[-12:]
        out.append(day)
        m += step
        if m > 12:
            y, m = y + 1, m - 12


def schedule(store: Store) -> tuple[str, int]:
    return store.setting("schedule_period", "month"), int(store.setting("schedule_due_day", "5"))


def set_schedule(store: Store, period: str, due_day: int) -> None:
    """Change the submission schedule (a district setting)."""
    store.require("admin")
    if period not in PERIODS or not 1 <= int(due_day) <= 28:
        raise StoreError("报送周期应为 month（每月）或 quarter（每季度），截止日为 1–28 日", 1)
    store.set_settings({"schedule_period": period, "schedule_due_day": str(int(due_day))})


@dataclass
class VillageLine:
    org: str
    name: str
    rows: int
    last_change: str | None


@dataclass
class BoardLine:
    org: str
    name: str
    registered: bool
    last_received: str | None = None
    last_file: str | None = None
    last_seq: int | None = None
    packages: int = 0
    gaps: list[str] = field(default_factory=list)
    due: list[str] = field(default_factory=list)         # due dates so far
    overdue: list[str] = field(default_factory=list)     # due dates missed
    conflicts: int = 0
    rejected: int = 0
    villages: list[VillageLine] = field(default_factory=list)
    held: int = 0                                        # its packages held (unconfirmed key, clock ahead)
    pending: str | None = None                           # a profile waiting for its fingerprint check
    history: list[str] = field(default_factory=list)     # old PCs replaced (已更换电脑), their chains ended

    @property
    def status(self) -> str:
        """red (overdue, gaps, never registered), amber (conflicts, rejected rows, held
        packages, a key waiting for its check), green."""
        if not self.registered or self.overdue or self.gaps:
            return "red"
        if self.conflicts or self.rejected or self.held or self.pending:
            return "amber"
        return "green"

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "villages"}
        out["villages"] = [v.__dict__ for v in self.villages]
        out["status"] = self.status
        return out


def submission_board(store: Store, today: dt.date | None = None) -> list[BoardLine]:
    """One line per town below this install (the district), with its villages."""
    today = today or dt.date.today()
    tree = store.orgs
    period, due_day = schedule(store)
    year = store.catalog.plan_year
    dues = due_dates(today, period, due_day, year)
    nodes = {org: node for node, org in store.conn.execute(
        "SELECT node, org FROM peers WHERE status = 'active'")}
    parties = [c["parties"] for c in list_conflicts(store)]
    waiting = pending_peers(store)
    villages = _village_rows(store)
    lines = []
    for town in tree.children(store.node.org):
        line = BoardLine(town.code, town.name, town.code in nodes)
        node = nodes.get(town.code)
        received = []
        old = store.conn.execute("SELECT node FROM peers WHERE org = ? AND replaced_by IS NOT NULL ORDER BY added",
                                 (town.code,)).fetchall()
        for (old_node,) in old:   # the old PCs' packages still count as the town's submissions
            seqs = [n for (n,) in store.conn.execute("SELECT seq FROM received WHERE source = ? ORDER BY seq",
                                                     (old_node,))]
            line.history.append(f"已更换电脑：原电脑已收到第 {ranges_text(seqs) or '—'} 号数据包，其后的编号不再报缺")
        for n in [o for (o,) in old] + ([node] if node else []):
            received += store.conn.execute(
                "SELECT handled, file, seq_to, summary FROM packages WHERE direction = 'in' AND source = ? "
                "ORDER BY handled", (n,)).fetchall()
        if node:
            line.gaps = gaps(store, node, town.name)
        line.held = store.conn.execute("SELECT COUNT(*) FROM held_packages WHERE source_org = ?",
                                       (town.code,)).fetchone()[0]
        pending = next((p for p in waiting if p.org == town.code), None)
        if pending is not None:
            line.pending = f"{pending.replaces or '新单位'}待确认指纹（{spaced_fingerprint(pending.fingerprint)}）"
        line.packages = len(received)
        if received:
            line.last_received, line.last_file, line.last_seq = received[-1][:3]
        for *_, summary in received:
            try:
                line.rejected += int((json.loads(summary or "{}") or {}).get("rejected", 0))
            except (ValueError, AttributeError, TypeError):
                pass
        times = [dt.datetime.fromisoformat(h).date() for h, *_ in received]
        previous = dt.date.min
        for due in dues:
            line.due.append(due.isoformat())
            if not any(previous < t <= due for t in times):
                line.overdue.append(due.isoformat())
            previous = due
        # the open conflicts the town is a party to (its edit is one of the two that disagree)
        line.conflicts = sum(1 for p in parties if any(o.startswith(town.code) for o in p))
        line.villages = [VillageLine(v.code, v.name, *villages.get(v.code, (0, None)))
                         for v in tree.children(town.code)]
        lines.append(line)
    return lines


def _village_rows(store: Store) -> dict[str, tuple[int, str | None]]:
    """Per unit: its live rows in every ledger and their latest change — one pass per ledger
    (grouped by unit), not one query per village and ledger."""
    out: dict[str, tuple[int, str | None]] = {}
    for led in store.catalog.ledgers:
        for org, n, latest in store.conn.execute(
                f"SELECT org, COUNT(*), MAX(_updated) FROM [{led.table}] WHERE +_deleted = 0 GROUP BY org"):
            rows, last = out.get(org, (0, None))
            out[org] = (rows + n, latest if latest and (last is None or latest > last) else last)
    return out
