"""Reading the row records of a package, checked before anything is merged: the record's
shape, every value (text up to Excel's cell limit, an integer SQLite holds, a finite
number, or nothing), the versions and their stamps, the catalog's field rules and the
ledger's rules relating a row's fields; and each value as it is stored — normalised as
the same value typed into the app or imported from Excel is (a package carries stored
values, but a broken or hostile install may send ``" 4309…x"`` or ``"2024.3.5"``).

A district merges a year of rows at a time, and the rows of a package repeat: every row
a town entered in one import carries the same versions text, and a column holds a few
hundred distinct values. So a batch of records is checked column by column: each
distinct versions text is decoded and checked once per package, every value's type and
size in one pass over its column, and each field rule (and normalisation) once per
distinct value (names and ID numbers, where nearly every value differs, still cost a
check each)::

    >>> from desktop_app.core.store.schema import review_spec
    >>> reader = RowReader()
    >>> rec = {"u": "r1", "ver": '[[5,"n"]]', "v": {"org": "4309", "status": "待回复"}}
    >>> state, refused = reader.parse_many(review_spec(), [rec, dict(rec, v={"org": float("inf")})])
    >>> state.values["status"], state.versions.get("status"), reader.newest, refused
    ('待回复', Version(stamp=5, origin='n', seen={}), 5, None)
"""
from __future__ import annotations

import datetime as dt
from itertools import compress
from operator import is_not

from ..store.merge import RowState
from ..store.schema import TableSpec
from ..store.versions import RowVersions, Version
from .package_file import INT64_MAX
from .peers import MAX_TEXT
from ..catalog.validation import checker_of
from .scope import column_check, content_check, rule_day, rule_problems

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
        self._rules: dict[int, tuple[dict, dict]] = {}   # id(field) -> values stored, odd ones (see _column)

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

    # -- the catalog's field rules, the rules relating a row's fields, the values stored
    def check(self, fields, rows: list[dict], ledger=None) -> tuple[list[str | None], dict[str, dict[int, object]]]:
        """For each of ``rows`` (checked values), the first field rule it breaks or None, and
        by field the rows breaking none whose value is stored otherwise (row → the value to
        store: a value is stored as the same value typed or imported from Excel is,
        ``" 138-0000-1234"`` as ``"13800001234"``, ``""`` as None; see
        :func:`~.scope.content_check`). Column by column, each distinct text or integer of a
        column checked once per package (a number with a fraction: each on its own); only
        the rows holding a value that breaks a rule or is stored otherwise are looked at one
        by one. With the rows' ``ledger``, then the rules relating a row's fields, over the
        normalised columns those rules read, for the rows breaking no field rule
        (:func:`~.scope.rule_problems`).

            >>> from desktop_app.core.catalog import Field
            >>> RowReader().check([Field("p", "联系电话", "phone")], [{"p": "13800001234"}, {"p": "138 0000 1234"}, {"p": "12"}])
            ([None, None, '联系电话：号码格式不对：手机号 11 位、以 13–19 开头；固话写作 0737-1234567'], {'p': {1: '13800001234'}})
        """
        if not self.memo:
            return self._check_each(fields, rows, ledger)
        latest = rule_day(self.today)
        problems: list[str | None] = [None] * len(rows)
        changes: dict[str, dict[int, object]] = {}
        reads = set(checker_of(ledger).rule_reads) if ledger is not None else set()
        normalised: dict[str, list] = {}
        ids = [f.id for f in fields]
        columns = zip(*[tuple(map(values.get, ids)) for values in rows]) if rows else ()
        for f, column in zip(fields, columns):
            if float in set(map(type, column)):
                found, values = column_check(f, column, latest)
                moved = {i: values[i] for i in _moved(column, values) if not found[i]}
                found = {i: problem for i, problem in enumerate(found) if problem}
            else:
                found, moved, values = self._column(f, column, latest, f.id in reads)
            if values is not None:
                normalised[f.id] = values
            for i, problem in found.items():
                if problem and problems[i] is None:
                    problems[i] = problem
            if moved:
                changes[f.id] = moved
        if reads:
            for i, problem in enumerate(rule_problems(ledger, normalised, rows,
                                                      [i for i, p in enumerate(problems) if p is None])):
                if problem:
                    problems[i] = problem
        changes = {fid: kept for fid, moved in changes.items()
                   if (kept := {i: v for i, v in moved.items() if problems[i] is None})}
        return problems, changes

    def _column(self, f, column: tuple, latest: dt.date, read: bool) -> tuple[dict, dict, list | None]:
        """One column of text, integers and nothing: its rows' problems and their values to
        store (by row, only the rows holding a value breaking a rule or stored otherwise),
        and its normalised values when ``read``. Each distinct value is checked once per
        package and field (two ledgers may give one id other rules): ``normal`` holds the
        value each is stored as, ``odd`` the problem (or None) of each breaking a rule or
        stored otherwise."""
        normal, odd = self._rules.setdefault(id(f), ({}, {}))
        if len(normal) > MAX_MEMO:       # a column of unique values: remembering them helps nothing
            normal.clear()
            odd.clear()
        distinct = set(column)
        fresh = list(distinct.difference(normal))
        if fresh:
            found, values = column_check(f, fresh, latest)
            normal.update(zip(fresh, values))
            flagged = dict.fromkeys(_moved(fresh, values)) | dict.fromkeys(compress(range(len(fresh)), found))
            odd.update((fresh[k], found[k]) for k in flagged)
        hits = distinct.intersection(odd) if odd else ()
        found, moved = {}, {}
        if hits:
            for i, v in enumerate(column):
                if v in hits:
                    if odd[v]:
                        found[i] = odd[v]
                    else:
                        moved[i] = normal[v]
        return found, moved, list(map(normal.__getitem__, column)) if read else None

    def _check_each(self, fields, rows: list[dict], ledger) -> tuple[list[str | None], dict[str, dict[int, object]]]:
        """:meth:`check` row by row (its reference)."""
        problems, changes = [], {}
        for i, values in enumerate(rows):
            problem, stored = content_check(fields, values, today=self.today, ledger=ledger)
            problems.append(problem)
            for fid, value in stored.items():
                if _moved([values.get(fid)], [value]):
                    changes.setdefault(fid, {})[i] = value
        return problems, changes


def _moved(raws, values: list) -> list[int]:
    """The indexes of ``raws`` whose normalised ``values`` are stored otherwise: another value
    or another type (the same object: at C speed).

        >>> _moved(["13800001234", " 138", "5", 5], ["13800001234", "138", 5, 5])
        [1, 2]
    """
    return [k for k in compress(range(len(raws)), map(is_not, raws, values))
            if values[k].__class__ is not raws[k].__class__ or values[k] != raws[k]]


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
