"""Profiles: an install's org unit, level and public keys, in one signed file.

The district's profile also carries the org tree, the catalog itself (so next
year's plan reaches every town this way), the person-id namespace and the
per-town quotas; a town's profile carries its villages. A town starts from the
district's profile (``init --profile``); the district imports each town's
profile, which stays *pending* until a 管理员 confirms the fingerprint read over
the phone (:mod:`.trust`). A newer profile signed by the same key replaces the
older one; a different key for a known org is pending again.

**Own-key rotation** (:func:`rotate_keys`, ``profile rotate``): an install makes a
new signing key and a new encryption key and writes its profile with them. The
profile carries a *rotation statement* — this install's node, the old signing key,
the new keys — signed by the **old** signing key, so a receiver can chain trust
from the key it already trusts. The statements travel in every later profile of
the install (the last :data:`MAX_CHAIN`), so a profile exported again later still
chains, and a receiver that missed one rotation follows the chain through it.

The trust rule on the receiving side (:func:`import_profile`): a changed key is
accepted **without** a new phone check only when every step from the key this
install trusts for that node to the profile's key is a rotation statement signed
by the key before it; the result is ``rotated`` and shows the new fingerprint
(and the old one). Anything else — a reinstall, a replacement PC, a forged file,
a broken chain — is ``pending`` until a 管理员 confirms its fingerprint. A profile under a
key that a rotation already replaced is ``older`` and never brings it back.

Packages in flight keep working both ways. The rotating install keeps its old
decryption keys (the last :data:`KEEP_RETIRED`, in the settings inside the store)
and opens a package sealed to any of them: a sender keeps sealing to the key it
knows until it imports the new profile. A receiver that accepted a rotation keeps
the old signing key with the sender's package number at rotation time and takes a
package signed by it only if that package was numbered before the rotation and
none of its numbers has arrived yet (:func:`signed_before_rotation`); anything
later must be signed by the new key.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..catalog.idnumbers import fold
from ..catalog.orgs import LEVEL_NAMES, PARENT_LEVEL, Org, code_problem, file_label, name_problem
from ..errors import StoreError, UserError
from ..store.crypto import SUITES, CryptoError, b64, fingerprint, spaced_fingerprint, unb64
from ..store.database import Store
from ..store.versions import now_iso
from ..store.writes import Writer
from .package_file import OpenedPackage, canonical, strict_json
from .trust import check_fingerprint, pending_profile, record_pending

FORMAT = "minsheng-profile"
MAX_PROFILE_BYTES = 4 << 20   # a real district's is ~0.2 MB (the plan, its units)
MAX_UNITS = 5000              # units a profile may list (a district has tens of towns, hundreds of villages)
MAX_NAME = 40            # characters of a unit's name read from a profile
SUFFIX = ".msprofile"
ROTATION_FORMAT = "minsheng-key-rotation"
MAX_CHAIN = 8            # rotation statements a profile carries (the newest)
KEEP_RETIRED = 4         # old own decryption keys, and old signing keys per peer, kept
ROTATIONS = "key_rotations"          # settings: this install's rotation statements, oldest first
RETIRED_ENC_KEYS = "retired_enc_keys"  # settings: this install's old decryption keys, newest first
RETIRED_PEER_KEYS = "retired_peer_keys"  # settings: peers' old signing keys, by node


class ProfileError(UserError):
    """The profile file cannot be used (exit 2)."""


@dataclass
class Profile:
    body: dict

    @property
    def node(self) -> str:
        return self.body["node"]

    @property
    def org(self) -> str:
        return self.body["org"]

    @property
    def level(self) -> str:
        return self.body["level"]

    @property
    def sign_key(self) -> bytes:
        return unb64(self.body["sign_key"])

    @property
    def enc_key(self) -> bytes:
        return unb64(self.body["enc_key"])

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sign_key)

    def orgs(self) -> list[Org]:
        return [Org(o["code"], o["name"], o["level"], o.get("parent"), tuple(o.get("aliases", ())))
                for o in self.body.get("orgs", [])]


def make_profile(store: Store) -> dict:
    """This install's signed profile (a JSON-ready dict); its rotation statements
    (if it ever rotated its keys) travel with it."""
    keys = store.keys()
    node = store.node
    tree = store.orgs
    own = tree.get(node.org)
    body = {
        "format": FORMAT, "version": 1,
        # microseconds: a newer profile made in the same second must still count as newer
        "created": dt.datetime.now().isoformat(timespec="microseconds"), "node": node.id, "org": node.org,
        "org_name": own.name, "level": node.level, "suite": store.suite,
        "sign_key": b64(keys.sign_public), "enc_key": b64(keys.enc_public),
    }
    up = [o for o in tree if tree.is_within(node.org, o.code) and o.code != node.org]
    below = tree.below(node.org)
    body["orgs"] = [o.to_json() for o in up + [own] + below]
    if node.level in ("district", "town"):  # the plan travels down, through the towns to villages
        body["catalog"] = json.loads(store.setting("catalog"))
        body["person_namespace"] = store.setting("person_namespace")
        # the district's counting choices (standards' dates, rotation, lists, lead units), passed on by towns
        body["district_choices"] = json.loads(store.setting("district_choices") or "{}")
    if node.level == "district":
        body["quotas"] = [{"indicator": i, "org": o, "target": t} for (i, o), t in store.quotas().items()]
    rotations = _settings_json(store, ROTATIONS, [])
    if rotations:
        body["key_rotations"] = rotations[-MAX_CHAIN:]
    signature = SUITES[store.suite].sign(keys.sign_private, canonical(body))
    return {"profile": body, "signature": b64(signature)}


def _profile_path(store: Store, out: Path | str) -> Path:
    out = Path(out)
    if out.is_dir():
        name = file_label(store.orgs.get(store.node.org), store.node.org)
        out = out / f"{name}_{store.node.org}_配置{SUFFIX}"
    return out


def export_profile(store: Store, out: Path | str) -> Path:
    """Write the profile to ``out`` (a folder: a file named after the unit is made in it)."""
    store.require("admin")
    out = _profile_path(store, out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(make_profile(store), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, out)
    return out


def _settings_json(store: Store, key: str, default):
    text = store.setting(key)
    return default if text is None else json.loads(text)


@dataclass(frozen=True)
class Rotation:
    """What :func:`rotate_keys` did: the new profile and the fingerprints before and after."""

    path: Path
    fingerprint: str
    previous_fingerprint: str

    def to_json(self) -> dict:
        return {"path": str(self.path), "fingerprint": self.fingerprint,
                "previous_fingerprint": self.previous_fingerprint}


def rotate_keys(store: Store, out: Path | str) -> Rotation:
    """Replace this install's signing and encryption keys (管理员); write the new profile
    to ``out`` (a file, or a folder as for :func:`export_profile`); audited.

    The new profile carries a rotation statement signed by the old signing key (see
    the module's notes), so receivers that trust the old key accept the new one after
    the usual fingerprint check; the old decryption key is kept for packages sealed to
    it that are still on their way. The keys change and the file is written together:
    if the file cannot be written nothing changes. (Should the file be lost later,
    ``profile export`` writes one that chains just the same.)

    :raises PermissionDenied: for a role other than 管理员.
    :raises StoreError: when the file cannot be written.
    """
    store.require("admin")
    out = _profile_path(store, out)
    suite_name = store.suite
    suite = SUITES[suite_name]
    old, new = store.keys(), suite.new_keys()
    sent = {dest: seq for dest, seq in store.conn.execute("SELECT dest, last_seq FROM outbox")}
    statement = {"format": ROTATION_FORMAT, "node": store.node.id, "org": store.node.org,
                 "suite": suite_name, "created": dt.datetime.now().isoformat(timespec="microseconds"),
                 "previous_sign_key": b64(old.sign_public), "sign_key": b64(new.sign_public),
                 "enc_key": b64(new.enc_public), "sent": sent}
    entry = {"statement": statement, "signature": b64(suite.sign(old.sign_private, canonical(statement)))}
    retired = [{"enc_private": b64(old.enc_private), "enc_public": b64(old.enc_public),
                "retired": now_iso()}] + _settings_json(store, RETIRED_ENC_KEYS, [])
    rotations = _settings_json(store, ROTATIONS, []) + [entry]
    before, after = fingerprint(old.sign_public), fingerprint(new.sign_public)
    tmp = out.with_name(out.name + ".tmp")
    try:
        try:
            with store.transaction():   # the file is written before the keys are committed
                store.set_settings({
                    "sign_private": b64(new.sign_private), "sign_public": b64(new.sign_public),
                    "enc_private": b64(new.enc_private), "enc_public": b64(new.enc_public),
                    RETIRED_ENC_KEYS: json.dumps(retired[:KEEP_RETIRED]),
                    ROTATIONS: json.dumps(rotations[-MAX_CHAIN:], ensure_ascii=False)})
                Writer(store, source=f"profile:{out.name}").note(
                    "rotate_keys", detail={"previous_fingerprint": before, "fingerprint": after})
                tmp.write_text(json.dumps(make_profile(store), ensure_ascii=False, indent=1),
                               encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"无法写入配置文件 {out.name}（{exc.strerror or exc}）；本机密钥没有更换。"
                             "请换一个文件夹（例如 U 盘）重试") from None
        try:
            os.replace(tmp, out)
        except OSError as exc:
            raise StoreError(f"本机密钥已更换，但无法写入配置文件 {out.name}（{exc.strerror or exc}）；"
                             "请用“导出本机配置文件”重新导出，新的配置文件同样带着换钥声明") from None
    finally:
        tmp.unlink(missing_ok=True)
    return Rotation(out, after, before)


def retired_enc_keys(store: Store) -> list[bytes]:
    """This install's old decryption keys, newest first (for packages sealed to them)."""
    return [unb64(k["enc_private"]) for k in _settings_json(store, RETIRED_ENC_KEYS, [])]


def _rotation_steps(profile: Profile, node: str, trusted: str) -> list[dict] | None:
    """The rotation statements leading from ``trusted`` (b64 signing key) to the
    profile's keys, each signed by the key before it; None when there is no such chain."""
    rotations = profile.body.get("key_rotations")
    if profile.node != node or type(rotations) is not list or len(rotations) > MAX_CHAIN:
        return None
    suite = SUITES[profile.body["suite"]]
    key, steps = trusted, []
    try:
        for entry in rotations:   # oldest first
            statement, signature = entry["statement"], unb64(entry["signature"])
            if not (type(statement) is dict and statement.get("format") == ROTATION_FORMAT
                    and all(type(statement.get(k)) is str for k in (
                        "node", "org", "suite", "created", "previous_sign_key", "sign_key", "enc_key"))):
                return None
            if statement["previous_sign_key"] != key:
                if steps:
                    return None          # the chain breaks after the key we trust
                continue                 # a rotation before the key we trust
            if (statement["node"] != profile.node or statement["org"] != profile.org
                    or statement["suite"] != profile.body["suite"]
                    or not suite.verify(unb64(key), signature, canonical(statement))):
                return None
            steps.append(statement)
            key = statement["sign_key"]
    except (KeyError, TypeError, CryptoError):
        return None
    if not steps or key != profile.body["sign_key"] or steps[-1]["enc_key"] != profile.body["enc_key"]:
        return None
    return steps


def _retired_peer_keys(store: Store) -> dict[str, list[dict]]:
    return _settings_json(store, RETIRED_PEER_KEYS, {})


def remember_retired(store: Store, node: str, steps: list[dict]) -> None:
    """Keep the signing keys a rotation replaced, each with the number of the last
    package the sender had made for this install before it (for packages in flight)."""
    known = _retired_peer_keys(store)
    mine = store.node.id
    for step in steps:
        sent = step.get("sent")
        up_to = sent.get(mine) if type(sent) is dict else None
        known.setdefault(node, []).insert(0, {
            "sign_key": step["previous_sign_key"],
            "up_to": up_to if type(up_to) is int and up_to >= 0 else 0, "retired": now_iso()})
    known[node] = known[node][:KEEP_RETIRED]
    store.set_setting(RETIRED_PEER_KEYS, json.dumps(known))


def signed_before_rotation(store: Store, node: str, opened: OpenedPackage) -> bool:
    """Whether ``opened`` is signed by a key that ``node`` rotated away from, and was made
    before that rotation: every package number it covers is at most the last number the
    sender had made for us then, and none of them has arrived yet (or it is the very
    package already imported). A further volume (attached files only) goes with its
    first volume. Anything else needs the sender's current key."""
    m = opened.manifest
    verify = SUITES[m["suite"]].verify
    seen = store.conn.execute("SELECT sha256 FROM packages WHERE package_id = ? AND direction = 'in' "
                              "AND source = ?", (m["package_id"], node)).fetchone()
    for old in _retired_peer_keys(store).get(node, []):
        try:
            if not verify(unb64(old["sign_key"]), opened.signature, opened.manifest_bytes):
                continue
        except CryptoError:
            continue
        if seen is not None:
            return seen[0] == opened.content_id
        if m["seq_from"] is None:    # a further volume: its package came before the rotation
            first = store.conn.execute(
                "SELECT seq_to FROM packages WHERE package_id = ? AND direction = 'in' AND source = ?",
                (m.get("volume_of"), node)).fetchone()
            return first is not None and first[0] is not None and first[0] <= old["up_to"]
        if m["seq_to"] > old["up_to"]:
            return False
        received = store.conn.execute("SELECT 1 FROM received WHERE source = ? AND seq BETWEEN ? AND ?",
                                      (node, m["seq_from"], m["seq_to"])).fetchone()
        return received is None
    return False


def read_profile(path: Path | str) -> Profile:
    """Read and check a profile file (its self-signature).

    :raises ProfileError: naming the file and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"找不到配置文件 {path}")
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise ProfileError(f"{path.name} 过大，不是本程序的配置文件")
    return parse_profile(path.read_bytes(), path.name)


def parse_profile(data: bytes | str, name: str = "配置文件") -> Profile:
    """A profile from the file's content (as read, or as kept for a pending peer), its
    self-signature checked.

    :raises ProfileError: naming ``name`` and what is wrong.
    """
    unusable = ProfileError(f"{name} 不是本程序的配置文件，或已损坏")
    try:
        data = strict_json(data)
        body, signature = data["profile"], unb64(data["signature"])
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, UserError):
        raise unusable from None
    if not (isinstance(body, dict) and body.get("format") == FORMAT and body.get("suite") in SUITES
            and all(isinstance(body.get(k), str) for k in ("node", "org", "level", "sign_key",
                                                            "enc_key", "created"))
            and body["level"] in LEVEL_NAMES):
        raise unusable
    suite = SUITES[body["suite"]]
    profile = Profile(body)
    if not suite.verify(profile.sign_key, signature, canonical(body)):
        raise ProfileError(f"{name} 的签名不对：文件被改动过，请向发出单位重新索取")
    wrong = _orgs_problem(body)
    if wrong:
        raise ProfileError(f"{name} 不是本程序的配置文件，或已损坏（{wrong}）；请向发出单位重新索取")
    return profile


def _orgs_problem(body: dict) -> str | None:
    """What is wrong with a profile's unit name and unit list, or None. Every entry has a
    code of digits, a name of one short line (a name is shown in dialogs and read over the
    phone, so a signed file may not carry a paragraph there), a known level; parent and
    aliases as this program writes them::

        >>> _orgs_problem({"org_name": "河坝镇", "orgs": [
        ...     {"code": "430971121", "name": "河坝镇", "level": "town", "parent": "430971"}]})
        >>> _orgs_problem({"org_name": "河坝镇", "orgs": [{"name": "无代码", "level": "village"}]})
        '单位名单第 1 项没有代码'
        >>> _orgs_problem({"org_name": "河坝镇" + "（已核对）" * 9, "orgs": []})
        '单位名称过长（最多 40 个字）'
        >>> _orgs_problem({"org_name": "河坝镇", "orgs": [{}] * 140_000})
        '单位名单有 140000 项，超过一个区可能有的 5000 个单位'
    """
    def name_wrong(text) -> str | None:
        if isinstance(text, str) and len(text) > MAX_NAME:
            return f"单位名称过长（最多 {MAX_NAME} 个字）"
        return name_problem(text)

    wrong = name_wrong(body.get("org_name", "单位"))
    if wrong:
        return wrong
    orgs = body.get("orgs", [])
    if not isinstance(orgs, list):
        return "单位名单格式不对"
    if len(orgs) > MAX_UNITS:
        return f"单位名单有 {len(orgs)} 项，超过一个区可能有的 {MAX_UNITS} 个单位"
    for n, o in enumerate(orgs, 1):
        if not isinstance(o, dict):
            return f"单位名单第 {n} 项格式不对"
        code, parent, aliases = o.get("code"), o.get("parent"), o.get("aliases", [])
        if code is None:
            return f"单位名单第 {n} 项没有代码"
        if not (type(code) is str and code.isascii() and code.isdigit() and len(code) <= 12):
            return f"单位名单第 {n} 项的代码不是数字"
        wrong = name_wrong(o.get("name"))
        if wrong:
            return f"单位名单第 {n} 项：{wrong}"
        if o.get("level") not in LEVEL_NAMES:
            return f"单位名单第 {n} 项的级别不对"
        if parent is not None and not (type(parent) is str and parent.isascii() and parent.isdigit()):
            return f"单位名单第 {n} 项的上级代码不是数字"
        if not isinstance(aliases, list) or any(name_wrong(a) for a in aliases):
            return f"单位名单第 {n} 项的别名不对"
    return None


def import_profile(store: Store, path: Path | str) -> dict:
    """Register the install a profile describes, and learn what it carries — or, for a
    key this install does not trust yet, keep it pending (see :mod:`.trust`).

    Returns ``{"status": pending|updated|unchanged|older|rotated, "org", "org_name",
    "level", "fingerprint", "catalog_adopted", "orgs_added"}`` (``rotated`` also gives
    ``previous_fingerprint``; ``pending`` gives ``replaces``: 新电脑 / 新密钥 / None).

    ``pending``: a new org, a changed key no rotation chains to, or another node for a
    known org (a replacement PC); nothing of it is used until a 管理员 confirms its
    fingerprint (:func:`~.trust.confirm_peer`). ``rotated``: the profile's rotation
    statements chain from the key trusted now (see the module's notes); ``older``: a
    key a rotation already replaced. A newer profile under the trusted key updates.

    :raises ProfileError: the file cannot be used; it is this install's own, claims this
        install's org, or reuses the node id of another org's install.
    """
    store.require("admin")
    path = Path(path)
    profile = read_profile(path)
    if profile.node == store.node.id:
        raise ProfileError(f"{path.name} 是本机自己的配置文件；请导入上级或下级单位发来的配置文件")
    conn = store.conn
    own = store.orgs.get(store.node.org)
    name = profile.body.get("org_name", profile.org)
    if profile.org == store.node.org:
        raise ProfileError(f"{path.name} 自称是本单位（{own.name}）的配置文件，但本机就是{own.name}，已拒绝。"
                           "这个文件可能是伪造的：请向发出单位核实，不要导入")
    other = conn.execute("SELECT org FROM peers WHERE node = ? AND org <> ? UNION "
                         "SELECT org FROM pending_peers WHERE node = ? AND org <> ?",
                         (profile.node, profile.org, profile.node, profile.org)).fetchone()
    if other is not None:
        known = store.orgs.get(other[0])
        raise ProfileError(f"{path.name}（{name}）使用的安装编号已属于{known.name if known else other[0]}，"
                           "已拒绝。一个安装只能属于一个单位；这个文件可能是伪造的，请向发出单位核实")
    new_units(store, profile)          # a unit below may not teach units beyond it: refused before anything
    current = conn.execute("SELECT node, sign_key, profile_created FROM peers WHERE org = ? AND "
                           "status = 'active'", (profile.org,)).fetchone()
    result = {"org": profile.org, "org_name": name, "level": profile.level,
              "fingerprint": profile.fingerprint, "catalog_adopted": False, "orgs_added": 0}
    steps = None
    if current and current[1] != profile.body["sign_key"]:
        if any(old["sign_key"] == profile.body["sign_key"]
               for old in _retired_peer_keys(store).get(current[0], [])):
            return result | {"status": "older"}
        steps = _rotation_steps(profile, current[0], current[1])
    trusted = current is not None and current[0] == profile.node and (
        current[1] == profile.body["sign_key"] or steps)
    if not trusted:
        _keep_earlier_pending(store, profile, path.name)
        with store.transaction():
            record_pending(store, profile, path.read_text(encoding="utf-8"))
        replaces = None if current is None else ("新密钥" if current[0] == profile.node else "新电脑")
        return result | {"status": "pending", "replaces": replaces}
    with store.transaction():
        if steps:
            result["status"] = "rotated"
            result["previous_fingerprint"] = fingerprint(unb64(current[1]))
            remember_retired(store, current[0], steps)
        elif profile.body["created"] > current[2]:
            result["status"] = "updated"
        else:
            result["status"] = "unchanged" if profile.body["created"] == current[2] else "older"
            return result
        result.update(register_peer(store, profile))
    return result


def _keep_earlier_pending(store: Store, profile: Profile, file_name: str) -> None:
    """A pending profile of the same org under another key, with packages held for it, is
    not replaced (its packages could then never be checked): the 管理员 confirms or rejects
    it first.

    :raises ProfileError: (exit 2) such a profile is pending.
    """
    row = store.conn.execute("SELECT node, sign_key, fingerprint, org_name FROM pending_peers WHERE org = ?",
                             (profile.org,)).fetchone()
    if row is None or (row[0] == profile.node and row[1] == profile.body["sign_key"]):
        return
    held = store.conn.execute("SELECT COUNT(*) FROM held_packages WHERE source_node = ? AND reason = 'pending_peer'",
                              (row[0],)).fetchone()[0]
    if held:
        known = store.orgs.get(profile.org)
        name = known.name if known else row[3]
        raise ProfileError(
            f"{file_name}：{name}已有一个待确认的配置文件（指纹 {spaced_fingerprint(row[2])}），暂存着它的 {held} 个数据包；"
            f"这个新的配置文件（指纹 {profile.fingerprint}）没有导入。请先与{name}电话核对指纹："
            f"确认原来那个（profile confirm），或拒绝它（profile reject，它暂存的数据包随之丢弃），再导入这个")


def confirm_pending(store: Store, org: str, typed: str) -> tuple[Profile, str | None, dict]:
    """Activate the pending profile of ``org`` when ``typed`` is its fingerprint (管理员), in
    one transaction: the org's previous key is retired (see :mod:`.trust` on a replacement
    PC), the peer registered, audited. Returns (profile, the node it replaced or None,
    :func:`register_peer`'s result and ``old_chain_end``: for a replacement PC, the last
    number of the old PC's chain, else None). Held packages are not touched here
    (:mod:`.release`).

    :raises FingerprintMismatch: (exit 1) nothing changes.
    :raises StoreError: (exit 1) nothing of ``org`` is pending.
    """
    store.require("admin")
    code, raw = pending_profile(store, org)
    profile = parse_profile(raw)
    check_fingerprint(profile.body.get("org_name", code), typed, profile.fingerprint)
    conn = store.conn
    with store.transaction():
        current = conn.execute("SELECT node, sign_key FROM peers WHERE org = ? AND status = 'active'",
                               (code,)).fetchone()
        replaced, chain_end = None, None
        if current is not None:
            end = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM received WHERE source = ?",
                               (current[0],)).fetchone()[0]
            if current[0] == profile.node:          # the same node with a new key: keep the old one
                remember_retired(store, current[0], [{"previous_sign_key": current[1],
                                                      "sent": {store.node.id: end}}])
            else:                                   # a replacement PC: the old chain ends here
                conn.execute("UPDATE peers SET status = 'replaced', replaced_by = ?, chain_end = ? "
                             "WHERE node = ?", (profile.node, end, current[0]))
                chain_end = end
            replaced = current[0]
        conn.execute("DELETE FROM pending_peers WHERE org = ?", (code,))
        result = register_peer(store, profile) | {"old_chain_end": chain_end}
        Writer(store, source="profile:confirm").note("confirm_peer", detail={
            "org": code, "node": profile.node, "fingerprint": profile.fingerprint, "replaced": replaced})
    return profile, replaced, result


def register_peer(store: Store, profile: Profile) -> dict:
    """Make ``profile`` the org's active peer and learn its units (and, from the level
    above, its plan); inside the caller's transaction. Returns ``{"catalog_adopted",
    "orgs_added"}``."""
    store.conn.execute(
        "INSERT OR REPLACE INTO peers (node, org, level, suite, sign_key, enc_key, fingerprint, "
        "profile_created, added, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')",
        (profile.node, profile.org, profile.level, profile.body["suite"], profile.body["sign_key"],
         profile.body["enc_key"], profile.fingerprint, profile.body["created"], now_iso()))
    new_orgs = new_units(store, profile)
    store.merge_orgs(new_orgs)
    adopted = profile.org == store.orgs.get(store.node.org).parent and _adopt_from_above(store, profile)
    return {"catalog_adopted": adopted, "orgs_added": len(new_orgs)}


def new_units(store: Store, profile: Profile) -> list[Org]:
    """The units ``profile`` teaches this install, parents first. The level above (and a
    peer outside this install's tree: a test mesh of towns) brings its whole list. A unit
    below this install, or one it cannot place, brings only what its packages could add
    (see :mod:`.incoming`): its own unit and units below it, each under a parent known
    here or listed before it, with a code starting with that parent's and a name (or
    alias) no unit under that parent has.

    :raises ProfileError: (exit 2) the profile lists a new unit beyond that; nothing is
        learned from it.
    """
    tree = store.orgs
    new = [o for o in profile.orgs() if tree.get(o.code) is None]
    sender = profile.org
    if tree.get(sender) is not None and (sender == store.node.org
                                         or not tree.is_within(sender, store.node.org)):
        return new
    placed = {o.code: o for o in tree}
    name = profile.body.get("org_name", sender)
    for org in sorted(new, key=lambda o: len(o.code)):      # parents (shorter codes) first
        code = org.code
        for _ in range(8):                                   # up the tree, to the sender or out
            if code is None or code == sender:
                break
            code = placed[code].parent if code in placed else org.parent if code == org.code else None
        problem = ("不在它的管辖范围内" if code != sender
                   else code_problem(org.code, org.level, placed.get(org.parent)))
        taken = {fold(n) for o in placed.values() if o.parent == org.parent for n in (o.name, *o.aliases)}
        if problem is None and any(fold(n) in taken for n in (org.name, *org.aliases)):
            problem = "与同一上级下已有的单位同名"
        if problem:
            raise ProfileError(f"{name}的配置文件列有新单位“{org.name[:MAX_NAME]}”（代码 {org.code}）：{problem}。"
                               "已拒绝，未导入这个配置文件；请向发出单位核实")
        placed[org.code] = org
    return new


def _adopt_from_above(store: Store, profile: Profile) -> bool:
    """The plan (and, from the district, the quotas) of the level above; returns whether
    the catalog changed."""
    if "quotas" in profile.body:
        store.conn.execute("DELETE FROM quotas")
        store.conn.executemany("INSERT INTO quotas (indicator, org, target) VALUES (?, ?, ?)",
                               [(q["indicator"], q["org"], q["target"]) for q in profile.body["quotas"]])
    if isinstance(profile.body.get("district_choices"), dict):
        store.conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('district_choices', ?)",
                           (json.dumps(profile.body["district_choices"], ensure_ascii=False, sort_keys=True),))
        store.choices_changed()
    files = profile.body.get("catalog")
    if files and files != json.loads(store.setting("catalog")):
        store.adopt_catalog(files)
        return True
    return False


def units_to_start(profile: Profile, level: str, name: str = "配置文件") -> list[Org]:
    """The units at ``level`` that can start from ``profile`` (:func:`init_from_profile`):
    the profile's own units one level down — a town's villages from the town's profile, the
    towns from the district's.

    :raises ProfileError: (exit 1) ``profile`` is not from the level above ``level``, or
        lists no unit at ``level`` yet; the message says whom to ask for which file.
    """
    above = PARENT_LEVEL.get(level)
    owner = profile.body.get("org_name", profile.org)
    if above is None:
        raise ProfileError("区级数据库不从配置文件新建：请不要给配置文件", 1)
    if profile.level != above:
        raise ProfileError(f"{name} 是{owner}（{LEVEL_NAMES[profile.level]}级）的配置文件；"
                           f"{LEVEL_NAMES[level]}请使用所属{LEVEL_NAMES[above]}发来的配置文件", 1)
    units = sorted((o for o in profile.orgs() if o.parent == profile.org and o.level == level),
                   key=lambda o: o.code)
    if not units:
        raise ProfileError(f"{owner}的配置文件（{name}）里还没有{LEVEL_NAMES[level]}名单：请{owner}先添加"
                           f"本{LEVEL_NAMES[level]}，再导出配置文件发给你", 1)
    return units


def init_from_profile(db: Path | str, profile_path: Path | str, *, level: str, org: str,
                      operator: str, fingerprint: str) -> Store:
    """A new store set up from the level above's profile (district for a town, town for a
    village); ``fingerprint`` is the upstream's, as read over the phone (checked against
    the profile: spaces and dashes ignored) — the new store trusts the upstream at once.

    :raises ProfileError: the file cannot be used, or is not from the level above ``level``.
    :raises StoreError: the level or org does not fit the profile.
    :raises FingerprintMismatch: (exit 1) the fingerprint is not the profile's; no store is made.
    """
    profile = read_profile(profile_path)
    units_to_start(profile, level, Path(profile_path).name)
    check_fingerprint(profile.body.get("org_name", profile.org), fingerprint, profile.fingerprint)
    orgs = profile.orgs()
    if not orgs:
        raise ProfileError(f"{Path(profile_path).name} 中没有组织信息")
    files = profile.body.get("catalog")
    if profile.level != "village" and not files:
        raise ProfileError(f"{Path(profile_path).name} 缺少计划目录")
    store = Store.create(db, level=level, org=org, operator=operator, orgs=orgs,
                         catalog_files=files or None,
                         person_namespace=profile.body.get("person_namespace"))
    try:
        parent = store.orgs.get(store.node.org).parent
        if profile.org != parent:
            raise StoreError(f"这是{profile.body.get('org_name')}的配置文件，但所选单位的上级是 "
                             f"{store.orgs.get(parent).name if parent else '（无）'}；"
                             "请用上级单位发来的配置文件", 1)
        import_profile(store, profile_path)
        confirm_pending(store, profile.org, fingerprint)
    except BaseException:
        store.discard()
        raise
    return store
