"""Importing a package: verify everything first, then merge field by field in one
transaction (see :mod:`desktop_app.core.store.merge`). Importing the same package again
changes nothing, and packages in any order end in the same state; a missing package
number is named (``河坝镇：第 5–6 号数据包缺失``)::

    >>> _message(ImportSummary("示例.mstz", "dry-run"))
    '（试导入，未写入）新增 0，更新 0，未变 0，较旧已忽略 0，删除 0，冲突 0，拒收 0'
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog.orgs import Org, name_problem
from ..catalog.validation import missing_fields
from ..store import migrations
from ..store.backup import make_backup
from ..store.crypto import SUITES
from ..store.merge import RowState, load_losers, merge_row, save_conflicts
from ..store.schema import TableSpec
from ..store.versions import MAX_SKEW_MS, RowVersions, Version, now_iso, stamp_ms
from ..store.writes import MergedRow, Writer
from .clock import note_received
from .files import IncomingFiles, attachment_fields
from .held import hold, release
from .package_file import INT64_MAX, PackageError, open_package, strict_json, unseal
from .peers import BATCH, COUNTS, MAX_TEXT, Peer, peers, record_specs
from .profiles import retired_enc_keys, signed_before_rotation
from .trust import pending_node

if TYPE_CHECKING:
    from ..store.database import Store
MAX_ALIASES = 20   # other names a unit goes by (南湾湖办事处 = 南湾湖管理处): all are kept


@dataclass
class ImportSummary:
    file: str
    status: str                      # imported / dry-run / already / held / refused
    counts: dict[str, dict[str, int]] = field(default_factory=dict)   # per ledger
    gaps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    package_id: str | None = None
    source_org: str | None = None
    files: int = 0          # attached files received (or, on a dry run, carried)

    def totals(self) -> dict[str, int]:
        out = Counter()
        for c in self.counts.values():
            out.update(c)
        return {k: out.get(k, 0) for k in COUNTS}

    def to_json(self) -> dict:
        return {"file": self.file, "status": self.status, **self.totals(), "gaps": self.gaps,
                "per_ledger": self.counts, "warnings": self.warnings, "message": self.message,
                "files_received": self.files,
                "package_id": self.package_id, "source": self.source_org}


class _DryRun(Exception):
    pass


class _Held(Exception):
    """A stamp of the package is beyond this install's clock bound."""

    def __init__(self, newest: int):
        super().__init__(newest)
        self.newest = newest


def import_package(store: Store, path: Path | str, *, dry_run: bool = False, backup: bool = True,
                   allow_skew: bool = False) -> ImportSummary:
    """Verify a package and merge it in one transaction (or only report, on a dry run).

    The store is backed up first (``backup=False`` when the caller already did, before a
    series of packages).

    A package that cannot be applied *yet* is ``held`` (see :mod:`.held`; nothing of it
    applied, the file kept beside the store): its sender waits for a fingerprint check,
    or one of its stamps is more than ``MAX_SKEW_MS`` ahead of this PC's clock (unless
    ``allow_skew``: a 管理员's :func:`~.held.accept_held`).

    :raises PackageError: (exit 2) anything unsafe or not for us; nothing is written.
    """
    store.require("edit")
    path = Path(path)
    opened = open_package(path)
    m = opened.manifest
    name = path.name
    if not isinstance(m.get("schema"), int) or m["schema"] > migrations.latest():
        raise PackageError(f"{name} 由更新版本的程序生成（数据库版本 {m.get('schema')}），"
                           "请先安装新版本的程序再导入")
    source, dest = m.get("source") or {}, m.get("dest") or {}
    peer = next((p for p in peers(store) if p.node == source.get("node")), None)
    if peer is None:
        peer = _old_pc(store, source.get("node"), m)
    if peer is None:
        pending = pending_node(store, source.get("node"))
        if pending is None:
            raise PackageError(f"{name} 来自未登记的单位（{source.get('org')}），本机不认识它的密钥。"
                               "请先导入该单位的配置文件并电话核对指纹")
    if dest.get("node") != store.node.id:
        raise PackageError(f"{name} 不是发给本机的（收件单位 {dest.get('org')}），请交给收件单位导入")
    if peer is None:
        return _hold_pending(store, opened, pending, dry_run)
    try:
        opened.verify(peer.sign_key, SUITES[m["suite"]].verify)
    except PackageError:
        if not signed_before_rotation(store, peer.node, opened):   # in flight over a key rotation
            raise
    # the body must be the one the signed manifest names, also for a package seen before:
    # its identity is the signed payload hash (content_id), so a damaged copy is refused
    opened.check_hash(SUITES[m["suite"]].hasher())
    seen = store.conn.execute("SELECT sha256 FROM packages WHERE package_id = ? AND direction = 'in'",
                              (m["package_id"],)).fetchone()
    org_name = store.orgs.get(peer.org).name if store.orgs.get(peer.org) else peer.org
    if seen:
        if seen[0] != opened.content_id and seen[0] != opened.file_sha256():  # (earlier versions)
            raise PackageError(f"{name} 与已导入的同编号数据包内容不同（可能被改动或伪造），已拒绝")
        return ImportSummary(name, "already", message="这个数据包以前已经导入过，没有任何改变",
                             package_id=m["package_id"], source_org=peer.org)
    key = unseal(opened, [store.keys().enc_private, *retired_enc_keys(store)],
                 f"{m['package_id']}|{peer.node}|{store.node.id}".encode())
    summary = ImportSummary(name, "dry-run" if dry_run else "imported", package_id=m["package_id"],
                            source_org=peer.org)
    if backup and not dry_run:
        make_backup(store, "package")
    clock = store.clock.last
    try:
        with store.transaction():
            applier = _Applier(store, peer, m, summary, allow_skew)
            for line in opened.lines(key):
                applier.feed(line)
            applier.finish()
            if dry_run:
                opened.check_file_records(applier.files.records)
                summary.files = len(applier.files.records)
            else:
                applier.files.receive(opened, key, peer.node, summary)
            _record_received(store, opened, peer, summary)
            summary.gaps = gaps(store, peer.node, org_name)
            if dry_run:
                raise _DryRun()
    except _DryRun:
        summary.gaps = gaps(store, peer.node, org_name, extra=_seqs(m))
    except _Held as held:
        store.clock.last = clock        # nothing of the rolled-back apply was kept: the clock as it was
        return _hold_skewed(store, opened, peer, org_name, held.newest, dry_run)
    if not dry_run:
        release(store, m["package_id"])     # a held copy of it is no longer needed
    summary.message = _message(summary)
    return summary


def _old_pc(store: Store, node: object, m: dict) -> Peer | None:
    """The peer of a replaced install (an old office PC) when this package fills a gap of
    its chain: every number at most the chain's end and none received (see :mod:`.trust`)."""
    row = store.conn.execute("SELECT chain_end FROM peers WHERE node = ? AND status = 'replaced' "
                             "AND replaced_by IS NOT NULL", (node,)).fetchone()
    if row is None or m.get("seq_from") is None or m["seq_to"] > (row[0] or 0):
        return None
    if store.conn.execute("SELECT 1 FROM received WHERE source = ? AND seq BETWEEN ? AND ?",
                          (node, m["seq_from"], m["seq_to"])).fetchone():
        return None
    return next((p for p in peers(store, active_only=False) if p.node == node), None)


def _hold_pending(store: Store, opened, pending: tuple[str, bytes, str], dry_run: bool) -> ImportSummary:
    """Keep a package of a sender whose profile waits for its fingerprint check."""
    org, sign_key, suite = pending
    m, name = opened.manifest, opened.path.name
    if m.get("suite") != suite:
        raise PackageError(f"{name} 的签名方式与发送单位的配置文件不符，已拒绝")
    opened.verify(sign_key, SUITES[suite].verify)
    opened.check_hash(SUITES[suite].hasher())
    org_name = store.orgs.get(org).name if store.orgs.get(org) else str((m.get("source") or {}).get("org"))
    message = (f"{org_name}的配置文件还在等待确认指纹：这个数据包已暂存在本机（没有导入），"
               f"管理员与{org_name}电话核对指纹并确认后自动导入。U 盘可以拔走")
    return _held(store, opened, m["source"]["node"], org, "pending_peer", message, dry_run)


def _hold_skewed(store: Store, opened, peer: Peer, org_name: str, newest: int, dry_run: bool) -> ImportSummary:
    """Keep a package with a stamp beyond this install's clock bound (nothing applied)."""
    ahead_ms = stamp_ms(newest) - int(store.clock.wall() * 1000)
    when = dt.datetime.fromtimestamp(stamp_ms(newest) / 1000).strftime("%Y-%m-%d")
    ahead = f"约 {ahead_ms // 86_400_000} 天" if ahead_ms >= 86_400_000 * 2 else f"约 {ahead_ms // 3_600_000} 小时"
    message = (f"来自{org_name}的数据包中有时间戳比本机时间超前{ahead}（最晚到 {when}），超过允许的 "
               f"{MAX_SKEW_MS // 3_600_000} 小时：整个数据包已暂存在本机，没有导入。请{org_name}校正电脑日期后"
               "重新发送；如果是本机日期不对，校正本机日期后它会自动导入")
    return _held(store, opened, peer.node, peer.org, "clock_skew", message, dry_run)


def _held(store: Store, opened, node: str, org: str, reason: str, message: str, dry_run: bool) -> ImportSummary:
    m = opened.manifest
    summary = ImportSummary(opened.path.name, "held", package_id=m["package_id"], source_org=org)
    if dry_run:
        summary.message = "（试导入）这个数据包会被暂存：" + message
    elif hold(store, opened, node, org, reason, message):
        summary.message = message
    else:
        summary.message = "这个数据包已经暂存过，仍在等待：" + message
    return summary


def _seqs(m: dict) -> set[int]:
    """The package numbers a package covers (ranges checked by :func:`check_manifest`)."""
    lo, hi = m["seq_from"], m["seq_to"]
    return set() if lo is None else set(range(lo, hi + 1))  # None: a further volume (files)


def _record_received(store: Store, opened, peer: Peer, summary: ImportSummary) -> None:
    m = opened.manifest
    store.conn.executemany("INSERT OR IGNORE INTO received (source, seq, package_id) VALUES (?, ?, ?)",
                           [(peer.node, s, m["package_id"]) for s in sorted(_seqs(m))])
    store.conn.execute(
        "INSERT INTO packages (package_id, direction, kind, source, dest, seq_from, seq_to, prev, "
        "sha256, created, handled, file, status, summary) VALUES (?, 'in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "'imported', ?)",
        (m["package_id"], m["kind"], peer.node, store.node.id, m["seq_from"], m["seq_to"], m.get("prev"),
         opened.content_id, str(m.get("created")), now_iso(), opened.path.name,
         json.dumps({"ledgers": m.get("counts") or {}, **summary.totals()}, ensure_ascii=False)))


def gaps(store: Store, source_node: str, org_name: str, extra: set[int] | None = None) -> list[str]:
    """Missing package numbers from a source, e.g. ``河坝镇：第 5–6 号数据包缺失``."""
    got = {s for (s,) in store.conn.execute("SELECT seq FROM received WHERE source = ?", (source_node,))}
    got |= extra or set()
    if not got:
        return []
    missing = sorted(set(range(1, max(got) + 1)) - got)
    out, start = [], None
    for i, s in enumerate(missing):
        if start is None:
            start = s
        if i + 1 == len(missing) or missing[i + 1] != s + 1:
            out.append(f"{org_name}：第 {start}{'' if start == s else f'–{s}'} 号数据包缺失")
            start = None
    return out


def _message(s: ImportSummary) -> str:
    t = s.totals()
    text = (f"新增 {t['new']}，更新 {t['updated']}，未变 {t['unchanged']}，较旧已忽略 {t['older']}，"
            f"删除 {t['deleted']}，冲突 {t['conflicts']}，拒收 {t['rejected']}")
    return ("（试导入，未写入）" if s.status == "dry-run" else "") + text


def _value_ok(v: object) -> bool:
    """A field value a package may carry: text up to Excel's cell limit, an integer SQLite
    can hold, a finite number, or nothing."""
    kind = type(v)
    return (v is None or kind is str and len(v) <= MAX_TEXT or kind is int and -INT64_MAX - 1 <= v <= INT64_MAX
            or kind is float and float("-inf") < v < float("inf"))


def _org_code(code: object) -> bool:
    return type(code) is str and 0 < len(code) <= 12 and code.isascii() and code.isdigit()


class _Applier:
    """Merges the rows of one package, in batches, inside the caller's transaction."""

    def __init__(self, store: Store, peer: Peer, manifest: dict, summary: ImportSummary,
                 allow_skew: bool = False):
        self.store, self.peer, self.summary = store, peer, summary
        self.allow_skew = allow_skew
        self.specs = record_specs(store)
        self.pending: dict[str, list[dict]] = defaultdict(list)
        self.package_id = manifest["package_id"]
        # merges are audited under whoever imported; the sender's own audit entries travel as they are
        self.writer = Writer(store, source=f"package:{self.package_id}")
        self._pending_conflicts: list[tuple[str, RowState]] = []
        self.newest = 0
        self.conn = store.conn
        self.parents = {o.code: o.parent for o in store.orgs}   # the org tree, with what arrives
        # A unit below this install (a village sending to its town, a town to the district),
        # or one this install cannot place, may write only its own rows and orgs and those
        # below it; feedback from above and packages from peers (a test mesh of towns) are
        # merged as they come.
        self.scoped = peer.org not in self.parents or (
            peer.org != store.node.org and store.orgs.is_within(peer.org, store.node.org))
        self.foreign = 0             # records outside the sender's own orgs (rejected)
        self.malformed = 0           # records whose values or versions are not acceptable (rejected)
        self.files = IncomingFiles(store, summary.file)

    def count(self, tbl: str, what: str, n: int = 1) -> None:
        spec_led = self.specs.get(tbl)
        key = tbl if spec_led is None or spec_led[1] is None else spec_led[1].id
        c = self.summary.counts.setdefault(key, dict.fromkeys(COUNTS, 0))
        c[what] += n

    def feed(self, line: bytes) -> None:
        try:
            rec = strict_json(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PackageError(f"{self.summary.file} 的内容格式不对（{exc}），已拒绝") from None
        if not isinstance(rec, dict):
            raise PackageError(f"{self.summary.file} 的内容格式不对，已拒绝")
        kind = rec.get("k")
        if kind == "row":
            tbl = rec.get("t")
            if type(tbl) is not str or tbl not in self.specs:
                self.count(tbl if isinstance(tbl, str) else "?", "rejected")
                self.summary.warnings.append(f"本机的计划目录中没有表 {str(tbl)[:40]}，其记录未导入")
                return
            self.pending[tbl].append(rec)
            if isinstance(rec.get("v"), dict):
                self.files.note(attachment_fields(self.specs[tbl][1]), rec["v"])
            if len(self.pending[tbl]) >= BATCH:
                self._flush(tbl)
        elif kind == "audit":
            self._audit(rec)
        elif kind == "org":
            self._org(rec)
        elif kind == "file":
            self.files.line(rec)
        else:
            raise PackageError(f"{self.summary.file} 含有未知的记录类型，已拒绝")

    def finish(self) -> None:
        for tbl in list(self.pending):
            self._flush(tbl)
        if self.newest > self.store.clock.bound() and not self.allow_skew:
            raise _Held(self.newest)     # the whole package waits; the transaction rolls back
        if self.newest:
            note_received(self.store, min(self.newest, self.store.clock.bound()))
        if self.newest and self.store.clock.observe(self.newest):
            ahead = (stamp_ms(self.newest) - int(self.store.clock.wall() * 1000)) // 86_400_000
            self.summary.warnings.append(
                f"数据包里有时间戳比本机时间超前约 {ahead} 天（对方电脑的日期可能不对），已由管理员确认导入；"
                "本机时钟没有随之调快，请提醒对方校正电脑日期")
        if self.foreign:
            sender = self.store.orgs.get(self.peer.org)
            self.summary.warnings.append(
                f"有 {self.foreign} 条记录不属于发送单位（{sender.name if sender else self.peer.org}）"
                "及其下属单位，已拒收；请向发送单位核实")
        if self.malformed:
            self.summary.warnings.append(
                f"有 {self.malformed} 条记录的内容或版本信息不合规（例如时间戳在 2100 年以后、"
                "数值超出范围），已拒收；请让发送单位核对电脑日期并使用本程序的正式版本后重发")

    # -- records
    def _org(self, rec: dict) -> None:
        code, name, level, parent = rec.get("code"), rec.get("name"), rec.get("level"), rec.get("parent")
        aliases = rec.get("aliases", [])
        if not (_org_code(code) and name_problem(name) is None
                and level in ("district", "town", "village") and (parent is None or _org_code(parent))
                and type(aliases) is list and len(aliases) <= MAX_ALIASES
                and all(name_problem(a) is None for a in aliases)):
            raise PackageError(f"{self.summary.file} 中的组织信息不合规，已拒绝")
        if code in self.parents or (parent is not None and parent not in self.parents):
            return  # known orgs are never renamed or moved by a package; an unknown parent: skipped
        # a package may add orgs only below its sender (or the sender's own, if unknown here)
        if self.scoped and not (self._ours(parent) or code == self.peer.org):
            raise PackageError(f"{self.summary.file} 含有发送单位管辖范围以外的单位（代码 {code}），"
                               "已拒绝；请向发送单位核实")
        self.store.merge_orgs([Org(code, name, level, parent, tuple(aliases))])
        self.parents[code] = parent

    def _ours(self, code: object) -> bool:
        """Whether org ``code`` is the sender's own or one below it: the only rows and
        orgs its package may write (the sender's org comes from its profile, not the package)."""
        if not self.scoped:
            return type(code) is str
        for _ in range(16):
            if type(code) is not str:
                return False
            if code == self.peer.org:
                return True
            code = self.parents.get(code)
        return False

    def _audit(self, rec: dict) -> None:
        origin, oid = rec.get("origin"), rec.get("id")
        if origin is None or oid is None or origin == self.store.node.id:
            return
        values = [rec.get(k) for k in ("ts", "stamp", "user", "unit", "action", "tbl", "uuid", "before",
                                       "after", "source", "batch")]
        if not (type(origin) is str and len(origin) <= 64 and type(oid) is int and 0 <= oid <= INT64_MAX
                and all(v is None or type(v) is str or type(v) is int and -INT64_MAX - 1 <= v <= INT64_MAX
                        for v in values)):
            raise PackageError(f"{self.summary.file} 中的审计记录格式不对，已拒绝")
        ts, stamp, user, unit, action, tbl, uid, before, after, source, batch = values
        self.conn.execute(
            "INSERT OR IGNORE INTO audit (origin, origin_id, ts, stamp, user, unit, action, tbl, uuid, "
            "before, after, source, batch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (origin, oid, ts or "", stamp or 0, user or "", unit, action or "", tbl, uid, before, after,
             source or "", batch))

    def _parse(self, spec: TableSpec, rec: dict) -> RowState:
        values, ver = rec.get("v"), rec.get("ver")
        uid, created, origin, lost = rec.get("u"), rec.get("c"), rec.get("o"), rec.get("l")
        if not (type(uid) is str and 0 < len(uid) <= 64 and type(values) is dict
                and type(ver) is str and len(ver) < 200_000
                and (created is None or type(created) is str and len(created) <= 64)
                and (origin is None or type(origin) is str and len(origin) <= 64)
                and (lost is None or type(lost) is dict)):
            raise ValueError("记录格式不对")
        clean = {}
        for col in spec.versioned:
            v = values.get(col)
            if not _value_ok(v) or (col == "_deleted" and v not in (None, 0, 1)):
                raise ValueError(f"字段 {col} 的值不合规")
            clean[col] = v
        versions = RowVersions.decode_checked(ver)     # shape, nesting and stamps (<= MAX_STAMP)
        losers = {}
        for col, leaves in (lost or {}).items():
            if col in spec.versioned and isinstance(leaves, list):
                losers[col] = [(Version.decode_checked(v), x) for v, x in leaves]
                if not all(_value_ok(x) for _, x in losers[col]):
                    raise ValueError(f"字段 {col} 的值不合规")
        for v in [versions.base, *versions.fields.values(), *(l[0] for ls in losers.values() for l in ls)]:
            self.newest = max(self.newest, v.stamp, *v.seen.values())
        return RowState(clean, versions, losers)

    def _flush(self, tbl: str) -> None:
        recs, self.pending[tbl] = self.pending[tbl], []
        if not recs:
            return
        spec, led = self.specs[tbl]
        incoming = {}
        for rec in recs:
            try:
                state = self._parse(spec, rec)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                self.count(tbl, "rejected")
                self.malformed += 1
                continue
            if not self._ours(state.values.get("org")):   # a row of a unit outside the sender
                self.foreign += 1
                self.count(tbl, "rejected")
                continue
            incoming[rec["u"]] = (state, rec)
        if not incoming:
            return
        uuids = list(incoming)
        cols = ["uuid"] + list(spec.versioned) + ["_versions"]
        local = {}
        for r in self.conn.execute(f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{tbl}] WHERE uuid IN "
                                   f"({','.join('?' * len(uuids))})", uuids):
            local[r[0]] = dict(zip(cols, r))
        losers = load_losers(self.conn, tbl, uuids)
        had_conflicts = {u for (u,) in self.conn.execute(
            f"SELECT DISTINCT uuid FROM conflicts WHERE tbl = ? AND uuid IN ({','.join('?' * len(uuids))})",
            [tbl, *uuids])}
        merged: list[MergedRow] = []
        for uid, (state, rec) in incoming.items():
            mine = local.get(uid)
            if mine is not None and tbl != "persons" and not self._ours(mine["org"]):
                # a row of another unit here (a person is shared: where first seen is no owner)
                self.foreign += 1
                self.count(tbl, "rejected")
                continue
            mine_state = None if mine is None else RowState(
                {c: mine[c] for c in spec.versioned}, RowVersions.decode(mine["_versions"]),
                losers.get(uid, {}))
            outcome = merge_row(spec, mine_state, state)
            self.count(tbl, outcome.status)
            if outcome.status in ("unchanged", "older"):
                continue
            new = outcome.state
            missing = missing_fields(led, new.values) if led is not None else []
            if mine is None:
                # a new row with no open conflicts keeps the versions text it came with
                merged.append(MergedRow(uid, new.values, rec["ver"] if not new.losers else
                                        new.versions.encode(), missing, created=rec.get("c"),
                                        origin=rec.get("o") or ""))
            else:
                merged.append(MergedRow(uid, new.values, new.versions.encode(), missing,
                                        before={c: mine[c] for c in outcome.changed}))
            if new.losers or new.values.get("_deleted") or uid in had_conflicts:
                self._pending_conflicts.append((uid, new))
        self.writer.merged(spec, merged, stamp=self.store.clock.tick())
        for uid, new in self._pending_conflicts:
            added = save_conflicts(self.conn, tbl, uid, spec, new, now_iso())
            if added:
                self.count(tbl, "conflicts", added)
        self._pending_conflicts.clear()
