"""Progress of every indicator as of a date: target, achieved, rate, 序时进度, lag.

    >>> import datetime as dt
    >>> expected_rate(dt.date(2024, 7, 1), 2024)   # 183 of 366 days
    50.0
    >>> clamp_as_of(dt.date(2025, 3, 1), 2024)
    datetime.date(2024, 12, 31)

Only rows that are live (not deleted), complete (not 待补充) and whose event
date lies in the plan year on or before the as-of date count. Org codes are
hierarchical (village = town code + 3 digits), so a scope is a code prefix.

Targets: the plan's figure is the district's. Below the district (a town, a village)
an amount (:attr:`~desktop_app.core.catalog.model.Indicator.is_amount`: 3000 人,
12 个月) is judged only against the unit's own quota (目标分解, set by the district and
sent in its profile); without one the figure is :data:`UNSPLIT`: the unit's count with
no target, rate or lag. A level (a rate, a standard) holds for every unit as written.

Figures are worked out once per generation of the store (:mod:`.kept`): the dashboard,
the 全区进度 page, a report and an explanation asked for while nothing changed share one
piece of work (seconds at a million rows), each through its own session's policy.

The session's policy holds (:mod:`~desktop_app.core.store.policy`): a user bound to a
unit sees the progress of that unit (or of a unit under it), and the rows a report
names (a standard not met, the latest notes) show their values as the policy does.
"""
from __future__ import annotations

import calendar
import copy
import datetime as dt
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from ..catalog.choices import Choices, load_choices
from ..catalog.counting import counting_text, month_field
from ..catalog.model import Catalog, Indicator, Ledger
from ..catalog.orgs import OrgTree
from ..store.policy import Policy, policy_for
from ..store.query import counted_conds, joined
from .kept import kept, peek

VIOLATION_LIMIT = 200
_BELOW = {">=": "<", ">": "<=", "=": "<>", "<=": ">"}   # a value below the standard, by its comparator
UNSPLIT = "未分解"   # an amount the district has not split to this unit (``quota`` in JSON)


class _Judging(NamedTuple):
    """One standard judged in a pass shared with the ledger's other standards."""
    ind: Indicator
    cond: str            # its own conditions (beyond those the pass shares)
    cond_params: list
    col: str             # the value judged
    std: str             # the standard in force for the row's month
    std_params: list
    below: str           # the row is below the standard
    agg: str             # MIN, or MAX for a ceiling (<=)


def clamp_as_of(day: dt.date, plan_year: int) -> dt.date:
    return min(max(day, dt.date(plan_year, 1, 1)), dt.date(plan_year, 12, 31))


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def expected_rate(as_of: dt.date, plan_year: int) -> float:
    """序时进度: elapsed days (as-of day included) ÷ days in the plan year, in %."""
    as_of = clamp_as_of(as_of, plan_year)
    elapsed = (as_of - dt.date(plan_year, 1, 1)).days + 1
    return round(elapsed / days_in_year(plan_year) * 100, 1)


@dataclass
class OrgFigure:
    org: str
    name: str
    target: float | None
    achieved: float | None
    rate: float | None

    def to_json(self) -> dict:
        return {"org": self.org, "name": self.name, "target": self.target,
                "achieved": self.achieved, "rate": self.rate}


@dataclass
class IndicatorProgress:
    indicator: Indicator
    target: float | None
    achieved: float | None
    rate: float | None
    expected_rate: float | None
    lagging: bool | None
    met: bool | None
    by_org: list[OrgFigure] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    rows: int = 0
    counting: str = ""     # the counting rule in plain Chinese (with the district's choices)
    quota: float | str | None = None   # below the district: the unit's quota or UNSPLIT

    @property
    def unsplit(self) -> bool:
        """An amount the district has not split to this unit: no target, no verdict."""
        return self.quota == UNSPLIT

    def to_json(self) -> dict:
        ind = self.indicator
        out = {
            "id": ind.id, "name": ind.name, "project": ind.projects[0], "kind": ind.kind,
            "target": self.target, "unit": ind.unit, "comparator": ind.comparator,
            "units": list(ind.units), "achieved": self.achieved, "rate": self.rate,
            "expected_rate": self.expected_rate, "lagging": self.lagging, "met": self.met,
            "rows": self.rows, "quota": self.quota, "by_org": [o.to_json() for o in self.by_org],
        }
        if self.counting:
            out["counting"] = self.counting
        if self.violations:
            out["violations"] = self.violations
        if self.notes:
            out["notes"] = self.notes
        return out


@dataclass
class ProgressReport:
    as_of: dt.date
    scope: str
    expected_rate: float
    indicators: list[IndicatorProgress]

    def to_json(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "scope": self.scope,
                "expected_rate": self.expected_rate,
                "indicators": [i.to_json() for i in self.indicators]}

    def get(self, indicator_id: str) -> IndicatorProgress:
        return next(i for i in self.indicators if i.indicator.id == indicator_id)


def compute(store, as_of: dt.date | None = None, *, scope: str | None = None,
            indicators: list[str] | None = None) -> ProgressReport:
    """Progress of the plan for ``scope`` (default: the user's unit, or the install's org)
    as of a date.

    :raises PermissionDenied: ``scope`` outside the user's unit.
    """
    catalog: Catalog = store.catalog
    as_of = clamp_as_of(as_of or dt.date.today(), catalog.plan_year)
    policy = policy_for(store)
    scope = policy.scope(scope) or store.node.org
    chosen = [ind.id for ind in catalog.indicators if indicators is None or ind.id in indicators]
    whole = peek(store, ("progress", catalog.id, catalog.version, as_of, scope, None))
    if whole is not None:      # the whole plan's figures are kept: the ones asked for are in it
        by_id = {f.indicator.id: f for f in whole}
        worked = [by_id[i] for i in chosen]
    else:
        key = ("progress", catalog.id, catalog.version, as_of, scope,
               None if indicators is None else tuple(chosen))
        worked = kept(store, key, lambda: _worked(store, catalog, scope, as_of, chosen))
    figures = [_shown(policy, catalog, f) for f in copy.deepcopy(worked)]
    return ProgressReport(as_of, scope, expected_rate(as_of, catalog.plan_year), figures)


def _worked(store, catalog: Catalog, scope: str, as_of: dt.date, chosen: list[str]) -> list[IndicatorProgress]:
    """The figures of the indicators ``chosen`` (ids) before the policy shows them."""
    choices = load_choices(store)
    calc = _Calculator(store.conn, catalog, store.orgs, scope, as_of, store.quotas(), choices)
    inds = [catalog.indicator(i) for i in chosen]
    calc.prepare(inds)
    figures = []
    for ind in inds:
        if choices.units(ind) != ind.units:   # the district set the lead units
            ind = replace(ind, units=choices.units(ind))
        figure = calc.indicator(ind)
        figure.counting = counting_text(catalog, ind, choices)
        figure.quota = calc.quota(ind)
        figures.append(figure)
    return figures


def _shown(policy: Policy, catalog: Catalog, progress: IndicatorProgress) -> IndicatorProgress:
    """The rows an indicator's figure names (violations, notes) as the policy shows them."""
    if not (progress.violations or progress.notes):
        return progress
    led = catalog.ledger(progress.indicator.measure.ledger)
    title = led.title_field or led.fields[0].id
    field = progress.indicator.measure.field
    for v in progress.violations:
        v["name"] = policy.value(led, title, v["name"])
        if field and led.has_field(field):
            v["value"] = policy.value(led, field, v["value"])
    for note in progress.notes:
        for key in list(note):
            if led.has_field(key) and key != led.date_field:
                note[key] = policy.value(led, key, note[key])
    return progress


def _rate(achieved, target, comparator=">=") -> float | None:
    if achieved is None or not target:
        return None
    if comparator == "<=":
        return 100.0 if achieved <= target else round(target / achieved * 100, 1)
    return round(achieved / target * 100, 1)


def _met(achieved, target, comparator) -> bool | None:
    if achieved is None or target is None:
        return None
    return {">=": achieved >= target, ">": achieved > target, "=": achieved == target,
            "<=": achieved <= target}[comparator]


class _Calculator:
    def __init__(self, conn, catalog: Catalog, tree: OrgTree, scope: str, as_of: dt.date,
                 quotas: dict, choices: Choices | None = None):
        self.conn, self.catalog, self.tree = conn, catalog, tree
        self.scope, self.as_of, self.quotas = scope, as_of, quotas
        self.choices = choices or Choices()
        scope_org = tree.get(scope)
        self.level = level = scope_org.level if scope_org else "village"
        # rows are grouped by the child of the scope they sit under (town at the
        # district; the village itself, or the town's own rows, at a town)
        self.group_len = {"district": 9, "town": 12, "village": 12}[level]
        children = tree.children(scope) if level != "village" else []
        self.groups = [scope_org] if level == "village" else children
        self.expected = expected_rate(as_of, catalog.plan_year)
        self.judged: dict[str, tuple] = {}   # standards judged ahead, per ledger (:meth:`judge`)

    def prepare(self, inds: list[Indicator]) -> None:
        """Judge the standards among ``inds`` ahead, the standards of one ledger together."""
        by_ledger: dict[str, list[Indicator]] = {}
        for ind in inds:
            if ind.measure.method == "standard":
                by_ledger.setdefault(ind.measure.ledger, []).append(ind)
        for lid, group in by_ledger.items():
            self.judge(self.catalog.ledger(lid), group)

    # -- SQL pieces
    def _conds(self, led: Ledger, ind: Indicator) -> list[tuple[str, list]]:
        return counted_conds(self.catalog, led, ind, self.as_of, self.scope)

    def _filter(self, led: Ledger, ind: Indicator) -> tuple[str, list]:
        return joined(self._conds(led, ind))

    def _grouped(self, sql_expr: str, led: Ledger, ind: Indicator) -> tuple[object, dict, int]:
        """(total, per group, rows) of a figure that adds up across groups: one pass."""
        where, params = self._filter(led, ind)
        per, n = {}, 0
        for g, value, count in self.conn.execute(
                f"SELECT substr(org, 1, {self.group_len}) AS g, {sql_expr}, COUNT(*) "
                f"FROM [{led.table}] WHERE {where} GROUP BY g", params):
            per[g], n = value, n + count
        return sum(per.values()) if per else 0, per, n

    def _distinct(self, key_expr: str, led: Ledger, ind: Indicator) -> tuple[int, dict, int]:
        """(total, per group, rows) of ``COUNT(DISTINCT key)``, which does not add up across
        groups (one person in two towns), in one pass: the (group, key) pairs counted once,
        then per group and in all."""
        where, params = self._filter(led, ind)
        per, total, n = {}, 0, 0
        for g, value, count in self.conn.execute(
                f"WITH p AS MATERIALIZED (SELECT substr(org, 1, {self.group_len}) AS g, {key_expr} AS k, "
                f"COUNT(*) AS c FROM [{led.table}] WHERE {where} GROUP BY g, k) "
                "SELECT g, COUNT(k), SUM(c) FROM p GROUP BY g "
                "UNION ALL SELECT NULL, COUNT(DISTINCT k), NULL FROM p", params):
            if g is None:
                total = value
            else:
                per[g], n = value, n + count
        return total, per, n

    def _by_org(self, ind: Indicator, per: dict) -> list[OrgFigure]:
        """One figure per child of the scope, plus the scope's own rows (区本级/镇本级)."""
        codes = [o.code for o in self.groups]
        codes += sorted(c for c in per if c not in codes)
        out = []
        for code in codes:
            achieved = per.get(code, 0) if ind.kind != "qualitative" else None
            if isinstance(achieved, float):
                achieved = round(achieved, 6)
            target = self.quotas.get((ind.id, code))
            out.append(OrgFigure(code, self._name(code), target, achieved,
                                 _rate(achieved, target, ind.comparator)))
        return out

    def _name(self, code: str) -> str:
        org = self.tree.get(code)
        if org is None:
            return code
        if code == self.scope and org.level != "village":
            return f"{org.name}本级"
        return org.name

    def town_name(self, org: str) -> str:
        """The town (or the district itself) a row's unit sits in, by name."""
        code = org[:9]
        found = self.tree.get(code)
        return found.name if found else code

    # -- indicators
    def indicator(self, ind: Indicator) -> IndicatorProgress:
        led = self.catalog.ledger(ind.measure.ledger)
        method = getattr(self, f"_m_{ind.measure.method}")
        return method(ind, led)

    def target(self, ind: Indicator) -> float | None:
        """This scope's quota (目标分解) when the district set one; else the plan's target,
        except for an amount below the district (``None``: never the district's total)."""
        quota = self.quotas.get((ind.id, self.scope))
        if quota is not None:
            return quota
        return None if self.level != "district" and ind.is_amount else ind.target

    def quota(self, ind: Indicator) -> float | str | None:
        """Below the district: the scope's quota, or :data:`UNSPLIT` for an amount without
        one; ``None`` where the plan's own figure applies (the district, a level, a task)."""
        if self.level == "district":
            return None
        quota = self.quotas.get((ind.id, self.scope))
        if quota is not None:
            return quota
        return UNSPLIT if ind.is_amount else None

    def _cumulative(self, ind, achieved, per, n) -> IndicatorProgress:
        if isinstance(achieved, float):
            achieved = round(achieved, 6)
        target = self.target(ind)
        rate = _rate(achieved, target, ind.comparator)
        met = _met(achieved, target, ind.comparator)
        return IndicatorProgress(
            ind, target, achieved, rate, self.expected,
            lagging=None if target is None else (rate or 0) < self.expected and not met,
            met=met, by_org=self._by_org(ind, per), rows=n)

    def _m_count(self, ind, led):
        total, per, n = self._grouped("COUNT(*)", led, ind)
        return self._cumulative(ind, total, per, n)

    def _m_distinct(self, ind, led):
        col = ind.measure.field or (led.persons[0].column if led.persons else "uuid")
        total, per, n = self._distinct(f"[{col}]", led, ind)
        return self._cumulative(ind, total, per, n)

    def _m_households(self, ind, led):
        """户数: distinct households, a household counted by its key person (户主, the person
        column ``measure.field``); a row whose 户主 is not yet filled counts by its own
        person (the first person column: the disabled person) until it is."""
        key = f"COALESCE([{ind.measure.field}], [{led.persons[0].column}])"
        total, per, n = self._distinct(key, led, ind)
        return self._cumulative(ind, total, per, n)

    def _m_sum(self, ind, led):
        total, per, n = self._grouped(f"TOTAL([{ind.measure.field}])", led, ind)
        return self._cumulative(ind, total, per, n)

    def month_expr(self, led: Ledger) -> str:
        """SQL for the month (YYYY-MM) a row belongs to: its 所属月份 if the ledger keeps one,
        else the month of its event date."""
        mf = month_field(led)
        return f"substr([{(mf or led.field(led.date_field)).id}], 1, 7)"

    def standard_expr(self, ind: Indicator, led: Ledger) -> tuple[str, list]:
        """SQL for the standard in force for each row's month, and its parameters."""
        series = self.choices.schedule(ind)
        if len(series) == 1:
            return "?", [series[0][1]]
        month = self.month_expr(led)
        parts, params = [], []
        for start, value in reversed(series[1:]):
            parts.append(f"WHEN {month} >= ? THEN ?")
            params += [start, value]
        return f"(CASE {' '.join(parts)} ELSE ? END)", params + [series[0][1]]

    def in_force(self, ind: Indicator) -> float:
        """The standard in force in the as-of month."""
        return self.choices.standard_for(ind, f"{self.as_of:%Y-%m}")

    def value_expr(self, ind: Indicator) -> str:
        """SQL for the value a standard judges: the field, or the field per person (``per``:
        发放金额 ÷ 保障人数)."""
        m = ind.measure
        col = f"[{m.field}]"
        return f"({col} * 1.0 / NULLIF([{m.per}], 0))" if m.per else col

    def judge(self, led: Ledger, inds: list[Indicator]) -> None:
        """Judge the rows of the standards ``inds`` (all of ``led``) in one pass over the
        ledger: the conditions the indicators share filter the pass, each one's own
        conditions (its category …) apply inside its own aggregates, and the pass notes
        which rows are below a standard (their rowids) for :meth:`_rows_below` to read
        back. Read by :meth:`_m_standard`."""
        conds = [self._conds(led, ind) for ind in inds]
        common = [c for c in conds[0] if all(c in other for other in conds[1:])]
        parts = []
        for ind, own in zip(inds, conds):
            cond, cond_params = joined([c for c in own if c not in common])
            col, (std, std_params) = self.value_expr(ind), self.standard_expr(ind, led)
            parts.append(_Judging(ind, cond, cond_params, col, std, std_params,
                                  f"{col} {_BELOW[ind.comparator]} {std}", "MAX" if ind.comparator == "<=" else "MIN"))
        for p, (lowest, bad, n, per, below) in zip(parts, self._judged_groups(led, joined(common), parts)):
            rows = self._rows_below(led, p, below) if below else []
            self.judged[p.ind.id] = (lowest, bad, n, per, rows)

    def _judged_groups(self, led: Ledger, where: tuple[str, list], parts: list[_Judging]) -> list[tuple]:
        """Per standard: (lowest judged value, rows below, rows, {group: (lowest, below)},
        rowids below). The whole scope's figures follow from the groups' (every counted row
        sits in one group)."""
        cols, params = [], []
        for i, p in enumerate(parts):
            cols += [f"{p.agg}(CASE WHEN {p.cond} AND ({p.std} = ? OR {p.below}) THEN {p.col} END) AS low{i}",
                     f"TOTAL(CASE WHEN {p.cond} THEN {p.below} END) AS bad{i}",
                     f"COUNT(CASE WHEN {p.cond} THEN 1 END) AS n{i}",
                     f"group_concat(CASE WHEN {p.cond} AND {p.below} THEN rowid END) AS ids{i}"]
            params += [*p.cond_params, *p.std_params, self.in_force(p.ind), *p.std_params,   # low
                       *p.cond_params, *p.std_params,                                        # bad
                       *p.cond_params,                                                       # n
                       *p.cond_params, *p.std_params]                                        # ids
        names = ", ".join(f"low{i}, bad{i}, n{i}, ids{i}" for i in range(len(parts)))
        whole = ", ".join(f"{p.agg}(low{i}), TOTAL(bad{i}), SUM(n{i}), group_concat(ids{i})"
                          for i, p in enumerate(parts))
        rows = self.conn.execute(
            f"WITH grp AS MATERIALIZED (SELECT substr(org, 1, {self.group_len}) AS g, {', '.join(cols)} "
            f"FROM [{led.table}] WHERE {where[0]} GROUP BY g) "
            f"SELECT 0, g, {names} FROM grp UNION ALL SELECT 1, NULL, {whole} FROM grp",
            params + where[1]).fetchall()
        out = []
        for i in range(len(parts)):
            at = 2 + 4 * i
            lowest, bad, n, below = next(r[at:at + 4] for r in rows if r[0])
            per = {r[1]: (r[at], r[at + 1]) for r in rows if not r[0] and r[at + 2]}
            out.append((lowest, bad, n or 0, per, below))
        return out

    def _rows_below(self, led: Ledger, p: _Judging, rowids: str) -> list[dict]:
        """The lowest VIOLATION_LIMIT of the rows below a standard (``rowids``: as the
        judging pass noted them), read back by rowid."""
        title = led.title_field or led.fields[0].id
        return [{"uuid": u, "org": o, "name": t, "value": v, "date": d, "standard": sv}
                for u, o, t, v, d, sv in self.conn.execute(
                    f"SELECT uuid, org, [{title}], {p.col}, [{led.date_field}], {p.std} FROM [{led.table}] "
                    f"WHERE rowid IN (SELECT value FROM json_each(?)) ORDER BY {p.col} LIMIT {VIOLATION_LIMIT}",
                    [*p.std_params, f"[{rowids}]"])]

    def _m_standard(self, ind, led):
        """Each row judged by the standard in force for its month. The target shown is the
        standard in force on the as-of date; achieved is the lowest value among the rows
        judged by it and the rows below their own month's standard, so that target,
        achieved and met never contradict (standards never decrease within the year)."""
        if ind.id not in self.judged:
            self.judge(led, [ind])
        lowest, bad, n, per, violations = self.judged.pop(ind.id)
        now = self.in_force(ind)
        share = round((n - bad) / n * 100, 1) if n else None
        by_org = [OrgFigure(o.code, o.name, now, per[o.code][0] if o.code in per else None,
                            None if o.code not in per else (0.0 if per[o.code][1] else 100.0))
                  for o in self.groups]
        return IndicatorProgress(
            ind, now, lowest, share, None, lagging=(bad > 0) if n else None,
            met=(bad == 0) if n else None, by_org=by_org, violations=violations, rows=n)

    def _m_latest(self, ind, led):
        col, d = f"[{ind.measure.field}]", f"[{led.date_field}]"
        where, params = self._filter(led, ind)
        row = self.conn.execute(
            f"SELECT {col}, {d} FROM [{led.table}] WHERE {where} AND {col} IS NOT NULL "
            f"ORDER BY {d} DESC, _updated DESC LIMIT 1", params).fetchone()
        n = self.conn.execute(f"SELECT COUNT(*) FROM [{led.table}] WHERE {where}", params).fetchone()[0]
        per = {}
        for g, v, _ in self.conn.execute(
                f"SELECT substr(org, 1, {self.group_len}) AS g, {col}, MAX({d}) FROM [{led.table}] "
                f"WHERE {where} AND {col} IS NOT NULL GROUP BY g", params):
            per[g] = v
        achieved = row[0] if row else None
        target = self.target(ind)
        rate = _rate(achieved, target, ind.comparator)
        met = _met(achieved, target, ind.comparator)
        if ind.kind == "rate":  # a level to reach, not an amount to accumulate
            lagging = None if achieved is None else not met
            expected = None
        else:
            lagging = None if target is None else (rate or 0) < self.expected and not met
            expected = self.expected
        return IndicatorProgress(ind, target, achieved, rate, expected, lagging, met,
                                 by_org=self._by_org(ind, per), rows=n,
                                 notes=[{"date": row[1], "value": achieved}] if row else [])

    def _period_key(self, led: Ledger, period: str) -> str:
        d = f"[{led.date_field}]"
        return {"day": d, "month": f"substr({d}, 1, 7)", "year": f"substr({d}, 1, 4)",
                "quarter": f"(CAST(substr({d}, 6, 2) AS INTEGER) + 2) / 3"}[period]

    def _elapsed_periods(self, period: str, kind: str = "calendar_days") -> int:
        """Due periods up to the as-of date: days (or working days) up to and including it,
        months, quarters and the year once they have ended."""
        a = self.as_of
        last_day = calendar.monthrange(a.year, a.month)[1]
        if period == "day":
            if kind == "working_days":
                return self.catalog.calendar.working_days(a)
            return (a - dt.date(a.year, 1, 1)).days + 1
        if period == "month":
            return a.month if a.day == last_day else a.month - 1
        if period == "quarter":
            done = a.month // 3 if (a.month % 3 == 0 and a.day == last_day) else (a.month - 1) // 3
            return done
        return 1 if (a.month, a.day) == (12, 31) else 0

    def is_due(self, ind: Indicator, key) -> bool:
        """Whether a period key is a due period (a working day, for a working-day duty)."""
        if ind.measure.period == "day" and ind.measure.calendar == "working_days":
            return self.catalog.calendar.is_working_day(dt.date.fromisoformat(key))
        return True

    def period_rows(self, ind: Indicator, led: Ledger) -> list[tuple]:
        """(uuid, org, period key, each_of value) of every row the duty counts on."""
        key = self._period_key(led, ind.measure.period)
        member = f"[{ind.measure.each_of}]" if ind.measure.each_of else "NULL"
        where, params = self._filter(led, ind)
        return self.conn.execute(f"SELECT uuid, org, {key}, {member} FROM [{led.table}] WHERE {where} "
                                 f"ORDER BY {key}, rowid", params).fetchall()

    def period_verdicts(self, ind: Indicator, rows: list[tuple]) -> dict:
        """Period key → (counted?, reason code, reason text) from the rows of each period."""
        rotation = self.choices.rotation(self.catalog, ind)
        members = self.choices.member_list(ind) if ind.measure.each_of else ()
        by_key: dict = {}
        for _u, org, key, member in rows:
            by_key.setdefault(key, []).append((org, member))
        out = {}
        for key, items in by_key.items():
            if not self.is_due(ind, key):
                out[key] = (False, "not_due", f"{key} 是法定节假日或周末，不是应开展的工作日")
                continue
            if rotation:
                month = int(str(key)[5:7])
                turn = rotation[month - 1]
                if not any(org.startswith(turn) for org, _ in items):
                    out[key] = (False, "not_turn", f"{month}月轮到{self._name(turn)}，本行不是轮到的单位填报")
                    continue
            if members:
                done = {m for _, m in items if m}
                missing = [m for m in members if m not in done]
                if missing:
                    out[key] = (False, "members_missing",
                                f"第{key}季度名单中的{'、'.join(missing)}尚未发布，该季度不计入")
                    continue
            out[key] = (True, "", "")
        return out

    def _m_periods(self, ind, led):
        period = ind.measure.period
        rows = self.period_rows(ind, led)
        verdicts = self.period_verdicts(ind, rows)
        done = {k for k, v in verdicts.items() if v[0]}
        achieved = len(done)
        elapsed = self._elapsed_periods(period, ind.measure.calendar)
        target = self.target(ind)
        rate = _rate(achieved, target)
        expected = round(elapsed / ind.target * 100, 1)
        # behind when the share done is below the share of the plan's periods elapsed
        # (at the district: fewer periods done than elapsed)
        lagging = None if target is None else achieved * ind.target < elapsed * target
        rotation = self.choices.rotation(self.catalog, ind)
        if rotation:
            by_org = self._rotation(ind, rotation, rows, verdicts)
        else:
            per: dict = {}
            for _u, org, key, _m in rows:
                if verdicts[key][0]:
                    per.setdefault(org[:self.group_len], set()).add(key)
            by_org = self._by_org(ind, {g: len(keys) for g, keys in per.items()})
        return IndicatorProgress(ind, target, achieved, rate, expected,
                                 lagging=lagging, met=_met(achieved, target, ">="),
                                 by_org=by_org, rows=len(rows))

    def _rotation(self, ind, rotation, rows, verdicts) -> list[OrgFigure]:
        """Monthly duties the towns take in turn: each town's months and how many it did."""
        done_months = {int(str(k)[5:7]) for k, v in verdicts.items() if v[0]}
        out = []
        for code in dict.fromkeys(rotation):
            months = [m for m in range(1, 13) if rotation[m - 1] == code]
            achieved = sum(m in done_months for m in months)
            out.append(OrgFigure(code, self._name(code), len(months), achieved,
                                 _rate(achieved, len(months))))
        return out

    def _m_orgs_with(self, ind, led):
        where, params = self._filter(led, ind)
        counts = {}
        for code in ind.measure.orgs:
            counts[code] = self.conn.execute(
                f"SELECT COUNT(*) FROM [{led.table}] WHERE {where} AND substr(org, 1, ?) = ?",
                params + [len(code), code]).fetchone()[0]
        achieved = sum(c >= ind.measure.min for c in counts.values())
        by_org = [OrgFigure(code, self.tree.get(code).name if self.tree.get(code) else code,
                            ind.measure.min, c, _rate(c, ind.measure.min))
                  for code, c in counts.items()]
        result = self._cumulative(ind, achieved, {}, sum(counts.values()))
        result.by_org = by_org
        return result

    def _m_notes(self, ind, led):
        where, params = self._filter(led, ind)
        text_fields = [f.id for f in led.fields if f.type == "text"]
        cols = ", ".join(f"[{c}]" for c in text_fields)
        cur = self.conn.execute(
            f"SELECT org, [{led.date_field}], {cols} FROM [{led.table}] WHERE {where} "
            f"ORDER BY [{led.date_field}] DESC LIMIT 20", params)
        notes = [{"org": r[0], "date": r[1], **{c: v for c, v in zip(text_fields, r[2:]) if v}}
                 for r in cur.fetchall()]
        n = self.conn.execute(f"SELECT COUNT(*) FROM [{led.table}] WHERE {where}", params).fetchone()[0]
        return IndicatorProgress(ind, None, None, None, None, None, None,
                                 by_org=self._by_org(ind, {}), notes=notes, rows=n)
