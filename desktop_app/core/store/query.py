"""A filtered, sorted view of one ledger: an id list plus block fetches.

The table on screen keeps only the list of rowids; rows are read in blocks as
they scroll into view (Qt's fetchMore idea, Anki's browser)::

    >>> import tempfile, pathlib, datetime as dt
    >>> from desktop_app.core.store.database import Store
    >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3",
    ...                      level="town", org="河坝镇", operator="示例")
    >>> _ = store.ledger("two_cancer").add({"name": "示例一", "id_number": "43090219710916154X"},
    ...                                    today=dt.date(2024, 6, 30))
    >>> view = LedgerView(store.conn, store.ledger("two_cancer").ledger, search="154X")
    >>> ids = view.ids()
    >>> view.fetch(ids[:1])[ids[0]]["name"]
    '示例一'

Search is partial over the ledger's name, ID-number and phone fields; digits
only search the numbers, CJK text only the names.
"""
from __future__ import annotations

import json
import re
import sqlite3
from array import array
from dataclasses import dataclass, field

from ..catalog.model import Ledger

BOOK_COLUMNS = ("uuid", "org", "_incomplete", "_missing", "_deleted", "_created", "_updated")


@dataclass
class Filter:
    """An extra SQL condition with a label the user can read and remove."""

    label: str
    where: str
    params: list = field(default_factory=list)


class LedgerView:
    def __init__(self, conn: sqlite3.Connection, ledger: Ledger, *, search: str = "",
                 org: str | None = None, status: str | None = None, deleted: bool = False,
                 incomplete: bool | None = None, extra: Filter | None = None,
                 sort: str | None = None, descending: bool = True):
        self.conn, self.ledger = conn, ledger
        self.search, self.org, self.status = search.strip(), org, status
        self.deleted, self.incomplete, self.extra = deleted, incomplete, extra
        self.sort, self.descending = sort, descending
        self.columns = BOOK_COLUMNS + tuple(f.id for f in ledger.fields) + tuple(
            p.column for p in ledger.persons)

    # -- SQL
    def where(self) -> tuple[str, list]:
        # without a search, "+_deleted" keeps SQLite walking the table in rowid order (the
        # first rows come at once); with one, the covering search index is scanned instead
        conds = ["_deleted = ?" if self.search else "+_deleted = ?"]
        params: list = [1 if self.deleted else 0]
        if self.org:
            conds.append("substr(org, 1, ?) = ?")
            params += [len(self.org), self.org]
        if self.status:
            conds.append("status = ?")
            params.append(self.status)
        if self.incomplete is not None:
            conds.append("_incomplete = ?")
            params.append(1 if self.incomplete else 0)
        if self.search:
            cond, p = self._search()
            conds.append(cond)
            params += p
        if self.extra:
            conds.append(f"({self.extra.where})")
            params += self.extra.params
        return " AND ".join(conds), params

    def _search(self) -> tuple[str, list]:
        text = self.search
        names, numbers = search_columns(self.ledger)
        if re.fullmatch(r"[0-9xX*\-\s]+", text):
            cols, text = numbers or names, re.sub(r"[\s\-]", "", text).upper()
        elif re.search(r"[\u4e00-\u9fff]", text):
            cols = names
        else:
            cols = names + numbers
        pattern = "*" + re.sub(r"([*?\[])", r"[\1]", text) + "*"
        # GLOB is case-sensitive and ~1.4x faster than LIKE; ID numbers are upper-cased
        # above and names are Chinese, so nothing is lost
        return "(" + " OR ".join(f"[{c}] GLOB ?" for c in cols) + ")", [pattern] * len(cols)

    def order(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        if self.sort and self.sort in self.columns:
            return f"[{self.sort}] {direction}, rowid {direction}"
        return f"rowid {direction}"

    # -- reading
    def ids(self, limit: int | None = None) -> array:
        """The rowids of the matching rows in display order (the first ``limit`` only, if given)."""
        where, params = self.where()
        sql = f"SELECT rowid FROM [{self.ledger.table}] WHERE {where} ORDER BY {self.order()}"
        if limit is not None:
            return array("q", (r[0] for r in self.conn.execute(f"{sql} LIMIT {int(limit)}", params)))
        # one JSON array instead of a million row tuples: about 1.5x faster to bring into Python
        text = self.conn.execute(f"SELECT json_group_array(rowid) FROM ({sql})", params).fetchone()[0]
        return array("q", json.loads(text))

    def count(self) -> int:
        where, params = self.where()
        return self.conn.execute(f"SELECT COUNT(*) FROM [{self.ledger.table}] WHERE {where}",
                                 params).fetchone()[0]

    def fetch(self, rowids) -> dict[int, dict]:
        """Rows by rowid (one query per block)."""
        rowids = list(rowids)
        if not rowids:
            return {}
        cols = ", ".join(f"[{c}]" for c in self.columns)
        cur = self.conn.execute(
            f"SELECT rowid, {cols} FROM [{self.ledger.table}] WHERE rowid IN "
            f"({','.join('?' * len(rowids))})", rowids)
        return {r[0]: dict(zip(self.columns, r[1:])) for r in cur.fetchall()}


def search_columns(ledger: Ledger) -> tuple[list[str], list[str]]:
    """The name-like and number-like columns a search looks in."""
    numbers = [f.id for f in ledger.fields
               if f.type in ("id_card", "phone", "disability_cert", "credit_code")]
    names = [f.id for f in ledger.fields if f.type == "text" and (
        "name" in f.id or f.id == ledger.title_field)] or [ledger.fields[0].id]
    return names, numbers


def counting_filter(catalog, indicator_id: str, as_of, scope: str) -> tuple[str, Filter]:
    """The ledger and the condition selecting the rows an indicator counts."""
    from ..district.progress import row_filter
    ind = catalog.indicator(indicator_id)
    led = catalog.ledger(ind.measure.ledger)
    where, params = row_filter(catalog, led, ind, as_of, scope)
    return led.id, Filter(f"计入“{ind.name}”的记录（截至 {as_of:%Y-%m-%d}）", where, params)
