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
