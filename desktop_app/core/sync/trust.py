"""Whom this install trusts: one active key per org, and profiles waiting for a phone check.

A profile whose key this install does not already trust — a new peer, a changed key
for a known org, or a **replacement PC** (a new install, hence a new node id, for
the same org) — is not trusted on import: it is *pending*
(``import_profile`` → ``{"status": "pending"}``), and its packages are held
(:mod:`.held`), copied beside the store so the USB stick can go. A 管理员 phones
the sending unit, has the fingerprint read out and types it in
(:func:`~.release.confirm_peer`; spaces and dashes ignored). Only then the peer becomes
active, the key it replaces is retired, and its held packages are applied in the
order of their numbers. A key rotation signed by the key already trusted
(``profile rotate``) needs no new phone check (see :mod:`.profiles`).

Refused outright, never pending: a profile claiming this install's own org, and one
reusing the node id of an install known for another org. A second pending profile
for an org (another key) does not replace one that has packages held: the 管理员
confirms or rejects the first (:func:`~.release.reject_peer`; its held packages are
discarded) before the second can be imported.

**Replacing an office PC.** The new install starts a new package chain from 1
(its node id is new). When its fingerprint is confirmed, the old install's peer
entry is marked replaced (``replaced_by``), with the last of its numbers received
so far (``chain_end``). From then on the old node's gaps are no longer reported;
the sync centre lists it as 已更换电脑, and the confirmation says up to which number
the old chain runs. A package still in flight from the old PC is accepted when it is
signed by the old key and its numbers are all at most ``chain_end`` and not received
yet (it fills a gap of the old chain). Anything numbered beyond ``chain_end`` is
refused, even when the old PC wrote it before it was replaced (the receiver cannot
tell; the old PC's key may be why it was replaced): the refusal names the unit and
the chain's end, and says to key the data in again on the new PC. So: import the old
PC's last packages *before* confirming the new one. A changed key for the *same* node (a reinstall keeping
its id) keeps the old key the same way, for that node's numbers up to then.

    >>> normalise_fingerprint(" 6668 7aad-F862—BD77 ")
    '66687AADF862BD77'
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import INPUT_PROBLEMS, StoreError, UserError
from ..catalog.orgs import LEVEL_NAMES, load_tree
from ..store.crypto import spaced_fingerprint, unb64
from ..store.versions import now_iso

if TYPE_CHECKING:
    from ..store.database import Store
    from .profiles import Profile


class FingerprintMismatch(UserError):
    """The fingerprint typed in is not the pending profile's (exit 1)."""

    exit_code = INPUT_PROBLEMS


def normalise_fingerprint(text: str) -> str:
    """The hex digits of a fingerprint as typed: spaces and dashes of any width dropped."""
    return re.sub(r"[\s\-‐‑‒–—―－]", "", text or "").upper()


@dataclass(frozen=True)
class PendingPeer:
    org: str
    org_name: str
    level: str          # 镇级 …
    node: str
    fingerprint: str
    since: str          # when its profile was imported (ISO)
    held: int           # its packages held, waiting
    replaces: str | None    # 新电脑 (another node of the org is active), 新密钥 (the same node), or None

    def to_json(self) -> dict:
        return {"org": self.org, "name": self.org_name, "level": self.level, "node": self.node,
                "fingerprint": self.fingerprint, "since": self.since, "held": self.held, "replaces": self.replaces}


def record_pending(store: Store, profile: Profile, raw: str) -> None:
    """Keep ``profile`` (its signed file ``raw``) as the org's pending profile (a newer
    pending one for the same org takes its place); inside the caller's transaction."""
    body = profile.body
    store.conn.execute(
        "INSERT OR REPLACE INTO pending_peers (org, node, org_name, level, suite, sign_key, fingerprint, "
        "profile, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (profile.org, profile.node, str(body.get("org_name", profile.org))[:100], profile.level, body["suite"],
         body["sign_key"], profile.fingerprint, raw, now_iso()))


def pending_node(store: Store, node: str) -> tuple[str, bytes, str] | None:
    """(org, signing key, suite) of a pending profile with this node, or None."""
    row = store.conn.execute("SELECT org, sign_key, suite FROM pending_peers WHERE node = ?", (node,)).fetchone()
    return None if row is None else (row[0], unb64(row[1]), row[2])


def pending_peers(store: Store) -> list[PendingPeer]:
    """The profiles waiting for a fingerprint check, with their held packages counted."""
    tree = load_tree(store.conn)
    out = []
    for org, node, name, level, fp, since in store.conn.execute(
            "SELECT org, node, org_name, level, fingerprint, since FROM pending_peers ORDER BY since, org"):
        known = tree.get(org)
        held = store.conn.execute("SELECT COUNT(*) FROM held_packages WHERE source_node = ?", (node,)).fetchone()[0]
        active = store.conn.execute("SELECT node FROM peers WHERE org = ? AND status = 'active'", (org,)).fetchone()
        replaces = None if active is None else ("新密钥" if active[0] == node else "新电脑")
        out.append(PendingPeer(org, known.name if known else name, f"{LEVEL_NAMES.get(level, level)}级", node,
                               spaced_fingerprint(fp),
                               since, held, replaces))
    return out


def pending_profile(store: Store, org: str) -> tuple[str, str]:
    """(org code, signed profile JSON) of the pending profile for ``org`` (a code or name).

    :raises StoreError: (exit 1) none is pending for it.
    """
    tree = load_tree(store.conn)
    for code, name, raw in store.conn.execute("SELECT org, org_name, profile FROM pending_peers"):
        known = tree.get(code)
        if org in (code, name, known.name if known else None):
            return code, raw
    waiting = "、".join(p.org_name for p in pending_peers(store)) or "没有"
    raise StoreError(f"{org} 没有待确认的配置文件（待确认的：{waiting}）；请先导入它的配置文件", INPUT_PROBLEMS)


def active_peer(store: Store, org: str) -> tuple[str, str, str] | None:
    """(org code, unit name, fingerprint) of the confirmed, active peer for ``org`` (a code
    or name), or None."""
    tree = load_tree(store.conn)
    for code, fp in store.conn.execute("SELECT org, fingerprint FROM peers WHERE status = 'active'"):
        known = tree.get(code)
        if org in (code, known.name if known else None):
            return code, known.name if known else code, spaced_fingerprint(fp)
    return None


def check_fingerprint(name: str, typed: str, actual: str) -> None:
    """:raises FingerprintMismatch: when ``typed`` (spaces and dashes ignored) is not ``actual``."""
    if normalise_fingerprint(typed) != normalise_fingerprint(actual):
        raise FingerprintMismatch(
            f"输入的指纹与{name}配置文件的指纹不符，没有确认。请再与{name}电话核对：请对方在"
            "“同步中心 → 单位与配置文件”读出本机指纹；若仍不符，这个配置文件可能是伪造的，请不要确认")
