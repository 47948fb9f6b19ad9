"""核实意见: a district reviewer flags a row; the flag travels down to the town in a
feedback package, the town corrects the row and replies, and both travel back up.

A row has at most one review (its id is derived from the row's), so the
district's status and the town's reply are two fields of the same replicated
row and merge like any other edit::

    >>> review_id("two_cancer", "01a2-…")
    '331f3faf-2577-5550-8184-dff16d6f4fb1'
"""
from __future__ import annotations

import unicodedata
import uuid as uuidlib
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..store.schema import review_spec
from ..store.writes import Writer

if TYPE_CHECKING:
    from ..store.database import Store

STATUSES = ("待核实", "已核实", "退回修改")
_NS = uuidlib.UUID("8d3b6c1e-2a7f-5e44-9c0b-1f2e3d4c5b6a")


def review_id(ledger_id: str, row_uuid: str) -> str:
    return str(uuidlib.uuid5(_NS, f"{ledger_id}:{row_uuid}"))


MAX_TEXT = 500   # characters of a note or a reply: a few sentences, never a file's worth


def _text(text: str, what: str) -> str | None:
    """A note or reply as stored: control characters become spaces, the ends trimmed.

    :raises StoreError: (exit 1) when it is longer than :data:`MAX_TEXT`.
    """
    clean = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text or "").strip()
    if len(clean) > MAX_TEXT:
        raise StoreError(f"{what}最多 {MAX_TEXT} 个字，现在是 {len(clean)} 个字；请写得简短些", 1)
    return clean or None


def _current(store: Store, rid: str) -> dict | None:
    spec = review_spec()
    cols = ("uuid",) + spec.all_columns[1:]
    row = store.conn.execute(f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM reviews WHERE uuid = ?",
                             (rid,)).fetchone()
    return dict(zip(cols, row)) if row else None


def flag(store: Store, ledger_id: str, row_uuid: str, *, note: str, status: str = "待核实") -> str:
    """Flag a row (or change its review): returns the review id.

    :raises StoreError: for an unknown row or status, or an empty note.
    """
    store.require("review")
    if status not in STATUSES:
        raise StoreError(f"核实状态应为：{'、'.join(STATUSES)}", 1)
    records = store.ledger(ledger_id)
    row = records.get(row_uuid)
    if row is None:
        raise StoreError(f"{records.ledger.label}中没有记录 {row_uuid[:8]}", 1)
    note = _text(note, "核实意见")
    if not note and status != "已核实":
        raise StoreError("请写明核实意见（哪里有问题、应如何改正）", 1)
    rid = review_id(records.ledger.id, row_uuid)
    values = {"org": row["org"], "ledger": records.ledger.id, "row_uuid": row_uuid, "status": status,
              "note": note, "reviewer": store.actor}
    with store.transaction():
        writer = Writer(store, source="screen:review")
        current = _current(store, rid)
        if current is None:
            writer.insert(review_spec(), [dict(values, uuid=rid)])
        else:
            writer.update(review_spec(), current, values)
    return rid


def reply(store: Store, ledger_id: str, row_uuid: str, text: str) -> str:
    """The town's answer to a review (e.g. "已改正联系电话"), as stored; it travels up like any edit.

    :raises StoreError: (exit 1) for a row without a review, or an empty answer.
    """
    store.require("edit")
    if store.node.level == "district":
        raise StoreError("核实意见由区里写、由记录所在的镇答复；区级数据库不答复核实意见", 1)
    rid = review_id(store.ledger(ledger_id).ledger.id, row_uuid)
    current = _current(store, rid)
    if current is None:
        raise StoreError("这条记录没有核实意见，不需要答复；请检查记录 uuid 和台账", 1)
    text = _text(text, "答复")
    if not text:
        raise StoreError("请写明答复：已如何改正，或为什么不需要改", 1)
    with store.transaction():
        Writer(store, source="screen:review").update(review_spec(), current,
                                                                {"reply": text})
    return text


def list_reviews(store: Store, *, ledger_id: str | None = None, open_only: bool = False,
            row_uuids: list[str] | None = None) -> list[dict]:
    """Reviews, newest change first (optionally of one ledger, open ones, or some rows)."""
    conds, params = ["_deleted = 0"], []
    if ledger_id:
        conds.append("ledger = ?")
        params.append(ledger_id)
    if open_only:
        conds.append("status <> '已核实'")
    if row_uuids is not None:
        conds.append(f"row_uuid IN ({','.join('?' * len(row_uuids))})")
        params += row_uuids
    cur = store.conn.execute(f"SELECT uuid, org, ledger, row_uuid, status, note, reviewer, reply, _updated "
                             f"FROM reviews WHERE {' AND '.join(conds)} ORDER BY _updated DESC", params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
