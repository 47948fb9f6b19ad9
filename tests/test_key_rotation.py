"""Own-key rotation: new keys, a profile whose rotation statement is signed by the old key,
receivers that chain trust from the key they hold, and packages in flight both ways."""
import datetime as dt
import json

import pytest
from support import logical_dump, screening

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.errors import StoreError
from desktop_app.core.store import PermissionDenied, Session
from desktop_app.core.store.crypto import SUITES, b64, fingerprint, unb64
from desktop_app.core.sync import profiles
from desktop_app.core.sync.package_file import PackageError, canonical

TODAY = dt.date(2024, 12, 31)


def _old_keys(store) -> dict:
    return {k: store.setting(k) for k in ("sign_private", "sign_public", "enc_private", "enc_public")}


def test_rotation_makes_new_keys_keeps_the_old_decryption_key_and_is_audited(chain):
    d, t, v, tmp = chain
    before = _old_keys(t)
    rotation = sync.rotate_keys(t, tmp)     # a folder: named like an exported profile
    after = _old_keys(t)
    assert all(before[k] != after[k] for k in before)
    assert rotation.fingerprint == fingerprint(t.keys().sign_public) != rotation.previous_fingerprint
    assert rotation.path.parent == tmp and rotation.path.suffix == ".msprofile"
    profile = profiles.read_profile(rotation.path)             # self-signed by the new key
    assert profile.fingerprint == rotation.fingerprint
    (entry,) = profile.body["key_rotations"]
    statement = entry["statement"]
    assert statement["previous_sign_key"] == before["sign_public"]
    assert statement["sign_key"] == after["sign_public"] and statement["enc_key"] == after["enc_public"]
    suite = SUITES[profile.body["suite"]]
    assert suite.verify(unb64(before["sign_public"]), unb64(entry["signature"]), canonical(statement))
    assert profiles.retired_enc_keys(t) == [unb64(before["enc_private"])]
    (audit,) = t.conn.execute("SELECT after FROM audit WHERE action = 'rotate_keys'").fetchall()
    assert json.loads(audit[0]) == {"previous_fingerprint": rotation.previous_fingerprint,
                                    "fingerprint": rotation.fingerprint}
    assert before["sign_private"] not in rotation.path.read_text(encoding="utf-8")
    assert before["enc_private"] not in rotation.path.read_text(encoding="utf-8")


def test_receiver_accepts_a_rotation_signed_by_the_trusted_key_and_old_profiles_stay_old(chain):
    d, t, v, tmp = chain
    old_profile = tmp / "t.msprofile"
    rotation = sync.rotate_keys(t, tmp / "t-new.msprofile")
    result = profiles.import_profile(d, rotation.path)    # no phone check needed: not pending
    assert result["status"] == "rotated"
    assert result["fingerprint"] == rotation.fingerprint
    assert result["previous_fingerprint"] == rotation.previous_fingerprint
    peer = next(p for p in sync.peer_list(d) if p.org_name == "河坝镇" and p.active)
    assert peer.fingerprint == rotation.fingerprint
    assert profiles.import_profile(d, rotation.path)["status"] == "unchanged"
    # the profile from before the rotation never brings the old key back (not even pending)
    before = logical_dump(d.path)
    assert profiles.import_profile(d, old_profile)["status"] == "older"
    assert logical_dump(d.path) == before
    # a later plain export still carries the statement: the village chains from it too
    again = sync.export_profile(t, tmp / "t-again.msprofile")
    assert profiles.import_profile(v, again)["status"] == "rotated"


def test_a_receiver_that_missed_a_rotation_follows_the_chain(chain):
    d, t, v, tmp = chain
    first = sync.rotate_keys(t, tmp / "t1.msprofile")
    second = sync.rotate_keys(t, tmp / "t2.msprofile")
    result = profiles.import_profile(d, second.path)
    assert result["status"] == "rotated"
    assert result["previous_fingerprint"] == first.previous_fingerprint
    assert result["fingerprint"] == second.fingerprint
    assert profiles.import_profile(d, first.path)["status"] == "older"


def test_a_broken_or_foreign_chain_still_needs_the_phone_check(chain):
    d, t, v, tmp = chain
    rotation = sync.rotate_keys(t, tmp / "t-new.msprofile")
    data = json.loads(rotation.path.read_text(encoding="utf-8"))
    # the statement's signature made by some other key, the profile re-signed by the new key
    stranger = SUITES[data["profile"]["suite"]].new_keys()
    entry = data["profile"]["key_rotations"][0]
    entry["signature"] = b64(SUITES[data["profile"]["suite"]].sign(stranger.sign_private,
                                                                   canonical(entry["statement"])))
    new_private = unb64(t.setting("sign_private"))
    data["signature"] = b64(SUITES[data["profile"]["suite"]].sign(new_private, canonical(data["profile"])))
    forged = tmp / "forged.msprofile"
    forged.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    trusted = [(p.node, p.fingerprint) for p in sync.peer_list(d) if p.active]
    assert profiles.import_profile(d, forged)["status"] == "pending"       # waits for the phone check
    assert [(p.node, p.fingerprint) for p in sync.peer_list(d) if p.active] == trusted
    # a statement naming another install (node) does not chain either
    data = json.loads(rotation.path.read_text(encoding="utf-8"))
    data["profile"]["node"] = "another-node"
    data["signature"] = b64(SUITES[data["profile"]["suite"]].sign(new_private, canonical(data["profile"])))
    forged.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert profiles.import_profile(d, forged)["status"] == "pending"
    assert [(p.node, p.fingerprint) for p in sync.peer_list(d) if p.active] == trusted
    # the genuine file is accepted
    assert profiles.import_profile(d, rotation.path)["status"] == "rotated"


def test_packages_in_flight_over_a_rotation(chain):
    d, t, v, tmp = chain
    records = t.ledger("two_cancer")
    records.add(screening(1), org="示例村一", today=TODAY)
    early = sync.export_package(t, tmp / "early")          # signed by the town's old key
    down = sync.export_package(d, tmp / "down", to="河坝镇")  # sealed to the town's old key
    old = _old_keys(t)
    rotation = sync.rotate_keys(t, tmp / "t-new.msprofile")
    # the district has not imported the new profile yet: it seals to what it knows
    late_down = sync.export_package(d, tmp / "down", to="河坝镇")
    assert sync.import_package(t, down.path).status == "imported"
    assert sync.import_package(t, late_down.path).status == "imported"
    # the district imports the rotation first, then the package signed before it
    assert profiles.import_profile(d, rotation.path)["status"] == "rotated"
    assert sync.import_package(d, early.path).totals()["new"] == 2
    assert sync.import_package(d, early.path).status == "already"
    # new packages: signed by the new key; the district now seals to the town's new key
    records.add(screening(2), org="示例村一", today=TODAY)
    after = sync.export_package(t, tmp / "after")
    assert sync.import_package(d, after.path).totals()["new"] == 2
    fresh_down = sync.export_package(d, tmp / "down", to="河坝镇")
    assert sync.import_package(t, fresh_down.path).status == "imported"
    # the old signing key (say it was stolen) signs nothing numbered after the rotation
    new = _old_keys(t)
    t.set_settings(old)
    records.add(screening(3), org="示例村一", today=TODAY)
    forged = sync.export_package(t, tmp / "forged")
    t.set_settings(new)
    before = logical_dump(d.path)
    with pytest.raises(PackageError, match="签名不对"):
        sync.import_package(d, forged.path)
    assert logical_dump(d.path) == before


def test_old_signed_package_for_numbers_already_received_is_refused(chain):
    d, t, v, tmp = chain
    t.ledger("two_cancer").add(screening(1), org="示例村一", today=TODAY)
    first = sync.export_package(t, tmp / "out")
    assert sync.import_package(d, first.path).totals()["new"] == 2
    resend = sync.export_package(t, tmp / "out", resend=(1, 1))   # old key, an old number
    rotation = sync.rotate_keys(t, tmp / "t-new.msprofile")
    assert profiles.import_profile(d, rotation.path)["status"] == "rotated"
    with pytest.raises(PackageError, match="签名不对"):
        sync.import_package(d, resend.path)
    assert sync.import_package(d, first.path).status == "already"   # the one imported before


def test_only_the_last_old_decryption_keys_are_kept(chain):
    d, t, v, tmp = chain
    for i in range(profiles.KEEP_RETIRED + 2):
        sync.rotate_keys(t, tmp / f"r{i}.msprofile")
    assert len(profiles.retired_enc_keys(t)) == profiles.KEEP_RETIRED
    body = profiles.read_profile(tmp / f"r{profiles.KEEP_RETIRED + 1}.msprofile").body
    assert len(body["key_rotations"]) == profiles.KEEP_RETIRED + 2 <= profiles.MAX_CHAIN


def test_a_rotation_that_cannot_write_its_file_changes_nothing(chain):
    d, t, v, tmp = chain
    before = _old_keys(t)
    with pytest.raises(StoreError) as caught:
        sync.rotate_keys(t, tmp / "no-such-folder" / "x.msprofile")
    assert "本机密钥没有更换" in str(caught.value)
    assert _old_keys(t) == before
    assert not list((tmp).glob("**/*.tmp"))


def test_cli_profile_rotate_prints_the_new_fingerprint_spaced(chain, capsys):
    d, t, v, tmp = chain
    t.close()
    d.close()
    out = tmp / "rotated.msprofile"
    assert main(["profile", "rotate", "--db", str(tmp / "t.sqlite3"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    new = profiles.read_profile(out).fingerprint
    assert sync.spaced_fingerprint(new) in text and "新指纹" in text
    assert main(["profile", "rotate", "--db", str(tmp / "t.sqlite3"), "--out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["previous_fingerprint"] == new and data["path"] == str(out)
    assert main(["profile", "import", "--db", str(tmp / "d.sqlite3"), str(out)]) == 0
    assert "对方已更换密钥" in capsys.readouterr().out


@pytest.mark.parametrize("role", ["录入员", "审核员"])
def test_only_an_administrator_rotates(chain, role):
    d, t, v, tmp = chain
    before = _old_keys(t)
    t.session = Session("示例用户", role)
    with pytest.raises(PermissionDenied):
        sync.rotate_keys(t, tmp / "x.msprofile")
    assert _old_keys(t) == before and not (tmp / "x.msprofile").exists()
