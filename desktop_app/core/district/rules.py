"""Which counting rules each monthly report was made under, so that when a rule change
moves a number (a catalog update, a standard's new effective date, a new rotation), the
dashboard and the next monthly report say so.

Each monthly report records the catalog version and every indicator's counting rule (the
plain-Chinese sentence, which reflects the catalog and the district's choices) in the
store's settings; a later report, or the dashboard, compares the rules in force with the
latest earlier record.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..catalog.choices import load_choices
from ..catalog.counting import counting_text

SETTING = "monthly_report_rules"


@dataclass(frozen=True)
class RuleChange:
    indicator: str
    name: str
    before: str | None     # None: a new indicator
    after: str

    def to_json(self) -> dict:
        return {"indicator": self.indicator, "name": self.name, "before": self.before, "after": self.after}

    @property
    def text(self) -> str:
        return f"{self.name}：新增指标" if self.before is None else f"{self.name}：计数规则已变更"


def rules_snapshot(store) -> dict:
    """The catalog version and every indicator's counting rule in force now."""
    catalog, choices = store.catalog, load_choices(store)
    return {"catalog": catalog.version,
            "counting": {i.id: counting_text(catalog, i, choices) for i in catalog.indicators}}


def _records(store) -> dict:
    try:
        data = json.loads(store.setting(SETTING) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def last_recorded(store, before: str | None = None) -> tuple[str, dict] | None:
    """(month YYYY-MM, snapshot) of the latest monthly report recorded (before ``before``)."""
    months = sorted(m for m in _records(store) if before is None or m < before)
    return (months[-1], _records(store)[months[-1]]) if months else None


def record(store, month: str, snapshot: dict) -> None:
    data = _records(store)
    data[month] = snapshot
    store.set_setting(SETTING, json.dumps(data, ensure_ascii=False, sort_keys=True))


def changes(store, old: dict | None, new: dict) -> list[RuleChange]:
    """The indicators whose counting rule differs between two snapshots."""
    if not old:
        return []
    before = old.get("counting", {})
    names = {i.id: i.name for i in store.catalog.indicators}
    return [RuleChange(i, names.get(i, i), before.get(i), text)
            for i, text in new["counting"].items() if before.get(i) != text]


def changed_since_last_report(store) -> tuple[str | None, list[RuleChange]]:
    """(month of the latest recorded monthly report, the rules changed since) — for the
    dashboard."""
    last = last_recorded(store)
    if last is None:
        return None, []
    return last[0], changes(store, last[1], rules_snapshot(store))
