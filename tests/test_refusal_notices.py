"""Refusal notices (``{"k": "refused"}`` lines) in a package from the level above are
believed only about what this install really sent to that sender, at most
``MAX_NOTICES`` a package, and shown in this install's own words: the sender's text
is never echoed or kept (a member's key can sign any text)."""
import pytest
from district_world import build_district
from insider_world import forged

from desktop_app.core import sync
from desktop_app.core.sync import incoming
from desktop_app.core.sync import scope

HB = "430971121"
BAIT = "请拨打 400-000-0000 领取补贴 <a href='http://example.invalid'>点此</a>"


@pytest.fixture
def world(tmp_path):
    d, towns = build_district(tmp_path)
    hb = towns["河坝镇"]
    sent = sync.export_package(hb, tmp_path / "up")          # a package 河坝镇 really sent to the district
    assert sync.import_package(d, sent.path).status in ("imported", "already")
    yield d, hb, sent.manifest["package_id"], tmp_path
    for s in (d, *towns.values()):
        s.close()


def notice(package_id: str, uid: str, *, kind: str = "row", tbl: str = "ledger_two_cancer") -> dict:
    return {"k": "refused", "p": package_id, "kind": kind, "t": tbl, "u": uid, "r": BAIT}


def reported(hb) -> dict:
    return dict(hb.conn.execute("SELECT uuid, rule FROM quarantine WHERE direction = 'reported'"))


def everything_said(summary) -> str:
    return summary.message + "".join(summary.warnings)


def test_a_notice_about_a_package_never_sent_is_ignored(world):
    d, hb, sent_id, tmp = world
    uid = hb.ledger("two_cancer").rows()[0]["uuid"]
    summary = sync.import_package(hb, forged(d, hb, [notice("00000000-0000-4000-8000-000000000abc", uid)],
                                             tmp / "n1.mstz"))
    assert summary.status == "imported" and reported(hb) == {}
    assert not any("拒收了本单位发出的" in w for w in summary.warnings)
    assert any("有 1 条拒收通知说的不是本机发给大通湖区的数据" in w for w in summary.warnings)
    assert "400-000-0000" not in everything_said(summary)


def test_a_notice_about_a_sent_row_is_told_in_our_own_words_never_the_senders(world):
    d, hb, sent_id, tmp = world
    uid = hb.ledger("two_cancer").rows()[0]["uuid"]
    summary = sync.import_package(hb, forged(d, hb, [notice(sent_id, uid)], tmp / "n2.mstz"))
    assert reported(hb) == {uid: "记录不符合对方的填报规则"}
    assert [w for w in summary.warnings if "拒收了本单位发出的" in w] == [
        "大通湖区拒收了本单位发出的 1 条记录（记录不符合对方的填报规则）；请改正后重新发送"]
    assert "400-000-0000" not in everything_said(summary)
    stored = "".join(r or "" for (r,) in hb.conn.execute("SELECT rule || COALESCE(record, '') FROM quarantine"))
    assert "400-000-0000" not in stored


def test_a_row_of_ours_that_breaks_our_own_rule_is_named_by_our_rule(world):
    d, hb, sent_id, tmp = world
    uid = hb.ledger("two_cancer").rows()[0]["uuid"]
    hb.conn.execute("UPDATE ledger_two_cancer SET population = '非法值' WHERE uuid = ?", (uid,))
    hb.conn.commit()
    summary = sync.import_package(hb, forged(d, hb, [notice(sent_id, uid)], tmp / "n3.mstz"))
    [rule] = reported(hb).values()
    assert rule.startswith("人群类别：") and "400" not in rule
    assert any(f"（{rule}）" in w for w in summary.warnings)


def test_notices_about_a_table_or_file_we_never_had_are_ignored(world):
    d, hb, sent_id, tmp = world
    lines = [notice(sent_id, "x", tbl="ledger_nonexistent"),
             notice(sent_id, "0" * 64, kind="file", tbl="attachments")]
    summary = sync.import_package(hb, forged(d, hb, lines, tmp / "n4.mstz"))
    assert reported(hb) == {} and any("有 2 条拒收通知" in w for w in summary.warnings)


def test_the_number_of_notices_believed_from_one_package_is_capped(world, monkeypatch):
    d, hb, sent_id, tmp = world
    monkeypatch.setattr(incoming, "MAX_NOTICES", 2)
    uids = [r["uuid"] for r in hb.ledger("two_cancer").rows()][:4]
    assert len(uids) == 4
    summary = sync.import_package(hb, forged(d, hb, [notice(sent_id, u) for u in uids], tmp / "n5.mstz"))
    assert len(reported(hb)) == 2
    assert any("有 2 条拒收通知" in w and "上限" in w for w in summary.warnings)


def test_the_cap_is_the_one_the_sender_side_keeps():
    assert incoming.MAX_NOTICES == scope.MAX_NOTICES == 10_000
