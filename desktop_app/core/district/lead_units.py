"""Responsible units per indicator: the catalog's choice, and the district's.

The plan names responsible units per project (实事3. 关爱特殊群体 —— 区妇联、区教育卫生健康局、
区民政人社局), not per indicator. Where the catalog picked some of them for an indicator
it says so (``units_chosen``), and the district may set the lead unit(s) itself: the
choice is kept in the store (setting ``lead_units``), shown wherever progress shows the
units, and travels down in the district's profile like the quotas, so the towns see the
same units::

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store.database import Store
    >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "d.sqlite3",
    ...                      level="district", org="430971", operator="示例")
    >>> set_lead_units(store, "two_cancer_screening", ["区教育卫生健康局"])
    ('区教育卫生健康局',)
    >>> units_of(store)["two_cancer_screening"]
    ('区教育卫生健康局',)
    >>> store.close()
"""
from __future__ import annotations

import json

from ..catalog.model import Catalog, Indicator
from ..errors import INPUT_PROBLEMS, UserError

SETTING = "lead_units"


class LeadUnitError(UserError):
    exit_code = INPUT_PROBLEMS


def _quoted(name: str) -> str:
    return name if name.startswith("“") and name.endswith("”") and name.count("“") == 1 else f"“{name}”"


def project_units(catalog: Catalog, ind: Indicator) -> tuple[str, ...]:
    """The units the plan names for the indicator's projects (the ones that may lead it)."""
    return tuple(dict.fromkeys(u for pid in ind.projects for u in catalog.project(pid).units))


def chosen_units(store) -> dict[str, tuple[str, ...]]:
    """The district's choices only: indicator id → lead units (indicators it set)."""
    try:
        data = json.loads(store.setting(SETTING) or "{}")
    except ValueError:
        return {}
    known = {i.id for i in store.catalog.indicators}
    return {k: tuple(v) for k, v in data.items() if k in known and isinstance(v, list) and v}


def units_of(store) -> dict[str, tuple[str, ...]]:
    """Every indicator's responsible units as they count now: the district's choice where it
    made one, else the catalog's."""
    chosen = chosen_units(store)
    return {i.id: chosen.get(i.id, i.units) for i in store.catalog.indicators}


def set_lead_units(store, indicator_id: str, units: list[str] | None) -> tuple[str, ...]:
    """Set the lead unit(s) of an indicator (the district only; an administrator). ``None``
    or an empty list goes back to the catalog's units. Returns the units now in force.

    :raises LeadUnitError: not the district, an unknown indicator, or a unit the plan does
        not name for the indicator's projects.
    """
    store.require("admin")
    if store.node.level != "district":
        raise LeadUnitError("牵头责任单位由区里确定；镇、村随区里的配置文件更新", INPUT_PROBLEMS)
    catalog = store.catalog
    try:
        ind = catalog.indicator(indicator_id)
    except KeyError:
        raise LeadUnitError(f"没有指标“{indicator_id}”（指标 id 见 catalog 命令）") from None
    allowed = project_units(catalog, ind)
    units = [u.strip() for u in (units or []) if u and u.strip()]
    for u in units:
        if u not in allowed:
            raise LeadUnitError(f"“{u}”不是{_quoted(ind.name)}所属项目的责任单位；方案列出的是："
                                f"{'、'.join(allowed)}")
    chosen = {k: list(v) for k, v in chosen_units(store).items()}
    if units and tuple(dict.fromkeys(units)) != ind.units:
        chosen[ind.id] = list(dict.fromkeys(units))
    else:
        chosen.pop(ind.id, None)
    store.set_setting(SETTING, json.dumps(chosen, ensure_ascii=False, sort_keys=True))
    return tuple(chosen.get(ind.id, ind.units))


def adopt_lead_units(store, chosen: dict) -> None:
    """The district's choices as its profile carries them (inside the caller's transaction)."""
    clean = {k: [str(u) for u in v] for k, v in (chosen or {}).items()
             if isinstance(k, str) and isinstance(v, list) and v}
    store._set_many({SETTING: json.dumps(clean, ensure_ascii=False, sort_keys=True)})
