"""Making incremental packages: the latest state of every row changed since the last
package to that destination (tombstones, person-master rows and audit entries included),
with each field's versions and open conflicts; its cost is proportional to the changes.
A full package or a resend of earlier numbers can be made at any time.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import uuid as uuidlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog.orgs import file_label
from ..errors import StoreError
from ..store import migrations
from ..store.crypto import SUITES
from ..store.merge import load_losers
from ..store.versions import now_iso
from .clock import check_clock
from .files import VOLUME_BYTES, OutgoingFiles, attachment_fields, file_line
from .package_file import SUFFIX, write_package
from .peers import BATCH, destination, record_specs
from .scope import mark_reported, notice_lines

if TYPE_CHECKING:
    from ..store.database import Store


@dataclass
class Exported:
    path: Path
    manifest: dict
    volumes: list[Path] = field(default_factory=list)   # further volumes (files only)
    files: int = 0                                      # attached files carried, all volumes
    files_pending: int = 0                              # referenced but not received here yet
    counts: dict[str, int] = field(default_factory=dict)   # rows per ledger (not in the manifest)

    def to_json(self) -> dict:
        m = self.manifest
        return {"path": str(self.path), "package_id": m["package_id"], "kind": m["kind"],
                "seq_from": m["seq_from"], "seq_to": m["seq_to"], "rows": sum(self.counts.values()),
                "counts": self.counts, "dest": m["dest"]["org"], "files": self.files,
                "files_pending": self.files_pending, "volumes": [str(p) for p in self.volumes]}


def export_package(store: Store, out_dir: Path | str, *, to: str | None = None, full: bool = False,
                   resend: tuple[int, int] | None = None, kind: str | None = None,
                   volume_bytes: int | None = None) -> Exported:
    """Write one package for a destination into ``out_dir`` and record it.

    Incremental by default; ``full`` sends every row (first submission, recovery);
    ``resend=(a, b)`` re-sends the changes of earlier packages a–b to that destination.
    The rows' attached files that the destination lacks travel along; above
    ``volume_bytes`` they go into further numbered volumes (packages of files only).

    :raises StoreError: (exit 1) this PC's date does not fit the store's data
        (:func:`~.clock.check_clock`): receivers would hold the package.
    """
    store.require("edit")
    check_clock(store)
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
        "seq_from": seq_from, "seq_to": seq_to, "prev": last_package,   # counts: not in clear
        "catalog": {"id": store.catalog.id, "version": store.catalog.version},
    }
    # a file name is made of codes and sanitised names only: a unit's name never makes a path
    dest_name = file_label(tree.get(dest.org), dest.org)
    seqs = f"{seq_from}" if seq_from == seq_to else f"{seq_from}-{seq_to}"
    kind_word = {"full": "全量", "resend": "重发", "feedback": "核实意见"}.get(package_kind, "")
    name = f"{file_label(own, store.node.org)}_至{dest_name}_第{seqs}号{kind_word}_{dt.date.today():%Y%m%d}{SUFFIX}"
    path = out_dir / name
    keys = store.keys()
    suite = SUITES[store.suite]
    files = OutgoingFiles(store, dest.node, again=bool(full or resend), carry=not downward,
                          cap=volume_bytes or VOLUME_BYTES)
    # the records of the destination held here (quarantined) travel back as refusal notices
    notices, notice_ids = notice_lines(conn, dest.node, again=bool(full or resend))
    lines = itertools.chain(_payload(store, specs, changed, audit_from, audit_to, files), notices)

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
                        seq_to=None, prev=None, volume=k + 1, volumes=count,
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
            mark_reported(conn, notice_ids, package_id)
    except BaseException:
        for p in [path, *volumes]:
            p.unlink(missing_ok=True)
        raise
    return Exported(path, manifest, volumes, sum(len(v) for v in files.volumes), files.unavailable, counts)


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
