"""The district's counting choices: what the plan leaves to the district, kept as data.

The catalog carries a default for each; the district edits them (app or CLI ``rules``) and
they travel down in its profile, like the quotas (目标分解), so that every town counts the
same way:

- **standards** — a standard's effective-dated series: from which month which value is in
  force (城市低保 650 元/月 until June, 700 from July). Each payment is judged by the standard
  in force for its month;
- **rotations** — which town's turn each month is for a duty the towns take in turn (湘就业);
- **members** — the list a period must cover in full (the 重点企业 that post each quarter);
- **items** — items the district adds to a fixed list an indicator counts from (the 17
  “高效办成一件事” items, of which the plan names only some): the field's choices are the
  catalog's plus the district's (:func:`with_items` on a catalog);
- **leads** — an indicator's lead unit(s) (牵头责任单位), where the plan names the units per
  project and the catalog picked some (``units_chosen``): one of the project's units.

    >>> from desktop_app.core.catalog import load_catalog
    >>> cat = load_catalog()
    >>> c = Choices.from_json({"standards": {"urban_dibao_standard": [["2024-01", 650], ["2024-07", 700]]}})
    >>> c.standard_for(cat.indicator("urban_dibao_standard"), "2024-03"), c.standard_for(
    ...     cat.indicator("urban_dibao_standard"), "2024-07")
    (650, 700)
    >>> Choices().rotation(cat, cat.indicator("xiangjiuye_monthly_rotation"))[:5]
    ['430971121', '430971123', '430971124', '430971130', '430971121']
    >>> Choices().with_leads(cat, "two_cancer_screening", ["区教育卫生健康局"]).units(
    ...     cat.indicator("two_cancer_screening"))
    ('区教育卫生健康局',)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:
    from .model import Catalog, Indicator

SETTING = "district_choices"


@dataclass(frozen=True)
class Choices:
    standards: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    rotations: dict[str, tuple[str, ...]] = field(default_factory=dict)     # 12 org codes
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    leads: dict[str, tuple[str, ...]] = field(default_factory=dict)        # unit names
    items: dict[str, tuple[str, ...]] = field(default_factory=dict)        # added list items

    # -- reading
    def schedule(self, ind: Indicator) -> tuple[tuple[str, float], ...]:
        """(from month, value) pairs, earliest first: the district's, else the catalog's, else
        the plan's target for the whole year."""
        return (self.standards.get(ind.id) or ind.measure.schedule
                or (("0000-01", ind.target),))

    def standard_for(self, ind: Indicator, month: str | None):
        """The standard in force for ``month`` (YYYY-MM); a month before the first entry is
        judged by the first."""
        series = self.schedule(ind)
        value = series[0][1]
        for start, v in series:
            if month is not None and month >= start:
                value = v
        return value

    def rotation(self, catalog: Catalog, ind: Indicator) -> list[str]:
        """Month 1…12 → the org whose turn it is ([] when the duty does not rotate)."""
        if ind.id in self.rotations:
            return list(self.rotations[ind.id])
        towns = ind.measure.rotation
        return [towns[(m - 1) % len(towns)] for m in range(1, 13)] if towns else []

    def member_list(self, ind: Indicator) -> tuple[str, ...]:
        return self.members.get(ind.id, ind.measure.members)

    def units(self, ind: Indicator) -> tuple[str, ...]:
        """The indicator's responsible units as they count now: the district's lead units
        where it set them, else the catalog's."""
        return self.leads.get(ind.id, ind.units)

    def is_empty(self) -> bool:
        return not (self.standards or self.rotations or self.members or self.leads or self.items)

    # -- JSON (settings and profiles)
    def to_json(self) -> dict:
        return {"standards": {k: [list(p) for p in v] for k, v in sorted(self.standards.items())},
                "rotations": {k: list(v) for k, v in sorted(self.rotations.items())},
                "members": {k: list(v) for k, v in sorted(self.members.items())},
                "leads": {k: list(v) for k, v in sorted(self.leads.items())},
                "items": {k: list(v) for k, v in sorted(self.items.items())}}

    @classmethod
    def from_json(cls, data: dict | None) -> Choices:
        """Choices from settings or a profile; malformed entries (a damaged or foreign file)
        are left out, so the catalog's default holds for them."""
        data = data if isinstance(data, dict) else {}

        def table(key):
            value = data.get(key)
            return value if isinstance(value, dict) else {}

        standards = {}
        for k, pairs in table("standards").items():
            try:
                series = tuple((str(m), v) for m, v in pairs)
            except (TypeError, ValueError):
                continue
            if series and all(isinstance(v, (int, float)) and not isinstance(v, bool) for _, v in series):
                standards[k] = series
        rotations = {k: tuple(v) for k, v in table("rotations").items()
                     if isinstance(v, list) and len(v) == 12 and all(isinstance(c, str) for c in v)}
        members, leads, items = ({k: tuple(v) for k, v in table(key).items()
                                  if isinstance(v, list) and v and all(isinstance(c, str) for c in v)}
                                 for key in ("members", "leads", "items"))
        return cls(standards, rotations, members, leads, items)

    # -- editing (validated against the catalog and the org tree)
    def with_standard(self, catalog: Catalog, ind_id: str,
                      series: list[tuple[str, float]] | None) -> Choices:
        ind = _indicator(catalog, ind_id, "standard")
        standards = dict(self.standards)
        if series is None:
            standards.pop(ind.id, None)
        else:
            series = sorted((m, float(v)) for m, v in series)
            for m, v in series:
                if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", m):
                    raise StoreError(f"“{m}”不是月份，请写成 {catalog.plan_year}-07", 1)
                if v <= 0:
                    raise StoreError(f"{ind.name}：标准应大于 0（{m} 起 {v:g}）", 1)
            months = [m for m, _ in series]
            if not series or len(set(months)) != len(months):
                raise StoreError(f"{ind.name}：每个执行月份只写一档标准", 1)
            if series[-1][1] != ind.target:
                raise StoreError(f"{ind.name}：最后一档应为方案目标 {ind.target:g}{ind.unit}"
                                 f"（现为 {series[-1][1]:g}）", 1)
            year = catalog.plan_year
            outside = [m for m in months if not m.startswith(f"{year}-")]
            if outside:
                raise StoreError(f"{ind.name}：执行月份 {'、'.join(outside)} 不在计划年度 {year} 年内，"
                                 f"请写 {year}-01 至 {year}-12 之间的月份", 1)
            for (m1, v1), (m2, v2) in zip(series, series[1:]):
                if v2 < v1:
                    raise StoreError(f"{ind.name}：标准只升不降，{m2} 起的 {v2:g} 低于 {m1} 起的 {v1:g}，"
                                     f"请核对各档标准", 1)
            standards[ind.id] = tuple((m, int(v) if v == int(v) else v) for m, v in series)
        return replace(self, standards=standards)

    def with_rotation(self, catalog: Catalog, ind_id: str, orgs: list[str] | None,
                      tree=None) -> Choices:
        """``orgs``: 12 org codes (January … December), or fewer taken in turn."""
        ind = _indicator(catalog, ind_id, "periods")
        if ind.measure.period != "month":
            raise StoreError(f"{ind.name}不是按月的定期工作，不能设轮流顺序", 1)
        rotations = dict(self.rotations)
        if orgs is None:
            rotations.pop(ind.id, None)
        else:
            if not orgs or 12 % len(orgs):
                raise StoreError(f"{ind.name}：请列出 12 个月各轮到的单位（或按顺序轮流的 1、2、3、4、6 个单位）", 1)
            if tree is not None:   # the towns of the district take the duty in turn
                for code in orgs:
                    org = tree.get(code)
                    if org is None:
                        raise StoreError(f"{ind.name}：没有单位 {code}", 1)
                    parent = tree.get(org.parent) if org.parent else None
                    if org.level != "town" or parent is None or parent.level != "district":
                        towns = "、".join(t.name for t in tree if t.level == "town")
                        raise StoreError(f"{ind.name}：轮流的只能是各镇（{towns}），“{org.name}”不是镇", 1)
            rotations[ind.id] = tuple(orgs[(m - 1) % len(orgs)] for m in range(1, 13))
        return replace(self, rotations=rotations)

    def with_members(self, catalog: Catalog, ind_id: str, names: list[str] | None) -> Choices:
        ind = _indicator(catalog, ind_id, "periods")
        if ind.measure.each_of is None:
            raise StoreError(f"{ind.name}不按名单统计", 1)
        members = dict(self.members)
        if names is None:
            members.pop(ind.id, None)
        else:
            clean = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
            if not clean:
                raise StoreError(f"{ind.name}：名单不能为空", 1)
            members[ind.id] = clean
        return replace(self, members=members)

    def with_leads(self, catalog: Catalog, ind_id: str, units: list[str] | None) -> Choices:
        """Set an indicator's lead unit(s), each one the plan names for the indicator's
        projects; ``None`` (or the catalog's own units) goes back to the catalog."""
        ind = _indicator(catalog, ind_id)
        allowed = catalog.project_units(ind)
        clean = tuple(dict.fromkeys(u.strip() for u in units or [] if u and u.strip()))
        for u in clean:
            if u not in allowed:
                raise StoreError(f"“{u}”不是{ind.name}所属项目的责任单位；方案列出的是：{'、'.join(allowed)}", 1)
        leads = dict(self.leads)
        if clean and clean != ind.units:
            leads[ind.id] = clean
        else:
            leads.pop(ind.id, None)
        return replace(self, leads=leads)


    def with_items(self, catalog: Catalog, ind_id: str, names: list[str] | None) -> Choices:
        """Add items to the fixed list an indicator counts from (a choice field it counts
        distinct values of); ``None`` (or no name) goes back to the catalog's list."""
        ind = _indicator(catalog, ind_id)
        listed = list_field(catalog, ind)
        if listed is None:
            raise StoreError(f"{ind.name}不按固定清单统计，不能补入事项", 1)
        clean = tuple(dict.fromkeys(n.strip() for n in names or [] if n and n.strip()))
        for n in clean:
            if n in listed.choices:
                raise StoreError(f"“{n}”已在{ind.name}的清单中，不必补入", 1)
            if len(n) > 100:
                raise StoreError(f"“{n[:20]}…”太长（事项名称不超过 100 字）", 1)
        items = dict(self.items)
        if clean:
            items[ind.id] = clean
        else:
            items.pop(ind.id, None)
        return replace(self, items=items)

    def item_list(self, catalog: Catalog, ind: Indicator) -> tuple[str, ...]:
        """The fixed list an indicator counts from: the catalog's and the district's items."""
        listed = list_field(catalog, ind)
        base = listed.choices if listed is not None else ()
        return tuple(dict.fromkeys(base + self.items.get(ind.id, ())))


def list_field(catalog: Catalog, ind: Indicator):
    """The fixed-list field an indicator counts distinct values of (a catalog ``choice``
    field), or None."""
    m = ind.measure
    led = catalog.ledger(m.ledger)
    if m.method != "distinct" or not m.field or not led.has_field(m.field):
        return None
    f = led.field(m.field)
    return f if f.type == "choice" and not f.choices_from else None


def with_items(catalog: Catalog, choices: Choices) -> Catalog:
    """``catalog`` whose fixed-list fields also offer the district's added items (what a
    store validates, imports and shows against).

        >>> from desktop_app.core.catalog import load_catalog
        >>> cat = load_catalog()
        >>> c = Choices().with_items(cat, "efficient_one_thing", ["示例事项"])
        >>> with_items(cat, c).ledger("indicator_progress").field("one_thing_item").choices[-1]
        '示例事项'
    """
    if not choices.items:
        return catalog
    ledgers = list(catalog.ledgers)
    for ind_id in choices.items:
        try:
            ind = catalog.indicator(ind_id)
        except KeyError:
            continue
        f = list_field(catalog, ind)
        if f is None:
            continue
        i = next(k for k, led in enumerate(ledgers) if led.id == ind.measure.ledger)
        led = ledgers[i]
        added = replace(f, choices=choices.item_list(catalog, ind))
        ledgers[i] = replace(led, fields=tuple(added if x.id == f.id else x for x in led.fields))
    return replace(catalog, ledgers=tuple(ledgers))


def _indicator(catalog: Catalog, ind_id: str, method: str | None = None) -> Indicator:
    try:
        ind = catalog.indicator(ind_id)
    except KeyError:
        ind = next((i for i in catalog.indicators if i.name == ind_id), None)
    if ind is None:
        raise StoreError(f"没有指标“{ind_id}”", 1)
    if method is not None and ind.measure.method != method:
        raise StoreError(f"{ind.name}不是{'逐行核对标准' if method == 'standard' else '定期工作'}类指标", 1)
    return ind


def load_choices(store) -> Choices:
    """The district's choices held by this install (the district's own, or adopted from its
    profile)."""
    text = store.setting(SETTING)
    return Choices.from_json(json.loads(text)) if text else Choices()


def save_choices(store, choices: Choices) -> Choices:
    """Keep the district's choices (管理员); they travel down in the next profile. Returns
    ``choices``."""
    store.require("admin")
    if store.node.level != "district":
        raise StoreError("计数口径和牵头责任单位由区里设定，随区里的配置文件下发；镇、村不能修改", 1)
    with store.transaction():
        store.set_setting(SETTING, json.dumps(choices.to_json(), ensure_ascii=False, sort_keys=True))
        store.choices_changed()
    return choices
