"""A filtered, sorted view of one ledger: an id list plus block fetches.

The table on screen keeps only the list of rowids; rows are read in blocks as
they scroll into view (Qt's fetchMore idea, Anki's browser). What a view shows
is a :class:`Selection` of plain values — never an SQL string — which this module
alone turns into SQL::

    >>> import tempfile, pathlib, datetime as dt
    >>> from desktop_app.core.store.database import Store
    >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3",
    ...                      level="town", org="河坝镇", operator="示例")
    >>> _ = store.ledger("two_cancer").add({"name": "示例一", "id_number": "43090219710916154X"},
    ...                                    today=dt.date(2024, 6, 30))
    >>> view = LedgerView(store.conn, store.catalog.ledger("two_cancer"), Selection(search="154X"))
    >>> ids = view.ids()
    >>> view.fetch(ids[:1])[ids[0]]["name"]
    '示例一'
    >>> Selection(search="154X").filtered, Selection(deleted=True).filtered
    (True, False)

Search looks in the ledger's name, ID-number and phone fields; digits only search
the numbers, CJK text only the names. Names match in part; a sensitive number matches
only whole, or by its last digits for a role that may reveal (:meth:`Policy.number_search`)
— never a middle part, which would let a masked number be guessed digit by digit::

    >>> from desktop_app.core.store.policy import Policy
    >>> LedgerView(store.conn, store.catalog.ledger("two_cancer"), Selection(search="0916"),
    ...            policy=Policy("录入员")).count()
    0
    >>> store.close()

Given the store (not only its connection), a view follows the session's policy
(:func:`~.policy.policy_for`): the rows of the user's unit only, sensitive values as
the role may hold them. :class:`Counted` selects the rows an indicator counts as of a
date (the same condition progress uses).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from array import array
from dataclasses import dataclass

from ..catalog.model import Catalog, Indicator, Ledger
from .policy import Policy, policy_for
from .schema import glob_escape, search_columns, within_sql

BOOK_COLUMNS = ("uuid", "org", "_incomplete", "_missing", "_deleted", "_created", "_updated")


@dataclass(frozen=True)
class Counted:
    """The rows an indicator counts as of a date, under a unit (see :func:`counted_where`)."""

    indicator: str
    as_of: dt.date
    scope: str
    label: str   # what the user reads, e.g. 计入“两癌检查”的记录（截至 2024-06-30）


@dataclass(frozen=True)
class Selection:
    """Which rows of a ledger a view shows. Every field is a plain value.

    ``org`` is a unit code (that unit and every unit under it); ``deleted``
    shows the recycle bin instead of the live rows; ``incomplete`` True/False
    keeps only 待补充 / complete rows; ``counted`` only the rows an indicator counts.
    """

    search: str = ""
    org: str | None = None
    status: str | None = None
    deleted: bool = False
    incomplete: bool | None = None
    counted: Counted | None = None

    @property
    def filtered(self) -> bool:
        """True when anything narrows the rows (the recycle bin alone does not)."""
        return bool(self.search.strip() or self.org or self.status or self.incomplete is not None
                    or self.counted)


def counted_selection(catalog: Catalog, indicator_id: str, as_of: dt.date,
                      scope: str) -> tuple[str, Counted]:
    """The ledger an indicator counts and the :class:`Counted` selecting its rows."""
    ind = catalog.indicator(indicator_id)
    return ind.measure.ledger, Counted(ind.id, as_of, scope,
                                       f"计入“{ind.name}”的记录（截至 {as_of:%Y-%m-%d}）")


def not_counted_sql() -> str:
    """SQL for the rows a 'same person' decision takes out of progress (the one not kept);
    one parameter: the ledger id."""
    return ("SELECT CASE WHEN keep = uuid_a THEN uuid_b ELSE uuid_a END FROM duplicate_reviews "
            "WHERE decision = 'same' AND ledger = ?")


def _row_conds(catalog: Catalog, led: Ledger, ind: Indicator, as_of: dt.date,
               alias: str = "") -> list[tuple[str, list]]:
    """The conditions a row itself must meet to count (no unit, no duplicate), each with
    its parameters, its columns prefixed with ``alias``."""
    a = f"{alias}." if alias else ""
    # unary +: no index for these (the year's live rows are most rows): a counting query
    # scans the table once instead of looking up every row through the search index
    # (which leads with _deleted), and a same-key join finds its pair by the key index
    d = f"+{a}[{led.date_field}]"
    first = "0000-01-01" if ind.measure.span == "state" else dt.date(catalog.plan_year, 1, 1).isoformat()
    conds = [(f"+{a}_deleted = 0", []), (f"+{a}_incomplete = 0", []), (f"{d} >= ?", [first]),
             (f"{d} <= ?", [as_of.isoformat()])]
    for fid, values in ind.measure.where.items():
        # +column has no affinity: only where text meets text does it compare the same
        text = led.has_field(fid) and led.field(fid).sql_type is str and all(type(v) is str for v in values)
        conds.append((f"{'+' if text else ''}{a}[{fid}] IN ({','.join('?' * len(values))})", list(values)))
    ifield = led.indicator_field()
    if ifield is not None:
        conds.append((f"{a}[{ifield.id}] = ?", [ind.name]))
    if ind.measure.until:   # a state that ended (停业) on or before the as-of date no longer holds
        conds.append((f"({a}[{ind.measure.until}] IS NULL OR {a}[{ind.measure.until}] > ?)", [as_of.isoformat()]))
    return conds


def joined(conds: list[tuple[str, list]]) -> tuple[str, list]:
    """Conditions with their parameters as one ``AND`` (``1`` when there are none)::

        >>> joined([("a = ?", [1]), ("b IN (?, ?)", [2, 3])])
        ('a = ? AND b IN (?, ?)', [1, 2, 3])
    """
    return " AND ".join(c for c, _ in conds) or "1", [p for _, params in conds for p in params]


def same_key_sql(catalog: Catalog, led: Ledger, ind: Indicator, as_of: dt.date) -> tuple[str, list]:
    """SQL for the rows of a ledger without persons (an institution, a community, a work)
    that do not count because the same thing — the same natural key, e.g. 统一社会信用代码 —
    counts in another town: each selected row is ``(uuid, kept, kept_org)``, the row counted
    instead and its unit.

    Of the rows that would count, the one entered first (``_created``, then the lower uuid)
    counts when the key is a national number (:attr:`Ledger.key_is_national`); a key of
    names counts once only after a reviewer's decision on the pair
    (:func:`~..district.duplicates.decide`): "same" counts the row kept, "different" both."""
    on = [f"substr(o.[{k[5:]}], 1, 4) = substr(t.[{k[5:]}], 1, 4)" if k.startswith("year:")
          else f"o.[{k}] = t.[{k}]" for k in led.natural_key]
    where, params = joined(_row_conds(catalog, led, ind, as_of, "t") + _row_conds(catalog, led, ind, as_of, "o"))
    sql = (f"SELECT t.uuid AS uuid, o.uuid AS kept, o.org AS kept_org FROM [{led.table}] AS t JOIN [{led.table}] AS o "
           f"ON {' AND '.join(on)} AND o.uuid <> t.uuid "
           "AND substr(o.org, 1, 9) <> substr(t.org, 1, 9) "
           "LEFT JOIN duplicate_reviews AS r ON r.ledger = ? "
           "AND r.uuid_a = min(t.uuid, o.uuid) AND r.uuid_b = max(t.uuid, o.uuid) "
           f"WHERE {where} AND ("
           + ("(r.decision IS NULL AND (o._created < t._created OR (o._created = t._created "
              "AND o.uuid < t.uuid))) OR " if led.key_is_national else "")
           + "(r.decision = 'same' AND r.keep = o.uuid))")
    return sql, [led.id] + params


def counted_conds(catalog: Catalog, led: Ledger, ind: Indicator, as_of: dt.date,
                  scope: str) -> list[tuple[str, list]]:
    """The conditions (each with its parameters) for the rows an indicator counts: live,
    complete, dated in the plan year up to ``as_of`` (a ``span = "state"`` measure: dated
    up to ``as_of`` in any year, not ended by then: ``until``), under ``scope``, matching
    ``where``, not a duplicate: a
    person confirmed by a reviewer as counted in another row, or the same thing (natural
    key) counted in another town (:func:`same_key_sql`)."""
    conds = _row_conds(catalog, led, ind, as_of)
    conds.append(("substr(org, 1, ?) = ?", [len(scope), scope]))
    if led.persons:  # a person counted twice and confirmed by a reviewer counts once
        conds.append((f"uuid NOT IN ({not_counted_sql()})", [led.id]))
    else:            # an institution sent by two towns counts once
        sql, p = same_key_sql(catalog, led, ind, as_of)
        conds.append((f"uuid NOT IN (SELECT uuid FROM ({sql}))", p))
    return conds


def counted_where(catalog: Catalog, led: Ledger, ind: Indicator, as_of: dt.date,
                  scope: str) -> tuple[str, list]:
    """:func:`counted_conds` as one SQL condition and its parameters."""
    return joined(counted_conds(catalog, led, ind, as_of, scope))


class LedgerView:
    """The rows of ``selection`` in one ledger, read from ``source``: a store (its session's
    policy applies, as a window holds it — :meth:`Policy.for_screen`) or a bare connection
    (a script: not restricted unless a ``policy`` is given)."""

    def __init__(self, source, ledger: Ledger, selection: Selection = Selection(),
                 *, catalog: Catalog | None = None, sort: str | None = None, descending: bool = True,
                 policy: Policy | None = None):
        if selection.counted is not None and catalog is None:
            raise ValueError("a counted selection needs the catalog")
        store = source if hasattr(source, "session") else None   # a Store, or a bare connection
        conn = store.conn if store is not None else source
        if policy is None and store is not None:
            policy = policy_for(store).for_screen()
        self.policy = policy or Policy(revealed=True)
        self.conn, self.ledger, self.selection, self.catalog = conn, ledger, selection, catalog
        self.install = store.node.org if store is not None else None
        self.sort, self.descending = sort, descending
        self.columns = BOOK_COLUMNS + tuple(f.id for f in ledger.fields) + tuple(
            p.column for p in ledger.persons)

    # -- SQL (built here only)
    def _where(self) -> tuple[str, list]:
        sel = self.selection
        search = sel.search.strip()
        # the live rows without a search: "+_deleted" keeps SQLite walking the table in rowid
        # order (the first rows come at once); with a search the covering search index is
        # scanned instead, and the recycle bin's few rows are found through it too
        conds = ["_deleted = ?" if search or sel.deleted else "+_deleted = ?"]
        params: list = [1 if sel.deleted else 0]
        org = self.policy.scope(sel.org)
        if org:
            cond, p = within_sql(org, install=self.install)
            conds.append(cond)
            params += p
        if sel.status:
            conds.append("status = ?")
            params.append(sel.status)
        if sel.incomplete is not None:
            conds.append("_incomplete = ?")
            params.append(1 if sel.incomplete else 0)
        if search:
            cond, p = _search(self.ledger, search, self.policy)
            conds.append(cond)
            params += p
        if sel.counted:
            c = sel.counted
            where, p = counted_where(self.catalog, self.ledger, self.catalog.indicator(c.indicator),
                                     c.as_of, c.scope)
            conds.append(f"({where})")
            params += p
        return " AND ".join(conds), params

    def _order(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        if self.sort and self.sort in self.columns:
            return f"[{self.sort}] {direction}, rowid {direction}"
        return f"rowid {direction}"

    # -- reading
    def ids(self, limit: int | None = None) -> array:
        """The rowids of the matching rows in display order (the first ``limit`` only, if given)."""
        where, params = self._where()
        sql = f"SELECT rowid FROM [{self.ledger.table}] WHERE {where} ORDER BY {self._order()}"
        if limit is not None:
            return array("q", (r[0] for r in self.conn.execute(f"{sql} LIMIT {int(limit)}", params)))
        # one JSON array instead of a million row tuples: about 1.5x faster to bring into Python
        text = self.conn.execute(f"SELECT json_group_array(rowid) FROM ({sql})", params).fetchone()[0]
        return array("q", json.loads(text))

    def count(self) -> int:
        where, params = self._where()
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
        policy, ledger = self.policy, self.ledger
        if policy.revealed:
            return {r[0]: dict(zip(self.columns, r[1:])) for r in cur.fetchall()}
        return {r[0]: policy.row(ledger, dict(zip(self.columns, r[1:])), links=True) for r in cur.fetchall()}


def _search(ledger: Ledger, text: str, policy: Policy) -> tuple[str, list]:
    names, numbers = search_columns(ledger)
    if re.fullmatch(r"[0-9xX*\-\s]+", text):
        cols, text = numbers or names, re.sub(r"[\s\-]", "", text).upper()
    elif re.search(r"[\u4e00-\u9fff]", text):
        cols = names
    else:
        cols = names + numbers
    escaped = glob_escape(text)
    conds, params = [], []
    for c in cols:
        sensitive = ledger.has_field(c) and ledger.is_sensitive(c)
        if sensitive and ledger.field(c).type == "phone" and not policy.searches_phones():
            continue
        if not sensitive:
            # GLOB is case-sensitive and ~1.4x faster than LIKE; ID numbers are upper-cased
            # above and names are Chinese, so nothing is lost
            conds.append(f"[{c}] GLOB ?")
            params.append(f"*{escaped}*")
        elif c in numbers and policy.number_search(text) == "suffix":
            conds.append(f"[{c}] GLOB ?")          # the whole number or its last digits
            params.append(f"*{escaped}")
        elif c in numbers or not policy.may_reveal:
            conds.append(f"[{c}] = ?")              # the whole value only
            params.append(text)
        else:
            conds.append(f"[{c}] GLOB ?")          # a name a reviewer may reveal
            params.append(f"*{escaped}*")
    return "(" + (" OR ".join(conds) or "0") + ")", params
