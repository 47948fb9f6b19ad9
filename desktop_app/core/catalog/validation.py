"""Check ledger rows: each field's type, derived fields, required fields and the
ledger's cross-field rules — a column at a time.

A :class:`Checker` compiles one ledger's checks once and runs them over columns
(field id → the values of every row): each column is read in one pass, and each
distinct value in it is normalised once (a ledger repeats a few hundred 村, 状态 and
dates down 100,000 rows), then the rules run over whole columns. Excel rows, typed
rows and package rows all go through it; :func:`validate_row` is one row of it::

    >>> led = load_catalog().ledger("two_cancer")
    >>> check = validate_row(led, {"name": "示例一", "id_number": "43090219710916154X"},
    ...                      plan_year=2024, today=dt.date(2024, 6, 30))
    >>> check.ok, check.incomplete, check.values["status"]
    (True, True, '已登记')
    >>> rows = Checker(led, plan_year=2024, today=dt.date(2024, 6, 30)).check_columns(
    ...     {"name": ["示例一", "示例二"], "id_number": ["43090219710916154X", "123"]})
    >>> rows.ok(0), rows.ok(1), rows.problems[1][0].message
    (True, False, '身份证号：应为 18 位（前 17 位数字，最后一位数字或 X），现在是 3 位')

A row whose identity fields are valid but which lacks other required fields is
``incomplete`` (待补充): it may be saved and is listed for completion, but it
does not count toward progress. Invalid values always make ``ok`` false.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from .fieldtypes import is_blank, looks_masked, masked_problem, normalize_many
from .idnumbers import DISABILITY_CATEGORIES, DISABILITY_GRADES, age_on, birth_from_id, sex_from_id
from .model import Field, Ledger, Rule, load_catalog  # noqa: F401 - load_catalog: the examples


@dataclass(frozen=True)
class Problem:
    field: str | None
    message: str
    severity: str = "error"
    suggestion: str | None = None

    def to_json(self) -> dict:
        out = {"field": self.field, "message": self.message, "severity": self.severity}
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out


@dataclass
class RowCheck:
    values: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def incomplete(self) -> bool:
        return bool(self.missing)

    def error_for(self, field_id: str) -> str | None:
        for p in self.errors:
            if p.field == field_id:
                return p.message
        return None


@dataclass
class CheckedRows:
    """The outcome for ``n`` rows, by column: ``values`` (field id → the normalised values,
    None for empty), and, only for the rows that have any, ``problems`` and ``missing``
    (row index → list, in the order :func:`validate_row` lists them)."""

    n: int
    values: dict[str, list]
    problems: dict[int, list[Problem]] = field(default_factory=dict)
    missing: dict[int, list[str]] = field(default_factory=dict)
    _made: dict[tuple, Problem] = field(default_factory=dict, repr=False)   # one object per problem

    def ok(self, i: int) -> bool:
        return not any(p.severity == "error" for p in self.problems.get(i, ()))

    def row(self, i: int) -> RowCheck:
        return RowCheck({fid: col[i] for fid, col in self.values.items()},
                        list(self.problems.get(i, ())), list(self.missing.get(i, ())))

    def rows(self) -> list[RowCheck]:
        return [self.row(i) for i in range(self.n)]

    def _problem(self, fid: str | None, message: str, severity: str = "error",
                 suggestion: str | None = None) -> Problem:
        key = (fid, message, severity, suggestion)
        problem = self._made.get(key)
        if problem is None:
            problem = self._made[key] = Problem(fid, message, severity, suggestion)
        return problem

    def _report(self, i: int, fid: str | None, message: str, severity: str = "error",
                suggestion: str | None = None) -> None:
        self.problems.setdefault(i, []).append(self._problem(fid, message, severity, suggestion))

    def _report_rows(self, fid: str, found: dict[int, list[tuple]]) -> None:
        """Each row's problems of field ``fid``: row → [(message, severity, suggestion)];
        rows given one list share its problems."""
        made: dict[int, list[Problem]] = {}
        add = self.problems.setdefault
        for i, listed in found.items():
            problems = made.get(id(listed))
            if problems is None:
                problems = made[id(listed)] = [self._problem(fid, *p) for p in listed]
            add(i, []).extend(problems)

    def _has_error(self, i: int, fid: str) -> bool:
        return any(p.field == fid and p.severity == "error" for p in self.problems.get(i, ()))


def validate_row(ledger: Ledger, raw: dict, *, plan_year: int,
                 today: dt.date | None = None) -> RowCheck:
    """Normalise and check ``raw`` (field id → value) for ``ledger``: one row of
    :meth:`Checker.check_rows`.

    Unknown keys are an error. Missing identity fields are an error; other
    missing required fields make the row incomplete (待补充).
    """
    return Checker(ledger, plan_year=plan_year, today=today).check_rows([raw]).row(0)


class Checker:
    """One ledger's checks, compiled once, for any number of rows.

    ``today`` is the day "not in the future" is measured from (default: today).
    """

    def __init__(self, ledger: Ledger, *, plan_year: int, today: dt.date | None = None):
        self.ledger, self.plan_year = ledger, plan_year
        self.today = today or dt.date.today()
        self.fields = ledger.fields
        self.sensitive = {f.id: ledger.is_sensitive(f.id) for f in ledger.fields}
        self.label = {f.id: f.label for f in ledger.fields}
        self.derived = [f for f in ledger.fields if f.derive_from]
        self.defaulted = [f for f in ledger.fields if f.default_from]
        self.required = [f for f in ledger.fields if f.required]
        required = {f.id for f in self.required}
        # a required field that takes a required field's value when left empty: when the source
        # is empty too, only the source is asked for (filling it fills both; 乳腺癌检查机构
        # follows 宫颈癌检查机构)
        self.follows = {f.id: f.default_from for f in self.required if f.default_from in required}
        self.gaps = [(f.id, self.follows.get(f.id)) for f in self.required if f.id not in ledger.identity]
        self.conditional = [(r.params["when_field"], r.params["when_in"], r.params["field"]) for r in ledger.rules
                            if r.kind == "required_if" and r.severity == "error"]
        self.one_value = [(r.params["when_field"], r.params["when_in"], r.params["field"], r.params["in"][0])
                          for r in ledger.rules if r.kind == "value_in_if" and len(r.params["in"]) == 1]
        # the fields filling and 待补充 read (a one-row call copies no others)
        self.fill_reads = tuple(dict.fromkeys([x for f in self.defaulted for x in (f.id, f.default_from)] +
                                              [x for w, _, fid, _ in self.one_value for x in (w, fid)]))
        self.missing_reads = tuple(dict.fromkeys([x for g in self.gaps for x in g if x] +
                                                 [x for w, _, fid in self.conditional for x in (w, fid)]))
        self.rules = [(rule, _RULES[rule.kind]) for rule in ledger.rules]
        # the rules relating a row's fields that refuse it (see :meth:`broken`): not in_year (the
        # plan year's; progress counts by it, last year's rows travel) nor required_if (待补充)
        self.row_rules = [(rule, apply) for rule, apply in self.rules
                          if rule.severity == "error" and rule.kind not in ("required_if", "in_year")]
        self.keys = [f for f in ledger.fields if f.id in ledger.identity]   # never empty in a row kept
        self.rule_reads = tuple(dict.fromkeys(
            [f.id for f in self.keys] + [x for f in self.derived for x in (f.id, f.derive_from)] +
            [fid for rule, _ in self.row_rules for key in _FIELD_PARAMS if key in rule.params
             for fid in (rule.params[key] if isinstance(rule.params[key], list) else [rule.params[key]])]))

    # ------------------------------------------------------------ entry points
    def check_rows(self, raws: list[dict]) -> CheckedRows:
        """Check rows given as dicts (field id → value)."""
        n = len(raws)
        keys = set().union(*raws) if raws else set()
        unknown: dict[int, list[Problem]] = {}
        if not keys <= self.ledger.field_ids:
            for i, raw in enumerate(raws):
                for key in raw:
                    if key not in self.ledger.field_ids:
                        unknown.setdefault(i, []).append(
                            Problem(key, f"台账“{self.ledger.label}”没有字段“{key}”"))
        columns = {f.id: [raw.get(f.id) for raw in raws] for f in self.fields if f.id in keys}
        return self.check_columns(columns, n, problems=unknown)

    def check_columns(self, columns: dict[str, list], n: int | None = None, *,
                      problems: dict[int, list[Problem]] | None = None) -> CheckedRows:
        """Check rows given as columns (field id → one value per row; a field not given is
        empty in every row). ``problems``: problems the rows already have (listed first)."""
        n = len(next(iter(columns.values()))) if n is None and columns else (n or 0)
        out = self.normalise(columns, n, problems=problems)
        self._status(out)
        self._derive(out)
        self.fill_defaults(out.values, n)
        for rule, apply in self.rules:
            apply(self, rule, out)
        self._required(out)
        return out

    def normalise(self, columns: dict[str, list], n: int, *, masked: bool = True,
                  problems: dict[int, list[Problem]] | None = None, today: dt.date | None = None) -> CheckedRows:
        """Only each field's own check (no rules, no required fields): the normalised
        values and each value's error and warnings. ``masked=False``: a masked-looking
        value (``430***…``) is checked as the value it is rather than refused as masked
        (a package carries stored values, never masked ones). ``today``: instead of the
        checker's own."""
        out = CheckedRows(n, {}, dict(problems or {}))
        for f in self.fields:
            col = columns.get(f.id)
            out.values[f.id] = [None] * n if col is None else self._column(f, col, out, masked, today or self.today)
        return out

    # ------------------------------------------------------------ one column
    def _column(self, f: Field, col: list, out: CheckedRows, masked: bool, today: dt.date) -> list:
        """The normalised values of one column; its problems go to ``out``. Each distinct
        value (of the same type: 1, 1.0 and True differ) is normalised once."""
        keys, distinct, raws = _distinct(col)
        values, problems = self._values(f, raws, masked, today)
        if len(distinct) == len(keys):            # every value differs: row i is distinct value i
            if problems:
                out._report_rows(f.id, problems)
            return values
        if problems:
            troubled = {distinct[i]: found for i, found in problems.items()}
            out._report_rows(f.id, {i: found for i, found in ((i, troubled.get(k)) for i, k in enumerate(keys))
                                    if found})
        value_of = dict(zip(distinct, values))
        return list(map(value_of.__getitem__, keys))

    def _values(self, f: Field, raws: list, masked: bool, today: dt.date) -> tuple[list, dict[int, list]]:
        """The values of ``raws`` and, by index, their problems (message, severity, suggestion;
        values with the same problems share one list)."""
        refused = []
        if masked and self.sensitive[f.id] and raws and "*" in _joined(raws):
            refused = [i for i, raw in enumerate(raws)
                       if raw.__class__ is str and "*" in raw and looks_masked(f.type, raw)]
            if refused:
                raws = list(raws)
                for i in refused:
                    raws[i] = None                  # a masked cell is no value, and never stored
        values, issues = normalize_many(f, raws, today=today)
        problems = dict.fromkeys(refused, [(masked_problem(f.label), "error", None)])
        made: dict[int, list] = {}
        for i, issue in issues.items():
            found = made.get(id(issue))
            if found is None:
                found = [(issue.error, "error", issue.suggestion)] if issue.error else []
                found = made[id(issue)] = found + [(w, "warning", None) for w in issue.warnings]
            problems[i] = found
        return values, problems

    # ------------------------------------------------------------ row rules, by column
    def _status(self, out: CheckedRows) -> None:
        """An empty 状态 (without an error of its own) is the ledger's first status."""
        status = out.values.setdefault("status", [None] * out.n)
        if None in status:
            first = self.ledger.statuses[0]
            for i, v in enumerate(status):
                if v is None and not out._has_error(i, "status"):
                    status[i] = first

    def _derive(self, out: CheckedRows, *, fill: bool = True) -> None:
        """Fill birth date and sex from an ID number, or check they agree (``fill`` False:
        only check, and name no value)."""
        for f in self.derived:
            numbers, given = _column_of(out.values, f.derive_from, out.n), _column_of(out.values, f.id, out.n)
            as_date = f.type == "date"
            id_label = self.ledger.field(f.derive_from).label
            for i, number in enumerate(numbers):
                if not number:
                    continue
                derived = birth_from_id(number).isoformat() if as_date else sex_from_id(number)
                if given[i] is None:
                    if fill:
                        given[i] = derived
                elif given[i] != derived:
                    out._report(i, f.id, f"{f.label}：填的是 {given[i]}，但{id_label}显示为 {derived}，请核对"
                                if fill else f"{f.label}：与{id_label}不一致，请核对")

    def fill_defaults(self, values: dict[str, list], n: int) -> dict[str, list[int]]:
        """Fill in place the empty fields that take another field's value (``default_from``;
        a month from a date, a choice only from a value among its choices) and the fields a
        ``value_in_if`` rule allows one value for — on a save, and when an existing store
        gains the field (catalog migration). Returns field → the rows filled.

            >>> led = load_catalog().ledger("two_cancer")
            >>> values = {"institution": ["示例卫生院", None], "breast_institution": [None, None]}
            >>> Checker(led, plan_year=2024).fill_defaults(values, 2), values["breast_institution"]
            ({'breast_institution': [0]}, ['示例卫生院', None])
        """
        filled: dict[str, list[int]] = {}
        for f in self.defaulted:
            target = values.setdefault(f.id, [None] * n)
            source = _column_of(values, f.default_from, n)
            for i, (have, given) in enumerate(zip(target, source)):
                if have not in (None, "") or given in (None, ""):
                    continue
                if f.type == "month":
                    given = str(given)[:7]
                elif f.choices:     # a choice (or an alias of one), else None
                    given = normalize_many(f, [given], today=self.today)[0][0]
                    if given is None:
                        continue
                target[i] = given
                filled.setdefault(f.id, []).append(i)
        for when_field, when_in, fid, only in self.one_value:
            when = _column_of(values, when_field, n)
            target = values.setdefault(fid, [None] * n)
            for i, (w, have) in enumerate(zip(when, target)):
                if w in when_in and have in (None, ""):
                    target[i] = only
                    filled.setdefault(fid, []).append(i)
        return filled

    def _required(self, out: CheckedRows) -> None:
        """An empty required field: an identity field is an error, any other makes the row
        待补充 (unless the field has its own error, or follows an empty required field)."""
        for f in self.required:
            col = out.values[f.id]
            if None not in col:
                continue
            follows = f.id in self.follows
            source = _column_of(out.values, f.default_from, out.n) if follows else None
            identity = f.id in self.ledger.identity
            for i, v in enumerate(col):
                if v is not None or out._has_error(i, f.id) or (follows and is_blank(source[i])):
                    continue
                if identity:
                    out._report(i, f.id, _empty_key(f))
                else:
                    out.missing.setdefault(i, []).append(f.id)

    def missing(self, values: dict[str, list], n: int) -> dict[int, list[str]]:
        """The required fields still empty in already-normalised ``values`` (待补充), row
        index → fields, as :meth:`check_columns` would list them; used after a merge,
        where nothing is re-typed."""
        missing: dict[int, list[str]] = {}
        empty = [None] * n
        for fid, source in self.gaps:
            col = values.get(fid, empty)
            if None not in col:
                continue
            sources = values.get(source, empty)
            for i, v in enumerate(col):
                if v is None and not (source and is_blank(sources[i])):
                    missing.setdefault(i, []).append(fid)
        for when_field, when_in, fid in self.conditional:
            for i, (w, v) in enumerate(zip(values.get(when_field, empty), values.get(fid, empty))):
                if w in when_in and is_blank(v) and fid not in missing.get(i, ()):
                    missing.setdefault(i, []).append(fid)
        return missing

    def broken(self, values: dict[str, list], n: int) -> dict[int, Problem]:
        """The first error of each row of already-normalised ``values`` (field id → column)
        under the rules relating its fields — an empty identity field (the 身份证号 of a person
        ledger: a row without it is nobody's), the ledger's error rules but ``in_year`` and
        ``required_if``, and a birth date or sex its ID number contradicts — by row index
        (rows breaking none are left out). What a merge checks beyond each field on its own
        (:mod:`desktop_app.core.sync.rows`); the messages name no value of a field that
        follows an ID number.

            >>> led = load_catalog().ledger("two_cancer")
            >>> Checker(led, plan_year=0).broken({"id_number": ["43090219710916154X", "430902197109161531", None]}, 3)
            {1: Problem(field='id_number', message='身份证号：两癌检查对象应为女性', severity='error', suggestion=None), 2: Problem(field='id_number', message='身份证号：必填，不能为空', severity='error', suggestion=None)}
        """
        out = CheckedRows(n, values)
        for f in self.keys:
            col = _column_of(values, f.id, n)
            if None in col:
                for i, v in enumerate(col):
                    if v is None:
                        out._report(i, f.id, _empty_key(f))
        self._derive(out, fill=False)
        for rule, apply in self.row_rules:
            apply(self, rule, out)
        return {i: found[0] for i, found in sorted(out.problems.items())}

    # ------------------------------------------------------------ helpers for the rules
    def report(self, out: CheckedRows, i: int, rule: Rule, fid: str | None, default: str) -> None:
        """A rule's problem on row ``i``: its own message, or ``default``; led by the field's
        label unless it already is."""
        out.problems.setdefault(i, []).append(self.problem(out, rule, fid, default))

    def problem(self, out: CheckedRows, rule: Rule, fid: str | None, default: str) -> Problem:
        """The problem :meth:`report` reports."""
        text = rule.message or default
        if fid and not text.startswith(self.label[fid]):
            text = f"{self.label[fid]}：{text}"
        return out._problem(fid, text, rule.severity)

    def dates(self, out: CheckedRows, fid: str) -> list[dt.date | None]:
        """The dates of column ``fid`` (each distinct one read once)."""
        col = _column_of(out.values, fid, out.n)
        read = {v: dt.date.fromisoformat(v) for v in set(col) if v}
        return list(map(read.get, col))

    def births(self, out: CheckedRows, rule: Rule) -> list[dt.date | None]:
        if "id_field" in rule.params:
            return [birth_from_id(v) if v else None for v in _column_of(out.values, rule.params["id_field"], out.n)]
        return self.dates(out, rule.params["birth_field"])


def missing_many(ledger: Ledger, rows: list[dict]) -> list[list[str]]:
    """:meth:`Checker.missing` of each of ``rows`` (already-normalised values), column by column.

        >>> led = load_catalog().ledger("two_cancer")
        >>> [len(m) > 0 for m in missing_many(led, [{"name": "示例一"}, {}])]
        [True, True]
    """
    checker = checker_of(ledger)
    found = checker.missing({k: [r.get(k) for r in rows] for k in checker.missing_reads}, len(rows))
    return [found.get(i, []) for i in range(len(rows))]


def broken_many(ledger: Ledger, rows: list[dict], *, today: dt.date | None = None) -> list[Problem | None]:
    """:meth:`Checker.broken` of each of ``rows`` (stored values, normalised here, a date
    after ``today`` refused; a row with a value its field refuses is not judged by the
    rules): the first error, or None.

        >>> led, man = load_catalog().ledger("barrier_free"), "430902196001010059"
        >>> [p and p.message for p in broken_many(led, [
        ...     {"id_number": man, "start_date": "2024-03-01", "finish_date": "2024.2.1"},
        ...     {"id_number": man, "start_date": "2024-03-01"}, {"start_date": "2024-03-01"}])]
        ['完工日期：应为入户评估 ≤ 开工 ≤ 完工 ≤ 验收', None, '身份证号：必填，不能为空']
    """
    checker = checker_of(ledger)
    found = stored_broken(checker, {k: [r.get(k) for r in rows] for k in checker.rule_reads}, len(rows),
                          today=today)
    return [found.get(i) for i in range(len(rows))]


def stored_broken(checker: Checker, columns: dict[str, list], n: int, *,
                  today: dt.date | None = None) -> dict[int, Problem]:
    """:meth:`Checker.broken` of ``n`` rows of stored values (field id → column, holding at
    least :attr:`Checker.rule_reads`), normalised here first, by row index; a row with a
    value its field refuses is not judged by the rules."""
    if not checker.rule_reads:
        return {}
    checked = checker.normalise({k: columns[k] for k in checker.rule_reads}, n, masked=False, today=today)
    judged = [i for i in range(n) if checked.ok(i)]
    if not judged:
        return {}
    found = checker.broken({k: [checked.values[k][i] for i in judged] for k in checker.rule_reads}, len(judged))
    return {judged[k]: problem for k, problem in found.items()}


_CHECKERS: dict[int, Checker] = {}


def checker_of(ledger: Ledger) -> Checker:
    """A ledger's checks compiled once, for filling, 待补充 and the rules relating fields
    (:meth:`Checker.fill_defaults`, :meth:`Checker.missing`, :meth:`Checker.broken`: they
    depend on neither the plan year nor the day) of rows already kept or arriving — merged,
    or brought up to a new catalog.

        >>> led = load_catalog().ledger("two_cancer")
        >>> checker_of(led) is checker_of(led)
        True
    """
    checker = _CHECKERS.get(id(ledger))
    if checker is None or checker.ledger is not ledger:
        if len(_CHECKERS) > 256:
            _CHECKERS.clear()
        checker = _CHECKERS[id(ledger)] = Checker(ledger, plan_year=0)
    return checker


# ---------------------------------------------------------------- distinct values

_NONE = type(None)


def _distinct(col: list) -> tuple[list, list, list]:
    """``(keys, distinct keys, their values)``: a key per cell. Cells of one type (and empty
    ones) are their own keys; otherwise a key is (type, value), so 1, 1.0 and True stay
    apart, and a float zero carries its sign (messages tell -0.0 from 0.0). A column with
    an unhashable value (an attachment list) is keyed by row."""
    kinds = set(map(type, col))
    kinds.discard(_NONE)
    try:
        if len(kinds) <= 1 and float not in kinds:
            distinct = list(dict.fromkeys(col))
            return col, distinct, distinct
        keys = [(v.__class__, v, str(v)) if v.__class__ is float and v == 0 else (v.__class__, v)
                for v in col]
        distinct = list(dict.fromkeys(keys))
    except TypeError:
        rows = list(range(len(col)))
        return rows, rows, col
    return keys, distinct, [k[1] for k in distinct]


def _joined(raws: list) -> str:
    """The text cells of ``raws`` as one text (to look for a character in all at once)."""
    try:
        return "\n".join(raws)
    except TypeError:
        return "\n".join(raw for raw in raws if raw.__class__ is str)


def _empty_key(f: Field) -> str:
    """The error of an empty identity field (a row without it is refused)."""
    return f"{f.label}：必填，不能为空"


def _column_of(values: dict[str, list], fid: str | None, n: int) -> list:
    """The column of ``fid`` (read only: a field never given is empty in every row)."""
    col = values.get(fid) if fid else None
    return col if col is not None else [None] * n


# ---------------------------------------------------------------- the rules, by column

def _sex(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    p = rule.params
    for i, number in enumerate(_column_of(out.values, p["id_field"], out.n)):
        if number and sex_from_id(number) != p["value"]:
            chk.report(out, i, rule, p["id_field"], f"应为{p['value']}性（身份证号第 17 位显示为{sex_from_id(number)}性）")


def _age(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    p = rule.params
    lo, hi = p.get("min", 0), p.get("max", 200)
    who = p.get("id_field") or p.get("birth_field")
    for i, (birth, at) in enumerate(zip(chk.births(out, rule), chk.dates(out, p["at"]))):
        if birth and at:
            age = age_on(birth, at)
            if not lo <= age <= hi:
                chk.report(out, i, rule, who, f"{chk.label[p['at']]}当天年龄为 {age} 周岁，应在 {lo}–{hi} 周岁之间")


def _date_order(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    fids = rule.params["fields"]
    for i, days in enumerate(zip(*[chk.dates(out, fid) for fid in fids])):
        dated = [(fid, d) for fid, d in zip(fids, days) if d]
        for (fa, da), (fb, db) in zip(dated, dated[1:]):
            if db < da:
                chk.report(out, i, rule, fb, f"{db:%Y-%m-%d} 早于{chk.label[fa]} {da:%Y-%m-%d}，日期先后不对")


def _required_if(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    p = rule.params
    fid, when_in = p["field"], p["when_in"]
    whens = _column_of(out.values, p["when_field"], out.n)
    if not any(w in when_in for w in set(whens)):
        return
    said: dict = {}       # the warning's problem, by the value of when_field
    for i, (when, value) in enumerate(zip(whens, _column_of(out.values, fid, out.n))):
        if when in when_in and (value is None or is_blank(value)):
            if rule.severity == "warning":
                problem = said.get(when)
                if problem is None:
                    problem = said[when] = chk.problem(out, rule, fid, f"{chk.label[p['when_field']]}为“{when}”时应填写")
                out.problems.setdefault(i, []).append(problem)
            elif fid not in out.missing.get(i, ()):
                out.missing.setdefault(i, []).append(fid)   # conditionally required: 待补充, not refused


def _disability_cert(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    p = rule.params
    n = out.n
    certs = _column_of(out.values, p["field"], n)
    numbers = _column_of(out.values, p.get("id_field"), n)
    cats = _column_of(out.values, p.get("category_field"), n)
    grades = _column_of(out.values, p.get("grade_field"), n)
    for i, cert in enumerate(certs):
        if not cert:
            continue
        number = numbers[i]
        if number and cert[:18] != number:
            chk.report(out, i, rule, p["field"], f"前 18 位应与{chk.label[p['id_field']]}一致")
        cat, grade = DISABILITY_CATEGORIES[int(cert[18]) - 1], DISABILITY_GRADES[int(cert[19]) - 1]
        if cats[i] and cats[i] != cat:
            chk.report(out, i, rule, p["category_field"], f"填的是{cats[i]}，残疾证号第 19 位表示{cat}，请核对")
        if grades[i] and grades[i] != grade:
            chk.report(out, i, rule, p["grade_field"], f"填的是{grades[i]}，残疾证号第 20 位表示{grade}，请核对")


def _in_year(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    fid = rule.params["field"]
    for i, d in enumerate(chk.dates(out, fid)):
        if d and d.year != chk.plan_year:
            chk.report(out, i, rule, fid, f"{d:%Y-%m-%d} 不在计划年度 {chk.plan_year} 年内")


def _days_between(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    p = rule.params
    lo, hi = p.get("min", 0), p.get("max", 10**6)
    for i, (a, b) in enumerate(zip(chk.dates(out, p["from"]), chk.dates(out, p["to"]))):
        if a and b:
            days = (b - a).days
            if not lo <= days <= hi:
                chk.report(out, i, rule, p["to"], f"距{chk.label[p['from']]} {days} 天，应在 {lo}–{hi} 天之间")


def _choice_in(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    p = rule.params
    for i, value in enumerate(_column_of(out.values, p["field"], out.n)):
        if value is not None and value not in p["in"]:
            chk.report(out, i, rule, p["field"], f"“{value}”通常应为：{'、'.join(p['in'])}")


def _empty_unless(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    # a date that says the outcome happened, on a row whose status says it did not
    p = rule.params
    for i, (when, value) in enumerate(zip(_column_of(out.values, p["when_field"], out.n),
                                          _column_of(out.values, p["field"], out.n))):
        if value is not None and not is_blank(value) and when not in p["when_in"]:
            chk.report(out, i, rule, p["field"], f"{chk.label[p['when_field']]}为“{when}”时不应填写"
                                                 f"（只有{'、'.join(p['when_in'])}才有）")


def _value_in_if(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    p = rule.params
    sensitive = chk.ledger.is_sensitive(p["field"])
    for i, (when, value) in enumerate(zip(_column_of(out.values, p["when_field"], out.n),
                                          _column_of(out.values, p["field"], out.n))):
        if when in p["when_in"] and value is not None and value not in p["in"]:
            shown = "所填内容" if sensitive else f"“{value}”"
            chk.report(out, i, rule, p["field"], f"{chk.label[p['when_field']]}为“{when}”时应为"
                                                 f"{'、'.join(p['in'])}，不能是{shown}")


def _min_value(chk: Checker, rule: Rule, out: CheckedRows) -> None:
    p = rule.params
    unit = chk.ledger.field(p["field"]).unit or ""
    conditional = "when_field" in p
    when = _column_of(out.values, p.get("when_field"), out.n)
    for i, (w, value) in enumerate(zip(when, _column_of(out.values, p["field"], out.n))):
        if (not conditional or w in p["when_in"]) and value is not None and value < p["min"]:
            chk.report(out, i, rule, p["field"], f"{value}{unit} 低于 {p['min']}{unit}")


_FIELD_PARAMS = ("field", "fields", "id_field", "birth_field", "at", "when_field", "from", "to",
                 "category_field", "grade_field")     # the rule parameters that name fields

_RULES: dict[str, Callable[[Checker, Rule, CheckedRows], None]] = {
    "sex": _sex, "age": _age, "date_order": _date_order, "required_if": _required_if,
    "disability_cert": _disability_cert, "in_year": _in_year, "days_between": _days_between,
    "choice_in": _choice_in, "empty_unless": _empty_unless, "value_in_if": _value_in_if,
    "min_value": _min_value,
}
