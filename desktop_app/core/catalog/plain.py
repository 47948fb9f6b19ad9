"""Proving, in bulk, that a column's values are already in the form they are stored in.

Nearly every cell of a column whose values all differ (身份证号, 联系电话, 姓名, 家庭住址)
is typed the usual way, and every value of a package is a stored one: ``43090219710916154X``,
``13800001234``, ``0737-1234567``, ``示例一``, ``2024-03-05``. Such a value is stored as it
is. :func:`unproven` proves a whole column so in a few passes at C speed — one regular
expression over the column joined by newlines, the parts that repeat (region codes, birth
dates, dates) checked once each, the ID check characters computed with ``int(…, 13)`` — and
gives back only the indexes still to be checked one by one, by the field type's own check
(which says what is wrong). A proven value is exactly what that check would give for it,
with no error and no warning but, for an ID number, the one its region code may carry::

    >>> import datetime as dt
    >>> from desktop_app.core.catalog.model import Field
    >>> ids = ["43090219710916154X", "43090219710916154x", "430902197109161540", "110101199003077678"]
    >>> unproven(Field("i", "身份证号", "id_card"), ids, dt.date(2024, 6, 30))
    ([1, 2], {})
    >>> unproven(Field("p", "电话", "phone"), ["13800001234", "0737-1234567", "138 0000 1234", 13800001234], dt.date(2024, 6, 30))
    ([2, 3], {})
    >>> unproven(Field("n", "姓名", "text"), ["示例一", " 示例二", ""], dt.date(2024, 6, 30))
    ([1, 2], {})
    >>> unproven(Field("d", "日期", "date"), ["2024-03-05", "2024-02-30", "2031-01-01", "2024.3.5"], dt.date(2024, 6, 30))
    ([1, 2, 3], {})
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from itertools import repeat
from operator import itemgetter, mod
from typing import Callable

from .idnumbers import PROVINCES, region_warning
from .model import Field

Proof = tuple[list[int], dict[int, str]]     # indexes to check one by one; index → warning


def unproven(field: Field, raws: list, today: dt.date) -> Proof | None:
    """The indexes of ``raws`` not proven already stored as they are (ascending), and the
    warnings of proven ones by index; None for a field type without a usual form."""
    prove = _PROVERS.get(field.type)
    return None if prove is None else prove(field, raws, today)


def _usual(raws: list, one: re.Pattern, many: re.Pattern) -> list[int]:
    """The indexes of ``raws`` that are not text matching ``one`` (``many``: ``one`` lines
    joined by newlines, ``one`` never matching a newline). A value holding a newline is
    never proven: its lines would pass for values of their own."""
    if raws and set(map(type, raws)) == {str}:
        joined = "\n".join(raws)
        if joined.count("\n") == len(raws) - 1 and many.fullmatch(joined):
            return []
    return [i for i, raw in enumerate(raws) if raw.__class__ is not str or not one.fullmatch(raw)]


def _lines(one: str) -> tuple[re.Pattern, re.Pattern]:
    return re.compile(one), re.compile(f"(?:(?:{one})\n)*+(?:{one})")


def _split(raws: list, rest: list[int]) -> tuple[list[int] | range, list]:
    """The indexes not in ``rest`` and their values."""
    if not rest:
        return range(len(raws)), raws
    skip = set(rest)
    index = [i for i in range(len(raws)) if i not in skip]
    return index, [raws[i] for i in index]


def _merged(rest: list[int], index, flags) -> list[int]:
    """``rest`` with the indexes (``index``) of the proven values flagged bad after all."""
    worse = [i for i, bad in zip(index, flags) if bad]
    return sorted(rest + worse) if rest else worse


# ---------------------------------------------------------------- 身份证号

_ID_ONE, _ID_MANY = _lines(r"[0-9]{17}[0-9X]")
_REGION, _BIRTH, _BODY, _LAST = itemgetter(slice(0, 6)), itemgetter(slice(6, 14)), itemgetter(slice(0, 17)), itemgetter(17)
# the check character of an ID number whose first 17 digits, read in base 13, leave k mod 11
# (13 ≡ 2 mod 11: the base-13 value is the GB 11643 weighted sum; see stdnum.cn.ric)
_CHECK = "".join("X" if c == 10 else str(c) for c in ((1 - 2 * k) % 11 for k in range(11)))


def _id_cards(field: Field, raws: list, today: dt.date) -> Proof:
    rest = _usual(raws, _ID_ONE, _ID_MANY)
    index, plain = _split(raws, rest)
    if not plain:
        return rest, {}
    regions = {code: _region(code) for code in set(map(_REGION, plain))}
    codes = {code for code, ok in regions.items() if ok is False}
    births = {birth for birth in set(map(_BIRTH, plain)) if not _birth_ok(birth, today)}
    expected = "".join(map(_CHECK.__getitem__, map(mod, map(int, map(_BODY, plain), repeat(13)), repeat(11))))
    if codes or births or expected != "".join(map(_LAST, plain)):
        rest = _merged(rest, index, (check != s[17] or s[:6] in codes or s[6:14] in births
                                     for s, check in zip(plain, expected)))
    warned = {code: ok for code, ok in regions.items() if ok.__class__ is str}
    if not warned:
        return rest, {}
    skip = set(rest)
    return rest, {i: warned[s[:6]] for i, s in zip(index, plain) if s[:6] in warned and i not in skip}


def _region(code: str) -> bool | str:
    """False: not a province; True: a region of the current table; else its warning."""
    return code[:2] in PROVINCES and (region_warning(code) or True)


@lru_cache(maxsize=1 << 16)     # a district's people are born on some 30,000 days
def _birth_ok(birth: str, today: dt.date) -> bool:
    try:
        day = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    except ValueError:
        return False
    return day <= today and day.year >= 1890


# ---------------------------------------------------------------- the other types

_PHONE_ONE, _PHONE_MANY = _lines(r"1[3-9][0-9]{9}|0(?:10|2[0-9]|[3-9][0-9]{2})-[0-9]{7,8}")
# text: no control character, no full-width space inside, no whitespace (as str.strip sees
# it) or invisible character at either end
_MID = r"[^\x00-\x1f\u3000\u200b\u200c\u200d\ufeff]"
_END = r"[^\s\x00-\x1f\u200b\u200c\u200d\ufeff]"
_TEXT_ONE, _TEXT_MANY = _lines(f"{_END}(?:{_MID}*{_END})?")
_DATE_ONE, _DATE_MANY = _lines(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _phones(field: Field, raws: list, today: dt.date) -> Proof:
    return _usual(raws, _PHONE_ONE, _PHONE_MANY), {}


def _texts(field: Field, raws: list, today: dt.date) -> Proof:
    rest = _usual(raws, _TEXT_ONE, _TEXT_MANY)
    limit = field.max_length
    if limit:
        index, plain = _split(raws, rest)
        if plain and max(map(len, plain)) > limit:
            rest = _merged(rest, index, (len(s) > limit for s in plain))
    return rest, {}


def _dates(field: Field, raws: list, today: dt.date) -> Proof:
    rest = _usual(raws, _DATE_ONE, _DATE_MANY)
    index, plain = _split(raws, rest)
    latest = today.isoformat() if field.not_future else "9999-12-31"
    wrong = {day for day in set(plain) if not _iso_day(day) or day > latest}
    return (_merged(rest, index, map(wrong.__contains__, plain)) if wrong else rest), {}


def _iso_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


_PROVERS: dict[str, Callable[[Field, list, dt.date], Proof]] = {
    "id_card": _id_cards, "phone": _phones, "text": _texts, "date": _dates,
}
