"""Profiles and packages: the chain village → town → district, rejections, gaps, conflicts."""
import datetime as dt
import json
import struct
from pathlib import Path

import pytest
from support import logical_dump, make_id, phoned, screening

from desktop_app.cli import main
from desktop_app.core.district.progress import compute
from desktop_app.core.store.database import Store
from desktop_app.core import sync
from desktop_app.core.sync import FingerprintMismatch, confirm_peer, profiles
from desktop_app.core.sync.peers import peers
from desktop_app.core.sync.package_file import MAGIC, PackageError, canonical

TODAY = dt.date(2024, 12, 31)


def test_rows_travel_up_with_their_origin_and_reimport_is_a_no_op(chain):
    d, t, v, tmp = chain
    v.ledger("two_cancer").add(screening(1), today=TODAY)
    pkg = sync.export_package(v, tmp / "out")
    assert pkg.counts == {"persons": 1, "two_cancer": 1} and "counts" not in pkg.manifest
    first = sync.import_package(t, pkg.path)
    assert first.totals()["new"] == 2 and first.gaps == []
    before = logical_dump(t.path)
    again = sync.import_package(t, pkg.path)
    assert again.status == "already" and logical_dump(t.path) == before
    up = sync.export_package(t, tmp / "out")
    assert sync.import_package(d, up.path).totals()["new"] == 2
    row = d.ledger("two_cancer").rows()[0]
    assert row["org"] == "430971121001" and row["_origin"] == v.node.id
    assert d.conn.execute("SELECT COUNT(*) FROM audit WHERE origin = ?", (v.node.id,)).fetchone()[0] >= 1


def test_profile_rules(chain):
    d, t, v, tmp = chain
    assert profiles.import_profile(d, tmp / "t.msprofile")["status"] == "unchanged"
    # a new install of the town (new keys) stays pending until its fingerprint is confirmed
    t2 = Store.create(tmp / "t2.sqlite3", level="town", org="河坝镇", operator="镇")
    profiles.export_profile(t2, tmp / "t2.msprofile")
    assert profiles.import_profile(d, tmp / "t2.msprofile")["status"] == "pending"
    assert [p.node for p in peers(d) if p.org == t.node.org] == [t.node.id]
    with pytest.raises(FingerprintMismatch, match="指纹不符"):
        confirm_peer(d, "河坝镇", phoned(tmp / "t.msprofile"))
    assert confirm_peer(d, "河坝镇", phoned(tmp / "t2.msprofile"))["replaced"] == t.node.id
    assert [p.node for p in peers(d) if p.org == t.node.org] == [t2.node.id]
    t2.close()
    # a forged profile (edited after signing) is refused
    data = json.loads((tmp / "v.msprofile").read_text())
    data["profile"]["org_name"] = "别的村"
    (tmp / "forged.msprofile").write_text(json.dumps(data, ensure_ascii=False))
    with pytest.raises(profiles.ProfileError, match="签名不对"):
        profiles.import_profile(t, tmp / "forged.msprofile")


def test_district_profile_carries_plan_and_quotas(chain, tmp_path):
    d, t, v, tmp = chain
    d.set_quota("two_cancer_screening", "430971121", 600)
    profiles.export_profile(d, tmp / "d2.msprofile")
    result = profiles.import_profile(t, tmp / "d2.msprofile")
    assert result["status"] == "updated" and t.quotas() == {("two_cancer_screening", "430971121"): 600}
    assert compute(t, TODAY).get("two_cancer_screening").target == 600


def _tamper(path: Path, offset: int) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    out = path.with_name("tampered.mstz")
    out.write_bytes(bytes(data))
    return out


def test_rejections_leave_the_store_unchanged(chain):
    d, t, v, tmp = chain
    v.ledger("two_cancer").add(screening(1), today=TODAY)
    pkg = sync.export_package(v, tmp / "out").path
    raw = pkg.read_bytes()
    mlen = struct.unpack(">I", raw[8:12])[0]
    cases = {
        "not a package": (tmp / "x.mstz", b"hello"),
        "truncated": (tmp / "trunc.mstz", raw[:-10]),
    }
    for name, (path, data) in cases.items():
        path.write_bytes(data)
    bad = [tmp / "x.mstz", tmp / "trunc.mstz",
           _tamper(pkg, 12 + mlen // 2),          # manifest byte → signature fails
           _tamper(pkg, len(raw) - 5)]            # ciphertext byte → hash fails
    before = logical_dump(t.path)
    for path in bad:
        with pytest.raises(PackageError):
            sync.import_package(t, path)
        assert logical_dump(t.path) == before, path
    profiles.import_profile(d, tmp / "v.msprofile")
    with pytest.raises(PackageError, match="不是发给本机的"):
        sync.import_package(d, pkg)                # the district knows the village but is not the destination
    other = Store.create(tmp / "o.sqlite3", level="town", org="金盆镇", operator="x")
    with pytest.raises(PackageError, match="未登记的单位"):
        sync.import_package(other, pkg)
    other.close()
    # same package id, other content (validly re-signed by the village itself): refused
    sync.import_package(t, pkg)
    v.ledger("two_cancer").add(screening(2), today=TODAY)
    manifest, _sig, payload = _split(sync.export_package(v, tmp / "out2").path)
    manifest["package_id"] = _split(pkg)[0]["package_id"]
    body = canonical(manifest)
    from desktop_app.core.store.crypto import SUITES
    sig = SUITES[v.suite].sign(v.keys().sign_private, body)
    forged = tmp / "same_id.mstz"
    forged.write_bytes(MAGIC + struct.pack(">I", len(body)) + body + struct.pack(">H", len(sig)) + sig
                       + payload)
    before = logical_dump(t.path)
    with pytest.raises(PackageError, match="同编号数据包内容不同"):
        sync.import_package(t, forged)
    assert logical_dump(t.path) == before


def _split(path: Path) -> tuple[dict, bytes, bytes]:
    raw = path.read_bytes()
    mlen = struct.unpack(">I", raw[8:12])[0]
    slen = struct.unpack(">H", raw[12 + mlen:14 + mlen])[0]
    return json.loads(raw[12:12 + mlen]), raw[14 + mlen:14 + mlen + slen], raw[14 + mlen + slen:]


def test_future_schema_is_refused_before_the_payload(chain, monkeypatch):
    d, t, v, tmp = chain
    from desktop_app.core.store import migrations
    monkeypatch.setattr(migrations, "latest", lambda: 99)
    pkg = sync.export_package(v, tmp / "out").path
    monkeypatch.undo()
    with pytest.raises(PackageError, match="更新版本的程序"):
        sync.import_package(t, pkg)


def test_gaps_are_named_and_close_when_the_packages_arrive(chain):
    d, t, v, tmp = chain
    paths = []
    for i in range(4):
        v.ledger("two_cancer").add(screening(i + 1), today=TODAY)
        paths.append(sync.export_package(v, tmp / "out").path)
    assert sync.import_package(t, paths[0]).gaps == []
    late = sync.import_package(t, paths[3])
    assert late.gaps == ["示例村一：第 2–3 号数据包缺失"] and late.totals()["new"] == 2
    assert sync.import_package(t, paths[2]).gaps == ["示例村一：第 2 号数据包缺失"]
    assert sync.import_package(t, paths[1]).gaps == []
    assert t.ledger("two_cancer").count() == 4


def test_resend_and_full(chain):
    d, t, v, tmp = chain
    v.ledger("two_cancer").add(screening(1), today=TODAY)
    sync.export_package(v, tmp / "out")          # package 1 is lost on the way
    v.ledger("two_cancer").add(screening(2), today=TODAY)
    p2 = sync.export_package(v, tmp / "out").path
    assert sync.import_package(t, p2).gaps == ["示例村一：第 1 号数据包缺失"]
    resent = sync.export_package(v, tmp / "out", resend=(1, 1))
    assert resent.manifest["kind"] == "resend" and "重发" in resent.path.name
    assert sync.import_package(t, resent.path).gaps == []
    assert t.ledger("two_cancer").count() == 2
    full = sync.export_package(v, tmp / "out", full=True)
    assert full.manifest["seq_from"] == 1 and sync.import_package(t, full.path).totals()["new"] == 0


def test_concurrent_edits_conflict_and_the_resolution_travels(chain):
    d, t, v, tmp = chain
    uid = v.ledger("two_cancer").add(screening(1), today=TODAY).uuid
    sync.import_package(t, sync.export_package(v, tmp / "out").path)
    sync.import_package(d, sync.export_package(t, tmp / "out").path)
    # different fields: both edits kept, no conflict
    v.ledger("two_cancer").update(uid, {"address": "示例路1号"}, today=TODAY)
    t.ledger("two_cancer").update(uid, {"institution": "区妇幼保健院"}, today=TODAY)
    result = sync.import_package(t, sync.export_package(v, tmp / "out").path)
    row = t.ledger("two_cancer").get(uid)
    assert (row["address"], row["institution"]) == ("示例路1号", "区妇幼保健院")
    assert result.totals()["conflicts"] == 0
    # the same field: a deterministic winner and the loser in the queue
    v.ledger("two_cancer").update(uid, {"phone": "13900000009"}, today=TODAY)
    # the town edits later than the village (within one millisecond the two clocks would
    # order the edits by chance): its stamp is larger, so its value wins
    t.clock.observe(v.clock.last)
    t.ledger("two_cancer").update(uid, {"phone": "13700000007"}, today=TODAY)
    assert sync.import_package(t, sync.export_package(v, tmp / "out").path).totals()["conflicts"] == 1
    [c] = sync.list_conflicts(t)
    assert (c["label"], c["mine"], c["theirs"]) == ("联系电话", "13700000007", "13900000009")
    # the conflict travels up too, then the town's resolution closes it at the district
    sync.import_package(d, sync.export_package(t, tmp / "out").path)
    assert len(sync.list_conflicts(d)) == 1
    sync.resolve_conflict(t, c["id"], "theirs")
    assert sync.list_conflicts(t) == [] and t.ledger("two_cancer").get(uid)["phone"] == "13900000009"
    sync.import_package(d, sync.export_package(t, tmp / "out").path)
    assert sync.list_conflicts(d) == [] and d.ledger("two_cancer").get(uid)["phone"] == "13900000009"


def test_an_edit_concurrent_with_a_delete_is_a_conflict(chain):
    d, t, v, tmp = chain
    uid = v.ledger("two_cancer").add(screening(1), today=TODAY).uuid
    sync.import_package(t, sync.export_package(v, tmp / "out").path)
    t.ledger("two_cancer").delete(uid)
    v.ledger("two_cancer").update(uid, {"phone": "13900000009"}, today=TODAY)
    result = sync.import_package(t, sync.export_package(v, tmp / "out").path)
    assert t.ledger("two_cancer").get(uid)["_deleted"] == 1
    [c] = sync.list_conflicts(t)
    assert c["kind"] == "delete" and c["field"] == "phone" and result.totals()["conflicts"] == 1
    sync.resolve_conflict(t, c["id"], "theirs")            # bring the row back
    assert t.ledger("two_cancer").get(uid)["_deleted"] == 0 and sync.list_conflicts(t) == []


def test_no_id_number_in_plaintext_in_packages_or_profiles(chain):
    d, t, v, tmp = chain
    number = make_id("19700312", 2)
    v.ledger("two_cancer").add(screening(1, id_number=number), today=TODAY)
    pkg = sync.export_package(v, tmp / "out").path
    for path in [pkg, tmp / "v.msprofile", tmp / "t.msprofile", tmp / "d.msprofile"]:
        data = path.read_bytes()
        assert number.encode() not in data and number.encode("utf-16-le") not in data


def test_end_to_end_through_the_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINSHENG_USER", "管理员甲")

    def run(*argv):
        code = main([str(a) for a in argv])
        out = capsys.readouterr().out
        return code, (json.loads(out) if out.strip().startswith("{") else out)
    dist = tmp_path / "d.sqlite3"
    assert run("init", "--db", dist, "--level", "district", "--org", "大通湖区", "--operator", "管理员甲")[0] == 0
    assert run("profile", "export", "--db", dist, "--out", tmp_path / "d.msprofile")[0] == 0
    towns = {}
    for org, villages in (("河坝镇", ["示例村一"]), ("金盆镇", [])):
        db = tmp_path / f"{org}.sqlite3"
        assert run("init", "--db", db, "--level", "town", "--org", org, "--operator", "管理员甲",
                   "--profile", tmp_path / "d.msprofile", "--fingerprint", phoned(tmp_path / "d.msprofile"))[0] == 0
        if villages:
            run("villages", "add", "--db", db, *villages)
        run("profile", "export", "--db", db, "--out", tmp_path / f"{org}.msprofile")
        assert run("profile", "import", "--db", dist, tmp_path / f"{org}.msprofile", "--json")[1][
            "profiles"][0]["status"] == "pending"
        assert run("profile", "confirm", "--db", dist, "--org", org,
                   "--fingerprint", phoned(tmp_path / f"{org}.msprofile"))[0] == 0
        towns[org] = db
    village = tmp_path / "v.sqlite3"
    assert run("init", "--db", village, "--level", "village", "--org", "示例村一", "--operator", "管理员甲",
               "--profile", tmp_path / "河坝镇.msprofile", "--fingerprint", phoned(tmp_path / "河坝镇.msprofile"))[0] == 0
    run("profile", "export", "--db", village, "--out", tmp_path / "v.msprofile")
    run("profile", "import", "--db", towns["河坝镇"], tmp_path / "v.msprofile")
    run("profile", "confirm", "--db", towns["河坝镇"], "--org", "示例村一", "--fingerprint", phoned(tmp_path / "v.msprofile"))
    rows = {village: [screening(1), screening(2)], towns["河坝镇"]: [screening(3)],
            towns["金盆镇"]: [screening(4), screening(5), screening(6)]}
    for db, items in rows.items():
        for r in items:
            assert run("add", "--db", db, "--ledger", "two_cancer", "--json-row", json.dumps(r))[0] == 0
    code, out = run("export-package", "--db", village, "--out", tmp_path / "usb", "--json")
    code, res = run("import-package", "--db", towns["河坝镇"], out["path"], "--json")
    assert code == 0 and res["totals"]["new"] == 4
    for org, db in towns.items():
        code, out = run("export-package", "--db", db, "--out", tmp_path / "usb", "--json")
        code, res = run("import-package", "--db", dist, out["path"], "--json")
        assert code == 0 and res["files"][0]["gaps"] == []
    code, prog = run("progress", "--db", dist, "--json", "--as-of", "2024-12-31")
    ind = next(i for i in prog["indicators"] if i["id"] == "two_cancer_screening")
    by_town = {o["org"]: o["achieved"] for o in ind["by_org"]}
    assert ind["achieved"] == 6 == by_town["430971121"] + by_town["430971123"]
    assert by_town == {"430971121": 3, "430971123": 3, "430971124": 0, "430971130": 0, "430971405": 0}
    code, res = run("import-package", "--db", dist, tmp_path / "d.msprofile", "--json")
    assert code == 2 and res["files"][0]["status"] == "refused"


def test_the_units_a_profile_can_start(chain):
    d, t, _v, tmp = chain
    town = profiles.read_profile(profiles.export_profile(t, tmp / "t2.msprofile"))
    assert [o.name for o in profiles.units_to_start(town, "village")] == ["示例村一"]
    district = profiles.read_profile(profiles.export_profile(d, tmp / "d2.msprofile"))
    assert [o.name for o in profiles.units_to_start(district, "town")] == [o.name for o in d.orgs.children("430971")]
    with pytest.raises(profiles.ProfileError, match="村（社区）请使用所属镇发来的配置文件") as wrong:
        profiles.units_to_start(district, "village")
    assert wrong.value.exit_code == 1
    with pytest.raises(profiles.ProfileError, match="区级数据库不从配置文件新建"):
        profiles.units_to_start(district, "district")
    bare = profiles.Profile(town.body | {"orgs": [o for o in town.body["orgs"] if o["level"] != "village"]})
    with pytest.raises(profiles.ProfileError, match="河坝镇的配置文件（配置文件）里还没有村（社区）名单"):
        profiles.units_to_start(bare, "village")


def test_a_profile_saved_again_by_a_text_editor_still_reads(chain):
    _d, t, _v, tmp = chain
    path = profiles.export_profile(t, tmp / "t3.msprofile")
    fingerprint = profiles.read_profile(path).fingerprint
    (tmp / "bom.msprofile").write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (tmp / "utf16.msprofile").write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    assert profiles.read_profile(tmp / "bom.msprofile").fingerprint == fingerprint
    assert profiles.read_profile(tmp / "utf16.msprofile").fingerprint == fingerprint


def test_a_store_discarded_after_a_failed_setup_leaves_no_file(tmp_path):
    store = Store.create(tmp_path / "v.sqlite3", level="town", org="河坝镇", operator="镇")
    assert list(tmp_path.glob("v.sqlite3*"))
    store.discard()
    assert list(tmp_path.iterdir()) == []
