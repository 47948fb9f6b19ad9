"""Tables made from the catalog: one real table per ledger, plus the person master.

Every record table has the same bookkeeping columns beside its fields:
``uuid`` (identity everywhere, for ever), ``org``, the person-link columns,
``_deleted`` (tombstone), ``_incomplete`` / ``_missing`` (待补充), ``_created``,
``_updated``, ``_origin`` (the install that created the row) and ``_versions``
(per-field clock stamps, see versions.py). A new catalog version adds columns;
nothing is ever dropped.

    >>> spec = person_spec()
    >>> spec.table, spec.versioned[:3]
    ('persons', ('org', 'id_number', 'name'))
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import sqlite_utils

from ..catalog.model import Field, Ledger

BOOKKEEPING = {
    "_deleted": int, "_incomplete": int, "_missing": str, "_created": str,
    "_updated": str, "_origin": str, "_versions": str,
}
PERSON_FIELDS = (
    Field("id_number", "身份证号", "id_card", sensitive=True),
    Field("name", "姓名", "text", max_length=30),
    Field("sex", "性别", "choice", choices=("男", "女")),
    Field("birth_date", "出生日期", "date"),
    Field("phone", "联系电话", "phone", sensitive=True),
    Field("address", "家庭住址", "text", sensitive=True),
)


@dataclass(frozen=True)
class TableSpec:
    """What a record table holds: its versioned columns and their types."""

    table: str
    columns: dict[str, type]  # versioned data columns (org first), SQL affinity
    person_columns: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...]

    @cached_property
    def versioned(self) -> tuple[str, ...]:
        return tuple(self.columns) + self.person_columns + ("_deleted",)

    @cached_property
    def all_columns(self) -> tuple[str, ...]:
        return ("uuid",) + tuple(self.columns) + self.person_columns + tuple(BOOKKEEPING)


def ledger_spec(ledger: Ledger) -> TableSpec:
    columns = {"org": str} | {f.id: f.sql_type for f in ledger.fields}
    persons = tuple(p.column for p in ledger.persons)
    key = tuple(k.removeprefix("year:") for k in ledger.natural_key)
    names, numbers = search_columns(ledger)
    # a covering index for search: a LIKE scan reads it instead of the wide table
    search = ("_deleted",) + tuple(dict.fromkeys(names + numbers))
    # Only indexes that queries use: org filters are code prefixes (substr) and progress
    # scans the year, so no date index would be read — only written. The district's board
    # counts each village's live rows and their latest change: (org, _deleted, _updated)
    # covers that, one index walk per ledger instead of a scan of the table (about 1 µs
    # more per row written).
    indexes = [key[:1], search] + [(c,) for c in persons] + [("org", "_deleted", "_updated")]
    return TableSpec(ledger.table, columns, persons, tuple(dict.fromkeys(indexes)))


# The live rows are nearly every row: a query for them says ``+_deleted = 0`` (no index on
# it), so SQLite reads the table in one pass — or through the index its other conditions
# name — instead of walking the search index (which leads with _deleted) entry by entry
# and looking each row up: about 10x slower at a million rows. The recycle bin
# (``_deleted = 1``, a few rows) is found through that index.
LIVE = "+_deleted = 0"


def within_sql(code: str, column: str = "org", *, install: str | None = None) -> tuple[str, list]:
    """SQL for the rows of a unit and of every unit under it (``column`` starts with the
    unit's code), and its parameter. A GLOB on the code's prefix reads the unit's range of
    the (org, _deleted, _updated) index — a town's rows of a district's million without a
    scan — where ``substr(org, 1, n) = ?`` reads every row. The install's own unit
    (``install``: its code) holds every row: those are read in one scan (``+org``)::

        >>> within_sql("430971121"), within_sql("a*b", "t.org")
        (('org GLOB ?', ['430971121*']), ('t.org GLOB ?', ['a[*]b*']))
        >>> within_sql("430971", install="430971")
        ('+org GLOB ?', ['430971*'])
    """
    return f"{'+' if code == install else ''}{column} GLOB ?", [glob_escape(code) + "*"]


def glob_escape(text: str) -> str:
    """``text`` as a GLOB pattern matching only itself: ``*``, ``?`` and ``[`` bracketed."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def search_columns(ledger: Ledger) -> tuple[list[str], list[str]]:
    """The name-like and number-like columns a search looks in (and its covering index holds)."""
    numbers = [f.id for f in ledger.fields
               if f.type in ("id_card", "phone", "disability_cert", "credit_code")]
    names = [f.id for f in ledger.fields if f.type == "text" and (
        "name" in f.id or f.id == ledger.title_field)] or [ledger.fields[0].id]
    return names, numbers


def person_spec() -> TableSpec:
    columns = {"org": str} | {f.id: f.sql_type for f in PERSON_FIELDS}
    # persons are found by uuid (= UUIDv5 of the ID number) and searched with LIKE '%…%',
    # which no index serves
    return TableSpec("persons", columns, (), ())


def review_spec() -> TableSpec:
    """核实意见: one review per flagged row; it travels down to the town and back up."""
    columns = {"org": str, "ledger": str, "row_uuid": str, "status": str, "note": str,
               "reviewer": str, "reply": str}
    return TableSpec("reviews", columns, (), (("row_uuid",),))


def ensure_table(db: sqlite_utils.Database, spec: TableSpec) -> list[str]:
    """Create the table or add the columns it lacks. Returns the columns added."""
    table = db[spec.table]
    wanted = {"uuid": str} | spec.columns | {c: str for c in spec.person_columns} | BOOKKEEPING
    if not table.exists():
        table.create(wanted, pk="uuid", not_null={"org", "_versions"},
                     defaults={"_deleted": 0, "_incomplete": 0})
        added = list(wanted)
    else:
        have = {c.name for c in table.columns}
        added = [c for c in wanted if c not in have]
        for name in added:
            table.add_column(name, wanted[name])
    wanted_indexes = {f"{spec.table}__{'_'.join(cols)}": cols for cols in spec.indexes}
    for name, cols in wanted_indexes.items():
        table.create_index(cols, index_name=name, if_not_exists=True)
    for index in table.indexes:  # indexes an earlier version made that nothing reads any more
        if index.name.startswith(f"{spec.table}__") and index.name not in wanted_indexes:
            db.execute(f"DROP INDEX [{index.name}]")
    return added
