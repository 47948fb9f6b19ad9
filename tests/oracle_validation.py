"""The per-row validation as it was before issue 18 (``validate_row`` cell by cell), kept
frozen as the oracle the column-wise engine (:mod:`desktop_app.core.catalog.validation`)
is compared with in ``test_column_check.py``. Not used by the application.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from desktop_app.core.catalog.fieldtypes import is_blank, looks_masked, masked_problem, normalize
from desktop_app.core.catalog.idnumbers import DISABILITY_CATEGORIES, DISABILITY_GRADES, age_on, birth_from_id, sex_from_id
from desktop_app.core.catalog.model import Ledger, Rule


@dataclass
class Problem:
    field: str | None
    message: str
    severity: str = "error"
    suggestion: str | None = None

    def to_json(self) -> dict:
        out = {"field": self.field, "message": self.message, "severity": self.severity}
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out


@dataclass
class RowCheck:
    values: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def incomplete(self) -> bool:
        return bool(self.missing)

    def error_for(self, field_id: str) -> str | None:
        for p in self.errors:
            if p.field == field_id:
                return p.message
        return None


def validate_row(ledger: Ledger, raw: dict, *, plan_year: int,
                 today: dt.date | None = None, cache: dict | None = None) -> RowCheck:
    """Normalise and check ``raw`` (field id → value) for ``ledger``.

    Unknown keys are an error. Missing identity fields are an error; other
    missing required fields make the row incomplete (待补充). A bulk caller
    passes one ``cache`` dict for all its rows: a value already normalised for a
    field (the same 村, 状态, date …) is not normalised again.
    """
    today = today or dt.date.today()
    check = RowCheck()
    known = ledger.field_ids
    for key in raw:
        if key not in known:
            check.problems.append(Problem(key, f"台账“{ledger.label}”没有字段“{key}”"))
    for f in ledger.fields:
        value = raw.get(f.id)
        if value is None or value == "":
            check.values[f.id] = None
            continue
        if value.__class__ is str and "*" in value and ledger.is_sensitive(f.id) and looks_masked(f.type, value):
            check.values[f.id] = None     # a masked cell (from a masked export or screen) is no value
            check.problems.append(Problem(f.id, masked_problem(f.label)))
            continue
        if cache is not None and f.type in _REPETITIVE:
            key = (f.id, value.__class__, value)
            result = cache.get(key)
            if result is None:
                result = cache[key] = normalize(f, value, today=today)
        else:
            result = normalize(f, value, today=today)
        check.values[f.id] = result.value
        if result.error:
            check.problems.append(Problem(f.id, result.error, suggestion=result.suggestion))
        for w in result.warnings:
            check.problems.append(Problem(f.id, w, "warning"))
    if check.values.get("status") is None and not check.error_for("status"):
        check.values["status"] = ledger.statuses[0]
    _derive(ledger, check)
    fill_defaults(ledger, check.values)
    for rule in ledger.rules:
        _apply_rule(ledger, rule, check, plan_year)
    bad = {p.field for p in check.errors}
    for f in ledger.fields:
        if f.required and check.values.get(f.id) is None and f.id not in bad \
                and not _follows_missing(ledger, f, check.values):
            if f.id in ledger.identity:
                check.problems.append(Problem(f.id, f"{f.label}：必填，不能为空"))
            else:
                check.missing.append(f.id)
    return check


# field types whose values repeat down a column (worth remembering); names, IDs and
# phones are unique per row and would only fill the cache
_REPETITIVE = frozenset({"choice", "multichoice", "yesno", "date", "integer", "decimal"})


def _derive(ledger: Ledger, check: RowCheck) -> None:
    """Fill birth date and sex from an ID number, or check they agree."""
    for f in ledger.fields:
        if not f.derive_from:
            continue
        number = check.values.get(f.derive_from)
        if not number:
            continue
        derived = birth_from_id(number).isoformat() if f.type == "date" else sex_from_id(number)
        given = check.values.get(f.id)
        if given is None:
            check.values[f.id] = derived
        elif given != derived:
            id_label = ledger.field(f.derive_from).label
            check.problems.append(Problem(
                f.id, f"{f.label}：填的是 {given}，但{id_label}显示为 {derived}，请核对"))


def fill_defaults(ledger: Ledger, values: dict) -> dict:
    """Fill in place the empty fields that take another field's value (``default_from``; a
    month from a date, a choice only from a value among its choices) and the fields a
    ``value_in_if`` rule allows one value for. Returns what was filled (field → value).

    The same on a save and when an existing store gains the field (catalog migration)::

        >>> from desktop_app.core.catalog.model import load_catalog
        >>> fill_defaults(load_catalog().ledger("two_cancer"), {"institution": "示例卫生院"})
        {'breast_institution': '示例卫生院'}
    """
    filled = {}
    for f in ledger.fields:
        if not f.default_from or values.get(f.id) not in (None, ""):
            continue
        source = values.get(f.default_from)
        if source in (None, ""):
            continue
        if f.type == "month":
            source = str(source)[:7]
        elif f.choices:
            source = normalize(f, source).value   # a choice (or an alias of one), else None
            if source is None:
                continue
        values[f.id] = filled[f.id] = source
    for rule in ledger.rules:
        p = rule.params
        if (rule.kind == "value_in_if" and len(p["in"]) == 1
                and values.get(p["when_field"]) in p["when_in"] and values.get(p["field"]) in (None, "")):
            values[p["field"]] = filled[p["field"]] = p["in"][0]
    return filled


def _date(check: RowCheck, fid: str) -> dt.date | None:
    value = check.values.get(fid)
    return dt.date.fromisoformat(value) if value else None


def _birth(check: RowCheck, rule: Rule) -> dt.date | None:
    if "id_field" in rule.params:
        number = check.values.get(rule.params["id_field"])
        return birth_from_id(number) if number else None
    return _date(check, rule.params["birth_field"])


def _apply_rule(ledger: Ledger, rule: Rule, check: RowCheck, plan_year: int) -> None:
    p = rule.params
    label = lambda fid: ledger.field(fid).label  # noqa: E731

    def report(fid: str | None, default: str) -> None:
        text = rule.message or default
        if fid and not text.startswith(label(fid)):
            text = f"{label(fid)}：{text}"
        check.problems.append(Problem(fid, text, rule.severity))

    if rule.kind == "sex":
        number = check.values.get(p["id_field"])
        if number and sex_from_id(number) != p["value"]:
            report(p["id_field"], f"应为{p['value']}性（身份证号第 17 位显示为{sex_from_id(number)}性）")
    elif rule.kind == "age":
        birth, at = _birth(check, rule), _date(check, p["at"])
        if birth and at:
            age = age_on(birth, at)
            lo, hi = p.get("min", 0), p.get("max", 200)
            if not lo <= age <= hi:
                who = p.get("id_field") or p.get("birth_field")
                report(who, f"{label(p['at'])}当天年龄为 {age} 周岁，应在 {lo}–{hi} 周岁之间")
    elif rule.kind == "date_order":
        dated = [(fid, _date(check, fid)) for fid in p["fields"]]
        dated = [(fid, d) for fid, d in dated if d]
        for (fa, da), (fb, db) in zip(dated, dated[1:]):
            if db < da:
                report(fb, f"{db:%Y-%m-%d} 早于{label(fa)} {da:%Y-%m-%d}，日期先后不对")
    elif rule.kind == "required_if":
        when = check.values.get(p["when_field"])
        if when in p["when_in"] and is_blank(check.values.get(p["field"])):
            if rule.severity == "warning":
                report(p["field"], f"{label(p['when_field'])}为“{when}”时应填写")
            elif p["field"] not in check.missing:
                check.missing.append(p["field"])  # conditionally required: 待补充, not refused
    elif rule.kind == "disability_cert":
        cert = check.values.get(p["field"])
        if not cert:
            return
        number = check.values.get(p.get("id_field", ""))
        if number and cert[:18] != number:
            report(p["field"], f"前 18 位应与{label(p['id_field'])}一致")
        cat, grade = DISABILITY_CATEGORIES[int(cert[18]) - 1], DISABILITY_GRADES[int(cert[19]) - 1]
        given_cat = check.values.get(p.get("category_field", ""))
        if given_cat and given_cat != cat:
            report(p["category_field"], f"填的是{given_cat}，残疾证号第 19 位表示{cat}，请核对")
        given_grade = check.values.get(p.get("grade_field", ""))
        if given_grade and given_grade != grade:
            report(p["grade_field"], f"填的是{given_grade}，残疾证号第 20 位表示{grade}，请核对")
    elif rule.kind == "in_year":
        d = _date(check, p["field"])
        if d and d.year != plan_year:
            report(p["field"], f"{d:%Y-%m-%d} 不在计划年度 {plan_year} 年内")
    elif rule.kind == "days_between":
        a, b = _date(check, p["from"]), _date(check, p["to"])
        if a and b:
            days = (b - a).days
            lo, hi = p.get("min", 0), p.get("max", 10**6)
            if not lo <= days <= hi:
                report(p["to"], f"距{label(p['from'])} {days} 天，应在 {lo}–{hi} 天之间")
    elif rule.kind == "choice_in":
        value = check.values.get(p["field"])
        if value is not None and value not in p["in"]:
            report(p["field"], f"“{value}”通常应为：{'、'.join(p['in'])}")
    elif rule.kind == "empty_unless":
        # a date that says the outcome happened, on a row whose status says it did not
        when = check.values.get(p["when_field"])
        if not is_blank(check.values.get(p["field"])) and when not in p["when_in"]:
            report(p["field"], f"{label(p['when_field'])}为“{when}”时不应填写"
                               f"（只有{'、'.join(p['when_in'])}才有）")
    elif rule.kind == "value_in_if":
        when, value = check.values.get(p["when_field"]), check.values.get(p["field"])
        if when in p["when_in"] and value is not None and value not in p["in"]:
            shown = "所填内容" if ledger.is_sensitive(p["field"]) else f"“{value}”"
            report(p["field"], f"{label(p['when_field'])}为“{when}”时应为"
                               f"{'、'.join(p['in'])}，不能是{shown}")
    elif rule.kind == "min_value":
        value = check.values.get(p["field"])
        applies = "when_field" not in p or check.values.get(p["when_field"]) in p["when_in"]
        if applies and value is not None and value < p["min"]:
            f = ledger.field(p["field"])
            unit = f.unit or ""
            report(p["field"], f"{value}{unit} 低于 {p['min']}{unit}")


def _follows_missing(ledger: Ledger, f, values: dict) -> bool:
    """A required field that takes a required field's value when left empty, whose source
    is missing too: only the source is asked for (filling it fills both; 乳腺癌检查机构
    follows 宫颈癌检查机构)."""
    if not f.default_from:
        return False
    source = ledger.field(f.default_from)
    return source.required and is_blank(values.get(source.id))


def missing_fields(ledger: Ledger, values: dict) -> list[str]:
    """The required fields still empty in already-normalised ``values`` (待补充), as
    ``validate_row`` would list them; used after a merge, where nothing is re-typed."""
    missing = [f.id for f in ledger.fields if f.required and values.get(f.id) is None
               and f.id not in ledger.identity and not _follows_missing(ledger, f, values)]
    for rule in ledger.rules:
        p = rule.params
        if (rule.kind == "required_if" and rule.severity == "error"
                and values.get(p["when_field"]) in p["when_in"] and is_blank(values.get(p["field"]))
                and p["field"] not in missing):
            missing.append(p["field"])
    return missing
