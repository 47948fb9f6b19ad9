"""A column's values proven in bulk (catalog.plain) normalise exactly as each value checked
on its own (fieldtypes.normalize): values, errors, warnings, suggestions."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from support import make_id

from desktop_app.core.catalog.fieldtypes import normalize, normalize_many
from desktop_app.core.catalog.model import Field
from desktop_app.core.catalog.plain import unproven

TODAY = dt.date(2024, 6, 30)
FIELDS = [Field("i", "身份证号", "id_card", sensitive=True), Field("p", "联系电话", "phone", sensitive=True),
          Field("n", "姓名", "text"), Field("a", "地址", "text", max_length=6),
          Field("d", "检查日期", "date"), Field("b", "出生日期", "date", not_future=False)]
ODD = ["", " ", "\u3000", "\u200b", "\n", "\t", "\x07", "\u00a0", "\u2003", "\ufeff", "*", "X", "x", "-",
       "０", "１", "٣", "\u3000示", "示\u3000例", "示\n例", "示\x1f", "\x7f", "e", "E+17"]


@st.composite
def ids(draw) -> str:
    region = draw(st.sampled_from(["430902", "439902", "110101", "990101", "000000", "650000", "4309"]))
    birth = draw(st.sampled_from(["19710916", "18891231", "18900101", "20240630", "20240701", "19710230",
                                  "19711301", "00000000", "2024063"]))
    body = region + birth + draw(st.sampled_from(["154", "007", "000", "99"]))
    right = ric.calc_check_digit(body + "0")
    check = draw(st.sampled_from([right] * 5 + ["0", "X", "x", "5", ""]))
    return body + check


@st.composite
def texts(draw) -> str:
    parts = draw(st.lists(st.sampled_from(ODD + ["示例", "一", "138", "2024-03-05"]), max_size=4))
    return "".join(parts)


PHONES = ["13800001234", "138000012345", "12800001234", "0737-1234567", "010-12345678", "010-1234567",
          "0211-234567", "0211-2345678", "0101-2345678", "021-1234567", "0737-123456", "07371234567", "+8613800001234", "138 0000 1234",
          "0086-0737-1234567", "1380000123X"]
DATES = ["2024-03-05", "2024-02-30", "2024-02-29", "2023-02-29", "2024-07-01", "2024-06-30", "2031-01-01",
         "0000-01-01", "0999-01-01", "2024-3-5", "2024-13-01", "2024-00-10", "9999-12-31"]
OWN = {"id_card": ids(), "phone": st.sampled_from(PHONES), "text": texts(), "date": st.sampled_from(DATES)}


def values(f: Field) -> st.SearchStrategy:
    return st.one_of(
        OWN[f.type], OWN[f.type], OWN[f.type], ids(), texts(), st.text(max_size=20), st.sampled_from(PHONES + DATES),
        st.sampled_from([None, 1, 1.0, 13800001234, 4.30981196207251e+17, 430902197109161540, True,
                         dt.date(2024, 3, 5), dt.datetime(2024, 3, 5, 8, 30), float("nan")]))


def columns() -> st.SearchStrategy:
    return st.sampled_from(FIELDS).flatmap(lambda f: st.tuples(st.just(f), st.lists(values(f), min_size=2, max_size=12)))


def same(a, b) -> bool:
    return type(a) is type(b) and (a == b or a != a and b != b)


def assert_as_alone(f: Field, raws: list) -> None:
    many, issues = normalize_many(f, raws, today=TODAY)
    for i, raw in enumerate(raws):
        one = normalize(f, raw, today=TODAY)
        assert same(many[i], one.value), (raw, many[i], one.value)
        found = issues.get(i)
        got = (found.error, found.warnings, found.suggestion) if found else (None, [], None)
        assert got == (one.error, one.warnings, one.suggestion), raw
    assert list(issues) == sorted(issues)


@settings(max_examples=500, deadline=None)
@given(columns(), st.booleans())
def test_a_column_normalises_as_each_value_alone(column, usual_only):
    f, raws = column
    if usual_only:        # the case proven in one pass over the joined column
        raws = [r for r in raws if r.__class__ is str] * 2 or ["示例"] * 2
    assert_as_alone(f, raws)


@pytest.mark.parametrize("f", FIELDS, ids=[f.id for f in FIELDS])
def test_every_odd_value_of_a_column_normalises_as_alone(f):
    odd = ODD + PHONES + DATES + [make_id(birth, 154, region) for birth in ("19710916", "18891231", "20240701")
                                  for region in ("430902", "439902", "990101")]
    assert_as_alone(f, odd)
    for raw in odd:
        assert_as_alone(f, [raw, raw])


def test_a_column_typed_the_usual_way_is_proven_whole():
    ids = [make_id(f"19{60 + i % 30}0{1 + i % 9}1{i % 10}", 2 * (i % 500)) for i in range(2000)]
    assert unproven(FIELDS[0], ids, TODAY) == ([], {})
    assert unproven(FIELDS[0], ids[:5] + ["43090219710916154x"] + ids[5:], TODAY) == ([5], {})
    assert unproven(FIELDS[1], [f"138{i:08d}" for i in range(2000)], TODAY) == ([], {})
    assert unproven(FIELDS[2], [f"示例路{i}号" for i in range(2000)], TODAY) == ([], {})


def test_an_id_of_a_region_not_in_the_table_is_proven_with_its_warning():
    number = make_id("19710916", 154, region="439902")
    assert unproven(FIELDS[0], [number, make_id("19710916", 154)], TODAY) == \
        ([], {0: "地址码 439902 不在现行行政区划代码表中（可能是历史代码），请核实"})
    values, issues = normalize_many(FIELDS[0], [number, number], today=TODAY)
    assert values == [number, number]
    assert issues[1].warnings == ["身份证号：地址码 439902 不在现行行政区划代码表中（可能是历史代码），请核实"]


def test_a_value_holding_lines_of_usual_values_is_not_proven():
    two_ids = "43090219710916154X\n110101199003077678"
    two_phones = "13800001234\n13900001234"
    values, issues = normalize_many(FIELDS[0], [two_ids, "110101199003077678"], today=TODAY)
    assert values == [None, "110101199003077678"]
    assert issues[0].error == "身份证号：应为 18 位（前 17 位数字，最后一位数字或 X），现在是 36 位"
    values, issues = normalize_many(FIELDS[1], [two_phones, "13800001234"], today=TODAY)
    assert values == [None, "13800001234"]
    assert issues[0].error == "联系电话：号码格式不对：手机号 11 位、以 13–19 开头；固话写作 0737-1234567"
    assert unproven(FIELDS[2], ["示例\n示例", "示例"], TODAY) == ([0], {})
