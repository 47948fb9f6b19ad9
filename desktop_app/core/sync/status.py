"""What the sync centre shows: this install, its peers, what was sent and received, conflicts.

Read-only queries over the sync tables (peers, outbox, packages, received,
conflicts), shaped for display. They only read, so they run on any connection,
the GUI's read-only one included::

    reader = Store.open_readonly(path)
    me = identity(reader)                      # unit, level and own fingerprint
    for d in destinations(reader):             # the level above first
        print(d.peer.org_name, d.last_seq, d.last and d.last.file)
    for s in sources(reader):
        print(s.org_name, ranges_text(s.received), s.gaps)

Sequence numbers are shown as ranges, fingerprints in groups a person reads
aloud over the phone::

    >>> ranges_text([1, 2, 3, 5, 7, 8])
    '1–3、5、7–8'
    >>> spaced_fingerprint("6668-7AAD-F862-BD77-6C8F-C18B-8E9F-8E20")
    '6668 7AAD F862 BD77   6C8F C18B 8E9F 8E20'
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..catalog.fieldtypes import display
from ..catalog.orgs import LEVEL_NAMES, OrgTree, load_tree
from ..errors import StoreError
from ..store.crypto import fingerprint, spaced_fingerprint
from ..store.masking import mask_value
from ..store.schema import PERSON_FIELDS
from .conflicts import list_conflicts
from .incoming import gaps
from .peers import destination

if TYPE_CHECKING:
    from ..store.database import Store

PERSONS_LABEL = "人员主档"
KIND_NAMES = {"incremental": "增量", "full": "全量", "resend": "重发", "feedback": "核实意见"}


def ranges_text(seqs: list[int]) -> str:
    """Sorted sequence numbers as ``1–3、5``; empty when there are none."""
    parts, start = [], None
    for i, s in enumerate(seqs):
        if start is None:
            start = s
        if i + 1 == len(seqs) or seqs[i + 1] != s + 1:
            parts.append(str(start) if start == s else f"{start}–{s}")
            start = None
    return "、".join(parts)


def level_name(level: str) -> str:
    return f"{LEVEL_NAMES.get(level, level)}级"


def _org_name(tree: OrgTree, code: str) -> str:
    org = tree.get(code)
    return org.name if org else code


def ledger_label(store: Store, key: str) -> str:
    """The label of a ledger id as packages count them (``persons`` is the person master)."""
    if key == "persons":
        return PERSONS_LABEL
    led = next((x for x in store.catalog.ledgers if x.id == key), None)
    return led.label if led else key


def counts_text(store: Store, counts: dict[str, int]) -> str:
    """``两癌检查 3、人员主档 2``: rows per ledger of a package."""
    return "、".join(f"{ledger_label(store, k)} {n:,}" for k, n in counts.items() if n) or "没有数据行"


def _counts(summary: str | None) -> dict[str, int]:
    """Rows per ledger of a package (a received package's summary also has the import totals)."""
    data = json.loads(summary) if summary else {}
    if isinstance(data, dict) and isinstance(data.get("ledgers"), dict):
        return data["ledgers"]
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- this install and its peers

@dataclass(frozen=True)
class Identity:
    node: str
    org: str
    org_name: str
    level: str          # 镇级 …
    fingerprint: str


def identity(store: Store) -> Identity:
    """This install's unit and the fingerprint of its signing key."""
    node = store.node
    return Identity(node.id, node.org, _org_name(load_tree(store.conn), node.org), level_name(node.level),
                    fingerprint(store.keys().sign_public))


@dataclass(frozen=True)
class PeerInfo:
    node: str
    org: str
    org_name: str
    level: str          # 区级 …
    fingerprint: str
    added: str          # when its profile was registered (ISO)
    active: bool        # False: replaced by a newer key of the same unit
    replaced: bool = False  # replaced by another install of the unit (已更换电脑): its chain ended

    @property
    def status_text(self) -> str:
        return "在用" if self.active else "已更换电脑" if self.replaced else "已被新指纹取代"


def peer_list(store: Store) -> list[PeerInfo]:
    """Every install whose profile was imported, the active ones first."""
    tree = load_tree(store.conn)
    return [PeerInfo(node, org, _org_name(tree, org), level_name(level), spaced_fingerprint(fp), added, status == "active",
                     replaced_by is not None)
            for node, org, level, fp, added, status, replaced_by in store.conn.execute(
                "SELECT node, org, level, fingerprint, added, status, replaced_by FROM peers "
                "ORDER BY status <> 'active', org, added")]


# ---------------------------------------------------------------- sending

@dataclass(frozen=True)
class SentPackage:
    seq_from: int
    seq_to: int
    kind: str           # 增量 / 全量 / 重发 …
    handled: str        # when it was written (ISO)
    file: str
    counts: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def seqs(self) -> str:
        return str(self.seq_from) if self.seq_from == self.seq_to else f"{self.seq_from}–{self.seq_to}"


@dataclass(frozen=True)
class Destination:
    peer: PeerInfo
    is_default: bool            # the level above: where a package goes unless another is chosen
    last_seq: int               # the last sequence number sent to it (0: nothing yet)
    last: SentPackage | None    # the last package written for it (a resend included)


def destinations(store: Store) -> list[Destination]:
    """The known peers a package can go to, the default (the level above) first."""
    try:
        default = destination(store, None).node
    except StoreError:
        default = None
    out = []
    for peer in (p for p in peer_list(store) if p.active):
        row = store.conn.execute("SELECT last_seq FROM outbox WHERE dest = ?", (peer.node,)).fetchone()
        last = store.conn.execute(
            "SELECT seq_from, seq_to, kind, handled, file, summary FROM packages WHERE direction = 'out' "
            "AND dest = ? ORDER BY rowid DESC LIMIT 1", (peer.node,)).fetchone()
        sent = None if last is None else SentPackage(
            last[0], last[1], KIND_NAMES.get(last[2], last[2]), last[3], last[4] or "", _counts(last[5]))
        out.append(Destination(peer, peer.node == default, row[0] if row else 0, sent))
    out.sort(key=lambda d: not d.is_default)
    return out


# ---------------------------------------------------------------- receiving

@dataclass(frozen=True)
class ReceivedPackage:
    handled: str        # when it was imported (ISO)
    source: str         # the sending unit's name
    seq_from: int
    seq_to: int
    kind: str           # 增量 / 全量 / 重发 …
    status: str         # imported
    file: str
    counts: dict[str, int]

    @property
    def seqs(self) -> str:
        return str(self.seq_from) if self.seq_from == self.seq_to else f"{self.seq_from}–{self.seq_to}"


def _source_names(store: Store, tree: OrgTree) -> dict[str, str]:
    return {node: _org_name(tree, org) for node, org in store.conn.execute("SELECT node, org FROM peers")}


def received_packages(store: Store) -> list[ReceivedPackage]:
    """The packages imported here, newest first."""
    names = _source_names(store, load_tree(store.conn))
    return [ReceivedPackage(handled, names.get(source, source), lo, hi, KIND_NAMES.get(kind, kind), status,
                            file or "", _counts(summary))
            for handled, source, lo, hi, kind, status, file, summary in store.conn.execute(
                "SELECT handled, source, seq_from, seq_to, kind, status, file, summary FROM packages "
                "WHERE direction = 'in' ORDER BY rowid DESC")]


@dataclass(frozen=True)
class SourceStatus:
    node: str
    org_name: str
    received: list[int]     # the sequence numbers received, sorted
    gaps: list[str]         # core's gap messages, e.g. ``示例村一：第 2–3 号数据包缺失``
    replaced: bool = False  # an old PC of the unit (已更换电脑): its chain ended, gaps no longer reported


def replaced_nodes(store: Store) -> set[str]:
    """Installs replaced by a new PC of their unit (their chains ended; see :mod:`.trust`)."""
    return {n for (n,) in store.conn.execute("SELECT node FROM peers WHERE replaced_by IS NOT NULL")}


def sources(store: Store) -> list[SourceStatus]:
    """Per sending install: what arrived and which package numbers are missing (an old PC
    replaced by a new one is listed as 已更换电脑, without gaps)."""
    names = _source_names(store, load_tree(store.conn))
    old = replaced_nodes(store)
    got: dict[str, list[int]] = {}
    for node, seq in store.conn.execute("SELECT source, seq FROM received ORDER BY source, seq"):
        got.setdefault(node, []).append(seq)
    out = [SourceStatus(node, names.get(node, node) + ("（已更换电脑）" if node in old else ""), seqs,
                        [] if node in old else gaps(store, node, names.get(node, node)), node in old)
           for node, seqs in got.items()]
    return sorted(out, key=lambda s: (s.replaced, s.org_name))


# ---------------------------------------------------------------- conflicts

@dataclass(frozen=True)
class ConflictView:
    id: int
    kind: str               # "field": both sides changed it; "delete": changed around a delete
    table: str
    ledger: str             # the ledger's label
    record: str             # the row's title (姓名 …)
    field: str              # the field's label
    mine: str               # this install's current value
    theirs: str             # the other side's value, waiting in the queue
    record_type: str | None     # field types of the sensitive parts (None: not sensitive)
    value_type: str | None

    def shown(self, reveal: bool) -> tuple[str, str, str]:
        """(record, mine, theirs), masked as everywhere else unless ``reveal``."""
        def mask(text: str, field_type: str | None) -> str:
            return text if reveal or field_type is None else mask_value(field_type, text)
        return (mask(self.record, self.record_type), mask(self.mine, self.value_type),
                mask(self.theirs, self.value_type))


def _sensitive_type(fields: dict, led, fid: str | None) -> str | None:
    """The field type to mask ``fid`` with, or None when it is not sensitive."""
    f = fields.get(fid)
    if f is None:
        return None
    return f.type if (led.is_sensitive(fid) if led is not None else f.sensitive) else None


def _value_text(tree: OrgTree, fields: dict, fid: str, value) -> str:
    if fid == "org":
        return tree.path(value) if value else ""
    if fid in fields:
        return display(fields[fid], value)
    return "" if value is None else str(value)


def conflict_views(store: Store) -> list[ConflictView]:
    """The open conflicts (core's :func:`~.sync.list_conflicts`) as a reviewer reads them."""
    tree = load_tree(store.conn)
    ledgers = {led.id: led for led in store.catalog.ledgers}
    out = []
    for c in list_conflicts(store):
        led = ledgers.get(c["ledger"])
        if led is not None:
            table, label, fields, title = led.table, led.label, {f.id: f for f in led.fields}, led.title_field
        elif c["ledger"] == "persons":
            table, label, fields, title = "persons", PERSONS_LABEL, {f.id: f for f in PERSON_FIELDS}, "name"
        else:   # a table the catalog no longer has
            table, label, fields, title = c["ledger"], c["ledger"], {}, None
        row = store.conn.execute(f"SELECT [{title}] FROM [{table}] WHERE uuid = ?",
                                 (c["uuid"],)).fetchone() if title else None
        record = display(fields[title], row[0]) if row and row[0] is not None else c["uuid"][:8]
        fid = c["field"]
        out.append(ConflictView(
            c["id"], c["kind"], table, label, record, c["label"],
            _value_text(tree, fields, fid, c["mine"]), _value_text(tree, fields, fid, c["theirs"]),
            _sensitive_type(fields, led, title), _sensitive_type(fields, led, fid)))
    return out
