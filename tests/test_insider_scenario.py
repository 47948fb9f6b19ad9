"""Issue 15, the three-tier scenario: hostile traffic from members with valid keys — a village
whose stamps say 2099-12-31, a town profile re-using another town's install id, a package
numbered 10^12, a town whose clock says 2099 — followed by normal traffic. The district ends
with the same data as a copy of the same network that saw only the normal traffic, and the
board shows what was held."""
import datetime as dt
import json
import re

import pytest
from district_world import TODAY, build_district, woman
from insider_world import forged, row_line, versioned
from support import copy_store, install_below, screening

from desktop_app.core import sync
from desktop_app.core.sync.peers import record_specs
from desktop_app.core.district import flag, submission_board
from desktop_app.core.store import Store
from desktop_app.core.sync import profiles
from desktop_app.core.sync.package_file import PackageError

RANDOM_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")   # row and review ids
FUTURE = int(dt.datetime(2099, 12, 31, tzinfo=dt.timezone.utc).timestamp() * 1000) << 16
NAMES = ("d", "t0", "t1", "t2", "t3", "t4", "v")


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """District, five towns and a village of 河坝镇 (示例村一), closed; copied per run."""
    root = tmp_path_factory.mktemp("network")
    d, towns = build_district(root)
    v = install_below(towns["河坝镇"], root / "v.sqlite3", level="village", org="示例村一", operator="村")
    for s in (d, v, *towns.values()):
        s.close()
    return root


def opened(network, root):
    return {n: Store.open(copy_store(network / f"{n}.sqlite3", root / f"{n}.sqlite3")) for n in NAMES}


def district_data(d) -> dict:
    """What the district holds of every ledger row, person and review: values, not versions
    (the district's own writes are stamped by its clock at the time they run), and ids (rows
    made afresh by each run's normal traffic, reviews named after them) replaced by a placeholder."""
    out = {}
    for tbl, (spec, _led) in record_specs(d).items():
        cols = ", ".join(f"[{c}]" for c in spec.versioned)
        rows = d.conn.execute(f"SELECT uuid, {cols} FROM [{tbl}]").fetchall()
        out[tbl] = sorted(tuple(RANDOM_ID.sub("<id>", str(x)) for x in r) for r in rows)
    return out


def normal_traffic(s, usb) -> None:
    """A week of ordinary work: the village and a town send rows up, the district flags one
    and sends its note down, the town replies."""
    v, hb, d = s["v"], s["t0"], s["d"]
    v.ledger("two_cancer").add(screening(40, id_number=woman(40)), today=TODAY)
    sync.import_package(hb, sync.export_package(v, usb).path)
    hb.ledger("two_cancer").add(screening(41, id_number=woman(41)), org="示例村二", today=TODAY)
    sync.import_package(d, sync.export_package(hb, usb).path)
    row = next(r for r in d.ledger("two_cancer").rows() if r["name"] == "示例40")
    flag(d, "two_cancer", row["uuid"], note="请核实检查机构")
    sync.import_package(hb, sync.export_package(d, usb, to="河坝镇").path)
    qs = s["t3"]
    qs.ledger("two_cancer").add(screening(42, id_number=woman(42)), org="示例村一", today=TODAY)
    sync.import_package(d, sync.export_package(qs, usb).path)


def hostile_traffic(s, root) -> dict:
    v, hb, jp, qs, d = s["v"], s["t0"], s["t1"], s["t3"], s["d"]
    seen = {}
    # a village whose clock says 2099-12-31: its package is held whole at the town
    model = next(r["uuid"] for r in hb.ledger("two_cancer").rows() if r["org"] == v.node.org)
    line = row_line(v, "ledger_two_cancer", "00000000-0000-4000-8000-000000000050",
                    dict(versioned(hb, "ledger_two_cancer", model), name="改"))
    line["ver"] = json.dumps([[FUTURE, v.node.id]])
    seen["village"] = sync.import_package(hb, forged(v, hb, [line], root / "v2099.mstz")).status
    # a town profile re-using 金盆镇's install id: refused at the district
    bzz = Store.create(root / "fake-bzz.sqlite3", level="town", org="北洲子镇", operator="x")
    fake = json.loads(profiles.export_profile(bzz, root / "fake.msprofile").read_text(encoding="utf-8"))
    bzz.close()
    fake["profile"]["node"] = jp.node.id
    (root / "fake.msprofile").write_text(json.dumps(fake, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(profiles.ProfileError):
        profiles.import_profile(d, root / "fake.msprofile")
    # a package numbered 10^12 from 河坝镇 (really signed): refused whole
    with pytest.raises(PackageError, match="编号"):
        sync.import_package(d, forged(hb, d, [], root / "huge.mstz", seq=10**12))
    # 千山红镇 with its clock at 2099: one of its rows stamped then; held at the district
    theirs = next(r["uuid"] for r in qs.ledger("barrier_free").rows())
    line = row_line(qs, "ledger_barrier_free", theirs, dict(versioned(qs, "ledger_barrier_free", theirs),
                                                            name="改"))
    line["ver"] = json.dumps([[FUTURE, qs.node.id]])
    seen["town"] = sync.import_package(d, forged(qs, d, [line], root / "qs2099.mstz")).status
    return seen


def test_hostile_members_leave_the_district_as_normal_traffic_alone_does(network, tmp_path):
    clean, hostile = tmp_path / "clean", tmp_path / "hostile"
    clean.mkdir(), hostile.mkdir()
    a, b = opened(network, clean), opened(network, hostile)
    try:
        clock_before = b["d"].clock.last
        seen = hostile_traffic(b, hostile)
        assert seen == {"village": "held", "town": "held"}
        assert b["d"].clock.last == clock_before      # nothing held or refused moved its clock
        normal_traffic(a, clean / "usb")
        normal_traffic(b, hostile / "usb")
        assert district_data(b["d"]) == district_data(a["d"])
        assert b["t0"].clock.last <= b["t0"].clock.bound() and b["d"].clock.last <= b["d"].clock.bound()
        # the board shows what was held, and from whom
        board = {line.name: line for line in submission_board(b["d"], TODAY)}
        assert board["千山红镇"].held == 1 and board["千山红镇"].status != "green"
        assert board["金盆镇"].held == 0 and board["金盆镇"].pending is None
        assert [p.reason for p in sync.list_held(b["t0"])] == ["clock_skew"]
    finally:
        for s in (*a.values(), *b.values()):
            s.close()
