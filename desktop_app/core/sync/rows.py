"""Reading the row records of a package, checked before anything is merged: the record's
shape, every value (text up to Excel's cell limit, an integer SQLite holds, a finite
number, or nothing), the versions and their stamps, and the catalog's field rules.

A district merges a year of rows at a time, and the rows of a package repeat: every row
a town entered in one import carries the same versions text, and a column holds a few
hundred distinct values. So each distinct versions text is decoded and checked once per
package, and each field rule is checked once per distinct value of a column (columns
where nearly every value differs, names and ID numbers, are checked row by row)::

    >>> from desktop_app.core.store.schema import review_spec
    >>> reader = RowReader()
    >>> rec = {"u": "r1", "ver": '[[5,"n"]]', "v": {"org": "4309", "status": "待回复"}}
    >>> state = reader.parse(review_spec(), rec)
    >>> state.values["status"], state.versions.get("status"), reader.newest
    ('待回复', Version(stamp=5, origin='n', seen={}), 5)
    >>> reader.parse(review_spec(), dict(rec, v={"org": float("inf")}))
    Traceback (most recent call last):
    ...
    ValueError: 字段 org 的值不合规
"""
from __future__ import annotations

import datetime as dt

from ..store.merge import RowState
from ..store.schema import TableSpec
from ..store.versions import RowVersions, Version
from .package_file import INT64_MAX
from .peers import MAX_TEXT
from .scope import content_problem

INT64_MIN = -INT64_MAX - 1
MAX_MEMO = 20_000        # distinct values remembered per column (beyond: a column of unique values)
MAX_VERSION_TEXTS = 50_000


def value_ok(v: object) -> bool:
    """A field value a package may carry: text up to Excel's cell limit, an integer SQLite
    can hold, a finite number, or nothing.

    >>> value_ok("示例"), value_ok(2 ** 63), value_ok(float("nan")), value_ok(True)
    (True, False, False, False)
    """
    kind = type(v)
    return (v is None or kind is str and len(v) <= MAX_TEXT or kind is int and INT64_MIN <= v <= INT64_MAX
            or kind is float and float("-inf") < v < float("inf"))


class RowReader:
    """Parses the row records of one package (see the module's notes); ``newest`` is the
    largest stamp seen in them so far (versions, what they had seen, and losing leaves).

    ``memo`` False checks every row on its own (the reference the memoised path is tested
    against)."""

    memo = True

    def __init__(self, *, today: dt.date | None = None):
        self.newest = 0
        self.today = today or dt.date.today()
        self._versions: dict[str, tuple[RowVersions, int]] = {}
        self._rules: dict[str, dict[object, str | None]] = {}

    # -- shape, values, versions
    def parse(self, spec: TableSpec, rec: dict) -> RowState:
        """The row ``rec`` carries, checked.

        :raises ValueError: (or TypeError …) the record, a value or a version is not acceptable.
        """
        values, ver = rec.get("v"), rec.get("ver")
        uid, created, origin, lost = rec.get("u"), rec.get("c"), rec.get("o"), rec.get("l")
        if not (type(uid) is str and 0 < len(uid) <= 64 and type(values) is dict
                and type(ver) is str and len(ver) < 200_000
                and (created is None or type(created) is str and len(created) <= 64)
                and (origin is None or type(origin) is str and len(origin) <= 64)
                and (lost is None or type(lost) is dict)):
            raise ValueError("记录格式不对")
        get = values.get
        clean = {col: get(col) for col in spec.versioned}
        for col, v in clean.items():
            kind = type(v)
            if kind is str:
                if len(v) <= MAX_TEXT:
                    continue
            elif v is None or kind is int and INT64_MIN <= v <= INT64_MAX or \
                    kind is float and float("-inf") < v < float("inf"):
                continue
            raise ValueError(f"字段 {col} 的值不合规")
        if clean["_deleted"] not in (None, 0, 1):
            raise ValueError("字段 _deleted 的值不合规")
        versions = self._decode(ver)
        losers = {}
        for col, leaves in (lost or {}).items():
            if col in spec.versioned and isinstance(leaves, list):
                losers[col] = [(Version.decode_checked(v), x) for v, x in leaves]
                if not all(value_ok(x) for _, x in losers[col]):
                    raise ValueError(f"字段 {col} 的值不合规")
                for v, _ in losers[col]:
                    self.newest = max(self.newest, v.stamp, *v.seen.values())
        return RowState(clean, versions, losers)

    def _decode(self, text: str) -> RowVersions:
        """A fresh :class:`RowVersions` of ``text`` (checked: shape, nesting, stamps);
        decoded once per distinct text (Version objects are never changed, only replaced)."""
        known = self._versions.get(text) if self.memo else None
        if known is None:
            rv = RowVersions.decode_checked(text)     # shape, nesting and stamps (<= MAX_STAMP)
            newest = max(max([v.stamp, *v.seen.values()]) for v in [rv.base, *rv.fields.values()])
            known = rv, newest
            if self.memo and len(self._versions) < MAX_VERSION_TEXTS:
                self._versions[text] = known
        rv, newest = known
        if newest > self.newest:
            self.newest = newest
        return RowVersions(rv.base, dict(rv.fields))

    # -- the catalog's field rules
    def rule_broken(self, fields, values: dict) -> str | None:
        """The first field rule ``values`` break (see :func:`~.scope.content_problem`), each
        distinct text or integer of a column checked once."""
        if not self.memo:
            return content_problem(fields, values, today=self.today)
        for f in fields:
            value = values.get(f.id)
            if value is None:
                continue
            kind = type(value)
            memo = self._rules.get(f.id)
            if memo is None:
                memo = self._rules[f.id] = {}
            key = (kind, value)
            if (kind is str or kind is int) and key in memo:
                problem = memo[key]
            else:
                problem = content_problem((f,), values, today=self.today)
                if (kind is str or kind is int) and len(memo) < MAX_MEMO:
                    memo[key] = problem
            if problem:
                return problem
        return None
