"""Applying held packages once their reason went away (see :mod:`.held`).

- :func:`confirm_peer`: a 管理员 typed the fingerprint read over the phone; the peer is
  trusted (:func:`~.profiles.confirm_pending`) and its held packages are applied;
- :func:`retry_held`: the held packages that can be applied now (a confirmed peer, or
  this PC's clock caught up with their stamps), in the order of their numbers;
- :func:`accept_held`: a 管理员 applies one package held for its clock;
- :func:`reject_peer`: a 管理员 rejects a pending profile (the fingerprint read over the
  phone did not match, or nobody sent it); the packages held for it are **discarded**:
  they were signed by the rejected key, which nothing will ever trust, so keeping them
  would only fill the disk. The sender sends them again (``export-package --resend``)
  once its right profile is confirmed.

Each applied (or refused for good) package is released: its record and copy go::

    >>> from desktop_app.core.sync.held import REASON_NAMES
    >>> sorted(REASON_NAMES)
    ['clock_skew', 'pending_peer']
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..errors import StoreError
from ..store.backup import BackupOnce
from ..store.writes import Writer
from .held import HeldPackage, forget, held_file, list_held, release
from .incoming import ImportSummary, import_package
from .package_file import PackageError
from .profiles import confirm_pending, parse_profile
from .trust import active_peer, check_fingerprint, pending_profile

if TYPE_CHECKING:
    from pathlib import Path

    from ..store.database import Store


def confirm_peer(store: Store, org: str, fingerprint: str) -> dict:
    """Trust the pending profile of ``org`` (a code or name) once the fingerprint read
    over the phone matches (管理员; spaces and dashes ignored), then apply its held
    packages.

    Returns ``{"org", "org_name", "node", "fingerprint", "replaced", "catalog_adopted",
    "orgs_added", "old_chain_end", "applied": [the import summaries' JSON], "already"}``
    (``old_chain_end``: for a replacement PC, the old PC's last number taken); ``already`` is
    True (nothing done) when the org is confirmed already with that fingerprint and
    nothing of it is pending.

    :raises FingerprintMismatch: (exit 1) the fingerprint typed is not the profile's (or,
        for an org confirmed already, not the confirmed one); nothing changes.
    :raises StoreError: (exit 1) no profile of that org is pending.
    """
    store.require("admin")
    confirmed = active_peer(store, org)
    if confirmed is not None and not store.conn.execute("SELECT 1 FROM pending_peers WHERE org = ?",
                                                         (confirmed[0],)).fetchone():
        code, name, fp = confirmed
        check_fingerprint(name, fingerprint, fp)
        return {"org": code, "org_name": name, "node": None, "fingerprint": fp, "replaced": None,
                "catalog_adopted": False, "orgs_added": 0, "old_chain_end": None, "applied": [], "already": True}
    profile, replaced, result = confirm_pending(store, org, fingerprint)
    applied = retry_held(store, node=profile.node)
    known = store.orgs.get(profile.org)
    return {"org": profile.org, "org_name": known.name if known else profile.body.get("org_name", profile.org),
            "node": profile.node, "fingerprint": profile.fingerprint, "replaced": replaced, **result,
            "applied": [s.to_json() for s in applied], "already": False}


def reject_peer(store: Store, org: str) -> dict:
    """Reject the pending profile of ``org`` (a code or name; 管理员): it is forgotten and
    the packages held for it are discarded (see the module's notes), in one transaction,
    audited.

    Returns ``{"org", "org_name", "node", "fingerprint", "discarded": [held packages' JSON]}``.

    :raises StoreError: (exit 1) no profile of that org is pending.
    """
    store.require("admin")
    code, raw = pending_profile(store, org)
    profile = parse_profile(raw)
    held = [h for h in list_held(store, node=profile.node) if h.reason == "pending_peer"]
    copies = [held_file(store, h.package_id) for h in held]
    with store.transaction():
        store.conn.execute("DELETE FROM pending_peers WHERE org = ?", (code,))
        forget(store, held, "reject_peer")
        Writer(store, source="profile:reject").note("reject_peer", detail={
            "org": code, "node": profile.node, "fingerprint": profile.fingerprint,
            "discarded": [h.package_id for h in held]})
    for path in copies:
        if path is not None:
            path.unlink(missing_ok=True)
    known = store.orgs.get(code)
    return {"org": code, "org_name": known.name if known else profile.body.get("org_name", code),
            "node": profile.node, "fingerprint": profile.fingerprint, "discarded": [h.to_json() for h in held]}


def retry_held(store: Store, *, node: str | None = None) -> list[ImportSummary]:
    """Import the held packages (of one sender) that can be applied now, in package-number
    order; the ones still held stay, untouched. Returns the summaries of those applied
    or refused."""
    store.require("edit")
    out: list[ImportSummary] = []
    once = BackupOnce(store, "package")       # one backup, before the first package that writes
    for package in list_held(store, node=node):
        summary = _try(store, package, lambda path: import_package(store, path, before_write=once.before_write))
        if summary is not None:
            out.append(summary)
    return out


def accept_held(store: Store, package_id: str) -> ImportSummary:
    """Apply a package held for its clock although its stamps are ahead (管理员).

    Stamps ahead of what this install's clock may adopt (``MAX_ADOPT_MS`` past its wall
    clock) are brought down to that, so the rows it keeps and passes on are not held again
    further up; its own clock never moves further. Use it only after
    checking with the sender that its data is right and only its date was wrong —
    otherwise ask the sender to correct the date and send again.

    :raises StoreError: (exit 1) no such held package, or it waits for a fingerprint check.
    """
    store.require("admin")
    package = next((p for p in list_held(store) if p.package_id == package_id), None)
    if package is None:
        raise StoreError(f"没有编号为 {package_id} 的暂存数据包", 1)
    if package.reason != "clock_skew":
        raise StoreError(f"{package.file} 在等待确认发送单位的指纹，请先确认指纹（profile confirm）", 1)
    summary = _try(store, package, lambda path: import_package(store, path, allow_skew=True))
    if summary is None:
        raise StoreError(f"{package.file} 仍然不能导入", 1)
    return summary


def _try(store: Store, package: HeldPackage, run: Callable[[Path], ImportSummary]) -> ImportSummary | None:
    """Import one held package; released when imported (or imported before) or refused for
    good; None while it stays held. A disk full or the like is raised and it stays."""
    try:
        summary = run(held_file(store, package.package_id))
    except PackageError as exc:
        summary = ImportSummary(package.file, "refused", message=str(exc), package_id=package.package_id,
                                source_org=package.source_org)
    if summary.status == "held":
        return None
    release(store, package.package_id)
    summary.file = package.file
    return summary
