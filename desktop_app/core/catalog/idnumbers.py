"""Identity numbers: 身份证号 (GB 11643), 残疾证号, 统一社会信用代码 (GB 32100).

Checks use python-stdnum; the messages are Chinese and say what to do::

    >>> check_id_card("43090219710916154X").value
    '43090219710916154X'
    >>> check_id_card(4.30981196207251e+17).error[:12]
    '已被 Excel 转成数'
    >>> sex_from_id("43090219710916154X")
    '女'
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
}
DISABILITY_CATEGORIES = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
DISABILITY_GRADES = ("一级", "二级", "三级", "四级")
_PLAIN_ID = re.compile(r"[0-9]{17}[0-9X]")     # ASCII digits only: nothing to fold
_ID = re.compile(r"\d{17}[\dX]")
_SCIENTIFIC = re.compile(r"\d(\.\d+)?E\+?\d+")
_CREDIT = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
# spaces and the characters that show as nothing (soft hyphen, zero-width and joiners,
# direction marks): a name or number holding one looks like the one without it
_INVISIBLE = re.compile(r"[\s\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]+")
_EXCEL_MSG = (
    "已被 Excel 转成数字（{shown}），后几位已经丢失，无法恢复。"
    "请把该列设置为“文本”格式后重新录入完整的 18 位号码"
)


@dataclass
class Checked:
    """The result of checking one value: the normalised value or an error."""

    value: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    suggestion: str | None = None


def fold(text: str) -> str:
    """Full-width to half-width, strip spaces and invisible characters.

    >>> fold(" １９９２ ５２９-５１０１ "), fold("示例村\u2060一\u00ad")
    ('1992529-5101', '示例村一')
    """
    text = unicodedata.normalize("NFKC", text)
    return _INVISIBLE.sub("", text)


def _from_number(raw: object) -> str | None:
    """An ID typed into a numeric cell (always damaged beyond 15 digits), shown as Excel
    shows it: never more digits than the region code.

        >>> _from_number(430902197109161531), _from_number(4.30902197109162e+17), _from_number(123)
        ('4.30902E+17', '4.30902E+17', None)
    """
    if isinstance(raw, bool) or isinstance(raw, int) and len(str(raw)) < 16:
        return None
    if isinstance(raw, (int, float)):
        return f"{raw:.6g}".replace("e+", "E+")
    return None


def check_id_card(raw: object, *, today: dt.date | None = None) -> Checked:
    """Check a 身份证号 and return it normalised (upper-case X, 18 digits)."""
    today = today or dt.date.today()
    shown = _from_number(raw)
    if shown is not None:
        return Checked(error=_EXCEL_MSG.format(shown=shown))
    text = str(raw)
    if not _PLAIN_ID.fullmatch(text):  # the usual case skips the Unicode folding
        text = fold(text).upper()
    if _SCIENTIFIC.fullmatch(text):
        return Checked(error=_EXCEL_MSG.format(shown=text))
    if len(text) == 15 and text.isdigit():
        upgraded = upgrade_15(text)
        return Checked(
            error="这是 15 位旧号码，请改填 18 位号码（可按规则升位，请与本人证件核对）",
            suggestion=upgraded,
        )
    if not _ID.fullmatch(text):
        if len(text) == 18:   # the length is right: say which character is not
            bad = next(i for i, ch in enumerate(text)
                       if not ("0" <= ch <= "9" or (i == 17 and ch == "X")))
            return Checked(error=f"第 {bad + 1} 位不是数字（前 17 位应为数字，最后一位为数字或 X），请核对")
        return Checked(error=f"应为 18 位（前 17 位数字，最后一位数字或 X），现在是 {len(text)} 位")
    if text[:2] not in PROVINCES:
        return Checked(error=f"前两位 {text[:2]} 不是有效的省级代码，请核对")
    try:
        birth = birth_from_id(text)
    except ValueError:
        return Checked(error="第 7–14 位不是有效的出生日期")
    if birth > today:
        return Checked(error="号码中的出生日期晚于今天")
    if birth.year < 1890:
        return Checked(error=f"号码中的出生日期 {birth:%Y-%m-%d} 不合理")
    if ric.calc_check_digit(text) != text[-1]:
        hint = "；末尾是 000，可能已被 Excel 截断" if text.endswith("000") else ""
        return Checked(error=f"校验位不对（最后一位应为 {ric.calc_check_digit(text)}），"
                             f"请核对是否有数字录错{hint}")
    warning = region_warning(text[:6])
    return Checked(value=text, warnings=[warning] if warning else [])


@lru_cache(maxsize=4096)
def region_warning(code: str) -> str | None:
    """The warning for a region code (digits 1–6 of an ID number) that is not in the
    current table of counties, or None.

        >>> region_warning("430902") is None, region_warning("439902")
        (True, '地址码 439902 不在现行行政区划代码表中（可能是历史代码），请核实')
    """
    info = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    return None if "county" in info else f"地址码 {code} 不在现行行政区划代码表中（可能是历史代码），请核实"


def upgrade_15(old: str) -> str:
    """Upgrade a 15-digit ID (yymmdd birth) to 18 digits: add 19, add the check digit.

    >>> upgrade_15("430902710916154")
    '43090219710916154X'
    """
    body = old[:6] + "19" + old[6:]
    return body + ric.calc_check_digit(body + "0")


def birth_from_id(number: str) -> dt.date:
    """The birth date in an ID number (digits 7–14).

    :raises ValueError: if they are not a real date.
    """
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def sex_from_id(number: str) -> str:
    return "男" if int(number[16]) % 2 else "女"


def age_on(birth: dt.date, on: dt.date) -> int:
    """Full years of age on a date.

    >>> age_on(dt.date(1960, 3, 5), dt.date(2024, 3, 4))
    63
    """
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def check_disability_cert(raw: object, *, today: dt.date | None = None) -> Checked:
    """A 残疾证号: the holder's 18-digit ID + category (1–7) + grade (1–4)."""
    text = fold(str(raw)).upper()
    if len(text) != 20:
        return Checked(error=f"应为 20 位（身份证号 18 位 + 类别码 + 等级码），现在是 {len(text)} 位")
    id_part = check_id_card(text[:18], today=today)
    if id_part.error:
        return Checked(error=f"前 18 位（身份证号）{id_part.error}")
    if text[18] not in "1234567":
        return Checked(error=f"第 19 位是残疾类别码，应为 1–7，现在是 {text[18]}")
    if text[19] not in "1234":
        return Checked(error=f"第 20 位是残疾等级码，应为 1–4，现在是 {text[19]}")
    return Checked(value=text)


def disability_parts(cert: str) -> tuple[str, str, str]:
    """(ID number, category, grade) of a valid 残疾证号.

    >>> disability_parts("43090219710916154X41")
    ('43090219710916154X', '肢体', '一级')
    """
    return cert[:18], DISABILITY_CATEGORIES[int(cert[18]) - 1], DISABILITY_GRADES[int(cert[19]) - 1]


def check_credit_code(raw: object) -> Checked:
    """A 统一社会信用代码 (18 characters, GB 32100 check character)."""
    text = fold(str(raw)).upper()
    if len(text) != 18:
        return Checked(error=f"应为 18 位，现在是 {len(text)} 位")
    if not _CREDIT.fullmatch(text):
        return Checked(error="只含数字和大写字母（不用 I、O、S、V、Z），请核对")
    try:
        uscc.validate(text)
    except ValidationError:
        return Checked(error="校验位不对，请核对营业执照上的代码")
    return Checked(value=text)
