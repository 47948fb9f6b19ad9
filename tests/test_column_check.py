"""The column-wise checks (catalog.validation.Checker) give exactly what the per-row path
gave (tests/oracle_validation.py, the code before issue 18): values, messages, 待补充."""
from __future__ import annotations

import datetime as dt
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle_validation import fill_defaults as oracle_fill
from oracle_validation import missing_fields as oracle_missing
from oracle_validation import validate_row as oracle_row
from support import make_id

from desktop_app.core.catalog import load_catalog
from desktop_app.core.catalog.validation import Checker, checker_of, missing_many, validate_row

CATALOG = load_catalog()
LEDGERS = list(CATALOG.ledgers)
TODAY = dt.date(2024, 6, 30)
GOOD_ID = make_id("19710916", 154)
MAN_ID = make_id("19600101", 7)
ODD = ["", None, "  ", "\u3000", "\u200b", "*", "***", "430***********154X", "138****1234", "示\x07例",
       "x" * 40, -0.0, 0.0, 1, 1.0, True, False, float("nan"), float("inf"), 12.5, 19710916, 4.30981196207251e+17,
       dt.datetime(2024, 3, 5, 8, 30), dt.date(2024, 3, 5), dt.date(2031, 1, 1), "2024年3月5日", "2024-02-30",
       "20240305", "2023-12-31", "2024-07-01", "是", "否", "也许", "１２.５公里", "5万", "95%", "-1",
       GOOD_ID, GOOD_ID.lower(), MAN_ID, "430902710916154", GOOD_ID[:17] + "0", GOOD_ID + "41", GOOD_ID + "99",
       "13800001234", "+86 138-0000-1234", "0737-1234567", "12345", "91350100M000100Y43",
       "91350100M000100Y44", "2024-03", "2024年13月", "低保、一户多残", "扶手/马桶", "示例一", "示例卫生院"]

LOOKALIKES = [[1, 1.0, True, "1"], [0.0, -0.0, False, 0, "0"], [dt.date(2024, 3, 5), dt.datetime(2024, 3, 5)]]


def field_values(f) -> st.SearchStrategy:
    own = list(f.choices) + list(f.aliases)
    if f.type == "multichoice" and len(f.choices) > 1:
        own.append(f"{f.choices[0]}、{f.choices[1]}")
    return st.sampled_from(own + ODD) if own else st.sampled_from(ODD)


@st.composite
def batch(draw):
    led = draw(st.sampled_from(LEDGERS))
    pool = {f.id: draw(st.lists(field_values(f), min_size=1, max_size=3) | st.sampled_from(LOOKALIKES))
            for f in led.fields}
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        chosen = draw(st.lists(st.sampled_from([f.id for f in led.fields]), max_size=len(led.fields), unique=True))
        row = {fid: draw(st.sampled_from(pool[fid])) for fid in chosen}
        if draw(st.integers(0, 9)) == 0:
            row["no_such_field"] = "x"
        rows.append(row)
    return led, rows


def same(a, b) -> bool:
    """Equal and of the same type, floats by their text (-0.0 is not 0.0, nan is nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b) or (math.isnan(a) and math.isnan(b))
    return a == b


def outcome(check) -> tuple:
    return ([(p.field, p.message, p.severity, p.suggestion) for p in check.problems], list(check.missing))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch())
def test_column_checks_equal_the_per_row_checks(case):
    led, rows = case
    checked = Checker(led, plan_year=2024, today=TODAY).check_rows(rows)
    assert checked.n == len(rows)
    for i, raw in enumerate(rows):
        old, new = oracle_row(led, raw, plan_year=2024, today=TODAY), checked.row(i)
        assert list(new.values) == list(old.values)
        assert all(same(new.values[k], v) for k, v in old.values.items()), (new.values, old.values)
        assert outcome(new) == outcome(old)
        assert checked.ok(i) == old.ok
        assert outcome(validate_row(led, raw, plan_year=2024, today=TODAY)) == outcome(old)


@settings(max_examples=200, deadline=None)
@given(batch(), st.data())
def test_filling_and_missing_equal_the_per_row_path(case, data):
    """Stored rows filled and their 待补充 worked out column by column (a catalog adopted,
    rows merged) as the per-row path does."""
    led, rows = case
    stored = []
    for raw in rows:
        values = oracle_row(led, raw, plan_year=2024, today=TODAY).values
        for fid in data.draw(st.lists(st.sampled_from(list(values)), max_size=4)):
            values[fid] = None          # stored rows that lack what a save would have filled
        stored.append(values)
    assert missing_many(led, stored) == [oracle_missing(led, values) for values in stored]
    columns = {f.id: [values.get(f.id) for values in stored] for f in led.fields}
    filled = checker_of(led).fill_defaults(columns, len(stored))
    for i, values in enumerate(stored):
        assert {f: columns[f][i] for f, rows in filled.items() if i in rows} == oracle_fill(led, values)
        assert {f: columns[f][i] for f in columns} == {f: values.get(f) for f in columns}
    assert checker_of(led).missing(columns, len(stored)) == {
        i: found for i, values in enumerate(stored) if (found := oracle_missing(led, values))}


def test_a_distinct_value_is_checked_once_per_column(monkeypatch):
    from desktop_app.core.catalog import validation
    seen = []
    real = validation.normalize_many

    def counting(f, raws, **kw):
        seen.append((f.id, len(raws)))
        return real(f, raws, **kw)
    monkeypatch.setattr(validation, "normalize_many", counting)
    led = CATALOG.ledger("two_cancer")
    rows = [{"name": f"示例{i}", "population": "农村适龄" if i % 2 else "低保", "cervical_date": "2024-03-05"}
            for i in range(1000)]
    checked = Checker(led, plan_year=2024, today=TODAY).check_rows(rows)
    calls = dict(seen)
    assert calls["population"] == 2 and calls["cervical_date"] == 1 and calls["name"] == 1000
    assert checked.values["population"][:2] == ["城镇低保", "农村适龄"]


def test_one_and_true_and_one_point_zero_are_different_cells():
    led = CATALOG.ledger("two_cancer")
    checked = Checker(led, plan_year=2024, today=TODAY).check_rows(
        [{"name": 1}, {"name": True}, {"name": 1.0}, {"name": -0.0}, {"name": 0.0}])
    assert checked.values["name"] == ["1", "True", "1", "0", "0"]
