"""Why a number is what it is: the rows an indicator counted and the rows it left out, each
with its reason — the same decisions :mod:`.progress` makes, row by row.

Reasons (``reason``): ``incomplete`` 待补充, ``status`` a status the indicator does not count,
``condition`` a counting field left blank, ``outside_year`` an event date outside the plan
year, ``after_as_of`` later than the as-of date, ``duplicate`` the same person (or key)
already counted, or confirmed as the same person as a row in another town, or — in a ledger
without persons — the same natural key (统一社会信用代码, 名称＋级别…) counted in another town,
``under_standard`` below the standard in force for its month, ``not_due`` not a due period
(a holiday for a working-day duty), ``not_turn`` not the town whose turn it was,
``members_missing`` a period in which not every listed member posted, ``superseded`` an
earlier figure than the latest one, ``org_not_listed`` a unit the indicator does not count,
``no_key`` nothing to count it by, ``ended`` a state that ended (停业日期) on or before the
as-of date. A counted row may carry a ``reason_text`` too: a
household counted by its own person because its 户主 is not filled yet.

What it prints is masked like every output (:func:`~..store.policy.policy_for`): rows are
named by uuid and unit, and a value in a reason is shown as the session's policy shows it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..catalog.choices import load_choices
from ..errors import StoreError
from ..catalog.counting import counting_text, month_field
from ..store.policy import policy_for
from ..store.query import not_counted_sql, same_key_sql
from ..store.schema import LIVE, within_sql
from .progress import _Calculator, clamp_as_of, compute

DEFAULT_LIMIT = 200
MAX_LIMIT = 5000

REASONS = {
    "incomplete": "待补充", "status": "状态不计入", "condition": "条件未满足",
    "outside_year": "不在计划年度内", "after_as_of": "晚于统计日", "duplicate": "重复，只计一次",
    "under_standard": "低于标准", "not_due": "非应开展的期", "not_turn": "未轮到",
    "members_missing": "名单未覆盖", "superseded": "已有更新的填报", "org_not_listed": "不在统计的单位中",
    "no_key": "无法计数", "ended": "统计日前已结束",
}


@dataclass
class Explanation:
    indicator: dict
    counted: list[dict] = field(default_factory=list)
    excluded: list[dict] = field(default_factory=list)
    counted_total: int = 0
    excluded_total: int = 0
    by_reason: dict = field(default_factory=dict)
    limit: int = DEFAULT_LIMIT

    def to_json(self) -> dict:
        return {"indicator": self.indicator, "counted": self.counted, "excluded": self.excluded,
                "counted_total": self.counted_total, "excluded_total": self.excluded_total,
                "by_reason": self.by_reason, "limit": self.limit,
                "truncated": self.counted_total > len(self.counted) or self.excluded_total > len(self.excluded)}


def explain(store, indicator_id: str, as_of: dt.date | None = None, *, scope: str | None = None,
            limit: int = DEFAULT_LIMIT) -> Explanation:
    """The indicator's progress with its counting rule, the rows it counted and the rows it
    excluded with the reason (at most ``limit`` of each; totals are exact).

    :raises StoreError: an unknown indicator; :raises PermissionDenied: ``scope`` outside the
        user's unit.
    """
    catalog = store.catalog
    try:
        ind = catalog.indicator(indicator_id)
    except KeyError:
        ind = next((i for i in catalog.indicators if i.name == indicator_id), None)
        if ind is None:
            raise StoreError(f"没有指标“{indicator_id}”（可用 catalog 命令查看指标 id）", 1) from None
    limit = max(1, min(int(limit), MAX_LIMIT))
    as_of = clamp_as_of(as_of or dt.date.today(), catalog.plan_year)
    policy = policy_for(store)
    scope = policy.scope(scope) or store.node.org
    choices = load_choices(store)
    report = compute(store, as_of, scope=scope, indicators=[ind.id])
    figure = report.indicators[0].to_json()
    figure["counting"] = counting_text(catalog, ind, choices)
    out = Explanation(figure, limit=limit)
    calc = _Calculator(store.conn, catalog, store.orgs, scope, as_of, store.quotas(), choices)
    led = catalog.ledger(ind.measure.ledger)

    def add(uuid, org, reason=None, text=""):
        if not reason:   # counted; a text says how (a household counted by its own person)
            out.counted_total += 1
            if len(out.counted) < limit:
                out.counted.append({"uuid": uuid, "org": org, **({"reason_text": text} if text else {})})
            return
        out.excluded_total += 1
        out.by_reason[reason] = out.by_reason.get(reason, 0) + 1
        if len(out.excluded) < limit:
            out.excluded.append({"uuid": uuid, "org": org, "reason": reason, "reason_text": text})

    for row, verdict in _verdicts(store, calc, ind, led, policy):
        add(row["uuid"], row["org"], *verdict)
    return out


def _verdicts(store, calc: _Calculator, ind, led, policy):
    """(row, (reason, text) or ()) for every row in scope that bears on the indicator."""
    catalog, m = calc.catalog, ind.measure
    year = catalog.plan_year
    unit, params = within_sql(calc.scope, install=store.node.org)
    conds = [LIVE, unit]
    ifield = led.indicator_field()
    if ifield is not None:
        conds.append(f"[{ifield.id}] = ?")
        params.append(ind.name)
    for fid, values in m.where.items():   # the rows this indicator is about (blank: 待补充 rows)
        if fid != "status":
            conds.append(f"([{fid}] IS NULL OR [{fid}] IN ({','.join('?' * len(values))}))")
            params.extend(values)
    value_col = None
    if m.method == "distinct":
        value_col = m.field or (led.persons[0].column if led.persons else "uuid")
    elif m.field:
        value_col = m.field
    own = [led.persons[0].column] if m.method == "households" else []   # 户主 not yet filled
    cols = ["uuid", "org", "_incomplete", "status", led.date_field, "_updated"]
    for extra in [value_col, m.per, m.until, *own, *m.where, *([month_field(led).id] if month_field(led) else [])]:
        if extra and extra not in cols:
            cols.append(extra)
    std_sql, std_params = "NULL", []
    if m.method == "standard":
        std_sql, std_params = calc.standard_expr(ind, led)
    period_sql = calc._period_key(led, m.period) if m.method == "periods" else "NULL"
    member = f"[{m.each_of}]" if m.each_of else "NULL"
    skipped = {r[0] for r in store.conn.execute(not_counted_sql(), [led.id])} if led.persons else set()
    same_key: dict = {}   # an institution counted in another town: uuid → (kept, its unit)
    if not led.persons:
        sql, p = same_key_sql(catalog, led, ind, calc.as_of)
        for uid, kept, kept_org in store.conn.execute(sql, p):
            same_key.setdefault(uid, (kept, kept_org))
        key_label = led.key_label()
    sql = (f"SELECT {', '.join(f'[{c}]' for c in cols)}, {std_sql}, {period_sql}, {member} "
           f"FROM [{led.table}] WHERE {' AND '.join(conds)} "
           f"ORDER BY +[{led.date_field}], rowid")
    names = cols + ["_standard", "_period", "_member"]
    rows = [dict(zip(names, rec)) for rec in store.conn.execute(sql, std_params + params)]

    date_label = led.field(led.date_field).label
    allowed_status = m.where.get("status")
    # a state (span = "state") holds whatever the year it began in; an outcome is the year's
    first = "0000-01-01" if m.span == "state" else dt.date(year, 1, 1).isoformat()
    last, year_end = calc.as_of.isoformat(), f"{year}-12-31"
    date_col, conditions = led.date_field, [f for f in m.where if f != "status"]
    passing = []
    for row in rows:
        day = row[date_col]
        if row["_incomplete"]:
            yield row, ("incomplete", "待补充：必填信息不全，补全后才计入")
        elif allowed_status and row["status"] not in allowed_status:
            yield row, ("status", f"状态为“{row['status'] or '未填'}”，本指标只计{'、'.join(allowed_status)}")
        elif conditions and any(row[f] is None for f in conditions):
            yield row, ("condition", "统计条件中的字段未填写")
        elif not day or not (first <= str(day) <= year_end):
            shown = policy.text(led, date_col, day) if day else ""
            yield row, ("outside_year", f"{date_label}{'为 ' + shown if day else '未填写'}，不在 {year} 年内")
        elif str(day) > last:
            yield row, ("after_as_of", f"{date_label} {policy.text(led, date_col, day)} 晚于统计日 {last}")
        elif m.until and row[m.until] is not None and str(row[m.until]) <= last:
            yield row, ("ended", f"{led.field(m.until).label} {policy.text(led, m.until, row[m.until])}"
                                 f" 不晚于统计日 {last}，统计日已不再成立")
        elif row["uuid"] in skipped:
            yield row, ("duplicate", "跨镇（跨年度）重复：经核实与另一行为同一人，只计另一行")
        elif row["uuid"] in same_key:
            kept, kept_org = same_key[row["uuid"]]
            yield row, ("duplicate", f"跨镇重复：与{calc.town_name(kept_org)}的记录 {kept[:8]}"
                                     f"{key_label}相同，是同一项，只计一次（计先录入或经核实保留的一条）")
        else:
            passing.append(row)
    yield from _method_verdicts(calc, ind, led, policy, passing)


def _method_verdicts(calc, ind, led, policy, rows):
    m = ind.measure
    if m.method == "distinct":
        col = m.field or (led.persons[0].column if led.persons else "uuid")
        label = led.field(col).label if led.has_field(col) else "人"
        seen = set()
        for row in rows:
            key = row[col]
            if key is None:
                yield row, ("no_key", f"{label}未填写（未关联人员），无法计数")
            elif key in seen:
                yield row, ("duplicate", "同一人已由另一行计入，只计一次" if not led.has_field(col)
                            else f"同一{label}已由另一行计入，只计一次")
            else:
                seen.add(key)
                yield row, ()
    elif m.method == "households":   # a household counted once, by its 户主 (else the person)
        seen = set()
        head = next(p.role for p in led.persons if p.column == m.field)
        for row in rows:
            key = row[m.field] or row[led.persons[0].column]
            if key is None:
                yield row, ("no_key", f"{head}和{led.persons[0].role}都未关联人员，无法计户")
            elif key in seen:
                yield row, ("duplicate", f"同一户（同一{head}）已由另一行计入，只计一户")
            else:
                seen.add(key)
                yield row, (() if row[m.field] else
                            ("", f"{head}未填写，暂按{led.persons[0].role}本人计为一户；"
                                 f"填上{head}后按{head}计（同一户的几行只计一户）"))
    elif m.method == "standard":
        op = {">=": lambda v, s: v >= s, ">": lambda v, s: v > s, "=": lambda v, s: v == s,
              "<=": lambda v, s: v <= s}[ind.comparator]
        label = led.field(m.field).label
        mf = month_field(led)
        for row in rows:
            value, std = row[m.field], row["_standard"]
            shown = policy.text(led, m.field, value)
            if m.per and value is not None and row[m.per]:   # 发放金额 ÷ 保障人数
                value = value / row[m.per]
                shown = (f"{shown} ÷ {led.field(m.per).label} {policy.text(led, m.per, row[m.per])}"
                         f" = {policy.text(led, m.field, round(value, 2))}")
            if value is not None and not op(value, std):
                month = str(row.get(mf.id) if mf else row[led.date_field])[:7]
                yield row, ("under_standard", f"{label} {shown} 低于"
                            f" {month} 执行的标准 {std:g}{ind.unit}")
            else:
                yield row, ()
    elif m.method == "periods":
        verdicts = calc.period_verdicts(ind, [(r["uuid"], r["org"], r["_period"], r["_member"]) for r in rows])
        for row in rows:
            ok, reason, text = verdicts[row["_period"]]
            yield row, (() if ok else (reason, text))
    elif m.method == "latest":
        with_value = [r for r in rows if r[m.field] is not None]
        latest = max(with_value, key=lambda r: (str(r[led.date_field]), str(r["_updated"])), default=None)
        for row in rows:
            if row is latest:
                yield row, ()
            elif row[m.field] is None:
                yield row, ("no_key", f"{led.field(m.field).label}未填写")
            else:
                yield row, ("superseded", "已有更晚的填报，只取最近一次")
    elif m.method == "orgs_with":
        for row in rows:
            if any(str(row["org"]).startswith(code) for code in m.orgs):
                yield row, ()
            else:
                yield row, ("org_not_listed", "所属单位不在本指标统计的单位中")
    else:   # count, sum, notes: every row that passes counts
        for row in rows:
            yield row, ()
