"""The plan as data: projects, indicators and ledgers read from TOML.

The catalog lives in ``resources/catalog/*.toml``. Every file may hold a
``[catalog]`` header (exactly one file must), ``[[projects]]``,
``[[indicators]]`` and ``[[ledgers]]``; the files are merged. Everything is
validated on load and an error names the file and the key::

    >>> cat = load_catalog()
    >>> cat.plan_year
    2024
    >>> cat.indicator("two_cancer_screening").target
    3000

Format (see ``resources/catalog/README.md`` for the full reference):

* ``[[projects]]``: ``id``, ``group`` (省市重点民生实事 / 区委经济工作重点任务),
  ``no``, ``name``, ``units`` (责任单位, as written in the plan), ``text``.
* ``[[indicators]]``: ``id``, ``name`` (short, unique), ``projects``, ``kind``
  (count, quantity, standard, rate, periodic, per_org, qualitative),
  ``target`` (base units; omitted for qualitative), ``unit``, ``comparator``
  (>=, >, =, <=), ``units`` (responsible, a subset of the projects' units),
  ``units_chosen`` (the catalog picked ``units`` among the project's units),
  ``text`` (the plan's words) and ``[indicators.measure]``: ``ledger``,
  ``method`` (count, distinct, households, sum, standard, latest, periods,
  orgs_with, notes), ``field``, ``where`` (field → allowed values), ``period``,
  ``orgs``, ``min``, ``rotation``, ``span`` (year: the year's outcomes;
  state: a state that holds on the as-of date, whatever the year), ``until``
  (state: the date field on which the state ended, e.g. 停业日期; a row counts
  while it is empty or later than the as-of date), ``per``
  (standard: judge ``field`` ÷ this integer field, e.g. 发放金额 ÷ 保障人数).
* ``[[ledgers]]``: ``id``, ``label``, ``project``, ``date_field`` (the event
  date: as-of filtering and the year), ``statuses``, ``identity``,
  ``natural_key`` (``"year:<date field>"`` adds the event year),
  ``all_sensitive``, ``title_field``, ``[[ledgers.fields]]``,
  ``[[ledgers.persons]]`` and ``[[ledgers.rules]]``.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import re
import tomllib
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

from ..errors import UserError
from ..paths import resources_dir
from .counting import counting_text

FIELD_TYPES = {
    "text", "integer", "decimal", "date", "choice", "multichoice", "yesno",
    "id_card", "phone", "credit_code", "disability_cert", "attachment", "month",
}
ATTACHMENT_KINDS = ("jpeg", "png", "pdf")
INDICATOR_KINDS = {"count", "quantity", "standard", "rate", "periodic", "per_org", "qualitative"}
AMOUNT_KINDS = {"count", "quantity", "periodic", "per_org"}  # the district's total, split by 目标分解
METHODS = {"count", "distinct", "households", "sum", "standard", "latest", "periods", "orgs_with",
           "notes"}
COMPARATORS = {">=", ">", "=", "<="}
PERIODS = {"day", "month", "quarter", "year"}
CALENDARS = {"calendar_days", "working_days"}   # a daily duty: every day, or every working day
RULE_KINDS = {
    "sex", "age", "date_order", "required_if", "disability_cert", "in_year",
    "days_between", "choice_in", "empty_unless", "value_in_if", "min_value",
}
PERSON_FIELDS = {"id_number", "name", "sex", "birth_date", "phone", "address"}
RESERVED = {"uuid", "org", "person_id", "rowid", "oid"}
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogError(UserError, ValueError):
    """A catalog file is wrong; the message names the file and the key."""

    def __init__(self, file: str, key: str, message: str):
        self.file, self.key = file, key
        super().__init__(f"目录文件 {file} 的 {key}：{message}")


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    type: str
    required: bool = False
    sensitive: bool = False
    choices: tuple[str, ...] = ()
    aliases: dict[str, str] = dc_field(default_factory=dict)
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    unit: str | None = None
    not_future: bool = True
    derive_from: str | None = None
    synonyms: tuple[str, ...] = ()
    help: str = ""
    choices_from: str | None = None
    kinds: tuple[str, ...] = ()        # attachment: allowed kinds (jpeg, png, pdf)
    max_mb: float | None = None        # attachment: largest file
    max_files: int | None = None       # attachment: most files in the field
    # left empty, the field takes another field's value (a date's month for a month field;
    # for a choice, only a value among its choices): 乳腺癌检查机构 = 宫颈癌检查机构 unless
    # told otherwise. Applied on every save and to existing rows when the field is added.
    default_from: str | None = None

    @property
    def sql_type(self) -> type:
        return {"integer": int, "decimal": float, "yesno": int}.get(self.type, str)


@dataclass(frozen=True)
class PersonLink:
    """Which ledger fields describe a person of the person master."""

    column: str
    role: str
    fields: dict[str, str]  # person field -> ledger field


@dataclass(frozen=True)
class Rule:
    kind: str
    severity: str
    params: dict[str, Any]
    message: str = ""


@dataclass(frozen=True)
class Ledger:
    id: str
    label: str
    project: str
    fields: tuple[Field, ...]
    statuses: tuple[str, ...]
    date_field: str
    identity: tuple[str, ...]
    natural_key: tuple[str, ...]
    persons: tuple[PersonLink, ...] = ()
    rules: tuple[Rule, ...] = ()
    all_sensitive: bool = False
    title_field: str | None = None
    once_per_person: bool = False   # the plan counts a person once, whatever the year

    @property
    def table(self) -> str:
        return f"ledger_{self.id}"

    @cached_property
    def field_ids(self) -> frozenset[str]:
        return frozenset(f.id for f in self.fields)

    def field(self, field_id: str) -> Field:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    def has_field(self, field_id: str) -> bool:
        return any(f.id == field_id for f in self.fields)

    def is_sensitive(self, field_id: str) -> bool:
        if field_id == "status":
            return False
        return self.all_sensitive or self.field(field_id).sensitive

    def key_label(self) -> str:
        """The duplicate key in words, e.g. ``身份证号＋宫颈癌检查日期年度``."""
        return "＋".join(self.field(k.removeprefix("year:")).label +
                        ("年度" if k.startswith("year:") else "") for k in self.natural_key)

    @property
    def key_is_national(self) -> bool:
        """Whether the duplicate key holds a number unique in the country (统一社会信用代码):
        two towns' rows with the same key are one thing, counted once without a review. A key
        of names (站点名称, 社区名称＋级别) may be two things of the same name in two towns."""
        return any(self.field(k).type == "credit_code" for k in self.natural_key if not k.startswith("year:"))

    def indicator_field(self) -> Field | None:
        """The field naming the indicator a row reports on (generic 指标进展 ledger)."""
        return next((f for f in self.fields if f.choices_from == "indicators"), None)


@dataclass(frozen=True)
class Measure:
    ledger: str
    method: str
    field: str | None = None
    where: dict[str, tuple[str, ...]] = dc_field(default_factory=dict)
    period: str | None = None
    orgs: tuple[str, ...] = ()
    min: int = 1
    rotation: tuple[str, ...] = ()
    # "year" (default): rows whose event date lies in the plan year (an outcome of the year);
    # "state": rows whose event date is on or before the as-of date, in any year — a state
    # that holds (一家 2023 年建成、仍在运营的益老食堂 counts in 2024); ``where`` says which
    # statuses still hold.
    span: str = "year"
    until: str | None = None     # state: the date it ended (停业日期); counts while empty or later
    calendar: str = "calendar_days"                     # periods = "day": which days are due
    schedule: tuple[tuple[str, float], ...] = ()        # standard: (from month YYYY-MM, value), sorted
    each_of: str | None = None                          # periods: a period counts when this field
    members: tuple[str, ...] = ()                       # covers every member (default list)
    per: str | None = None       # standard: judge ``field`` ÷ this field (发放金额 ÷ 保障人数)


@dataclass(frozen=True)
class WorkCalendar:
    """The national holiday arrangement of one year: statutory holidays (放假) and the
    weekend days that are working days (调休上班)."""

    year: int
    source: str
    holidays: frozenset[str]
    workdays: frozenset[str]

    def is_working_day(self, day) -> bool:
        iso = day.isoformat()
        if iso in self.workdays:
            return True
        return day.weekday() < 5 and iso not in self.holidays

    def working_days(self, until=None) -> int:
        """Working days of the year, up to and including ``until`` (default: the whole year)."""
        day, end = _dt.date(self.year, 1, 1), until or _dt.date(self.year, 12, 31)
        n = 0
        while day <= end and day.year == self.year:
            n += self.is_working_day(day)
            day += _dt.timedelta(days=1)
        return n


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    projects: tuple[str, ...]
    kind: str
    target: float | None
    unit: str
    comparator: str
    units: tuple[str, ...]
    text: str
    measure: Measure
    # True: the plan names responsible units per project, not per indicator; ``units`` is the
    # catalog's own choice among the project's units (the district may set the lead unit)
    units_chosen: bool = False
    derived: str = ""      # a target the plan does not write, and where it comes from

    @property
    def is_amount(self) -> bool:
        """Whether the target is an amount for the whole district (3000 人, 138.894 公里, 12 个月),
        which a town reaches only by its share (目标分解); a level (a rate, a standard) holds
        for every unit as it is."""
        return self.kind in AMOUNT_KINDS


@dataclass(frozen=True)
class Project:
    id: str
    group: str
    no: int
    name: str
    units: tuple[str, ...]
    text: str

    @property
    def label(self) -> str:
        """``实事3. 关爱特殊群体`` / ``任务2. 坚持就业优先`` (the plan numbers each group from 1)."""
        kind = "实事" if "实事" in self.group else "任务"
        return f"{kind}{self.no}. {self.name}"


@dataclass(frozen=True)
class Catalog:
    id: str
    version: str
    plan_year: int
    title: str
    projects: tuple[Project, ...]
    indicators: tuple[Indicator, ...]
    ledgers: tuple[Ledger, ...]
    raw: dict = dc_field(repr=False, compare=False, default_factory=dict)
    calendar: WorkCalendar | None = None

    def ledger(self, ledger_id: str) -> Ledger:
        for led in self.ledgers:
            if led.id == ledger_id:
                return led
        raise KeyError(ledger_id)

    def find_ledger(self, name: str) -> Ledger | None:
        """A ledger by id or Chinese label."""
        for led in self.ledgers:
            if name in (led.id, led.label):
                return led
        return None

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)

    def project(self, project_id: str) -> Project:
        for p in self.projects:
            if p.id == project_id:
                return p
        raise KeyError(project_id)

    def project_units(self, ind: Indicator) -> tuple[str, ...]:
        """The units the plan names for the indicator's projects (those that may lead it).

            >>> load_catalog().project_units(load_catalog().indicator("two_cancer_screening"))
            ('区妇联', '区教育卫生健康局', '区民政人社局')
        """
        return tuple(dict.fromkeys(u for pid in ind.projects for u in self.project(pid).units))

    def periods_in_year(self, period: str, kind: str = "calendar_days") -> int:
        """Due periods in the plan year: 12 months, 4 quarters, 1 year, 366 (365) days, or the
        year's working days from the holiday calendar."""
        if period == "day" and kind == "working_days":
            return self.calendar.working_days()
        days = 366 if calendar.isleap(self.plan_year) else 365
        return {"day": days, "month": 12, "quarter": 4, "year": 1}[period]

    def counting(self, indicator_id: str, choices=None) -> str:
        """The indicator's counting rule in plain Chinese (with the district's choices)."""
        return counting_text(self, self.indicator(indicator_id), choices)

    def to_json(self, choices=None) -> dict:
        """The shape printed by ``catalog --json`` (``counting`` and ``units`` reflect the
        district's ``choices``, :class:`~.choices.Choices`, when given; ``catalog_units``
        are the catalog's own)."""
        return {
            "id": self.id, "version": self.version, "plan_year": self.plan_year,
            "title": self.title,
            "projects": [
                {"id": p.id, "group": p.group, "no": p.no, "name": p.name,
                 "units": list(p.units)} for p in self.projects
            ],
            "indicators": [
                {"id": i.id, "name": i.name, "target": i.target, "unit": i.unit,
                 "comparator": i.comparator, "kind": i.kind,
                 "project": i.projects[0], "projects": list(i.projects),
                 "units": list(choices.units(i) if choices else i.units),
                 "catalog_units": list(i.units), "units_chosen": i.units_chosen,
                 "ledger": i.measure.ledger,
                 "method": i.measure.method, "counting": self.counting(i.id, choices),
                 **({"derived": i.derived} if i.derived else {})} for i in self.indicators
            ],
            "ledgers": [
                {"id": led.id, "label": led.label, "project": led.project,
                 "statuses": list(led.statuses),
                 "fields": [_field_json(led, f) for f in led.fields]}
                for led in self.ledgers
            ],
        }


def _field_json(led: Ledger, f: Field) -> dict:
    out = {"id": f.id, "label": f.label, "type": f.type, "required": f.required,
           "sensitive": led.is_sensitive(f.id)}
    if f.choices:
        out["choices"] = list(f.choices)
    if f.unit:
        out["unit"] = f.unit
    return out


# ---------------------------------------------------------------- loading

def default_catalog_dir() -> Path:
    return resources_dir() / "catalog"


def read_catalog_files(directory: Path | None = None) -> dict[str, dict]:
    """The parsed TOML of every catalog file, keyed by file name."""
    directory = Path(directory or default_catalog_dir())
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise CatalogError(str(directory), "*.toml", "目录中没有任何 .toml 文件")
    out = {}
    for path in files:
        try:
            out[path.name] = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(path.name, "(整个文件)", f"TOML 语法错误：{exc}") from None
    return out


def load_catalog(source: Path | dict[str, dict] | None = None) -> Catalog:
    """Load and validate a catalog from a directory or from parsed files.

    ``source`` is a directory of TOML files (default: the shipped catalog) or
    the ``{file name: parsed TOML}`` mapping that travels in a profile.

    :raises CatalogError: naming the file and key of the first problem.
    """
    files = source if isinstance(source, dict) else read_catalog_files(source)
    return _Builder(files).build()


class _Builder:
    def __init__(self, files: dict[str, dict]):
        self.files = files
        self.calendar: WorkCalendar | None = None

    def build(self) -> Catalog:
        header, header_file = None, None
        projects: list[tuple[str, str, dict]] = []
        indicators: list[tuple[str, str, dict]] = []
        ledgers: list[tuple[str, str, dict]] = []
        for fname, data in self.files.items():
            unknown = set(data) - {"catalog", "projects", "indicators", "ledgers", "calendar"}
            if unknown:
                raise CatalogError(fname, sorted(unknown)[0], "未知的顶层键")
            if "calendar" in data:
                if self.calendar is not None:
                    raise CatalogError(fname, "calendar", "节假日安排 [calendar] 重复")
                self.calendar = self._calendar(fname, data["calendar"])
            if "catalog" in data:
                if header is not None:
                    raise CatalogError(fname, "catalog", f"[catalog] 已在 {header_file} 中定义")
                header, header_file = data["catalog"], fname
            for kind, bucket in (("projects", projects), ("indicators", indicators),
                                 ("ledgers", ledgers)):
                items = data.get(kind, [])
                if not isinstance(items, list):
                    raise CatalogError(fname, kind, "应写成 [[%s]] 表数组" % kind)
                bucket.extend((fname, f"{kind}[{i}]", item) for i, item in enumerate(items))
        if header is None:
            raise CatalogError(",".join(self.files), "catalog", "缺少 [catalog] 表头")
        h = _Obj(header_file, "catalog", header)
        plan_year = h.int("plan_year")
        self.plan_year = plan_year
        if self.calendar is not None and self.calendar.year != plan_year:
            self.calendar = None      # another year's holidays say nothing about this plan
        built_projects = [self._project(*p) for p in projects]
        _unique(built_projects, projects, "id")
        built_ledgers = [self._ledger(*item, built_projects) for item in ledgers]
        _unique(built_ledgers, ledgers, "id")
        built_inds = [self._indicator(*item, built_projects, built_ledgers)
                      for item in indicators]
        _unique(built_inds, indicators, "id")
        _unique(built_inds, indicators, "name")
        built_ledgers = [self._resolve_indicator_choices(led, built_inds)
                         for led in built_ledgers]
        return Catalog(
            id=h.str("id"), version=h.str("version"), plan_year=plan_year,
            title=h.str("title"), projects=tuple(built_projects),
            indicators=tuple(built_inds), ledgers=tuple(built_ledgers),
            raw=self.files, calendar=self.calendar,
        )

    def _calendar(self, fname, data) -> WorkCalendar:
        o = _Obj(fname, "calendar", data)
        o.only({"year", "source", "holidays", "workdays"})
        year = o.int("year")
        days = {}
        for key in ("holidays", "workdays"):
            for i, text in enumerate(o.str_list(key, [])):
                try:
                    day = _dt.date.fromisoformat(text)
                except ValueError:
                    o.fail(f"{key}[{i}]", f"{text!r} 不是日期（写成 {year}-10-01）")
                if day.year != year:
                    o.fail(f"{key}[{i}]", f"{text} 不在 {year} 年")
                if key == "workdays" and day.weekday() < 5:
                    o.fail(f"{key}[{i}]", f"{text} 不是周末，不必列为调休上班日")
            days[key] = frozenset(o.str_list(key, []))
        if days["holidays"] & days["workdays"]:
            o.fail("workdays", "同一天既是放假日又是上班日")
        return WorkCalendar(year, o.str("source", ""), days["holidays"], days["workdays"])

    # -- projects
    def _project(self, fname, key, data) -> Project:
        o = _Obj(fname, key, data)
        o.only({"id", "group", "no", "name", "units", "text"})
        return Project(
            id=o.ident("id"), group=o.str("group"), no=o.int("no"), name=o.str("name"),
            units=tuple(o.str_list("units", nonempty=True)), text=o.str("text", ""),
        )

    # -- ledgers
    def _ledger(self, fname, key, data, projects) -> Ledger:
        o = _Obj(fname, key, data)
        o.only({"id", "label", "project", "fields", "statuses", "date_field", "identity",
                "natural_key", "persons", "rules", "all_sensitive", "title_field",
                "once_per_person"})
        project = o.str("project")
        if project not in {p.id for p in projects}:
            o.fail("project", f"未知项目 {project!r}")
        statuses = tuple(o.str_list("statuses", nonempty=True))
        raw_fields = o.list("fields")
        fields = [self._field(fname, f"{key}.fields[{i}]", f) for i, f in enumerate(raw_fields)]
        ids = [f.id for f in fields]
        for i, fid in enumerate(ids):
            if fid in RESERVED or fid == "status" or fid.startswith("_"):
                o.fail(f"fields[{i}].id", f"{fid!r} 是保留名，请换一个字段 id")
            if ids.index(fid) != i:
                o.fail(f"fields[{i}].id", f"字段 id {fid!r} 重复")
        labels = [f.label for f in fields]
        for i, lab in enumerate(labels):
            if labels.index(lab) != i:
                o.fail(f"fields[{i}].label", f"字段名称 {lab!r} 重复")
        fields.append(Field(id="status", label="状态", type="choice", required=True,
                            choices=statuses))
        byid = {f.id: f for f in fields}
        for i, f in enumerate(fields[:-1]):
            if f.derive_from and byid.get(f.derive_from, Field("", "", "")).type != "id_card":
                o.fail(f"fields[{i}].derive_from", "应指向一个身份证号字段")
            if f.derive_from and f.type not in {"date", "choice"}:
                o.fail(f"fields[{i}].derive_from", "只有出生日期（date）和性别（choice）可由身份证号推出")
            if f.default_from:
                src = byid.get(f.default_from)
                if src is None or src.id == f.id:
                    o.fail(f"fields[{i}].default_from", f"台账没有另一个字段 {f.default_from!r}")
                elif not (src.type == f.type or (f.type == "month" and src.type == "date")
                          or {f.type, src.type} == {"choice", "text"}):
                    o.fail(f"fields[{i}].default_from", "应指向同类型的字段（所属月份可取日期字段）")
        date_field = o.str("date_field")
        if byid.get(date_field, Field("", "", "")).type != "date":
            o.fail("date_field", f"{date_field!r} 不是本台账的日期字段")
        identity = tuple(o.str_list("identity", nonempty=True))
        for fid in identity:
            if fid not in byid:
                o.fail("identity", f"未知字段 {fid!r}")
        natural_key = tuple(o.str_list("natural_key", nonempty=True))
        for part in natural_key:
            fid = part.removeprefix("year:")
            if fid not in byid or (part.startswith("year:") and byid[fid].type != "date"):
                o.fail("natural_key", f"{part!r} 不是本台账的字段（年份写作 year:日期字段）")
        persons = []
        for i, p in enumerate(o.list("persons", [])):
            po = _Obj(fname, f"{key}.persons[{i}]", p)
            po.only({"column", "role", "fields"})
            mapping = po.table("fields")
            for pf, lf in mapping.items():
                if pf not in PERSON_FIELDS:
                    po.fail(f"fields.{pf}", f"人员主档没有字段 {pf!r}（可用：{sorted(PERSON_FIELDS)}）")
                if lf not in byid:
                    po.fail(f"fields.{pf}", f"台账没有字段 {lf!r}")
            column = po.ident("column")
            if column in byid:
                po.fail("column", f"{column!r} 与字段 id 冲突")
            persons.append(PersonLink(column=column, role=po.str("role"), fields=dict(mapping)))
        rules = [self._rule(fname, f"{key}.rules[{i}]", r, byid)
                 for i, r in enumerate(o.list("rules", []))]
        title_field = o.get("title_field")
        if title_field is not None and title_field not in byid:
            o.fail("title_field", f"未知字段 {title_field!r}")
        return Ledger(
            id=o.ident("id"), label=o.str("label"), project=project, fields=tuple(fields),
            statuses=statuses, date_field=date_field, identity=identity,
            natural_key=natural_key, persons=tuple(persons), rules=tuple(rules),
            all_sensitive=o.bool("all_sensitive", False), title_field=title_field,
            once_per_person=o.bool("once_per_person", False),
        )

    def _field(self, fname, key, data) -> Field:
        o = _Obj(fname, key, data)
        o.only({"id", "label", "type", "required", "sensitive", "choices", "aliases", "min",
                "max", "max_length", "unit", "not_future", "derive_from", "synonyms", "help",
                "choices_from", "kinds", "max_mb", "max_files", "default_from"})
        ftype = o.str("type")
        if ftype not in FIELD_TYPES:
            o.fail("type", f"未知字段类型 {ftype!r}（可用：{'、'.join(sorted(FIELD_TYPES))}）")
        choices = tuple(o.str_list("choices", []))
        choices_from = o.get("choices_from")
        if choices_from not in (None, "indicators"):
            o.fail("choices_from", "只支持 \"indicators\"")
        if ftype in {"choice", "multichoice"} and not choices and not choices_from:
            o.fail("choices", "选择型字段必须列出 choices")
        if choices and len(set(choices)) != len(choices):
            o.fail("choices", "选项重复")
        kinds = tuple(o.str_list("kinds", list(ATTACHMENT_KINDS) if ftype == "attachment" else []))
        if kinds and ftype != "attachment":
            o.fail("kinds", "只有附件字段（attachment）才有 kinds")
        if any(k not in ATTACHMENT_KINDS for k in kinds):
            o.fail("kinds", f"可用：{'、'.join(ATTACHMENT_KINDS)}")
        aliases = o.table("aliases", {})
        for alias, target in aliases.items():
            if target not in choices:
                o.fail(f"aliases.{alias}", f"{target!r} 不在 choices 中")
        return Field(
            id=o.ident("id"), label=o.str("label"), type=ftype,
            required=o.bool("required", False), sensitive=o.bool("sensitive", False),
            choices=choices,
            aliases=dict(aliases), min=o.num("min"), max=o.num("max"),
            max_length=o.get("max_length"), unit=o.get("unit"),
            not_future=o.bool("not_future", True), derive_from=o.get("derive_from"),
            synonyms=tuple(o.str_list("synonyms", [])), help=o.str("help", ""),
            choices_from=choices_from, kinds=kinds, max_mb=o.num("max_mb"),
            max_files=o.get("max_files"), default_from=o.get("default_from"),
        )

    def _rule(self, fname, key, data, byid) -> Rule:
        o = _Obj(fname, key, data)
        kind = o.str("kind")
        if kind not in RULE_KINDS:
            o.fail("kind", f"未知规则 {kind!r}（可用：{'、'.join(sorted(RULE_KINDS))}）")
        severity = o.str("severity", "error")
        if severity not in {"error", "warning"}:
            o.fail("severity", "只能是 error 或 warning")
        params = {k: v for k, v in data.items() if k not in {"kind", "severity", "message"}}
        for pk, pv in params.items():
            if pk in {"field", "id_field", "at", "from", "to", "when_field", "category_field",
                      "grade_field", "birth_field", "other"}:
                if pv not in byid:
                    o.fail(pk, f"台账没有字段 {pv!r}")
            if pk == "fields":
                for fid in pv:
                    if fid not in byid:
                        o.fail(pk, f"台账没有字段 {fid!r}")
        needs = {"empty_unless": ("field", "when_field", "when_in"),
                 "value_in_if": ("field", "when_field", "when_in", "in"),
                 "min_value": ("field", "min")}.get(kind, ())
        for pk in needs:
            if pk not in params:
                o.fail(pk, f"规则 {kind} 需要 {pk}")
        if kind == "min_value" and byid[params["field"]].type not in {"integer", "decimal"}:
            o.fail("field", f"{params['field']!r} 不是数值字段")
        if kind == "min_value" and ("when_field" in params) != ("when_in" in params):
            o.fail("when_in", "when_field 与 when_in 须同时给出")
        return Rule(kind=kind, severity=severity, params=params, message=o.str("message", ""))

    # -- indicators
    def _indicator(self, fname, key, data, projects, ledgers) -> Indicator:
        o = _Obj(fname, key, data)
        o.only({"id", "name", "projects", "kind", "target", "unit", "comparator", "units",
                "text", "measure", "units_chosen", "derived"})
        kind = o.str("kind")
        if kind not in INDICATOR_KINDS:
            o.fail("kind", f"未知指标类型 {kind!r}（可用：{'、'.join(sorted(INDICATOR_KINDS))}）")
        proj_ids = o.str_list("projects", nonempty=True)
        by_pid = {p.id: p for p in projects}
        for pid in proj_ids:
            if pid not in by_pid:
                o.fail("projects", f"未知项目 {pid!r}")
        allowed_units = {u for pid in proj_ids for u in by_pid[pid].units}
        units = o.str_list("units", nonempty=True)
        for u in units:
            if u not in allowed_units:
                o.fail("units", f"责任单位 {u!r} 不在所属项目的责任单位中")
        chosen = o.bool("units_chosen", False)
        if chosen and set(units) == allowed_units:   # (an older catalog has no marks at all)
            o.fail("units_chosen", "所列责任单位与所属项目的责任单位相同，是方案原文而不是目录的选择，请删去此项")
        target = o.num("target")
        if kind == "qualitative":
            if target is not None:
                o.fail("target", "定性任务不设数值目标（删去 target）")
        elif target is None:
            o.fail("target", "缺少目标值")
        comparator = o.str("comparator", ">=")
        if comparator not in COMPARATORS:
            o.fail("comparator", f"只能是 {'、'.join(sorted(COMPARATORS))}")
        measure = self._measure(fname, f"{key}.measure", o.table("measure"), ledgers, kind,
                                target)
        return Indicator(
            id=o.ident("id"), name=o.str("name"), projects=tuple(proj_ids), kind=kind,
            target=target, unit=o.str("unit", ""), comparator=comparator, units=tuple(units),
            text=o.str("text", ""), measure=measure, derived=o.str("derived", ""),
            units_chosen=chosen,
        )

    def _measure(self, fname, key, data, ledgers, kind, target) -> Measure:
        o = _Obj(fname, key, data)
        o.only({"ledger", "method", "field", "where", "period", "orgs", "min", "rotation",
                "calendar", "schedule", "each_of", "members", "span", "per", "until"})
        by_id = {led.id: led for led in ledgers}
        lid = o.str("ledger")
        if lid not in by_id:
            o.fail("ledger", f"未知台账 {lid!r}")
        led = by_id[lid]
        method = o.str("method")
        if method not in METHODS:
            o.fail("method", f"未知统计方法 {method!r}（可用：{'、'.join(sorted(METHODS))}）")
        fld = o.get("field")
        if method in {"sum", "standard", "latest"} and not fld:
            o.fail("field", f"统计方法 {method} 需要 field")
        if fld is not None:
            if not led.has_field(fld) and fld not in {"person_id"} | {p.column for p in led.persons}:
                o.fail("field", f"台账 {lid} 没有字段 {fld!r}")
            if method in {"sum", "standard", "latest"} and led.field(fld).type not in {
                    "integer", "decimal"}:
                o.fail("field", f"{fld!r} 不是数值字段")
        where = {}
        for wk, wv in o.table("where", {}).items():
            if not led.has_field(wk):
                o.fail(f"where.{wk}", f"台账 {lid} 没有字段 {wk!r}")
            values = (wv,) if isinstance(wv, str) else tuple(wv)
            wf = led.field(wk)
            if wf.choices and not wf.choices_from:
                for v in values:
                    if v not in wf.choices:
                        o.fail(f"where.{wk}", f"{v!r} 不是字段 {wf.label} 的选项")
            where[wk] = values
        period = o.get("period")
        cal = o.str("calendar", "calendar_days")
        if cal not in CALENDARS:
            o.fail("calendar", f"只能是 {'、'.join(sorted(CALENDARS))}")
        if cal != "calendar_days" and (method != "periods" or period != "day"):
            o.fail("calendar", "只有按日的定期工作（period = \"day\"）才区分自然日和工作日")
        if cal == "working_days" and self.calendar is None:
            o.fail("calendar", f"按工作日计需要 {self.plan_year} 年的节假日安排（[calendar]）")
        if method == "periods":
            if period not in PERIODS:
                o.fail("period", f"只能是 {'、'.join(sorted(PERIODS))}")
            if period == "day" and cal == "working_days":
                expected = self.calendar.working_days()
            else:
                expected = {"day": 366 if calendar.isleap(self.plan_year) else 365,
                            "month": 12, "quarter": 4, "year": 1}[period]
            if target != expected:
                o.fail("period", f"目标应为计划年度内的期数 {expected}，而不是 {target}")
        schedule = self._schedule(o, method, target) if "schedule" in data else ()
        each_of = o.get("each_of")
        if each_of is not None and (method != "periods" or not led.has_field(each_of)):
            o.fail("each_of", f"应是按期统计（periods）的台账 {lid} 的字段")
        members = tuple(o.str_list("members", []))
        if members and each_of is None:
            o.fail("members", "需要同时写 each_of（名单对应的字段）")
        orgs = tuple(o.str_list("orgs", []))
        if method == "orgs_with" and not orgs:
            o.fail("orgs", "orgs_with 需要列出单位代码")
        if method == "households":
            links = {p.column for p in led.persons}
            if not led.persons or fld not in links or fld == led.persons[0].column:
                o.fail("field", "households 需要 field：户主的人员列（不是第一个人员列）")
        per = o.get("per")
        if per is not None:
            if method != "standard":
                o.fail("per", "只有逐行核对标准（standard）的指标才能按人数折算（per）")
            if not led.has_field(per) or led.field(per).type != "integer":
                o.fail("per", f"应是台账 {lid} 的整数字段（如保障人数）")
        span = o.str("span", "year")
        if span not in {"year", "state"}:
            o.fail("span", "只能是 year（当年的结果）或 state（截至统计日仍然成立的状态）")
        until = o.get("until")
        if until is not None and (span != "state" or not led.has_field(until)
                                  or led.field(until).type != "date"):
            o.fail("until", f"应是状态类指标（span = \"state\"）所用台账 {lid} 的日期字段（如停业日期）")
        return Measure(ledger=lid, method=method, field=fld, where=where, period=period,
                       orgs=orgs, min=o.int("min", 1), rotation=tuple(o.str_list("rotation", [])),
                       calendar=cal, schedule=schedule, each_of=each_of, members=members,
                       span=span, until=until, per=per)

    def _schedule(self, o: "_Obj", method: str, target) -> tuple[tuple[str, float], ...]:
        """A standard's effective-dated series: [{from = "2024-07", value = 700}, …]."""
        if method != "standard":
            o.fail("schedule", "只有逐行核对标准（standard）的指标才有执行时间表")
        out = []
        for i, item in enumerate(o.list("schedule")):
            so = _Obj(o.file, f"{o.key}.schedule[{i}]", item)
            so.only({"from", "value"})
            month = so.str("from")
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
                so.fail("from", f"{month!r} 应写成 YYYY-MM（执行起始月份）")
            value = so.num("value")
            if value is None:
                so.fail("value", "缺少此项")
            out.append((month, value))
        months = [m for m, _ in out]
        if not out or months != sorted(set(months)):
            o.fail("schedule", "应按执行起始月份从早到晚排列，月份不重复")
        if any(not m.startswith(f"{self.plan_year}-") for m in months):
            o.fail("schedule", f"执行起始月份应在计划年度 {self.plan_year} 年内")
        if [v for _, v in out] != sorted(v for _, v in out):
            o.fail("schedule", "标准只升不降：后一档不能低于前一档")
        if out[-1][1] != target:
            o.fail("schedule", f"最后一档应为方案目标 {target}")
        return tuple(out)

    def _resolve_indicator_choices(self, led: Ledger, inds: list[Indicator]) -> Ledger:
        if not any(f.choices_from for f in led.fields):
            return led
        names = tuple(i.name for i in inds if i.measure.ledger == led.id)
        fields = tuple(replace(f, choices=names) if f.choices_from else f for f in led.fields)
        return replace(led, fields=fields)


def _unique(built: list, sources: list, attr: str) -> None:
    seen: dict = {}
    for obj, (fname, key, _) in zip(built, sources):
        value = getattr(obj, attr)
        if value in seen:
            raise CatalogError(fname, f"{key}.{attr}", f"{value!r} 与 {seen[value]} 重复")
        seen[value] = f"{fname} {key}"


class _Obj:
    """Typed access to one TOML table, failing with file and key."""

    _MISSING = object()

    def __init__(self, file: str, key: str, data: Any):
        if not isinstance(data, dict):
            raise CatalogError(file, key, "应是一个表（{…}）")
        self.file, self.key, self.data = file, key, data

    def fail(self, sub: str, msg: str):
        raise CatalogError(self.file, f"{self.key}.{sub}", msg)

    def only(self, allowed: Iterable[str]):
        extra = set(self.data) - set(allowed)
        if extra:
            self.fail(sorted(extra)[0], "未知的键（拼写错误？）")

    def get(self, k, default=None):
        return self.data.get(k, default)

    def _req(self, k, default):
        v = self.data.get(k, default)
        if v is self._MISSING:
            self.fail(k, "缺少此项")
        return v

    def str(self, k, default=_MISSING) -> str:
        v = self._req(k, default)
        if not isinstance(v, str) or (default is self._MISSING and not v.strip()):
            self.fail(k, "应是非空文字")
        return v

    def ident(self, k) -> str:
        v = self.str(k)
        if not _IDENT.match(v):
            self.fail(k, f"{v!r} 应由小写英文字母、数字和下划线组成，并以字母开头")
        return v

    def int(self, k, default=_MISSING) -> int:
        v = self._req(k, default)
        if not isinstance(v, int) or isinstance(v, bool):
            self.fail(k, "应是整数")
        return v

    def num(self, k) -> float | None:
        v = self.data.get(k)
        if v is None:
            return None
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            self.fail(k, "应是数字")
        return v

    def bool(self, k, default=_MISSING) -> bool:
        v = self._req(k, default)
        if not isinstance(v, bool):
            self.fail(k, "应是 true 或 false")
        return v

    def list(self, k, default=_MISSING) -> list:
        v = self._req(k, default)
        if not isinstance(v, list):
            self.fail(k, "应是数组")
        return v

    def str_list(self, k, default=_MISSING, nonempty=False) -> list[str]:
        v = self.list(k, default)
        if nonempty and not v:
            self.fail(k, "不能为空")
        if not all(isinstance(x, str) and x for x in v):
            self.fail(k, "应是文字数组")
        return v

    def table(self, k, default=_MISSING) -> dict:
        v = self._req(k, default)
        if not isinstance(v, dict):
            self.fail(k, "应是一个表")
        return v
