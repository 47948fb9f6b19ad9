"""Helpers shared by the tests (importable: pytest puts tests/ on sys.path)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

from stdnum.cn import ric

TODAY = dt.date(2024, 6, 30)


def make_id(birth: str, seq: int = 2, region: str = "430902") -> str:
    """A well-formed 身份证号: region + birth (YYYYMMDD) + 3-digit sequence + check digit.

    ``seq`` even → woman, odd → man.
    """
    body = f"{region}{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def household(i: int = 1, **over) -> dict:
    """A complete, accepted barrier-free modification row (its own man for each ``i``);
    ``over`` replaces any field (the certificate follows a given ``id_number``)."""
    number = over.get("id_number") or make_id("19600101", 5 + 2 * i)
    row = {"name": f"示例残{i}", "id_number": number, "phone": "13800000009", "address": "示例路9号",
           "disability_cert": number + "41", "disability_category": "肢体", "disability_grade": "一级",
           "hardship": "低保", "assess_date": "2024-02-01", "plan": "坡化", "items": "坡化",
           "contractor": "示例公司", "contractor_code": "91350100M000100Y43", "start_date": "2024-03-01",
           "finish_date": "2024-04-01", "accept_date": "2024-04-10", "accept_result": "合格",
           "subsidy": 3500, "status": "已验收"}
    return row | over


def screening(i: int, *, day: str = "2024-03-05", **over) -> dict:
    """A complete two_cancer row (field ids) of woman ``i`` (her own 身份证号 for each ``i``
    below 500), both checks on ``day``; ``over`` replaces any field (``id_number``,
    ``phone``, ``status`` …)."""
    row = {"name": f"示例{i}", "id_number": make_id(f"197{i % 10}0312", 2 * i), "phone": "13800000001",
           "population": "农村适龄", "institution": "示例卫生院", "cervical_date": day,
           "cervical_method": "妇检+TCT", "cervical_result": "正常", "breast_date": day,
           "breast_result": "正常", "birads": "1级"}
    return row | over


def phoned(profile_path: Path) -> str:
    """The fingerprint of a profile as its sender reads it over the phone."""
    from desktop_app.core.sync import profiles
    return profiles.read_profile(profile_path).fingerprint


def trust_profile(store, profile_path: Path) -> dict:
    """Import a profile and, when it is pending, confirm the fingerprint read over the
    phone, as a 管理员 does (its held packages are applied then)."""
    from desktop_app.core.sync import confirm_peer, profiles
    result = profiles.import_profile(store, profile_path)
    if result["status"] == "pending":
        confirm_peer(store, result["org"], phoned(profile_path))
    return result


def init_below(path: Path, profile_path: Path, **kwargs):
    """``init_from_profile`` with the upstream's fingerprint checked by phone."""
    from desktop_app.core.sync import profiles
    return profiles.init_from_profile(path, profile_path, fingerprint=phoned(profile_path), **kwargs)


def install_below(upper, path: Path, *, level: str, org: str, operator: str, villages=(),
                  register: bool = True):
    """A new install set up from ``upper``'s profile, as a clerk does with a USB stick:
    its villages added, and (``register``) its own profile imported back into ``upper``
    and its fingerprint confirmed there."""
    from desktop_app.core.sync import profiles
    given = upper.path.with_suffix(".msprofile")   # upper's profile, made once (as handed out)
    if not given.exists():
        profiles.export_profile(upper, given)
    store = init_below(path, given, level=level, org=org, operator=operator)
    if villages:
        store.add_villages(list(villages))
    if register:
        trust_profile(upper, profiles.export_profile(store, path.with_suffix(".msprofile")))
    return store


def make_chain(root: Path):
    """District (430971), town (河坝镇, village 示例村一) and village (示例村一) stores in
    ``root``, profiles exchanged both ways; returned open."""
    from desktop_app.core.store.database import Store
    root.mkdir(parents=True, exist_ok=True)
    d = Store.create(root / "d.sqlite3", level="district", org="430971", operator="区")
    t = install_below(d, root / "t.sqlite3", level="town", org="河坝镇", operator="镇", villages=["示例村一"])
    v = install_below(t, root / "v.sqlite3", level="village", org="示例村一", operator="村")
    return d, t, v


def raw_connect(path: Path, key: bytes | None = None):
    """A plain DB-API connection to a store or backup file (encrypted: the key remembered
    in this process after it was made or logged in to, or its open key; a file made
    before encryption: none)."""
    from desktop_app.core.store import backup, cipher
    return cipher.connect(path, backup.key_of(path, key))


def forget_key(*paths: Path) -> None:
    """Forget the keys this process remembered for these stores (as a new process would)."""
    from desktop_app.core.store import keyring
    for path in paths:
        ring = keyring.Keyring.load(path, required=False)
        if ring is not None:
            keyring.forget(ring.store_id)


def copy_store(src: Path, dst: Path) -> Path:
    """Copy a store (or backup) file with its key sidecar (``….keys``), as a user copies both."""
    from desktop_app.core.store import keyring
    shutil.copy(src, dst)
    if keyring.sidecar(src).exists():
        shutil.copy(keyring.sidecar(src), keyring.sidecar(dst))
    return Path(dst)


def logical_dump(path: Path) -> str:
    """A hash of everything "unchanged" covers (DESIGN.md): rows, persons, change
    log, orgs, quotas, settings and every other table except import history — and except
    the store's generation token (random: it says only that a transaction changed
    something, so two equal imports end with different tokens)."""
    conn = raw_connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT IN ('import_history') ORDER BY name")]
        h = hashlib.sha256()
        for t in tables:
            h.update(t.encode())
            skip = "WHERE key <> 'generation' " if t == "settings" else ""
            for row in conn.execute(f"SELECT * FROM [{t}] {skip}ORDER BY 1"):
                h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        conn.close()


def screening_book(path: Path, store, people: range, village: str = "示例村一") -> Path:
    """A two_cancer sheet, headed by 村（社区） and the catalog's labels, with a complete row
    per person of ``village``."""
    from openpyxl import Workbook
    led = store.catalog.ledger("two_cancer")
    rows = [screening(i) for i in people]
    book = Workbook()
    book.active.append(["村（社区）"] + [led.field(f).label for f in rows[0]])
    for row in rows:
        book.active.append([village] + list(row.values()))
    book.save(path)
    return path


# the town sample sheet's (fixtures/河坝镇_两癌检查台账_示例.xlsx) three bad rows, by their
# row in the sheet (原表行号), and the ID number a village writes instead of the bad one
CORRECTED_IDS = {7: make_id("19620725", 100, "430981"),     # destroyed by Excel: typed again
                 9: "43090219710916154X",                    # the check digit
                 17: make_id("19650820", 224, "430921")}     # a woman's number, not a man's


def correct_ids(errors: Path, out: Path, fixes: dict[int, str] = CORRECTED_IDS) -> Path:
    """Open an error workbook as a village would (openpyxl), type the new ID numbers of the
    rows ``fixes`` names (by 原表行号) and save it as ``out``."""
    from openpyxl import load_workbook
    wb = load_workbook(errors)
    ws = wb.active
    header = [c.value for c in ws[3]]
    id_col, row_col = header.index("*身份证号") + 1, header.index("原表行号") + 1
    for r in range(4, ws.max_row + 1):
        number = ws.cell(r, row_col).value
        if number in fixes:
            ws.cell(r, id_col).value = fixes[number]
    wb.save(out)
    return out


def resigned_town_profile(tmp_path, change) -> Path:
    """河坝镇's profile, changed by ``change(body)`` and signed again by 河坝镇's own key (a
    correctly signed file with content this program never writes)."""
    from desktop_app.core.store.crypto import SUITES, b64, unb64
    from desktop_app.core.store.database import Store
    from desktop_app.core.sync import export_profile
    from desktop_app.core.sync.package_file import canonical
    town = Store.create(tmp_path / "河坝镇.sqlite3", level="town", org="河坝镇", operator="镇")
    town.add_villages(["示例村一", "示例村二"])
    path = export_profile(town, tmp_path / "河坝镇_配置.msprofile")
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data["profile"])
    suite = SUITES[data["profile"]["suite"]]
    data["signature"] = b64(suite.sign(unb64(town.setting("sign_private")), canonical(data["profile"])))
    town.close()
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# (change of the profile's body, what the refusal says is wrong), by what is wrong
MALFORMED_PROFILES = {
    "no-code": (lambda b: b["orgs"].append({"name": "无代码", "level": "village"}), "单位名单第 5 项没有代码"),
    "integer-code": (lambda b: b["orgs"].append({"code": 430971121009, "name": "示例村九", "level": "village",
                                                 "parent": "430971121"}), "单位名单第 5 项的代码不是数字"),
    "list-name": (lambda b: b["orgs"][3].update(name=["示例村二"]), "单位名单第 4 项：单位名称不能为空"),
    "two-lines": (lambda b: b["orgs"][3].update(name="示例村二\n请直接输入指纹 0000"),
                  "单位名单第 4 项：单位名称不能含有控制字符"),
    "long-name": (lambda b: b.update(org_name="河坝镇" + "（指纹已核对，无需打电话）" * 4), "单位名称过长（最多 40 个字）"),
}
