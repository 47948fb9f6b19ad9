"""Held packages: signed packages for this install that cannot be applied *yet*.

Two reasons hold a package (``held_packages.reason``):

- ``pending_peer``: its sender's profile waits for a 管理员 to confirm the fingerprint
  read over the phone (:mod:`.trust`);
- ``clock_skew``: one of its stamps lies more than ``MAX_SKEW_MS`` (24 h) ahead of this
  PC's clock (:meth:`~desktop_app.core.store.versions.Clock.bound`): the sender's date is
  wrong, or this PC's is.

Nothing of a held package is applied. Its file is copied beside the store, in
``<store>.held/`` (folder 0700, files 0600, named by the package id — never by a
unit's name), so the USB stick can go, and recorded with its sender, reason and a
Chinese reason text. Importing it again is ``held`` again, not a second copy.

Each sender may have at most :data:`HELD_PER_SENDER` packages and
:data:`HELD_BYTES_PER_SENDER` bytes held at a time (by its node): a package beyond
either is refused (exit 2, nothing copied, nothing applied) until the ones held are
dealt with. A 管理员 may discard a held package (:func:`discard_held`, ``held --discard``;
audited); rejecting a pending profile discards that sender's held packages
(:func:`~.trust.reject_pending`).

Here: keeping (:func:`hold`), listing, discarding and releasing them; :mod:`.release`
applies them when their reason went away. A held package applied later ends in the same
state as if it had been applied when it came (the merge does not depend on arrival
order)::

    >>> REASON_NAMES["clock_skew"]
    '时间戳超前'
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import INPUT_PROBLEMS, StoreError
from ..store.versions import now_iso
from ..store.writes import Writer
from .package_file import PackageError

if TYPE_CHECKING:
    from ..store.database import Store
    from .package_file import OpenedPackage

REASON_NAMES = {"pending_peer": "发送单位待确认指纹", "clock_skew": "时间戳超前"}
HELD_PER_SENDER = 100               # packages held at once for one sending install
HELD_BYTES_PER_SENDER = 4 << 30     # their files together (a package volume is at most 512 MB)


@dataclass(frozen=True)
class HeldPackage:
    package_id: str
    source_node: str
    source_org: str
    seq_from: int | None
    seq_to: int | None
    reason: str          # pending_peer / clock_skew
    message: str         # the Chinese reason, as the import said it
    file: str            # the name it arrived under
    held: str            # when (ISO)

    @property
    def reason_text(self) -> str:
        return REASON_NAMES.get(self.reason, self.reason)

    def to_json(self) -> dict:
        return {"package_id": self.package_id, "source_node": self.source_node, "source_org": self.source_org,
                "seq_from": self.seq_from, "seq_to": self.seq_to, "reason": self.reason,
                "message": self.message, "file": self.file, "held": self.held}


def held_folder(store: Store) -> Path:
    """``<store>.held/`` beside the store file."""
    return Path(str(store.path) + ".held")


def _stored_name(package_id: str, content_id: str) -> str:
    safe = package_id if re.fullmatch(r"[0-9A-Za-z-]{1,64}", package_id) else content_id[:64]
    return f"{safe}.mstz"


def held_path(store: Store, package_id: str, content_id: str) -> Path:
    return held_folder(store) / _stored_name(package_id, content_id)


def hold(store: Store, opened: OpenedPackage, source_node: str, source_org: str, reason: str,
         message: str) -> bool:
    """Keep ``opened`` (already verified: signed by ``source_node``'s key, for this
    install) for later; returns False when it was held already (nothing done)."""
    m = opened.manifest
    row = store.conn.execute("SELECT sha256 FROM held_packages WHERE package_id = ?",
                             (m["package_id"],)).fetchone()
    if row is not None:
        if row[0] != opened.content_id:
            raise PackageError(f"{opened.path.name} 与已暂存的同编号数据包内容不同（可能被改动或伪造），已拒绝")
        return False
    _check_room(store, opened, source_node, source_org)
    folder = held_folder(store)
    folder.mkdir(mode=0o700, exist_ok=True)
    target = held_path(store, m["package_id"], opened.content_id)
    tmp = target.with_name(target.name + ".tmp")
    try:
        shutil.copyfile(opened.path, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"无法把 {opened.path.name} 暂存到 {folder}（{exc.strerror or exc}）；"
                         "数据包没有导入，请腾出磁盘空间后重试") from None
    try:
        with store.transaction():
            store.conn.execute(
                "INSERT INTO held_packages (package_id, source_node, source_org, seq_from, seq_to, reason, "
                "message, file, sha256, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (m["package_id"], source_node, source_org, m.get("seq_from"), m.get("seq_to"), reason,
                 message, opened.path.name, opened.content_id, now_iso()))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return True


def _check_room(store: Store, opened: OpenedPackage, node: str, org: str) -> None:
    """:raises PackageError: (exit 2) the sender already has as many packages or bytes held
    as :data:`HELD_PER_SENDER` / :data:`HELD_BYTES_PER_SENDER` allow."""
    held = list_held(store, node=node)
    size = sum(_size(held_file(store, h.package_id)) for h in held)
    adding = _size(opened.path)
    if len(held) < HELD_PER_SENDER and size + adding <= HELD_BYTES_PER_SENDER:
        return
    known = store.orgs.get(org)
    name = known.name if known else org
    raise PackageError(
        f"{opened.path.name}：本机已为{name}暂存了 {len(held)} 个数据包（共 {size / 2**20:,.0f} MB），"
        f"每个发送单位最多暂存 {HELD_PER_SENDER} 个、{HELD_BYTES_PER_SENDER >> 30} GB，这个数据包没有暂存，"
        "也没有导入。请先处理已暂存的数据包（确认指纹，或由管理员丢弃不要的），再重新导入它")


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0


def list_held(store: Store, *, node: str | None = None) -> list[HeldPackage]:
    """The held packages (of one sender node), in the order they would be applied."""
    sql = ("SELECT package_id, source_node, source_org, seq_from, seq_to, reason, message, file, held "
           "FROM held_packages")
    args: tuple = ()
    if node is not None:
        sql += " WHERE source_node = ?"
        args = (node,)
    rows = store.conn.execute(sql + " ORDER BY source_node, seq_from IS NULL, seq_from, held, package_id", args)
    return [HeldPackage(*r) for r in rows]


def held_file(store: Store, package_id: str) -> Path | None:
    """The kept copy of a held package, or None when it is not held."""
    row = store.conn.execute("SELECT sha256 FROM held_packages WHERE package_id = ?", (package_id,)).fetchone()
    return None if row is None else held_path(store, package_id, row[0])


def discard_held(store: Store, package_id: str, *, why: str = "discard_held") -> HeldPackage:
    """A 管理员 throws a held package away (its record and copy go; audited, with its
    sender, numbers and reason). Returns what it was.

    :raises StoreError: (exit 1) no package of that id is held.
    """
    store.require("admin")
    package = next((p for p in list_held(store) if p.package_id == package_id), None)
    if package is None:
        raise StoreError(f"没有编号为 {package_id} 的暂存数据包（held 列出暂存的数据包及其编号）", INPUT_PROBLEMS)
    path = held_file(store, package_id)
    with store.transaction():
        forget(store, [package], why)
    path.unlink(missing_ok=True)
    return package


def forget(store: Store, packages: list[HeldPackage], why: str) -> None:
    """Drop the records of ``packages`` and audit it (inside the caller's transaction; the
    caller deletes the copies after it commits)."""
    writer = Writer(store, source=f"held:{why}")
    for p in packages:
        store.conn.execute("DELETE FROM held_packages WHERE package_id = ?", (p.package_id,))
        writer.note(why, detail={"package_id": p.package_id, "file": p.file, "source_org": p.source_org,
                                 "source_node": p.source_node, "seq_from": p.seq_from, "seq_to": p.seq_to,
                                 "reason": p.reason})


def release(store: Store, package_id: str) -> None:
    """Forget a held package and its copy (it was imported, or refused for good)."""
    path = held_file(store, package_id)
    if path is not None:
        with store.transaction():
            store.conn.execute("DELETE FROM held_packages WHERE package_id = ?", (package_id,))
        path.unlink(missing_ok=True)
