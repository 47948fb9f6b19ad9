"""Profiles: an install's org unit, level and public keys, in one signed file.

The district's profile also carries the org tree, the catalog itself (so next
year's plan reaches every town this way), the person-id namespace and the
per-town quotas; a town's profile carries its villages. A town starts from the
district's profile (``init --profile``); the district imports each town's
profile and shows the fingerprint for a phone check. A newer profile signed by
the same key replaces the older one; a different key for a known org is refused
unless a 管理员 accepts the new fingerprint.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..catalog.orgs import LEVEL_NAMES, Org
from ..errors import INPUT_PROBLEMS, StoreError, UserError
from ..store.crypto import SUITES, b64, fingerprint, unb64
from ..store.database import Store
from ..store.versions import now_iso
from .package_file import canonical, strict_json

FORMAT = "minsheng-profile"
MAX_PROFILE_BYTES = 16 << 20
SUFFIX = ".msprofile"


class ProfileError(UserError):
    """The profile file cannot be used (exit 2)."""


class KeyChanged(UserError):
    """A known org presents a different key; a 管理员 must accept its fingerprint (exit 1)."""

    exit_code = INPUT_PROBLEMS


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
    """This install's signed profile (a JSON-ready dict)."""
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
    if node.level == "district":
        body["quotas"] = [{"indicator": i, "org": o, "target": t} for (i, o), t in store.quotas().items()]
    signature = SUITES[store.suite].sign(keys.sign_private, canonical(body))
    return {"profile": body, "signature": b64(signature)}


def export_profile(store: Store, out: Path | str) -> Path:
    """Write the profile to ``out`` (a folder: a file named after the unit is made in it)."""
    store.require("admin")
    out = Path(out)
    if out.is_dir():
        name = store.orgs.get(store.node.org).name
        out = out / f"{name}_{store.node.org}_配置{SUFFIX}"
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(make_profile(store), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, out)
    return out


def read_profile(path: Path | str) -> Profile:
    """Read and check a profile file (its self-signature).

    :raises ProfileError: naming the file and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"找不到配置文件 {path}")
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise ProfileError(f"{path.name} 过大，不是本程序的配置文件")
    unusable = ProfileError(f"{path.name} 不是本程序的配置文件，或已损坏")
    try:
        data = strict_json(path.read_bytes())
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
        raise ProfileError(f"{path.name} 的签名不对：文件被改动过，请向发出单位重新索取")
    return profile


def import_profile(store: Store, path: Path | str, *, accept_new_key: bool = False) -> dict:
    """Register the install a profile describes, and learn what it carries.

    Returns ``{"status": added|updated|unchanged|older|replaced, "org", "org_name",
    "level", "fingerprint", "catalog_adopted", "orgs_added"}``.

    :raises ProfileError: the file cannot be used.
    :raises KeyChanged: the org is known with another key and ``accept_new_key`` is false.
    """
    store.require("admin")
    profile = read_profile(path)
    if profile.node == store.node.id:
        raise ProfileError(f"{Path(path).name} 是本机自己的配置文件；请导入上级或下级单位发来的配置文件")
    conn = store.conn
    current = conn.execute("SELECT node, sign_key, profile_created FROM peers WHERE org = ? AND "
                           "status = 'active'", (profile.org,)).fetchone()
    name = profile.body.get("org_name", profile.org)
    if current and current[1] != profile.body["sign_key"] and not accept_new_key:
        raise KeyChanged(f"{name} 已登记的密钥指纹与这个配置文件不同（新指纹 {profile.fingerprint}）。"
                         "可能是对方重装了程序，也可能是伪造的文件：请电话向对方核对指纹，"
                         "确认后由管理员选择“接受新指纹”再导入")
    result = {"org": profile.org, "org_name": name, "level": profile.level,
              "fingerprint": profile.fingerprint, "catalog_adopted": False, "orgs_added": 0}
    with store.transaction():
        if current is None:
            result["status"] = "added"
        elif current[1] != profile.body["sign_key"]:
            conn.execute("UPDATE peers SET status = 'replaced' WHERE node = ?", (current[0],))
            result["status"] = "replaced"
        elif profile.body["created"] > current[2]:
            result["status"] = "updated"
        else:
            result["status"] = "unchanged" if profile.body["created"] == current[2] else "older"
            return result
        conn.execute(
            "INSERT OR REPLACE INTO peers (node, org, level, suite, sign_key, enc_key, fingerprint, "
            "profile_created, added, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')",
            (profile.node, profile.org, profile.level, profile.body["suite"], profile.body["sign_key"],
             profile.body["enc_key"], profile.fingerprint, profile.body["created"], now_iso()))
        known = {o.code for o in store.orgs}
        new_orgs = [o for o in profile.orgs() if o.code not in known]
        store.merge_orgs(new_orgs)
        result["orgs_added"] = len(new_orgs)
        if profile.org == store.orgs.get(store.node.org).parent:
            result["catalog_adopted"] = _adopt_from_above(store, profile)
    return result


def _adopt_from_above(store: Store, profile: Profile) -> bool:
    """The plan (and, from the district, the quotas) of the level above; returns whether
    the catalog changed."""
    if "quotas" in profile.body:
        store.conn.execute("DELETE FROM quotas")
        store.conn.executemany("INSERT INTO quotas (indicator, org, target) VALUES (?, ?, ?)",
                               [(q["indicator"], q["org"], q["target"]) for q in profile.body["quotas"]])
    files = profile.body.get("catalog")
    if files and files != json.loads(store.setting("catalog")):
        store.adopt_catalog(files)
        return True
    return False


def init_from_profile(db: Path | str, profile_path: Path | str, *, level: str, org: str,
                      operator: str) -> Store:
    """A new store set up from the level above's profile (district for a town, town for a village).

    :raises ProfileError: the file cannot be used.
    :raises StoreError: the level or org does not fit the profile.
    """
    profile = read_profile(profile_path)
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
    except BaseException:
        path = store.path
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        raise
    return store
