"""Issue 15, item 2: the trust store. One active key per org; a profile reusing a known node
id for another org, or claiming this install's own org, is refused; a new or changed peer
stays pending (its packages held beside the store) until a 管理员 confirms the fingerprint
read over the phone; a replacement PC ends the old install's chain."""
import json
import os
import stat

import pytest
from support import init_below, install_below, phoned, screening, trust_profile

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.store.crypto import SUITES, b64, unb64
from desktop_app.core.store.database import Store
from desktop_app.core.sync import profiles
from desktop_app.core.sync.held import held_folder, list_held
from desktop_app.core.sync.package_file import canonical

import datetime as dt

TODAY = dt.date(2024, 12, 31)


@pytest.fixture
def district(tmp_path):
    """大通湖区 with 金盆镇 registered and confirmed; both open."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="专班")
    jp = install_below(d, tmp_path / "jp.sqlite3", level="town", org="金盆镇", operator="金盆镇")
    yield d, jp, tmp_path
    d.close()
    jp.close()


def _resigned(profile_path, out, store, **changes):
    """``store``'s own profile with ``changes``, self-signed again by ``store``'s key (what an
    insider with a valid install can make)."""
    data = json.loads(profile_path.read_text(encoding="utf-8"))
    data["profile"].update(changes)
    suite = SUITES[data["profile"]["suite"]]
    data["signature"] = b64(suite.sign(unb64(store.setting("sign_private")), canonical(data["profile"])))
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return out


def _peer_keys(store):
    return sorted(store.conn.execute("SELECT node, org, sign_key, status FROM peers"))


def test_a_profile_reusing_another_towns_node_id_is_refused(district):
    d, jp, tmp = district
    bzz = Store.create(tmp / "bzz.sqlite3", level="town", org="北洲子镇", operator="x")
    forged = _resigned(profiles.export_profile(bzz, tmp / "bzz.msprofile"), tmp / "forged.msprofile", bzz,
                       node=jp.node.id)
    before = _peer_keys(d)
    with pytest.raises(profiles.ProfileError, match="安装编号已属于金盆镇"):
        profiles.import_profile(d, forged)
    assert _peer_keys(d) == before
    assert d.conn.execute("SELECT COUNT(*) FROM pending_peers").fetchone()[0] == 0
    # 金盆镇's real packages still import
    jp.ledger("two_cancer").add(screening(1), org="金盆镇", today=TODAY)
    assert sync.import_package(d, sync.export_package(jp, tmp / "usb").path).status == "imported"
    bzz.close()


def test_a_profile_claiming_the_district_itself_is_refused(district):
    d, jp, tmp = district
    fake = Store.create(tmp / "fake.sqlite3", level="district", org="430971", operator="x")
    before = _peer_keys(d)
    with pytest.raises(profiles.ProfileError, match="自称是本单位（大通湖区）"):
        profiles.import_profile(d, profiles.export_profile(fake, tmp / "fake.msprofile"))
    assert _peer_keys(d) == before
    fake.close()


def test_a_new_peer_is_pending_its_package_held_and_confirming_applies_it(district, capsys):
    d, jp, tmp = district
    qs = init_below(tmp / "qs.sqlite3", tmp / "d.msprofile", level="town", org="千山红镇", operator="千山红镇")
    qs_profile = profiles.export_profile(qs, tmp / "qs.msprofile")
    result = profiles.import_profile(d, qs_profile)
    assert result["status"] == "pending" and result["replaces"] is None
    assert not [p for p in sync.peer_list(d) if p.org == qs.node.org]          # not trusted
    saved = qs.ledger("two_cancer").add(screening(2), org="千山红镇", today=TODAY)
    usb = sync.export_package(qs, tmp / "usb").path
    summary = sync.import_package(d, usb)
    assert summary.status == "held" and "等待确认指纹" in summary.message
    assert d.ledger("two_cancer").count() == 0
    # kept beside the store, private, named by the package id, so the USB stick can go
    [held] = list_held(d)
    kept = held_folder(d) / f"{held.package_id}.mstz"
    assert kept.is_file() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert "千山红镇" not in kept.name
    usb.rename(tmp / "gone.mstz")
    # importing it again: held again, one copy
    again = sync.import_package(d, tmp / "gone.mstz")
    assert again.status == "held" and len(list_held(d)) == 1
    d.close()
    db = str(tmp / "d.sqlite3")
    assert main(["profile", "pending", "--db", db, "--json"]) == 0
    [pending] = json.loads(capsys.readouterr().out)["pending"]
    assert pending == {"org": qs.node.org, "name": "千山红镇", "level": "镇级", "node": qs.node.id,
                       "fingerprint": phoned(qs_profile), "since": pending["since"], "held": 1,
                       "replaces": None}
    # a wrong fingerprint is refused (exit 1, Chinese); spaces and dashes do not matter
    assert main(["profile", "confirm", "--db", db, "--org", "千山红镇", "--fingerprint", phoned(tmp / "jp.msprofile")]) == 1
    assert "指纹不符" in capsys.readouterr().err
    typed = " ".join(phoned(qs_profile).replace("-", "").lower())       # read digit by digit
    assert main(["profile", "confirm", "--db", db, "--org", "千山红镇", "--fingerprint", typed, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [a["status"] for a in out["applied"]] == ["imported"]
    with Store.open(tmp / "d.sqlite3") as d2:
        [row] = d2.ledger("two_cancer").rows()
        assert row["uuid"] == saved.uuid
        assert row["_versions"] == qs.ledger("two_cancer").get(saved.uuid)["_versions"]
        assert list_held(d2) == [] and not list(held_folder(d2).iterdir())
        assert sync.pending_peers(d2) == []
    qs.close()


def test_a_changed_key_for_a_known_town_is_pending_and_the_old_key_works_meanwhile(district):
    d, jp, tmp = district
    jp.ledger("two_cancer").add(screening(3), org="金盆镇", today=TODAY)
    first = sync.export_package(jp, tmp / "usb")
    stranger = Store.create(tmp / "s.sqlite3", level="town", org="金盆镇", operator="x")
    same_node = _resigned(profiles.export_profile(stranger, tmp / "s.msprofile"), tmp / "s2.msprofile",
                          stranger, node=jp.node.id)
    assert profiles.import_profile(d, same_node)["status"] == "pending"
    assert [p["replaces"] for p in map(sync.PendingPeer.to_json, sync.pending_peers(d))] == ["新密钥"]
    assert sync.import_package(d, first.path).status == "imported"     # the trusted key still counts
    stranger.close()


def test_a_replacement_pc_ends_the_old_chain(district):
    d, jp, tmp = district
    led = jp.ledger("two_cancer")
    pkgs = []
    for i in range(3):
        led.add(screening(10 + i), org="金盆镇", today=TODAY)
        pkgs.append(sync.export_package(jp, tmp / "usb").path)
    for p in (pkgs[0], pkgs[2]):
        sync.import_package(d, p)
    assert any("第 2 号数据包缺失" in g for s in sync.sources(d) for g in s.gaps)
    new_pc = init_below(tmp / "jp2.sqlite3", tmp / "d.msprofile", level="town", org="金盆镇", operator="新电脑")
    new_profile = profiles.export_profile(new_pc, tmp / "jp2.msprofile")
    assert profiles.import_profile(d, new_profile)["replaces"] == "新电脑"
    result = sync.confirm_peer(d, "金盆镇", phoned(new_profile))
    assert result["replaced"] == jp.node.id
    # the old node's gaps are no longer reported; it is listed as 已更换电脑
    assert all(not s.gaps for s in sync.sources(d))
    [old] = [p for p in sync.peer_list(d) if p.node == jp.node.id]
    assert not old.active and old.replaced
    # in flight from the old PC: number 2 fills a gap of its chain (signed by the old key): accepted
    assert sync.import_package(d, pkgs[1]).status == "imported"
    # anything the old PC numbers later is refused
    led.add(screening(20), org="金盆镇", today=TODAY)
    with pytest.raises(sync.PackageError, match="金盆镇原来那台电脑（已更换电脑）.*收到第 3 号为止"):
        sync.import_package(d, sync.export_package(jp, tmp / "usb").path)
    # the new PC starts its own chain from 1
    new_pc.ledger("two_cancer").add(screening(21), org="金盆镇", today=TODAY)
    fresh = sync.import_package(d, sync.export_package(new_pc, tmp / "usb").path)
    assert fresh.status == "imported" and fresh.gaps == []
    assert d.ledger("two_cancer").count() == 4
    new_pc.close()


def test_init_from_a_profile_needs_the_phoned_fingerprint(district, capsys, monkeypatch):
    d, jp, tmp = district
    db = tmp / "n.sqlite3"
    base = ["init", "--db", str(db), "--level", "town", "--org", "北洲子镇", "--operator", "管理员甲",
            "--profile", str(tmp / "d.msprofile")]
    assert main(base + ["--json"]) == 1
    assert "--fingerprint" in capsys.readouterr().err and not db.exists()
    assert main(base + ["--fingerprint", phoned(tmp / "jp.msprofile")]) == 1
    assert "指纹不符" in capsys.readouterr().err and not db.exists()
    # at a terminal: the upstream fingerprint is shown and asked for
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt="": phoned(tmp / "d.msprofile"))
    assert main(base) == 0
    assert sync.spaced_fingerprint(phoned(tmp / "d.msprofile")) in capsys.readouterr().out
    assert os.path.exists(db)


def test_a_rotation_signed_by_the_confirmed_key_needs_no_new_phone_check(district):
    d, jp, tmp = district
    rotation = sync.rotate_keys(jp, tmp / "jp-new.msprofile")
    assert profiles.import_profile(d, rotation.path)["status"] == "rotated"
    assert sync.pending_peers(d) == []
    assert trust_profile(d, rotation.path)["status"] == "unchanged"
