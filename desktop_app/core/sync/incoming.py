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
from typing import TYPE_CHECKING, Callable

from ..catalog.idnumbers import fold
from ..catalog.orgs import Org, code_problem, name_problem
from ..catalog.validation import broken_many, checker_of, missing_many
from ..store import migrations
from ..store.backup import make_backup
from ..store.crypto import SUITES
from ..store.merge import RowState, hold_edit, load_losers, merge_row, save_conflicts
from ..store.schema import PERSON_FIELDS, TableSpec
from ..store.versions import MAX_SKEW_MS, RowVersions, now_iso, stamp_ms
from ..store.writes import MergedRow, Writer
from .bounds import MAX_GAP_LINES, check_sequence, received_spans, spans_missing
from .clock import note_received
from .files import IncomingFiles, attachment_fields
from .held import hold, release
from .package_file import INT64_MAX, PackageError, open_package, strict_json, unseal
from .peers import BATCH, COUNTS, Peer, peers, record_specs
from .profiles import retired_enc_keys, signed_before_rotation
from .rows import RowReader
from .scope import (MAX_NOTICES, MAX_RULE, SENDER_REVIEW_COLUMNS, Origins, catalog_problem,
                    link_check, notice_shape_ok, read_notice, rule_day)
from .scope import hold as quarantine
from .trust import pending_node
from .warning_list import Warnings

if TYPE_CHECKING:
    from ..store.database import Store
PROGRESS_EVERY = 5_000   # records read between two progress reports (and chances to cancel)
MAX_ALIASES = 20   # other names a unit goes by (南湾湖办事处 = 南湾湖管理处): all are kept
MAX_UNKNOWN_TABLES = 10   # tables this catalog lacks counted by name; the rest under OTHER_TABLES
OTHER_TABLES = "（其他未知表）"


@dataclass
class ImportSummary:
    file: str
    status: str                      # imported / dry-run / already / held / refused
    counts: dict[str, dict[str, int]] = field(default_factory=dict)   # per ledger
    gaps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=Warnings)   # one line per kind, bounded
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


def import_package(store: Store, path: Path | str, *, dry_run: bool = False,
                   before_write: Callable[[], object] | None = None,
                   progress: Callable[[int], object] | None = None, allow_skew: bool = False) -> ImportSummary:
    """Verify a package and merge it in one transaction (or only report, on a dry run).

    Just before writing, the store is backed up, or ``before_write()`` is called instead:
    a batch (:func:`~desktop_app.core.batch.import_packages`) passes the one backup it makes
    before its first file that writes. ``progress(records)`` is called every few thousand
    records read; when it raises (:class:`~desktop_app.core.errors.Cancelled`) the
    transaction is rolled back and nothing of the package is kept.

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
        peer = _old_pc(store, source.get("node"), opened, name)
    if peer is None:
        pending = pending_node(store, source.get("node"))
        if pending is None:
            claimed = store.orgs.get(source.get("org")) if type(source.get("org")) is str else None
            who = (f"未登记的单位或电脑（自称{claimed.name}）" if claimed
                   else f"未登记的单位（代码 {str(source.get('org'))[:40]}）")
            raise PackageError(f"{name} 来自{who}，本机不认识它的密钥，已拒绝。"
                               "请先导入该单位这台电脑的配置文件并电话核对指纹")
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
    check_sequence(store.conn, peer.node, m, name, org_name)   # a number far ahead: refused whole
    key = unseal(opened, [store.keys().enc_private, *retired_enc_keys(store)],
                 f"{m['package_id']}|{peer.node}|{store.node.id}".encode())
    summary = ImportSummary(name, "dry-run" if dry_run else "imported", package_id=m["package_id"],
                            source_org=peer.org)
    if not dry_run and before_write is None:
        make_backup(store, "package")
    elif not dry_run:
        before_write()
    clock = store.clock.last
    try:
        with store.transaction():
            applier = _Applier(store, peer, m, summary, allow_skew)
            for n, line in enumerate(opened.lines(key), 1):
                applier.feed(line)
                if progress is not None and n % PROGRESS_EVERY == 0:
                    progress(n)
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


def _old_pc(store: Store, node: object, opened, name: str) -> Peer | None:
    """The peer of a replaced install (an old office PC) when this package may still come
    from it: every number at most the chain's end, and none received before unless it is
    this very package (then it is ``already``); None when ``node`` is no replaced PC.

    :raises PackageError: a package of a replaced PC numbered beyond its chain's end (or
        reusing a number received), with the unit's name and what to do (see :mod:`.trust`).
    """
    row = store.conn.execute("SELECT org, chain_end FROM peers WHERE node = ? AND status = 'replaced' "
                             "AND replaced_by IS NOT NULL", (node,)).fetchone()
    if row is None:
        return None
    org, end = row[0], row[1] or 0
    old = next(p for p in peers(store, active_only=False) if p.node == node)
    m = opened.manifest
    if m.get("suite") not in SUITES:
        raise PackageError(f"{name} 的签名方式无法识别，已拒绝")
    opened.verify(old.sign_key, SUITES[m["suite"]].verify)     # what follows is said of the old PC's own package
    known = store.orgs.get(org)
    unit = known.name if known else org
    seqs = _seq_text(m)
    if m.get("seq_from") is None or m["seq_to"] > end:
        raise PackageError(
            f"{name} 是{unit}原来那台电脑（已更换电脑）发出的{seqs}数据包。确认新电脑的指纹时，原来那台电脑的"
            f"数据包已收到第 {end} 号为止，之后的编号一律不再接收（即使是换电脑之前发出的），已拒绝、没有导入。"
            f"其中的数据请{unit}在新电脑上补录（或从原来的电脑导出 Excel，在新电脑导入）后由新电脑发送")
    seen = store.conn.execute("SELECT 1 FROM packages WHERE package_id = ? AND direction = 'in'",
                              (m.get("package_id"),)).fetchone()
    if not seen and store.conn.execute("SELECT 1 FROM received WHERE source = ? AND seq BETWEEN ? AND ?",
                                       (node, m["seq_from"], m["seq_to"])).fetchone():
        raise PackageError(f"{name} 是{unit}原来那台电脑（已更换电脑）发出的{seqs}数据包，但这些编号本机已经收到过"
                           "别的数据包，已拒绝；请向对方核实")
    return old


def _seq_text(m: dict) -> str:
    if m.get("seq_from") is None:
        return ""
    return f"第 {m['seq_from']} 号" if m["seq_from"] == m["seq_to"] else f"第 {m['seq_from']}–{m['seq_to']} 号"


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


def _seqs(m: dict) -> range:
    """The package numbers a package covers (ranges checked by :func:`check_manifest`)."""
    lo, hi = m["seq_from"], m["seq_to"]
    return range(0) if lo is None else range(lo, hi + 1)  # None: a further volume (files)


def _record_received(store: Store, opened, peer: Peer, summary: ImportSummary) -> None:
    m = opened.manifest
    store.conn.executemany("INSERT OR IGNORE INTO received (source, seq, package_id) VALUES (?, ?, ?)",
                           [(peer.node, s, m["package_id"]) for s in _seqs(m)])
    store.conn.execute(
        "INSERT INTO packages (package_id, direction, kind, source, dest, seq_from, seq_to, prev, "
        "sha256, created, handled, file, status, summary) VALUES (?, 'in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "'imported', ?)",
        (m["package_id"], m["kind"], peer.node, store.node.id, m["seq_from"], m["seq_to"], m.get("prev"),
         opened.content_id, str(m.get("created")), now_iso(), opened.path.name,
         json.dumps({"ledgers": received_counts(summary), **summary.totals()}, ensure_ascii=False)))


def received_counts(summary: ImportSummary) -> dict[str, int]:
    """Rows per ledger a package carried, counted from its decrypted records (the manifest
    carries no counts in clear; an old one's are not read), e.g. ``{"two_cancer": 3}``."""
    return {key: sum(n for what, n in c.items() if what != "conflicts") for key, c in summary.counts.items()}


def gaps(store: Store, source_node: str, org_name: str, extra: range | None = None) -> list[str]:
    """Missing package numbers from a source, e.g. ``河坝镇：第 5–6 号数据包缺失``: computed
    from the runs received (never a set of every number), at most MAX_GAP_LINES lines."""
    missing = spans_missing(received_spans(store.conn, source_node), extra)
    out = [f"{org_name}：第 {lo}{'' if lo == hi else f'–{hi}'} 号数据包缺失" for lo, hi in missing[:MAX_GAP_LINES]]
    if len(missing) > MAX_GAP_LINES:
        rest = missing[MAX_GAP_LINES:]
        out.append(f"{org_name}：另有 {len(rest):,} 段共 {sum(hi - lo + 1 for lo, hi in rest):,} 个编号的数据包缺失")
    return out


def _message(s: ImportSummary) -> str:
    t = s.totals()
    text = (f"新增 {t['new']}，更新 {t['updated']}，未变 {t['unchanged']}，较旧已忽略 {t['older']}，"
            f"删除 {t['deleted']}，冲突 {t['conflicts']}，拒收 {t['rejected']}")
    return ("（试导入，未写入）" if s.status == "dry-run" else "") + text


def _org_code(code: object) -> bool:
    return type(code) is str and 0 < len(code) <= 12 and code.isascii() and code.isdigit()


class _Applier:
    """Merges the rows of one package, in batches, inside the caller's transaction.

    ``bulk`` False merges every row field by field and checks every row on its own: the
    reference the bulk path (versions compared in one query, distinct values checked once)
    is tested against."""

    bulk = True

    def __init__(self, store: Store, peer: Peer, manifest: dict, summary: ImportSummary,
                 allow_skew: bool = False):
        self.store, self.peer, self.summary = store, peer, summary
        self.allow_skew = allow_skew
        self.cap = store.clock.cap()
        self.specs = record_specs(store)
        self.pending: dict[str, list[dict]] = defaultdict(list)
        self.package_id = manifest["package_id"]
        # merges are audited under whoever imported; the sender's own audit entries travel as they are
        self.writer = Writer(store, source=f"package:{self.package_id}")
        self._pending_conflicts: list[tuple[str, RowState]] = []
        self.reader = RowReader()
        self.reader.memo = self.bulk
        self._scope_memo: dict[str, bool] = {}   # org code -> whether it is the sender's (or below)
        self._attachments = {tbl: attachment_fields(led) for tbl, (_spec, led) in self.specs.items()}
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
        self.unknown: Counter = Counter()   # records of tables this catalog lacks, by (bounded) name
        self.files = IncomingFiles(store, summary.file)
        # the insider checks (see .scope): rules the sender's catalog sets, origins it may claim
        problem = catalog_problem(store, manifest.get("catalog"), summary.file)
        if problem:
            raise PackageError(problem)
        self.origins = Origins(store)
        self.held: Counter = Counter()        # rule broken -> rows held (quarantined)
        self.combined: Counter = Counter()    # rule broken by a merged row -> rows kept 待补充
        self.foreign_audit = 0                # audit entries claiming an origin out of scope (held)
        self.clashing_audit = 0               # audit entries differing from one already here (held)
        self.audits: dict[tuple[str, int], tuple[dict, tuple]] = {}   # (origin, number) -> entry, to store
        self.held_persons = 0                 # persons' edits held for review (no row in scope)
        self.notices: Counter = Counter()     # our reason -> our records the sender refused
        self.stray_notices = 0                # notices about nothing we sent it, or beyond MAX_NOTICES
        self.deferred: list[dict] = []        # person edits waiting for the package's rows
        self.finishing = False

    @property
    def newest(self) -> int:
        """The largest stamp the package's rows carry (versions, what they had seen, losers)."""
        return self.reader.newest

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
                self._unknown_table(tbl)
                return
            self.pending[tbl].append(rec)
            if self._attachments[tbl] and isinstance(rec.get("v"), dict):
                self.files.note(self._attachments[tbl], rec["v"])
            if len(self.pending[tbl]) >= BATCH:
                self._flush(tbl)
        elif kind == "audit":
            self._audit(rec)
        elif kind == "org":
            self._org(rec)
        elif kind == "file":
            self.files.line(rec)
        elif kind == "refused":
            if not notice_shape_ok(rec):
                raise PackageError(f"{self.summary.file} 中的拒收通知格式不对，已拒绝")
            reason = None
            if sum(self.notices.values()) < MAX_NOTICES:
                reason = read_notice(self.conn, rec, self.peer.node, self._fields_of)
            if reason is None:
                self.stray_notices += 1
            else:
                self.notices[reason] += 1
        else:
            raise PackageError(f"{self.summary.file} 含有未知的记录类型，已拒绝")

    def finish(self) -> None:
        for tbl in list(self.pending):
            self._flush(tbl)
        self._flush_audits()
        # persons edited before the rows that put them in the sender's scope came
        self.finishing = True
        self.pending["persons"], self.deferred = self.deferred, []
        self._flush("persons")
        if self.newest > self.store.clock.bound() and not self.allow_skew:
            raise _Held(self.newest)     # the whole package waits; the transaction rolls back
        if self.newest:
            note_received(self.store, min(self.newest, self.store.clock.bound()))
        self._insider_warnings()
        for name, n in self.unknown.items():
            self.summary.warnings.add("unknown-table", f"本机的计划目录中没有表 {name}，其记录未导入", n)
        if self.newest:
            self.store.clock.observe(min(self.newest, self.cap))    # what the kept rows carry at most
        if self.newest > self.store.clock.bound():       # only an administrator's accept comes here
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

    def _insider_warnings(self) -> None:
        warn = self.summary.warnings.append
        for rule, n in sorted(self.held.items(), key=lambda kv: -kv[1])[:20]:
            warn(f"有 {n} 条记录不符合计划目录的填报规则（{rule}），已暂存待查、未导入台账；"
                 "发送单位会在本机发给它的下一个数据包中收到通知")
        if len(self.held) > 20:
            warn(f"另有 {sum(n for _, n in sorted(self.held.items(), key=lambda kv: -kv[1])[20:])} 条记录"
                 "因其他填报规则暂存待查")
        for rule, n in sorted(self.combined.items(), key=lambda kv: -kv[1])[:20]:
            warn(f"有 {n} 条记录与本机已有的修改逐字段合并后不符合计划目录的填报规则（{rule}），已保留并标为待补充、"
                 "不计入进度；请核对这些记录并改正")
        if len(self.combined) > 20:
            warn(f"另有 {sum(n for _, n in sorted(self.combined.items(), key=lambda kv: -kv[1])[20:])} 条合并后的记录"
                 "因其他填报规则标为待补充")
        if self.held_persons:
            warn(f"有 {self.held_persons} 处人员信息的修改来自在本单位没有该人员记录的发送单位，未生效，"
                 "已列入冲突待审核")
        if self.foreign_audit:
            warn(f"有 {self.foreign_audit} 条审计记录自称来自发送单位管辖范围以外的单位，已暂存待查、未导入")
        if self.clashing_audit:
            warn(f"有 {self.clashing_audit} 条审计记录与本机已有的同编号记录内容不同，已暂存待查；请向发送单位核实")
        sender = self.store.orgs.get(self.peer.org)
        for rule, n in sorted(self.notices.items(), key=lambda kv: -kv[1])[:20]:
            warn(f"{sender.name if sender else self.peer.org}拒收了本单位发出的 {n} 条记录（{rule}）；"
                 "请改正后重新发送")
        if len(self.notices) > 20:
            warn(f"另有 {sum(n for _, n in sorted(self.notices.items(), key=lambda kv: -kv[1])[20:])} 条记录"
                 "因其他原因被拒收")
        if self.stray_notices:
            warn(f"有 {self.stray_notices} 条拒收通知说的不是本机发给"
                 f"{sender.name if sender else self.peer.org}的数据（或超过每个数据包 {MAX_NOTICES:,} 条的上限），已忽略")

    def _fields_of(self, tbl: str):
        """The fields and ledger (None: persons) a notice about a row of ``tbl`` is checked
        with, or None (not a table of ours)."""
        if tbl == "persons":
            return PERSON_FIELDS, None
        spec_led = self.specs.get(tbl)
        return (spec_led[1].fields, spec_led[1]) if spec_led is not None and spec_led[1] is not None else None

    def _unknown_table(self, tbl: object) -> None:
        """A record of a table this catalog lacks: rejected, counted (by name for the first
        few names) and warned about once per name (Warnings summarises the rest)."""
        name = tbl[:40] if isinstance(tbl, str) else "?"
        if name not in self.unknown and len(self.unknown) >= MAX_UNKNOWN_TABLES:
            name = OTHER_TABLES
        self.unknown[name] += 1
        self.count(name, "rejected")

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
        tree = self.store.orgs
        problem = code_problem(code, level, tree.get(parent) if parent is not None else None)
        if problem:
            raise PackageError(f"{self.summary.file} 中新单位的代码不合规（{problem}），已拒绝；请向发送单位核实")
        taken = {fold(n) for o in tree if o.parent == parent for n in (o.name, *o.aliases)}
        if any(fold(n) in taken for n in (name, *aliases)):
            raise PackageError(f"{self.summary.file} 中的新单位（代码 {code}）与同一上级下已有的单位同名，"
                               "会造成同名单位，已拒绝；请向发送单位核实")
        self.store.merge_orgs([Org(code, name, level, parent, tuple(aliases))])
        self.parents[code] = parent
        self._scope_memo.clear()

    def _ours(self, code: object) -> bool:
        """Whether org ``code`` is the sender's own or one below it: the only rows and
        orgs its package may write (the sender's org comes from its profile, not the package)."""
        if not self.scoped:
            return type(code) is str
        if type(code) is not str:
            return False
        known = self._scope_memo.get(code)
        if known is None:
            known = self._scope_memo[code] = self._within_sender(code)
        return known

    def _within_sender(self, code: str) -> bool:
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
        # Append-only, keyed by (origin, origin id) and compared by content. An origin bound to a
        # unit outside the sender's scope is held (see Origins); an entry differing from the one
        # already here under the same key is held, unless it comes from its origin itself, whose
        # own entry replaces a relayed one (that one is held) — so the result does not depend on
        # which arrived first, except between two relayed copies (see Origins).
        bound = self.origins.org_of(origin)
        if bound is None:
            self.origins.learn(origin, self.peer.org, self.package_id)
        elif not self._ours(bound):
            self.foreign_audit += 1
            self._hold_audit(origin, oid, rec, "审计记录的来源不属于发送单位及其下属单位")
            return
        content = (ts or "", stamp or 0, user or "", unit, action or "", tbl, uid, before, after, source or "",
                   batch)
        if (origin, oid) in self.audits:      # the same entry twice in one package: the first is compared first
            self._flush_audits()
        self.audits[(origin, oid)] = (rec, content)
        if len(self.audits) >= BATCH:
            self._flush_audits()

    def _flush_audits(self) -> None:
        """Store the audit entries read so far: the ones already here (by origin and number)
        read in one query per origin, the new ones inserted in one go."""
        pending, self.audits = self.audits, {}
        if not pending:
            return
        by_origin: dict[str, list[int]] = defaultdict(list)
        for origin, oid in pending:
            by_origin[origin].append(oid)
        have = {}
        for origin, oids in by_origin.items():
            for r in self.conn.execute(
                    "SELECT id, origin_id, ts, stamp, user, unit, action, tbl, uuid, before, after, source, batch "
                    f"FROM audit WHERE origin = ? AND origin_id IN ({','.join('?' * len(oids))})", [origin, *oids]):
                have[(origin, r[1])] = (r[0], *r[2:])
        new = []
        for (origin, oid), (rec, content) in pending.items():
            here = have.get((origin, oid))
            if here is None:
                new.append((origin, oid, *content))
            elif tuple(here[1:]) == content:
                continue
            elif origin == self.peer.node:   # the origin's own entry wins over a relayed one
                self.clashing_audit += 1
                keys = ("ts", "stamp", "user", "unit", "action", "tbl", "uuid", "before", "after", "source", "batch")
                quarantine(self.conn, package_id=self.package_id, source="", kind="audit", tbl="audit",
                           uid=f"{origin}:{oid}:replaced", rule="被来源单位本身的同编号审计记录替换",
                           record={"k": "audit", "origin": origin, "id": oid, **dict(zip(keys, here[1:]))})
                self.conn.execute("UPDATE audit SET ts=?, stamp=?, user=?, unit=?, action=?, tbl=?, uuid=?, before=?, "
                                  "after=?, source=?, batch=? WHERE id = ?", (*content, here[0]))
            else:
                self.clashing_audit += 1
                self._hold_audit(origin, oid, rec, "与本机已有的同编号审计记录内容不同")
        self.conn.executemany(
            "INSERT INTO audit (origin, origin_id, ts, stamp, user, unit, action, tbl, uuid, "
            "before, after, source, batch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", new)

    def _hold_audit(self, origin: str, oid: int, rec: dict, rule: str) -> None:
        quarantine(self.conn, package_id=self.package_id, source=self.peer.node, kind="audit", tbl="audit",
             uid=f"{origin}:{oid}", rule=rule, record=rec)

    def _person_orgs(self, uid: str) -> list[str]:
        """The units of every ledger row (deleted ones too) that links to person ``uid``."""
        orgs = []
        for tbl, (spec, _led) in self.specs.items():
            for col in spec.person_columns:
                orgs += [o for (o,) in self.conn.execute(f"SELECT org FROM [{tbl}] WHERE [{col}] = ?", (uid,))]
        return orgs

    def _clamped(self, rec: dict, state: RowState) -> RowState:
        """An administrator accepted a package whose stamps are ahead (:func:`~.release.accept_held`):
        its rows are kept with their stamps brought down to what this install's clock may adopt,
        so nothing it passes on is held further up."""
        state.versions = state.versions.clamped(self.cap)
        state.losers = {c: [(v.clamped(self.cap), x) for v, x in ls] for c, ls in state.losers.items()}
        rec["ver"] = state.versions.encode()
        return state

    def _may_write(self, tbl: str, uid: str, rec: dict, state: RowState, mine: dict | None,
                   mine_state: RowState | None) -> bool:
        """The scope rules beyond a row's unit, for a sender below (see .scope); False when
        the record is not merged (it was counted, deferred or held)."""
        if mine is None:
            if tbl == "persons" and not self._ours(state.values.get("org")):
                self.foreign += 1
                self.count(tbl, "rejected")
                return False
            origin = rec.get("o")
            bound = self.origins.org_of(origin) if origin else None
            if bound is not None and not self._ours(bound):   # a new row claiming another's install
                self.foreign += 1
                self.count(tbl, "rejected")
                return False
            if origin:
                self.origins.learn(origin, self.peer.org, self.package_id)
            return True
        if tbl == "reviews":   # the reviewer's columns stay as they are here; the sender's reply merges
            for col in self.specs[tbl][0].versioned:
                if col not in SENDER_REVIEW_COLUMNS:
                    state.values[col] = mine_state.values.get(col)
                    state.versions.set(col, mine_state.versions.get(col))
                    state.losers.pop(col, None)
            return True
        if tbl != "persons":
            return True
        orgs = self._person_orgs(uid)
        ours = [o for o in orgs if self._ours(o)]
        if ours and (len(ours) == len(orgs) or not state.values.get("_deleted") or mine.get("_deleted")):
            # a person with a row in scope (deleted only when every row is); where first seen stays
            state.values["org"] = mine_state.values.get("org")
            state.versions.set("org", mine_state.versions.get("org"))
            state.losers.pop("org", None)
            return True
        if not self.finishing:
            self.deferred.append(rec)   # this package's own rows may still bring one
            return False
        spec = self.specs[tbl][0]
        if any(state.values.get(c) != mine.get(c) for c in spec.versioned if c != "org"):
            added = hold_edit(self.conn, tbl, uid, spec, mine, state, now_iso())
            self.held_persons += 1
            self.count(tbl, "conflicts", added)
        else:
            self.count(tbl, "unchanged")
        return False

    def _flush(self, tbl: str) -> None:
        recs, self.pending[tbl] = self.pending[tbl], []
        if not recs:
            return
        spec, led = self.specs[tbl]
        parsed = []
        for rec, state in zip(recs, self.reader.parse_many(spec, recs)):
            if state is None:
                self.count(tbl, "rejected")
                self.malformed += 1
                continue
            # a row of a unit outside the sender (a person: where first seen, so only a new one)
            org = state.values.get("org")
            if (tbl != "persons" or type(org) is not str) and not self._ours(org):
                self.foreign += 1
                self.count(tbl, "rejected")
                continue
            parsed.append((rec, state))
        if self.allow_skew and self.newest > self.cap:
            parsed = [(rec, self._clamped(rec, state)) for rec, state in parsed]
        fields = led.fields if led is not None else PERSON_FIELDS if tbl == "persons" else ()
        rows = [s.values for _, s in parsed]
        problems, changes = self.reader.check(fields, rows, led)
        if led is not None:
            link_check(led, rows, changes, self.store.setting("person_namespace"), problems)
        for fid, moved in changes.items():     # stored as the same value typed here would be
            for i, value in moved.items():
                rows[i][fid] = value
        incoming = {}
        for (rec, state), rule in zip(parsed, problems):
            if rule:   # held (quarantined), never stored in the ledger; the sender is told
                quarantine(self.conn, package_id=self.package_id, source=self.peer.node, kind="row", tbl=tbl,
                     uid=rec["u"], rule=rule, record=rec)
                self.held[rule] += 1
                self.count(tbl, "rejected")
                continue
            incoming[rec["u"]] = (state, rec)
        if not incoming:
            return
        # the versions here of these rows, in one query: a row not here is new; a row here
        # with the very versions text that came (and no losing leaves with it) has nothing
        # to merge (merge_row would find every incoming version already a leaf: unchanged);
        # only the others are read whole and merged field by field
        uuids = list(incoming)
        marks = ",".join("?" * len(uuids))
        here = {u: (org, ver) for u, org, ver in self.conn.execute(
            f"SELECT uuid, org, _versions FROM [{tbl}] WHERE uuid IN ({marks})", uuids)}
        plain = self.bulk and led is not None      # a ledger row: no scope rule beyond its unit
        todo = []
        tally: Counter = Counter()
        for uid, (state, rec) in incoming.items():
            have = here.get(uid)
            if have is not None and tbl != "persons" and not self._ours(have[0]):
                # a row of another unit here (a person is shared: where first seen is no owner)
                self.foreign += 1
                tally["rejected"] += 1
            elif plain and have is not None and have[1] == rec["ver"] and not state.losers:
                tally["unchanged"] += 1
            else:
                todo.append(uid)
        if todo:
            self._merge(tbl, spec, led, incoming, todo, here, tally)
        for what, n in tally.items():
            self.count(tbl, what, n)

    def _merge(self, tbl: str, spec: TableSpec, led, incoming: dict, todo: list[str], here: dict,
               tally: Counter) -> None:
        """Merge field by field the rows ``todo`` of ``incoming`` (the ones ``here`` read whole)
        and write what changed; ``tally`` counts the outcomes."""
        local, losers, had_conflicts = self._local(tbl, spec, [u for u in todo if u in here], todo)
        decided = []          # (uid, merged state, the row here, its record)
        for uid in todo:
            state, rec = incoming[uid]
            mine = local.get(uid)
            mine_state = None if mine is None else RowState(
                {c: mine[c] for c in spec.versioned}, RowVersions.decode(mine["_versions"]),
                losers.get(uid, {}))
            if self.scoped and not self._may_write(tbl, uid, rec, state, mine, mine_state):
                continue
            outcome = merge_row(spec, mine_state, state)
            tally[outcome.status] += 1
            if outcome.status not in ("unchanged", "older"):
                decided.append((uid, outcome, mine, rec))
        gaps = None
        if led is not None:
            gaps = missing_many(led, [o.state.values for _, o, _, _ in decided])
            self._judge_combined(led, decided, incoming, gaps)
        merged: list[MergedRow] = []
        for k, (uid, outcome, mine, rec) in enumerate(decided):
            new = outcome.state
            missing = gaps[k] if gaps is not None else []
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
            tally["conflicts"] += save_conflicts(self.conn, tbl, uid, spec, new, now_iso())
        self._pending_conflicts.clear()

    def _judge_combined(self, led, decided: list, incoming: dict, gaps: list[list[str]]) -> None:
        """A row here merged field by field with the one that came may break a rule relating
        its fields that neither broke (one install moved the start date, another the end
        date; or a sender's two packages built to do so). It is kept — which rows a merge
        keeps must not depend on the order packages arrive in — but 待补充 on the field the
        rule names (``gaps``), so it counts in no progress until someone corrects it. Only
        rows whose merged values read by those rules differ from the ones that came are
        judged again: the others were judged as they came (:meth:`RowReader.check`)."""
        reads = checker_of(led).rule_reads
        mixed = [k for k, (uid, outcome, mine, _rec) in enumerate(decided)
                 if mine is not None and not outcome.state.values.get("_deleted")
                 and any(outcome.state.values.get(c) != incoming[uid][0].values.get(c) for c in reads)]
        if not mixed:
            return
        found = broken_many(led, [decided[k][1].state.values for k in mixed], today=rule_day(self.reader.today))
        for k, problem in zip(mixed, found):
            if problem is not None:
                self.combined[problem.message[:MAX_RULE]] += 1
                if problem.field and problem.field not in gaps[k]:
                    gaps[k].append(problem.field)

    def _local(self, tbl: str, spec: TableSpec, present: list[str], uuids: list[str]):
        """The rows here among ``present`` (whole), the open losing leaves of those, and which
        of ``uuids`` have conflicts listed."""
        cols = ["uuid"] + list(spec.versioned) + ["_versions"]
        local = {}
        if present:
            for r in self.conn.execute(f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{tbl}] WHERE uuid IN "
                                       f"({','.join('?' * len(present))})", present):
                local[r[0]] = dict(zip(cols, r))
        losers = load_losers(self.conn, tbl, present)
        had_conflicts = {u for (u,) in self.conn.execute(
            f"SELECT DISTINCT uuid FROM conflicts WHERE tbl = ? AND uuid IN ({','.join('?' * len(uuids))})",
            [tbl, *uuids])}
        return local, losers, had_conflicts
