"""What ``profile`` prints: Chinese statuses, fingerprints in the one grouping a person
reads aloud (JSON and text alike), and a plain answer when a unit is confirmed already."""
import datetime as dt
import json
import re

import pytest
from support import init_below, install_below, phoned, screening

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.store.database import Store
from desktop_app.core.sync import profiles

TODAY = dt.date(2024, 12, 31)
GROUPED = re.compile(r"[0-9A-F]{4}( [0-9A-F]{4}){3}   [0-9A-F]{4}( [0-9A-F]{4}){3}")


@pytest.fixture
def world(tmp_path):
    """大通湖区 with 金盆镇 confirmed and 千山红镇 pending with one package held; the
    district's store closed (the commands open it)."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="专班")
    jp = install_below(d, tmp_path / "jp.sqlite3", level="town", org="金盆镇", operator="金盆镇")
    qs = init_below(tmp_path / "qs.sqlite3", tmp_path / "d.msprofile", level="town", org="千山红镇",
                    operator="千山红镇")
    profiles.import_profile(d, profiles.export_profile(qs, tmp_path / "qs.msprofile"))
    qs.ledger("two_cancer").add(screening(1), org="千山红镇", today=TODAY)
    assert sync.import_package(d, sync.export_package(qs, tmp_path / "usb").path).status == "held"
    d.close()
    yield str(tmp_path / "d.sqlite3"), tmp_path
    jp.close()
    qs.close()


def test_confirm_says_in_chinese_what_became_of_the_held_packages(world, capsys):
    db, tmp = world
    assert main(["profile", "confirm", "--db", db, "--org", "千山红镇", "--fingerprint", phoned(tmp / "qs.msprofile")]) == 0
    out = capsys.readouterr().out
    assert "已确认千山红镇的指纹" in out and "（已导入）" in out
    assert not re.search(r"[A-Za-z]{4,}", out.replace(".mstz", ""))      # no English status word


def test_every_fingerprint_in_json_is_grouped_as_in_text(world, capsys):
    db, tmp = world
    assert main(["profile", "pending", "--db", db, "--json"]) == 0
    [pending] = json.loads(capsys.readouterr().out)["pending"]
    assert main(["profile", "pending", "--db", db]) == 0
    text = capsys.readouterr().out
    assert GROUPED.fullmatch(pending["fingerprint"]) and pending["fingerprint"] in text
    assert main(["profile", "export", "--db", db, "--out", str(tmp / "again.msprofile"), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)["fingerprint"]
    assert GROUPED.fullmatch(exported) and "-" not in exported
    assert main(["profile", "confirm", "--db", db, "--org", "千山红镇", "--json",
                 "--fingerprint", pending["fingerprint"].replace(" ", "-")]) == 0
    confirmed = json.loads(capsys.readouterr().out)
    assert confirmed["fingerprint"] == pending["fingerprint"] and confirmed["already"] is False


def test_confirming_a_unit_confirmed_already_says_so(world, capsys):
    db, tmp = world
    jp_fp = phoned(tmp / "jp.msprofile")
    assert main(["profile", "confirm", "--db", db, "--org", "金盆镇", "--fingerprint", jp_fp]) == 0
    out = capsys.readouterr().out
    assert "金盆镇的指纹已经确认过" in out and "无需再次确认" in out and "没有待确认" not in out
    # a fingerprint that is not the confirmed one is a mismatch, not "nothing pending"
    assert main(["profile", "confirm", "--db", db, "--org", "金盆镇",
                 "--fingerprint", phoned(tmp / "qs.msprofile")]) == 1
    err = capsys.readouterr().err
    assert "指纹不符" in err and "没有待确认" not in err


def test_fingerprints_stored_dashed_by_earlier_versions_show_grouped(world):
    db, tmp = world
    with Store.open(db) as d:
        d.conn.execute("UPDATE peers SET fingerprint = replace(replace(fingerprint, '   ', '-'), ' ', '-')")
        d.conn.execute("UPDATE pending_peers SET fingerprint = replace(replace(fingerprint, '   ', '-'), ' ', '-')")
        d.conn.commit()
        assert "-" in d.conn.execute("SELECT fingerprint FROM peers").fetchone()[0]
        assert all(GROUPED.fullmatch(p.fingerprint) for p in sync.peer_list(d))
        assert all(GROUPED.fullmatch(p.fingerprint) for p in sync.pending_peers(d))
