"""Normalise one value typed by a person (or read from Excel) for a catalog field.

``normalize(field, raw)`` returns a :class:`Checked` holding the value to store
(``None`` for empty) or a Chinese error, plus warnings::

    >>> from desktop_app.core.catalog.model import Field
    >>> normalize(Field("d", "检查日期", "date"), "2024年3月5日").value
    '2024-03-05'
    >>> normalize(Field("p", "电话", "phone"), "+86 138-0000-1234").value
    '13800001234'
    >>> normalize(Field("n", "长度", "decimal", unit="公里"), "１２.５公里").value
    12.5
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from functools import lru_cache

from .attachment_refs import KINDS, dump_refs, names, parse_refs
from .idnumbers import Checked, check_credit_code, check_disability_cert, check_id_card, fold
from .model import Field
from .plain import unproven

EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_RE = re.compile(
    r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*[日号]?"
    r"(?:\s*T?\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_YES = {"是", "有", "y", "yes", "true", "1", "√", "✓", "已签", "已签订"}
_NO = {"否", "无", "n", "no", "false", "0", "×", "✗", "未签", "未签订"}
_SEPARATORS = re.compile(r"[、,，;；/／|\s]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_PLAIN_MOBILE = re.compile(r"1[3-9][0-9]{9}")     # ASCII digits only: nothing to fold
_LANDLINE = re.compile(r"(0(?:10|2\d|[3-9]\d{2}))(\d{7,8})")
_PHONE_MARKS = re.compile(r"[-()（）—]")
_COUNTRY = re.compile(r"^(\+?86|0086)(?=1\d{10}$)")
_DIGITS_8 = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DIGITS_6 = re.compile(r"(\d{4})(\d{2})")


_BLANK = " \t\r\n\u3000\u00a0\u200b\u200c\u200d\ufeff"
HIDDEN = "***"                 # a masked value of a field that shows nothing of itself
_SHOWS_ENDS = frozenset({"id_card", "disability_cert", "phone"})   # masked: 430***…154X, 138****1234


def is_blank(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip(_BLANK)
    return isinstance(raw, float) and math.isnan(raw)


def looks_masked(field_type: str, raw: object) -> bool:
    """Whether ``raw`` is a masked value (as every output masks a sensitive one), not a value:
    an ID or phone number with ``*`` in it, or ``***``. Such a cell came from a masked
    export or screen and must never be stored as the value itself::

        >>> looks_masked("id_card", "430***********154X"), looks_masked("phone", "138****1234")
        (True, True)
        >>> looks_masked("choice", "***"), looks_masked("text", "示例*注"), looks_masked("id_card", 4.3e17)
        (True, False, False)
    """
    if raw.__class__ is not str:
        return False
    text = unicodedata.normalize("NFKC", raw).strip(_BLANK)
    if field_type in _SHOWS_ENDS:
        return "*" in text
    return len(text) >= 3 and set(text) == {"*"}


def masked_problem(label: str) -> str:
    """The message for a masked cell offered as a value (it names no value)."""
    return (f"{label}：这是打码后的内容（带 *），不是完整的{label}，不能作为内容导入；"
            f"请填写完整的{label}（本程序导出的表中，打码的单元格保持原样即沿用原值）")


def normalize(field: Field, raw: object, *, today: dt.date | None = None) -> Checked:
    """Normalise ``raw`` for ``field``; an empty input gives ``Checked(value=None)``."""
    if not raw.strip(_BLANK) if raw.__class__ is str else is_blank(raw):
        return Checked(value=None)
    result = _HANDLERS[field.type](field, raw, today or dt.date.today())
    return _labelled(field, raw, result) if result.error or result.warnings or result.suggestion else result


def normalize_many(field: Field, raws: list, *, today: dt.date | None = None) -> tuple[list, dict[int, Checked]]:
    """Normalise each of ``raws`` for ``field`` (a column's distinct values), as
    :func:`normalize` does one: the values (None for empty or invalid) and, by index, the
    :class:`Checked` of each value that has an error or a warning (messages led by the
    field's label; values with the same warning and no error may share one, which holds
    no value). The values of a column typed the usual way are proven so in bulk
    (:mod:`.plain`); only the others are checked one by one.

        >>> normalize_many(Field("d", "检查日期", "date"), ["2024.3.5", "", "明天"], today=dt.date(2024, 6, 30))
        (['2024-03-05', None, None], {2: Checked(value=None, error='检查日期：“明天”不是有效日期，请写成 2024-03-05 或 2024年3月5日', warnings=[], suggestion=None)})
    """
    today = today or dt.date.today()
    handler = _HANDLERS[field.type]
    proof = unproven(field, raws, today) if len(raws) > 1 else None
    if proof is None:
        values, rest, warned = [None] * len(raws), range(len(raws)), {}
    else:
        values, (rest, warned) = list(raws), proof
    issues: dict[int, Checked] = {}
    for i in rest:
        raw = raws[i]
        if not raw.strip(_BLANK) if raw.__class__ is str else is_blank(raw):
            values[i] = None
            continue
        result = handler(field, raw, today)
        values[i] = result.value
        if result.error or result.warnings or result.suggestion:
            issues[i] = _labelled(field, raw, result)
    if warned:      # one Checked for the values with the same warning
        shared = {w: Checked(warnings=[f"{field.label}：{w}"]) for w in set(warned.values())}
        warned = {i: shared[w] for i, w in warned.items()}
        issues = dict(sorted((issues | warned).items())) if issues else warned
    return values, issues


def _labelled(field: Field, raw: object, result: Checked) -> Checked:
    """The messages of ``result`` led by the field's label, a sensitive value never echoed."""
    if result.error:
        if field.sensitive:  # messages reach screens, files and logs: never echo a sensitive value
            result.error = result.error.replace(f"“{str(raw).strip()}”", "所填内容")
        result.error = f"{field.label}：{result.error}"
    result.warnings = [f"{field.label}：{w}" for w in result.warnings]
    return result


def _text(field: Field, raw, today) -> Checked:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = str(raw).strip().replace("\u3000", " ")
    if _CONTROL.search(text):
        return Checked(error="含有不可见的控制字符，请重新输入")
    if field.max_length and len(text) > field.max_length:
        return Checked(error=f"最多 {field.max_length} 个字，现在是 {len(text)} 个")
    return Checked(value=text)


def parse_date(raw: object) -> dt.date | None:
    """A date from the forms people type, Excel serials and date objects.

    >>> parse_date("2024.3.5"), parse_date(45356), parse_date("20240305")
    (datetime.date(2024, 3, 5), datetime.date(2024, 3, 5), datetime.date(2024, 3, 5))
    """
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if float(raw).is_integer() and 19000101 <= raw <= 21001231:
            return parse_date(str(int(raw)))
        if 1 <= raw < 2958466:
            return EXCEL_EPOCH + dt.timedelta(days=int(raw))
        return None
    text = fold(str(raw))
    m = _DATE_RE.fullmatch(text) or _DIGITS_8.fullmatch(text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _date(field: Field, raw, today) -> Checked:
    value = parse_date(raw)
    if value is None:
        return Checked(error=f"“{raw}”不是有效日期，请写成 2024-03-05 或 2024年3月5日")
    if field.not_future and value > today:
        return Checked(error=f"{value:%Y-%m-%d} 晚于今天，请核对")
    return Checked(value=value.isoformat())


def _number(field: Field, raw, today) -> Checked:
    if isinstance(raw, bool):
        return Checked(error="应填数字")
    if isinstance(raw, (int, float)):
        number = float(raw)
    else:
        text = fold(str(raw)).replace(",", "")
        multiplier = 1
        unit = fold(field.unit or "")
        if unit and text.endswith(unit):
            text = text[: -len(unit)]
        if text.endswith("万") and not unit.startswith("万"):
            text, multiplier = text[:-1], 10000
        if text.endswith("%") and unit == "%":
            text = text[:-1]
        try:
            number = float(text) * multiplier
        except ValueError:
            suffix = f"（单位：{field.unit}）" if field.unit else ""
            return Checked(error=f"“{raw}”不是数字{suffix}")
    if not math.isfinite(number):
        return Checked(error="应填有限的数字")
    if field.min is not None and number < field.min:
        return Checked(error=f"不能小于 {field.min:g}")
    if field.max is not None and number > field.max:
        return Checked(error=f"不能大于 {field.max:g}")
    if field.type == "integer":
        if not number.is_integer():
            return Checked(error=f"应填整数，现在是 {number:g}")
        return Checked(value=int(number))
    return Checked(value=round(number, 6))


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "").lower()


def _choice_lookup(field: Field) -> dict[str, str]:
    return _lookup_table(field.choices, tuple(field.aliases.items()))


@lru_cache(maxsize=1024)
def _lookup_table(choices: tuple[str, ...], aliases: tuple[tuple[str, str], ...]) -> dict[str, str]:
    table = {_key(c): c for c in choices}
    table.update({_key(a): c for a, c in aliases})
    return table


def _choice(field: Field, raw, today) -> Checked:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    hit = _choice_lookup(field).get(_key(str(raw)))
    if hit is None:
        return Checked(error=f"“{raw}”不是可选项，应为：{'、'.join(field.choices)}")
    return Checked(value=hit)


def _multichoice(field: Field, raw, today) -> Checked:
    lookup = _choice_lookup(field)
    parts = [p for p in _SEPARATORS.split(unicodedata.normalize("NFKC", str(raw))) if p]
    chosen = set()
    for part in parts:
        hit = lookup.get(_key(part))
        if hit is None:
            return Checked(error=f"“{part}”不是可选项，应从以下选择（可多选，用“、”分隔）："
                                 f"{'、'.join(field.choices)}")
        chosen.add(hit)
    return Checked(value="、".join(c for c in field.choices if c in chosen))


def _yesno(field: Field, raw, today) -> Checked:
    key = _key(str(int(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool)
                   and math.isfinite(raw) else raw))     # (inf: no number of either)
    if key in _YES:
        return Checked(value=1)
    if key in _NO:
        return Checked(value=0)
    return Checked(error=f"“{raw}”应填“是”或“否”")


def _id_card(field: Field, raw, today) -> Checked:
    return check_id_card(raw, today=today)


def _phone(field: Field, raw, today) -> Checked:
    if raw.__class__ is str and _PLAIN_MOBILE.fullmatch(raw):
        return Checked(value=raw)        # the usual case: nothing to fold or strip
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = _PHONE_MARKS.sub("", fold(str(raw)))
    text = _COUNTRY.sub("", text)
    if _MOBILE.fullmatch(text):
        return Checked(value=text)
    m = _LANDLINE.fullmatch(text)
    if m:
        return Checked(value=f"{m[1]}-{m[2]}")
    return Checked(error="号码格式不对：手机号 11 位、以 13–19 开头；固话写作 0737-1234567")


def _attachment(field: Field, raw, today) -> Checked:
    """A list of file references (made by :mod:`.attachments`, never typed)."""
    try:
        refs = parse_refs(raw)
    except (ValueError, TypeError):
        return Checked(error="附件只能在程序里添加（表格中的文件名不会导入）")
    bad = [r["name"] for r in refs if field.kinds and r["type"] not in field.kinds]
    if bad:
        return Checked(error=f"{'、'.join(bad)} 的类型不对，这一栏只能添加"
                             f"{'、'.join(KINDS[k] for k in field.kinds)}")
    if field.max_files and len(refs) > field.max_files:
        return Checked(error=f"最多 {field.max_files} 个文件，现在是 {len(refs)} 个")
    return Checked(value=dump_refs(refs))


def _credit_code(field: Field, raw, today) -> Checked:
    return check_credit_code(raw)


def _disability_cert(field: Field, raw, today) -> Checked:
    return check_disability_cert(raw, today=today)

_MONTH_RE = re.compile(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*月?(?:\s*份)?")


def _month(field: Field, raw, today) -> Checked:
    """A month (所属月份) as ``YYYY-MM``: 2024-03, 2024年3月, 2024.3, 202403, or a date."""
    day = parse_date(raw) if not isinstance(raw, str) or len(fold(raw)) > 7 else None
    if day is not None:
        return Checked(value=f"{day:%Y-%m}")
    text = fold(str(int(raw) if isinstance(raw, float) and raw.is_integer() else raw))
    m = _MONTH_RE.fullmatch(text) or _DIGITS_6.fullmatch(text)
    if not m or not 1 <= int(m[2]) <= 12:
        return Checked(error=f"“{raw}”不是有效月份，请写成 2024-03 或 2024年3月")
    if field.not_future and (int(m[1]), int(m[2])) > (today.year, today.month):
        return Checked(error=f"{m[1]}-{int(m[2]):02d} 晚于本月，请核对")
    return Checked(value=f"{m[1]}-{int(m[2]):02d}")


_HANDLERS = {
    "text": _text, "integer": _number, "decimal": _number, "date": _date,
    "choice": _choice, "multichoice": _multichoice, "yesno": _yesno, "id_card": _id_card,
    "phone": _phone, "credit_code": _credit_code, "disability_cert": _disability_cert,
    "attachment": _attachment, "month": _month,
}


def display(field: Field, value: object) -> str:
    """The value as a person reads it (是/否, trimmed decimals)."""
    if value is None or value == "":
        return ""
    if field.type == "yesno":
        return "是" if value else "否"
    if field.type == "decimal" and isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if field.type == "attachment":
        return names(value)
    return str(value)
