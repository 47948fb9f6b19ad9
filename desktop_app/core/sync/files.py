"""Attachments in packages: which files a package carries, and receiving them.

A package carries the files its rows reference that the destination does not have
yet: not sent to it before, and not received from it (a town never sends a
village's photos back to that village). A full package or a resend carries them
again. The payload names each file in a ``{"k": "file"}`` line; the bytes follow the
payload as their own encrypted chunks (:mod:`.package_file`). Above the volume cap
the files go into further volumes, packages of their own that carry only files.

Receiving checks each file against its SHA-256 and size before it is stored; a
mismatch is refused and reported, a file referenced but not (yet) received is
reported, neither is fatal to the rows.
"""
from __future__ import annotations

import math

from ..catalog.attachment_refs import KINDS, parse_refs
from ..store.attachments import Attachments
from ..store.crypto import CHUNK_BYTES
from .package_file import PackageError
from .scope import hold

VOLUME_BYTES = 512 << 20     # default size cap of one package file (U 盘, 微信 both take it)
MAX_FILE_BYTES = 64 << 20    # a received file larger than this is refused
MAX_FILE_RECORDS = 100_000   # attached files one package may carry
MAX_REFERENCED = 1_000_000   # attachment references of one package remembered (to report missing ones)


def file_line(ref: dict) -> dict:
    return {"k": "file", "sha256": ref["sha256"], "size": ref["size"], "type": ref["type"],
            "chunks": math.ceil(ref["size"] / CHUNK_BYTES)}


def attachment_fields(ledger) -> list[str]:
    return [] if ledger is None else [f.id for f in ledger.fields if f.type == "attachment"]


class OutgoingFiles:
    """Collects the files of the rows written into a package, then splits them in volumes."""

    def __init__(self, store, dest_node: str, *, again: bool, cap: int = VOLUME_BYTES,
                 carry: bool = True):
        self.store, self.dest, self.again, self.cap, self.carry = store, dest_node, again, cap, carry
        self.box = Attachments(store)
        self.wanted: dict[str, dict] = {}
        self.volumes: list[list[dict]] = [[]]
        self.unavailable = 0

    def note(self, fields: list[str], data: dict) -> None:
        """The attachment values of one row going into the package."""
        for fid in fields:
            try:
                for ref in parse_refs(data.get(fid)):
                    self.wanted.setdefault(ref["sha256"], ref)
            except ValueError:
                continue

    def lines(self, used: int):
        """The file lines of the first volume (called after the rows; ``used`` bytes so far)."""
        if not self.carry or not self.wanted:
            return
        shas = sorted(self.wanted)
        if not self.again:
            done = set()
            for start in range(0, len(shas), 500):
                part = shas[start:start + 500]
                done |= {s for (s,) in self.store.conn.execute(
                    f"SELECT sha256 FROM sent_attachments WHERE dest = ? AND sha256 IN "
                    f"({','.join('?' * len(part))})", [self.dest, *part])}
            shas = [s for s in shas if s not in done]
        size = used
        for sha in shas:
            if not self.box.has(sha):
                self.unavailable += 1   # not received here yet: it follows in a later package
                continue
            ref = self.wanted[sha]
            if self.volumes[-1] and size + ref["size"] > self.cap:
                self.volumes.append([])
                size = 0
            self.volumes[-1].append(ref)
            size += ref["size"]
        for ref in self.volumes[0]:
            yield file_line(ref)

    def streams(self, volume: int = 0) -> list:
        return [self.box.blocks(r["sha256"]) for r in self.volumes[volume]]

    def mark_sent(self, conn, package_id: str, volume: int = 0) -> None:
        conn.executemany("INSERT OR IGNORE INTO sent_attachments (dest, sha256, package_id) VALUES (?, ?, ?)",
                         [(self.dest, r["sha256"], package_id) for r in self.volumes[volume]])


class IncomingFiles:
    """The file lines of a package being imported, and the references its rows make."""

    def __init__(self, store, file_name: str):
        self.store, self.file_name = store, file_name
        self.records: list[dict] = []
        self.referenced: set[str] = set()

    def line(self, rec: dict) -> None:
        sha, size, kind, chunks = rec.get("sha256"), rec.get("size"), rec.get("type"), rec.get("chunks")
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
                and type(size) is int and 0 < size <= MAX_FILE_BYTES and kind in KINDS
                and type(chunks) is int and chunks == math.ceil(size / CHUNK_BYTES)
                and set(rec) == {"k", "sha256", "size", "type", "chunks"}):
            raise PackageError(f"{self.file_name} 中的附件信息不合规，已拒绝")
        if len(self.records) >= MAX_FILE_RECORDS:
            raise PackageError(f"{self.file_name} 中的附件过多，已拒绝")
        self.records.append(rec)

    def note(self, fields: list[str], values: dict) -> None:
        if len(self.referenced) >= MAX_REFERENCED:   # enough to say files are missing
            return
        for fid in fields:
            try:
                self.referenced |= {r["sha256"] for r in parse_refs(values.get(fid))}
            except (ValueError, TypeError):
                continue

    def receive(self, opened, content_key: bytes, peer_node: str, summary) -> None:
        """Store the files (each verified); note which the rows still lack."""
        opened.check_file_records(self.records)
        box = Attachments(self.store)
        stored, refused, bad = [], 0, []
        for rec, blocks in opened.files(content_key, self.records):
            why = box.put_stream(blocks, rec["sha256"], rec["size"], rec["type"])
            if why is None:
                stored.append(rec["sha256"])
            elif why.startswith("与校验值不符"):
                refused += 1
            else:   # content that is not what it claims: refused like a local file, reported back
                bad.append(why)
                hold(self.store.conn, package_id=opened.manifest["package_id"], source=peer_node,
                     kind="file", tbl="attachments", uid=rec["sha256"], rule=why,
                     record={k: rec[k] for k in ("sha256", "size", "type")})
        # the sender has these: never send them back to it
        self.store.conn.executemany(
            "INSERT OR IGNORE INTO sent_attachments (dest, sha256, package_id) VALUES (?, ?, ?)",
            [(peer_node, sha, opened.manifest["package_id"]) for sha in stored])
        summary.files = len(stored)
        if refused:
            summary.warnings.append(f"{refused} 个附件与校验值不符（传递中损坏或被改动），已拒绝；"
                                    "请让发送单位重发（全量包或重发）")
        if bad:
            summary.warnings.append(f"{len(bad)} 个附件的内容不合规（例如：{bad[0]}），未保存；记录本身已导入，"
                                    "发送单位会收到通知")
        self.report_missing(summary)

    def report_missing(self, summary) -> None:
        missing = Attachments(self.store).missing(self.referenced)
        if missing:
            summary.warnings.append(f"有 {len(missing)} 个附件（照片、扫描件）尚未收到：会随后续数据包"
                                    "或分卷到达；记录本身已导入")
