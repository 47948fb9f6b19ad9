"""Held packages are bounded, and a 管理员 can get rid of them: per-sender caps, ``held
--discard`` (audited), ``profile reject`` (its held packages discarded), and a second
pending profile for an org never orphans the packages held for the first."""
import datetime as dt
import json

import pytest
from support import init_below, install_below, phoned, screening

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.store.database import Store
from desktop_app.core.sync import held as held_module
from desktop_app.core.sync import profiles
from desktop_app.core.sync.held import held_folder, list_held

TODAY = dt.date(2024, 12, 31)


@pytest.fixture
def world(tmp_path):
    """大通湖区 with 金盆镇 confirmed, and 千山红镇's profile imported but pending, with two
    of its packages held."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="专班")
    jp = install_below(d, tmp_path / "jp.sqlite3", level="town", org="金盆镇", operator="金盆镇")
    qs = init_below(tmp_path / "qs.sqlite3", tmp_path / "d.msprofile", level="town", org="千山红镇",
                    operator="千山红镇")
    assert profiles.import_profile(d, profiles.export_profile(qs, tmp_path / "qs.msprofile"))["status"] == "pending"
    for i in range(2):
        qs.ledger("two_cancer").add(screening(i + 1), org="千山红镇", today=TODAY)
        assert sync.import_package(d, sync.export_package(qs, tmp_path / "usb").path).status == "held"
    yield d, jp, qs, tmp_path
    for s in (d, jp, qs):
        s.close()


def audit_actions(store) -> list[str]:
    return [a for (a,) in store.conn.execute("SELECT action FROM audit ORDER BY id")]


# ---------------------------------------------------------------- caps per sender

def test_a_sender_beyond_its_held_count_is_refused_and_nothing_is_copied(world, monkeypatch):
    d, jp, qs, tmp = world
    monkeypatch.setattr(held_module, "HELD_PER_SENDER", 2)
    qs.ledger("two_cancer").add(screening(9), org="千山红镇", today=TODAY)
    third = sync.export_package(qs, tmp / "usb").path
    with pytest.raises(sync.PackageError, match="已为千山红镇暂存了 2 个数据包.*最多暂存 2 个") as refused:
        sync.import_package(d, third)
    assert refused.value.exit_code == 2
    assert len(list_held(d)) == 2 and len(list(held_folder(d).iterdir())) == 2
    # another sender is not affected by 千山红镇's packages
    jp.ledger("two_cancer").add(screening(10), org="金盆镇", today=TODAY)
    assert sync.import_package(d, sync.export_package(jp, tmp / "usb").path).status == "imported"


def test_a_sender_beyond_its_held_bytes_is_refused(world, monkeypatch):
    d, jp, qs, tmp = world
    size = sum(p.stat().st_size for p in held_folder(d).iterdir())
    monkeypatch.setattr(held_module, "HELD_BYTES_PER_SENDER", size + 10)
    qs.ledger("two_cancer").add(screening(9), org="千山红镇", today=TODAY)
    with pytest.raises(sync.PackageError, match="没有暂存，\\s*也没有导入"):
        sync.import_package(d, sync.export_package(qs, tmp / "usb").path)
    assert len(list_held(d)) == 2


def test_the_caps_are_named():
    assert sync.HELD_PER_SENDER == 100 and sync.HELD_BYTES_PER_SENDER == 4 << 30


# ---------------------------------------------------------------- held --discard

def test_an_admin_discards_one_held_package_and_it_is_audited(world, capsys):
    d, jp, qs, tmp = world
    first, second = list_held(d)
    d.close()
    db = str(tmp / "d.sqlite3")
    assert main(["held", "--db", db, "--discard", first.package_id]) == 0
    out = capsys.readouterr().out
    assert f"已丢弃暂存的数据包 {first.file}（来自千山红镇，发送单位待确认指纹）" in out
    assert main(["held", "--db", db, "--discard", first.package_id]) == 1
    assert "没有编号为" in capsys.readouterr().err
    with Store.open(tmp / "d.sqlite3") as again:
        assert [h.package_id for h in list_held(again)] == [second.package_id]
        assert [p.name for p in held_folder(again).iterdir()] == [f"{second.package_id}.mstz"]
        [detail] = [json.loads(a) for (a,) in again.conn.execute(
            "SELECT after FROM audit WHERE action = 'discard_held'")]
        assert detail["package_id"] == first.package_id and detail["source_org"] == qs.node.org
        # confirming later applies only the package still held
        result = sync.confirm_peer(again, "千山红镇", phoned(tmp / "qs.msprofile"))
        assert [a["package_id"] for a in result["applied"]] == [second.package_id]


def test_discarding_needs_an_admin(world):
    d, jp, qs, tmp = world
    from desktop_app.core.store import PermissionDenied, Session
    d.session = Session("示例录入员", "录入员")
    with pytest.raises(PermissionDenied):
        sync.discard_held(d, list_held(d)[0].package_id)
    with pytest.raises(PermissionDenied):
        sync.reject_peer(d, "千山红镇")
    assert len(list_held(d)) == 2


# ---------------------------------------------------------------- profile reject

def test_rejecting_a_pending_profile_discards_its_held_packages(world, capsys):
    d, jp, qs, tmp = world
    ids = {h.package_id for h in list_held(d)}
    d.close()
    db = str(tmp / "d.sqlite3")
    assert main(["profile", "reject", "--db", db, "--org", "千山红镇", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["org_name"] == "千山红镇" and {h["package_id"] for h in result["discarded"]} == ids
    assert result["fingerprint"] == phoned(tmp / "qs.msprofile")
    assert main(["profile", "reject", "--db", db, "--org", "千山红镇"]) == 1
    assert "没有待确认的配置文件" in capsys.readouterr().err
    with Store.open(tmp / "d.sqlite3") as again:
        assert sync.pending_peers(again) == [] and list_held(again) == []
        assert not list(held_folder(again).iterdir())
        assert audit_actions(again)[-3:] == ["reject_peer", "reject_peer", "reject_peer"]
        # its packages are now from an unknown key: refused, not held again
        with pytest.raises(sync.PackageError, match="未登记"):
            sync.import_package(again, sync.export_package(qs, tmp / "usb", resend=(1, 1)).path)


def test_the_reject_line_says_what_was_discarded(world, capsys):
    d, jp, qs, tmp = world
    d.close()
    assert main(["profile", "reject", "--db", str(tmp / "d.sqlite3"), "--org", "千山红镇"]) == 0
    out = capsys.readouterr().out
    assert "已拒绝千山红镇待确认的配置文件" in out and "它暂存的 2 个数据包已丢弃" in out


# ---------------------------------------------------------------- a second pending profile

def test_a_second_pending_profile_does_not_orphan_the_first_ones_held_packages(world):
    d, jp, qs, tmp = world
    other = init_below(tmp / "qs2.sqlite3", tmp / "d.msprofile", level="town", org="千山红镇", operator="又一台")
    second = profiles.export_profile(other, tmp / "qs2.msprofile")
    with pytest.raises(profiles.ProfileError, match="千山红镇已有一个待确认的配置文件.*暂存着它的 2 个数据包") as refused:
        profiles.import_profile(d, second)
    assert refused.value.exit_code == 2 and phoned(tmp / "qs.msprofile") in str(refused.value)
    [pending] = sync.pending_peers(d)
    assert pending.node == qs.node.id and pending.held == 2
    # confirming the first applies its packages; rejecting it instead lets the second in
    sync.reject_peer(d, "千山红镇")
    assert profiles.import_profile(d, second)["status"] == "pending"
    other.close()


def test_a_newer_profile_of_the_same_key_may_replace_the_pending_one(world):
    d, jp, qs, tmp = world
    qs.add_villages(["示例新村"])
    assert profiles.import_profile(d, profiles.export_profile(qs, tmp / "qs-new.msprofile"))["status"] == "pending"
    [pending] = sync.pending_peers(d)
    assert pending.held == 2
    result = sync.confirm_peer(d, "千山红镇", phoned(tmp / "qs.msprofile"))
    assert [a["status"] for a in result["applied"]] == ["imported", "imported"]


def test_a_pending_profile_without_held_packages_is_replaced_as_before(tmp_path):
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="专班")
    profiles.export_profile(d, tmp_path / "d.msprofile")
    a = init_below(tmp_path / "a.sqlite3", tmp_path / "d.msprofile", level="town", org="千山红镇", operator="甲")
    b = init_below(tmp_path / "b.sqlite3", tmp_path / "d.msprofile", level="town", org="千山红镇", operator="乙")
    profiles.import_profile(d, profiles.export_profile(a, tmp_path / "a.msprofile"))
    assert profiles.import_profile(d, profiles.export_profile(b, tmp_path / "b.msprofile"))["status"] == "pending"
    assert [p.node for p in sync.pending_peers(d)] == [b.node.id]
    for s in (d, a, b):
        s.close()
