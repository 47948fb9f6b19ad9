"""Reading the row records of a package, checked before anything is merged: the record's
shape, every value (text up to Excel's cell limit, an integer SQLite holds, a finite
number, or nothing), the versions and their stamps, the catalog's field rules and the
ledger's rules relating a row's fields.

A district merges a year of rows at a time, and the rows of a package repeat: every row
a town entered in one import carries the same versions text, and a column holds a few
hundred distinct values. So a batch of records is checked column by column: each
distinct versions text is decoded and checked once per package, every value's type and
size in one pass over its column, and each field rule once per distinct value (names and
ID numbers, where nearly every value differs, still cost a check each)::

    >>> from desktop_app.core.store.schema import review_spec
    >>> reader = RowReader()
    >>> rec = {"u": "r1", "ver": '[[5,"n"]]', "v": {"org": "4309", "status": "待回复"}}
    >>> state, refused = reader.parse_many(review_spec(), [rec, dict(rec, v={"org": float("inf")})])
    >>> state.values["status"], state.versions.get("status"), reader.newest, refused
    ('待回复', Version(stamp=5, origin='n', seen={}), 5, None)
"""
from __future__ import annotations

import datetime as dt

from ..store.merge import RowState
from ..store.schema import TableSpec
from ..store.versions import RowVersions, Version
from .package_file import INT64_MAX
from .peers import MAX_TEXT
from ..catalog.validation import checker_of
from .scope import column_check, column_problems, content_problem, rule_day, rule_problems

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
        self._rules: dict[tuple[int, bool], dict] = {}   # (id(field), read) -> value -> rule broken (…)

    # -- shape, values, versions
    def parse_many(self, spec: TableSpec, recs: list[dict]) -> list[RowState | None]:
        """The rows ``recs`` carry, checked; None for a record that is not acceptable (its
        shape, a value, a version). Each record's shape and versions are checked on their
        own, the values column by column (a value is checked before its record's versions
        count towards :attr:`newest`, as :meth:`parse` does)."""
        if not self.memo:
            return [self._parse_or_none(spec, rec) for rec in recs]
        versioned = spec.versioned
        out: list[RowState | None] = [None] * len(recs)
        shaped = [i for i, rec in enumerate(recs) if _shape_ok(rec)]
        rows = [tuple(map(recs[i]["v"].get, versioned)) for i in shaped]
        bad: set[int] = set()
        for col, column in zip(versioned, zip(*rows)):
            deleted = col == "_deleted"
            if not _column_ok(column, deleted):
                bad.update(k for k, v in enumerate(column) if not _cell_ok(v, deleted))
        for k, (i, row) in enumerate(zip(shaped, rows)):
            if k not in bad:
                try:
                    out[i] = self._state(spec, recs[i], dict(zip(versioned, row)))
                except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                    pass
        return out

    def parse(self, spec: TableSpec, rec: dict) -> RowState:
        """The row ``rec`` carries, checked (one record: :meth:`parse_many`'s reference).

        :raises ValueError: (or TypeError …) the record, a value or a version is not acceptable.
        """
        if not _shape_ok(rec):
            raise ValueError("记录格式不对")
        values = rec["v"]
        clean = {col: values.get(col) for col in spec.versioned}
        for col, v in clean.items():
            if not _cell_ok(v, col == "_deleted"):
                raise ValueError(f"字段 {col} 的值不合规")
        return self._state(spec, rec, clean)

    def _parse_or_none(self, spec: TableSpec, rec: dict) -> RowState | None:
        try:
            return self.parse(spec, rec)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None

    def _state(self, spec: TableSpec, rec: dict, clean: dict) -> RowState:
        """The row of ``rec`` with its checked ``clean`` values; its stamps count towards
        :attr:`newest` only once all of it is accepted."""
        versions, newest = self._decode(rec["ver"])
        losers = {}
        for col, leaves in (rec.get("l") or {}).items():
            if col in spec.versioned and isinstance(leaves, list):
                losers[col] = [(Version.decode_checked(v), x) for v, x in leaves]
                if not all(value_ok(x) for _, x in losers[col]):
                    raise ValueError(f"字段 {col} 的值不合规")
                for v, _ in losers[col]:
                    newest = max(newest, v.stamp, *v.seen.values())
        if newest > self.newest:
            self.newest = newest
        return RowState(clean, versions, losers)

    def _decode(self, text: str) -> tuple[RowVersions, int]:
        """A fresh :class:`RowVersions` of ``text`` (checked: shape, nesting, stamps) and its
        newest stamp; decoded once per distinct text (a Version is never changed, only replaced)."""
        known = self._versions.get(text) if self.memo else None
        if known is None:
            rv = RowVersions.decode_checked(text)     # shape, nesting and stamps (<= MAX_STAMP)
            known = rv, max(max([v.stamp, *v.seen.values()]) for v in [rv.base, *rv.fields.values()])
            if self.memo and len(self._versions) < MAX_VERSION_TEXTS:
                self._versions[text] = known
        rv, newest = known
        return RowVersions(rv.base, dict(rv.fields)), newest

    # -- the catalog's field rules, and the rules relating a row's fields
    def rules_broken(self, fields, rows: list[dict], ledger=None) -> list[str | None]:
        """For each of ``rows`` (checked values), the first field rule it breaks or None
        (see :func:`~.scope.content_problem`): column by column, each distinct text or
        integer of a column checked once (a number with a fraction: each on its own). With
        the rows' ``ledger``, then the rules relating a row's fields, over the normalised
        columns those rules read, for the rows breaking no field rule
        (:func:`~.scope.rule_problems`)."""
        if not self.memo:
            return [content_problem(fields, values, today=self.today, ledger=ledger) for values in rows]
        latest = rule_day(self.today)
        problems: list[str | None] = [None] * len(rows)
        reads = set(checker_of(ledger).rule_reads) if ledger is not None else set()
        normalised: dict[str, list] = {}
        ids = [f.id for f in fields]
        columns = zip(*[tuple(map(values.get, ids)) for values in rows]) if rows else ()
        for f, column in zip(fields, columns):
            read = f.id in reads
            if float in set(map(type, column)):
                found, values = column_check(f, column, latest)
                found = dict(enumerate(found))
            else:
                # by field (two ledgers may give one id other rules); a field the rules relating
                # fields read keeps its normalised values too: value -> (rule broken, normalised)
                memo = self._rules.setdefault((id(f), read), {})
                if len(memo) > MAX_MEMO:       # a column of unique values: remembering them helps nothing
                    memo.clear()
                fresh = list(set(column).difference(memo))
                if read:
                    memo.update(zip(fresh, zip(*column_check(f, fresh, latest))))
                    values = [memo[v] for v in column]
                    found = {i: v[0] for i, v in enumerate(values) if v[0]}
                    values = [v[1] for v in values]
                else:
                    memo.update(zip(fresh, column_problems(f, fresh, latest)))
                    broken = {v for v in set(column) if memo[v]}
                    found = {i: memo[v] for i, v in enumerate(column) if v in broken} if broken else {}
            if read:
                normalised[f.id] = values
            for i, problem in found.items():
                if problem and problems[i] is None:
                    problems[i] = problem
        if reads:
            for i, problem in enumerate(rule_problems(ledger, normalised, rows,
                                                      [i for i, p in enumerate(problems) if p is None])):
                if problem:
                    problems[i] = problem
        return problems


def _shape_ok(rec: dict) -> bool:
    uid, values, ver = rec.get("u"), rec.get("v"), rec.get("ver")
    created, origin, lost = rec.get("c"), rec.get("o"), rec.get("l")
    return (type(uid) is str and 0 < len(uid) <= 64 and type(values) is dict
            and type(ver) is str and len(ver) < 200_000
            and (created is None or type(created) is str and len(created) <= 64)
            and (origin is None or type(origin) is str and len(origin) <= 64)
            and (lost is None or type(lost) is dict))


def _cell_ok(v: object, deleted: bool) -> bool:
    return value_ok(v) and (not deleted or v in (None, 0, 1))


_NONE = type(None)


def _column_ok(column: tuple, deleted: bool) -> bool:
    """Whether every value of a column is acceptable, checked in C where the column holds
    only text or only integers (and nothing); False means: look at each value."""
    kinds = set(map(type, column))
    if deleted:
        return kinds <= {int, float, _NONE} and set(column) <= {0, 1, None}
    if kinds <= {str, _NONE}:
        return max(map(len, filter(None, column)), default=0) <= MAX_TEXT
    if kinds <= {int, _NONE}:
        ints = [v for v in column if v is not None]
        return not ints or INT64_MIN <= min(ints) and max(ints) <= INT64_MAX
    return False
