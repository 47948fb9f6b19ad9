"""Normalising the values people type and Excel produces."""
import datetime as dt

import pytest

from desktop_app.core.catalog.fieldtypes import display, normalize, parse_date
from desktop_app.core.catalog.model import Field

TODAY = dt.date(2024, 6, 30)
DATE = Field("d", "检查日期", "date")


@pytest.mark.parametrize("raw", [
    "2024-03-05", "2024.3.5", "2024/3/5", "2024年3月5日", "2024年03月05号", " ２０２４-３-５ ",
    "20240305", 45356, 45356.0, 20240305, dt.date(2024, 3, 5), dt.datetime(2024, 3, 5, 8, 30),
    "2024-03-05 00:00:00",
])
def test_dates_in_the_forms_people_type(raw):
    assert normalize(DATE, raw, today=TODAY).value == "2024-03-05"


@pytest.mark.parametrize("raw, error", [
    ("2024-02-30", "检查日期：“2024-02-30”不是有效日期，请写成 2024-03-05 或 2024年3月5日"),
    ("上周三", "检查日期：“上周三”不是有效日期，请写成 2024-03-05 或 2024年3月5日"),
    ("2024-07-01", "检查日期：2024-07-01 晚于今天，请核对"),
])
def test_bad_dates(raw, error):
    assert normalize(DATE, raw, today=TODAY).error == error


def test_blank_is_none():
    for raw in (None, "", "  ", "\u3000", float("nan")):
        assert normalize(DATE, raw, today=TODAY).value is None


@pytest.mark.parametrize("raw, value", [
    ("13800001234", "13800001234"), ("+86 138-0000-1234", "13800001234"),
    ("１３８００００１２３４", "13800001234"), (13800001234.0, "13800001234"),
    ("0086 13800001234", "13800001234"), ("0737-1234567", "0737-1234567"),
    ("07371234567", "0737-1234567"), ("(0737)12345678", "0737-12345678"),
])
def test_phones(raw, value):
    assert normalize(Field("p", "联系电话", "phone"), raw).value == value


def test_bad_phone_names_the_field():
    assert normalize(Field("p", "联系电话", "phone"), "1380000123").error == \
        "联系电话：号码格式不对：手机号 11 位、以 13–19 开头；固话写作 0737-1234567"


@pytest.mark.parametrize("raw, value", [
    ("12.5", 12.5), ("１２.５公里", 12.5), ("1,234.5", 1234.5), (3, 3.0), ("21万", 210000.0),
    ("138.894", 138.894),
])
def test_decimals_with_units(raw, value):
    assert normalize(Field("n", "长度", "decimal", unit="公里"), raw).value == value


def test_numbers_range_and_integers():
    f = Field("n", "托位数", "integer", min=0, max=500, unit="个")
    assert normalize(f, "55个").value == 55
    assert normalize(f, 12.0).value == 12
    assert normalize(f, "1.5").error == "托位数：应填整数，现在是 1.5"
    assert normalize(f, "-1").error == "托位数：不能小于 0"
    assert normalize(f, "五十").error == "托位数：“五十”不是数字（单位：个）"
    assert normalize(Field("r", "比率", "decimal", unit="%"), "95%").value == 95.0


def test_choices_aliases_and_multichoice():
    f = Field("c", "人群类别", "choice", choices=("农村适龄", "城镇低保"), aliases={"低保": "城镇低保"})
    assert normalize(f, " 城镇低保 ").value == "城镇低保"
    assert normalize(f, "低保").value == "城镇低保"
    assert normalize(f, "其他").error == "人群类别：“其他”不是可选项，应为：农村适龄、城镇低保"
    m = Field("m", "改造内容", "multichoice", choices=("扶手", "坡化", "房门加宽"))
    assert normalize(m, "房门加宽，扶手、扶手").value == "扶手、房门加宽"
    assert "“马桶”不是可选项" in normalize(m, "扶手/马桶").error


def test_yes_no_and_display():
    f = Field("y", "协议已签", "yesno")
    assert [normalize(f, v).value for v in ("是", "否", "√", 1, "N")] == [1, 0, 1, 1, 0]
    assert normalize(f, "也许").error == "协议已签：“也许”应填“是”或“否”"
    assert normalize(f, float("inf")).error == "协议已签：“inf”应填“是”或“否”"
    assert display(f, 1) == "是"
    assert display(Field("n", "长度", "decimal"), 12.5) == "12.5"


def test_text_length_and_control_characters():
    f = Field("t", "姓名", "text", max_length=4)
    assert normalize(f, " 示例一 ").value == "示例一"
    assert normalize(f, "示例示例一").error == "姓名：最多 4 个字，现在是 5 个"
    assert normalize(f, "示\x07例").error == "姓名：含有不可见的控制字符，请重新输入"


def test_parse_date_rejects_nonsense_numbers():
    assert parse_date(-5) is None and parse_date(True) is None
