"""身份证号, 残疾证号 and 统一社会信用代码 vectors, including this district's region codes."""
import datetime as dt

import pytest
from support import make_id

from desktop_app.core.catalog.idnumbers import (
    age_on,
    check_credit_code,
    check_disability_cert,
    check_id_card,
    disability_parts,
    sex_from_id,
    upgrade_15,
)

TODAY = dt.date(2024, 6, 30)


@pytest.mark.parametrize("number, sex", [
    ("43090219710916154X", "女"),   # 资阳区
    ("430921196812061481", "女"),   # 南县
    ("430981196508202258", "男"),   # 沅江市
    ("11010519491231002X", "女"),   # the GB 11643 example
])
def test_valid_ids_of_the_region(number, sex):
    res = check_id_card(number, today=TODAY)
    assert (res.value, res.error, res.warnings) == (number, None, [])
    assert sex_from_id(number) == sex


def test_district_statistical_code_is_a_warning_not_a_rejection():
    # 430971 is a 统计用区划代码, not in GB/T 2260: historical/unknown codes only warn
    number = make_id("19900101", 2, "430971")
    res = check_id_card(number, today=TODAY)
    assert res.value == number and res.error is None
    assert res.warnings == ["地址码 430971 不在现行行政区划代码表中（可能是历史代码），请核实"]


def test_normalises_spaces_fullwidth_and_lowercase_x():
    assert check_id_card(" ４３０９０２１９７１０９１６１５４ｘ ", today=TODAY).value == "43090219710916154X"


@pytest.mark.parametrize("raw, message", [
    (4.30981196207251e+17, "已被 Excel 转成数字（4.30981E+17），后几位已经丢失，无法恢复。请把该列设置为“文本”格式后重新录入完整的 18 位号码"),
    ("4.30981E+17", "已被 Excel 转成数字（4.30981E+17），后几位已经丢失，无法恢复。请把该列设置为“文本”格式后重新录入完整的 18 位号码"),
    (430981196207251000, "已被 Excel 转成数字（4.30981E+17），后几位已经丢失，无法恢复。请把该列设置为“文本”格式后重新录入完整的 18 位号码"),
    ("430981196207251000", "校验位不对（最后一位应为 5），请核对是否有数字录错；末尾是 000，可能已被 Excel 截断"),
    ("430902197109161541", "校验位不对（最后一位应为 X），请核对是否有数字录错"),
    ("43090219710916154", "应为 18 位（前 17 位数字，最后一位数字或 X），现在是 17 位"),
    ("990902197109161540", "前两位 99 不是有效的省级代码，请核对"),
    ("430902197113161540", "第 7–14 位不是有效的出生日期"),
    (make_id("20250101"), "号码中的出生日期晚于今天"),
])
def test_rejections_explain_what_to_do(raw, message):
    res = check_id_card(raw, today=TODAY)
    assert res.value is None
    assert res.error == message


def test_fifteen_digit_numbers_are_offered_an_upgrade():
    res = check_id_card("430902710916154", today=TODAY)
    assert res.suggestion == "43090219710916154X" == upgrade_15("430902710916154")
    assert "15 位旧号码" in res.error and "43090219710916154X" not in res.error  # never echoed


def test_disability_certificate():
    cert = "43090219710916154X" + "41"
    assert check_disability_cert(cert, today=TODAY).value == cert
    assert disability_parts(cert) == ("43090219710916154X", "肢体", "一级")
    assert check_disability_cert("43090219710916154X81", today=TODAY).error == \
        "第 19 位是残疾类别码，应为 1–7，现在是 8"
    assert check_disability_cert("43090219710916154X45", today=TODAY).error == \
        "第 20 位是残疾等级码，应为 1–4，现在是 5"
    assert check_disability_cert("43090219710916154X4", today=TODAY).error.startswith("应为 20 位")


def test_credit_code():
    assert check_credit_code("91350100M000100Y43").value == "91350100M000100Y43"
    assert check_credit_code("91350100M000100Y42").error == "校验位不对，请核对营业执照上的代码"
    assert check_credit_code("91350100M00010OY43").error.startswith("只含数字和大写字母")
    assert check_credit_code("9135").error == "应为 18 位，现在是 4 位"


def test_age_on_birthday_boundaries():
    born = dt.date(1960, 3, 5)
    assert [age_on(born, dt.date(2024, 3, d)) for d in (4, 5)] == [63, 64]
