"""Incremental packages between installs: export, import, gaps, conflicts.

An incremental package holds the latest state of every row changed since the
last package to that destination (tombstones, person-master rows and audit
entries included) with each field's versions and open conflicts; its cost is
proportional to the changes. Importing verifies everything first and then
merges field by field in one transaction (see merge.py); importing the same
package again changes nothing, and packages in any order end in the same state.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import uuid as uuidlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog.orgs import Org
from ..catalog.validation import missing_fields
from ..errors import StoreError
from ..store import migrations
from ..store.backup import make_backup
from ..store.crypto import SUITES, unb64
from ..store.merge import RowState, load_losers, merge_row, refresh_conflicts, save_conflicts
from ..store.schema import TableSpec, ledger_spec, person_spec, review_spec
from ..store.versions import RowVersions, Version, now_iso, stamp_ms
from ..store.writes import Writer, dumps
from .files import VOLUME_BYTES, IncomingFiles, OutgoingFiles, attachment_fields, file_line
from .package_file import INT64_MAX, SUFFIX, PackageError, open_package, strict_json, unseal, write_package

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


# ---------------------------------------------------------------- export

@dataclass
class Exported:
    path: Path
    manifest: dict
    volumes: list[Path] = field(default_factory=list)   # further volumes (files only)
    files: int = 0                                      # attached files carried, all volumes
    files_pending: int = 0                              # referenced but not received here yet

    def to_json(self) -> dict:
        m = self.manifest
        return {"path": str(self.path), "package_id": m["package_id"], "kind": m["kind"],
                "seq_from": m["seq_from"], "seq_to": m["seq_to"], "rows": sum(m["counts"].values()),
                "counts": m["counts"], "dest": m["dest"]["org"], "files": self.files,
                "files_pending": self.files_pending, "volumes": [str(p) for p in self.volumes]}


def export_package(store: Store, out_dir: Path | str, *, to: str | None = None, full: bool = False,
                   resend: tuple[int, int] | None = None, kind: str | None = None,
                   volume_bytes: int | None = None) -> Exported:
    """Write one package for a destination into ``out_dir`` and record it.

    Incremental by default; ``full`` sends every row (first submission, recovery);
    ``resend=(a, b)`` re-sends the changes of earlier packages a–b to that destination.
    The rows' attached files that the destination lacks travel along; above
    ``volume_bytes`` they go into further numbered volumes (packages of files only).
    """
    store.require("edit")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = destination(store, to)
    conn = store.conn
    row = conn.execute("SELECT last_seq, last_change, last_audit, last_package FROM outbox "
                       "WHERE dest = ?", (dest.node,)).fetchone() or (0, 0, 0, None)
    last_seq, last_change, last_audit, last_package = row
    max_change = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM change_log").fetchone()[0]
    max_audit = conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]
    if resend:
        a, b = resend
        span = conn.execute(
            "SELECT MIN(change_from), MAX(change_to), MIN(package_id) FROM packages WHERE direction = 'out' "
            "AND dest = ? AND kind <> 'resend' AND seq_from >= ? AND seq_to <= ?", (dest.node, a, b)).fetchone()
        if span[0] is None:
            raise StoreError(f"没有发给该单位的第 {a}–{b} 号数据包记录，无法重发", 1)
        change_from, change_to, audit_from, audit_to = span[0], span[1], 0, 0
        seq_from, seq_to, package_kind = a, b, "resend"
    elif full:
        change_from, change_to, audit_from, audit_to = 0, max_change, 0, max_audit
        seq_from, seq_to, package_kind = 1, last_seq + 1, "full"
    else:
        change_from, change_to, audit_from, audit_to = last_change, max_change, last_audit, max_audit
        seq_from = seq_to = last_seq + 1
        package_kind = "incremental"
    specs = record_specs(store)
    tree = store.orgs
    downward = dest.org != store.node.org and tree.is_within(dest.org, store.node.org)
    if downward:
        # to a town or village below: only its own rows (and their 核实意见), never other
        # units' data, and no audit trail of this install
        package_kind = "feedback" if package_kind == "incremental" else package_kind
        audit_from = audit_to = last_audit
    package_kind = kind or package_kind
    if full:
        changed = {t: [r[0] for r in conn.execute(f"SELECT uuid FROM [{t}]")] for t in specs}
    else:
        changed = defaultdict(list)
        for tbl, uid in conn.execute("SELECT DISTINCT tbl, uuid FROM change_log WHERE seq > ? AND "
                                     "seq <= ?", (change_from, change_to)):
            if tbl in specs:
                changed[tbl].append(uid)
    if downward:
        changed = {t: _within(conn, t, uuids, dest.org) for t, uuids in changed.items()}
    counts = {(specs[t][1].id if specs[t][1] is not None else t): len(u) for t, u in changed.items() if u}
    package_id = str(uuidlib.uuid4())
    own = tree.get(store.node.org)
    manifest = {
        "package_id": package_id, "kind": package_kind, "schema": migrations.latest(),
        "created": now_iso(),
        "source": {"node": store.node.id, "org": store.node.org, "level": store.node.level},
        "dest": {"node": dest.node, "org": dest.org},
        "seq_from": seq_from, "seq_to": seq_to, "prev": last_package, "counts": counts,
        "catalog": {"id": store.catalog.id, "version": store.catalog.version},
    }
    dest_name = tree.get(dest.org).name if tree.get(dest.org) else dest.org
    seqs = f"{seq_from}" if seq_from == seq_to else f"{seq_from}-{seq_to}"
    kind_word = {"full": "全量", "resend": "重发", "feedback": "核实意见"}.get(package_kind, "")
    name = f"{own.name}_至{dest_name}_第{seqs}号{kind_word}_{dt.date.today():%Y%m%d}{SUFFIX}"
    path = out_dir / name
    keys = store.keys()
    suite = SUITES[store.suite]
    files = OutgoingFiles(store, dest.node, again=bool(full or resend), carry=not downward,
                          cap=volume_bytes or VOLUME_BYTES)
    lines = _payload(store, specs, changed, audit_from, audit_to, files)

    def write(target: Path, head: dict, body, volume: int) -> dict:
        pid = head["package_id"]
        return write_package(target, head, body, sign=lambda data: suite.sign(keys.sign_private, data),
                             suite_name=store.suite, dest_enc_key=dest.enc_key,
                             info=f"{pid}|{store.node.id}|{dest.node}".encode(),
                             files=lambda: files.streams(volume))
    manifest = write(path, manifest, lines, 0)
    volumes = []
    if len(files.volumes) > 1:
        count = len(files.volumes)
        first = path.with_name(path.name.replace(SUFFIX, f"_卷1之{count}{SUFFIX}"))
        os.replace(path, first)
        path, name = first, first.name
        for k in range(1, count):
            head = dict(manifest, package_id=str(uuidlib.uuid4()), kind="files", seq_from=None,
                        seq_to=None, prev=None, counts={}, volume=k + 1, volumes=count,
                        volume_of=package_id)
            for key in ("format", "format_version", "suite", "payload_sha256", "payload_chunks",
                        "plain_bytes", "sealed_key", "file_chunks"):
                head.pop(key, None)
            target = path.with_name(name.replace(f"_卷1之{count}", f"_卷{k + 1}之{count}"))
            try:
                write(target, head, iter([json.dumps(file_line(r)).encode() for r in files.volumes[k]]), k)
            except BaseException:
                for p in [path, *volumes]:
                    p.unlink(missing_ok=True)
                raise
            volumes.append(target)
    try:
        with store.transaction():
            conn.execute(
                "INSERT INTO packages (package_id, direction, kind, source, dest, seq_from, seq_to, "
                "change_from, change_to, audit_to, prev, sha256, created, handled, file, status, summary) "
                "VALUES (?, 'out', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?)",
                (package_id, package_kind, store.node.id, dest.node, seq_from, seq_to, change_from,
                 change_to, audit_to, last_package, manifest["payload_sha256"], manifest["created"],
                 now_iso(), name, json.dumps(counts, ensure_ascii=False)))
            if package_kind != "resend":
                conn.execute(
                    "INSERT OR REPLACE INTO outbox (dest, last_seq, last_change, last_audit, last_package) "
                    "VALUES (?, ?, ?, ?, ?)", (dest.node, seq_to, change_to, audit_to, package_id))
            for k in range(len(files.volumes)):
                files.mark_sent(conn, package_id, k)
    except BaseException:
        for p in [path, *volumes]:
            p.unlink(missing_ok=True)
        raise
    return Exported(path, manifest, volumes, sum(len(v) for v in files.volumes), files.unavailable)


def _within(conn, tbl: str, uuids: list[str], org: str) -> list[str]:
    out = []
    for start in range(0, len(uuids), BATCH):
        chunk = uuids[start:start + BATCH]
        out += [u for (u,) in conn.execute(
            f"SELECT uuid FROM [{tbl}] WHERE uuid IN ({','.join('?' * len(chunk))}) AND "
            "substr(org, 1, ?) = ?", [*chunk, len(org), org])]
    return out


def _payload(store: Store, specs, changed: dict[str, list[str]], audit_from: int, audit_to: int,
             files: OutgoingFiles):
    conn = store.conn
    used = 0
    tree = store.orgs
    for org in [o for o in tree if tree.is_within(o.code, store.node.org)]:
        yield json.dumps({"k": "org", **org.to_json()}, ensure_ascii=False).encode()
    for tbl, uuids in changed.items():
        spec = specs[tbl][0]
        with_files = attachment_fields(specs[tbl][1])
        cols = list(spec.versioned) + ["_versions", "_created", "_origin"]
        select = ", ".join(f"[{c}]" for c in ["uuid"] + cols)
        for start in range(0, len(uuids), BATCH):
            chunk = uuids[start:start + BATCH]
            losers = load_losers(conn, tbl, chunk)
            for r in conn.execute(f"SELECT {select} FROM [{tbl}] WHERE uuid IN "
                                  f"({','.join('?' * len(chunk))})", chunk):
                data = dict(zip(cols, r[1:]))
                rec = {"k": "row", "t": tbl, "u": r[0], "ver": data.pop("_versions"),
                       "c": data.pop("_created"), "o": data.pop("_origin"), "v": data}
                if r[0] in losers:
                    rec["l"] = {f: [[v.encode(), x] for v, x in leaves]
                                for f, leaves in losers[r[0]].items()}
                if with_files:
                    files.note(with_files, data)
                line = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode()
                used += len(line)
                yield line
    if audit_to > audit_from:
        cur = conn.execute("SELECT id, origin, origin_id, ts, stamp, user, unit, action, tbl, uuid, "
                           "before, after, source, batch FROM audit WHERE id > ? AND id <= ?",
                           (audit_from, audit_to))
        for (i, origin, origin_id, ts, stamp, user, unit, action, tbl, uid, before, after, source,
             batch) in cur:
            yield json.dumps({"k": "audit", "origin": origin, "id": origin_id or i, "ts": ts,
                              "stamp": stamp, "user": user, "unit": unit, "action": action,
                              "tbl": tbl, "uuid": uid, "before": before, "after": after,
                              "source": source, "batch": batch},
                             ensure_ascii=False, separators=(",", ":")).encode()
    for rec in files.lines(used):
        yield json.dumps(rec, separators=(",", ":")).encode()


# ---------------------------------------------------------------- import

@dataclass
class ImportSummary:
    file: str
    status: str                      # imported / dry-run / already / refused
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


def import_package(store: Store, path: Path | str, *, dry_run: bool = False, backup: bool = True) -> ImportSummary:
    """Verify a package and merge it in one transaction (or only report, on a dry run).

    The store is backed up first (``backup=False`` when the caller already did, before a
    series of packages).

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
        raise PackageError(f"{name} 来自未登记的单位（{source.get('org')}），本机不认识它的密钥。"
                           "请先导入该单位的配置文件并电话核对指纹")
    if dest.get("node") != store.node.id:
        raise PackageError(f"{name} 不是发给本机的（收件单位 {dest.get('org')}），请交给收件单位导入")
    opened.verify(peer.sign_key, SUITES[m["suite"]].verify)
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
    key = unseal(opened, store.keys().enc_private, f"{m['package_id']}|{peer.node}|{store.node.id}".encode())
    summary = ImportSummary(name, "dry-run" if dry_run else "imported", package_id=m["package_id"],
                            source_org=peer.org)
    if backup and not dry_run:
        make_backup(store, "package")
    try:
        with store.transaction():
            applier = _Applier(store, peer, m, summary)
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
    summary.message = _message(summary)
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

    def __init__(self, store: Store, peer: Peer, manifest: dict, summary: ImportSummary):
        self.store, self.peer, self.summary = store, peer, summary
        self.specs = record_specs(store)
        self.pending: dict[str, list[dict]] = defaultdict(list)
        self.package_id = manifest["package_id"]
        self.now = now_iso()
        self.user = store.actor   # who imported; the sender's own audit entries travel as they are
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
        if self.newest and self.store.clock.observe(self.newest):
            ahead = (stamp_ms(self.newest) - int(self.store.clock.wall() * 1000)) // 86_400_000
            self.summary.warnings.append(
                f"数据包里有时间戳比本机时间超前约 {ahead} 天（对方电脑的日期可能不对）；"
                "这不影响哪一个值生效，但请提醒对方校正电脑日期")
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
        if not (_org_code(code) and type(name) is str and 0 < len(name) <= 60
                and level in ("district", "town", "village") and (parent is None or _org_code(parent))
                and type(aliases) is list and len(aliases) <= 20
                and all(type(a) is str and 0 < len(a) <= 60 for a in aliases)):
            raise PackageError(f"{self.summary.file} 中的组织信息不合规，已拒绝")
        if code in self.parents or (parent is not None and parent not in self.parents):
            return  # known orgs are never renamed or moved by a package; an unknown parent: skipped
        # a package may add orgs only below its sender (or the sender's own, if unknown here)
        if self.scoped and not (self._ours(parent) or code == self.peer.org):
            raise PackageError(f"{self.summary.file} 含有发送单位管辖范围以外的单位（代码 {code}），"
                               "已拒绝；请向发送单位核实")
        self.store.merge_orgs([Org(code, name, level, parent, tuple(aliases[:5]))])
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
            if v.stamp > self.newest:
                self.newest = v.stamp
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
        inserts, updates, log, audit = [], [], [], []
        stamp = self.store.clock.tick()
        source = f"package:{self.package_id}"
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
                versions = rec["ver"] if not new.losers else new.versions.encode()
                inserts.append((uid, *[new.values.get(c) for c in spec.versioned],
                                1 if missing else 0, "、".join(missing) or None,
                                rec.get("c") or self.now, self.now, rec.get("o") or "", versions))
            else:
                updates.append((*[new.values.get(c) for c in spec.versioned], 1 if missing else 0,
                                "、".join(missing) or None, self.now, new.versions.encode(), uid))
            log.append((tbl, uid, stamp))
            before = {c: mine[c] for c in outcome.changed} if mine else None
            audit.append((self.store.node.id, self.now, stamp, self.user, None, "merge", tbl, uid,
                          dumps(before) if before else None,
                          dumps({c: new.values.get(c) for c in outcome.changed}) if mine else None,
                          source, None))
            if new.losers or new.values.get("_deleted") or uid in had_conflicts:
                added = save_conflicts(self.conn, tbl, uid, spec, new, self.now)
                if added:
                    self.count(tbl, "conflicts", added)
        cols_insert = ["uuid", *spec.versioned, "_incomplete", "_missing", "_created", "_updated",
                       "_origin", "_versions"]
        if inserts:
            self.conn.executemany(f"INSERT INTO [{tbl}] ({', '.join(f'[{c}]' for c in cols_insert)}) "
                                  f"VALUES ({','.join('?' * len(cols_insert))})", inserts)
        if updates:
            sets = ", ".join(f"[{c}] = ?" for c in [*spec.versioned, "_incomplete", "_missing",
                                                     "_updated", "_versions"])
            self.conn.executemany(f"UPDATE [{tbl}] SET {sets} WHERE uuid = ?", updates)
        if log:
            self.conn.executemany("INSERT INTO change_log (tbl, uuid, stamp) VALUES (?, ?, ?)", log)
            self.conn.executemany(
                "INSERT INTO audit (origin, ts, stamp, user, unit, action, tbl, uuid, before, after, "
                "source, batch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", audit)


# ---------------------------------------------------------------- conflicts

def list_conflicts(store: Store) -> list[dict]:
    """The open conflicts, with both values side by side."""
    specs = record_specs(store)
    out = []
    for cid, tbl, uid, fld, stamp, origin, value, detected in store.conn.execute(
            "SELECT id, tbl, uuid, field, stamp, origin, value, detected FROM conflicts ORDER BY id"):
        spec, led = specs.get(tbl, (None, None))
        row = store.conn.execute(f"SELECT * FROM [{tbl}] WHERE uuid = ?", (uid,)).fetchone() if spec else None
        names = [d[0] for d in store.conn.execute(f"SELECT * FROM [{tbl}] LIMIT 0").description] if spec else []
        current = dict(zip(names, row)) if row else {}
        col = fld.split(":", 1)[1] if fld.startswith("_deleted:") else fld
        label = (led.field(col).label if led is not None and led.has_field(col) else
                 {"_deleted": "删除", "org": "所属单位"}.get(col, col))
        kind = "delete" if fld.startswith("_deleted:") else "field"
        theirs = json.loads(value) if value else None
        if kind == "field" and (theirs == current.get(col) or (tbl == "persons" and col == "org")):
            continue  # the same value typed at two sites, or where a person was first seen: no dispute
        out.append({"id": cid, "ledger": led.id if led is not None else tbl, "uuid": uid, "field": col,
                    "org": current.get("org"),
                    "label": label, "kind": kind, "mine": current.get(col),
                    "theirs": theirs, "deleted": bool(current.get("_deleted")),
                    "theirs_origin": origin, "theirs_stamp": stamp, "detected": detected})
    return out


def resolve_conflict(store: Store, conflict_id: int, keep: str) -> dict:
    """Resolve one conflict: ``keep`` is "mine" (the current value) or "theirs" (the losing one).

    The resolution is a new change covering every version involved, so it travels in
    packages and closes the conflict everywhere.
    """
    store.require("review")
    row = store.conn.execute("SELECT tbl, uuid, field FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
    if row is None:
        raise StoreError(f"没有编号为 {conflict_id} 的冲突（可能已处理）", 1)
    if keep not in ("mine", "theirs"):
        raise StoreError("请选择保留 mine（本机的值）或 theirs（对方的值）", 1)
    tbl, uid, fld = row
    specs = record_specs(store)
    spec, led = specs[tbl]
    cols = ["uuid", *spec.all_columns[1:]]
    current = dict(zip(cols, store.conn.execute(
        f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{tbl}] WHERE uuid = ?", (uid,)).fetchone()))
    losers = load_losers(store.conn, tbl, [uid]).get(uid, {})
    rv = RowVersions.decode(current["_versions"])
    with store.transaction():
        writer = Writer(store, source="screen:conflicts")
        if fld.startswith("_deleted:"):
            # keep mine = stay deleted (a delete covering everything); theirs = bring the row back
            cover = {"_deleted": [rv.get(c) for c in spec.versioned] +
                     [v for ls in losers.values() for v, _ in ls]}
            writer.update(spec, current, {"_deleted": 1 if keep == "mine" else 0}, cover=cover,
                          action="resolve")
        else:
            leaves = losers.get(fld, [])
            theirs = next((x for v, x in leaves if v.key == tuple(store.conn.execute(
                "SELECT stamp, origin FROM conflicts WHERE id = ?", (conflict_id,)).fetchone())), None)
            value = current[fld] if keep == "mine" else theirs
            writer.update(spec, current, {fld: value}, cover={fld: [v for v, _ in leaves]},
                          action="resolve")
        refreshed = dict(zip(cols, store.conn.execute(
            f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{tbl}] WHERE uuid = ?", (uid,)).fetchone()))
        refresh_conflicts(store.conn, spec, refreshed, now_iso())
    return {"id": conflict_id, "kept": keep}
