"""The installs this one exchanges packages with, and the tables that travel.

A peer is known from its profile (unit, level, keys); packages go to the level above
unless another unit is named::

    >>> from desktop_app.core.store.schema import person_spec
    >>> COUNTS[:3]
    ('new', 'updated', 'unchanged')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..store.crypto import unb64
from ..store.schema import TableSpec, ledger_spec, person_spec, review_spec

if TYPE_CHECKING:
    from ..store.database import Store



BATCH = 500
COUNTS = ("new", "updated", "unchanged", "older", "deleted", "conflicts", "rejected")
MAX_TEXT = 32767


@dataclass
class Peer:
    node: str
    org: str
    level: str
    suite: str
    sign_key: bytes
    enc_key: bytes
    fingerprint: str


def peers(store: Store, *, active_only: bool = True) -> list[Peer]:
    sql = "SELECT node, org, level, suite, sign_key, enc_key, fingerprint FROM peers"
    if active_only:
        sql += " WHERE status = 'active'"
    return [Peer(n, o, lv, s, unb64(sk), unb64(ek), fp) for n, o, lv, s, sk, ek, fp in
            store.conn.execute(sql + " ORDER BY org")]


def destination(store: Store, to: str | None) -> Peer:
    """The peer a package goes to: ``to`` (org name or code) or the level above.

    :raises StoreError: (exit 1) when that install's profile was never imported.
    """
    tree = store.orgs
    if to:
        try:
            org = tree.resolve(to).code
        except Exception as exc:
            raise StoreError(str(exc), 1) from None
    else:
        org = tree.get(store.node.org).parent
        if org is None:
            raise StoreError("区级数据库没有上级；给镇发送请用 --to 指定镇", 1)
    found = [p for p in peers(store) if p.org == org]
    if not found:
        name = tree.get(org).name if tree.get(org) else org
        raise StoreError(f"还没有导入{name}的配置文件，不知道它的密钥，无法给它打包。"
                         f"请先导入{name}发来的配置文件（profile import）", 1)
    return found[0]


def record_specs(store: Store) -> dict[str, tuple[TableSpec, object]]:
    """Every replicated table: {table: (spec, ledger or None)}."""
    out = {"persons": (person_spec(), None), "reviews": (review_spec(), None)}
    for led in store.catalog.ledgers:
        out[led.table] = (ledger_spec(led), led)
    return out
