"""Issue 15, item 1: clock poisoning. A package with a stamp more than MAX_SKEW (24 h) ahead of
the receiver's clock is held whole (nothing applied, the clock unchanged) and applied once the
skew is explained; a sender with a wrong date is told before it exports; an administrator
repairs a store that was already poisoned."""
import datetime as dt
import json

import pytest
from support import raw_connect, screening

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.errors import StoreError
from desktop_app.core.store import backup
from desktop_app.core.store.database import Store
from desktop_app.core.store.versions import COUNTER_BITS, MAX_ADOPT_MS, RowVersions
from desktop_app.core.sync.held import list_held

TODAY = dt.date(2024, 12, 31)
Y2099 = dt.datetime(2099, 12, 31, 12).timestamp()
NOW = dt.datetime(2098, 1, 1, 9).timestamp()      # the installs' fixed wall clock (after any real date)


def _fixed(*stores, wall=NOW):
    for s in stores:
        s.clock.wall = lambda: wall


def _unchanged_tables(path) -> dict:
    """What "unchanged" covers, without the held-package record (and import history, and
    the generation token the held-package record renews)."""
    conn = raw_connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
                                            "'sqlite_%' AND name NOT IN ('import_history', 'held_packages')")]
        return {n: sorted(repr(r) for r in conn.execute(f"SELECT * FROM [{n}]") if r[0] != "generation")
                for n in names}
    finally:
        conn.close()


def test_a_package_with_stamps_in_2099_is_held_whole_and_the_district_still_reaches_the_town(chain):
    d, t, v, tmp = chain
    _fixed(d, t, v)
    first = t.ledger("two_cancer").add(screening(1), org="示例村一", today=TODAY)
    assert sync.import_package(d, sync.export_package(t, tmp / "usb").path).status == "imported"
    # the town's PC is set to 2099-12-31: its next edits carry stamps of that day
    _fixed(t, wall=Y2099)
    t.ledger("two_cancer").update(first.uuid, {"phone": "13900009999"}, today=TODAY)
    t.ledger("two_cancer").add(screening(2), org="示例村一", today=TODAY)
    poisoned = sync.export_package(t, tmp / "usb").path
    before, clock = _unchanged_tables(d.path), d.clock.last
    summary = sync.import_package(d, poisoned)
    assert summary.status == "held" and summary.totals()["new"] == 0
    assert "河坝镇" in summary.message and "超前约 729 天" in summary.message and "24 小时" in summary.message
    assert _unchanged_tables(d.path) == before and d.clock.last == clock
    assert [h.reason for h in list_held(d)] == ["clock_skew"]
    # held again, not twice
    assert sync.import_package(d, poisoned).status == "held" and len(list_held(d)) == 1
    # the district's later writes still reach the town (its clock was never moved)
    review = sync.export_package(d, tmp / "down", to="河坝镇")
    assert review.manifest["seq_from"] == 1
    d.ledger("two_cancer").update(first.uuid, {"institution": "区里核实"}, today=TODAY)
    down = sync.import_package(t, sync.export_package(d, tmp / "down", to="河坝镇").path)
    assert down.status == "imported" and t.ledger("two_cancer").get(first.uuid)["institution"] == "区里核实"
    # once the district's clock catches up, the held package is applied (same result as on arrival)
    _fixed(d, wall=Y2099)
    [applied] = sync.retry_held(d)
    assert applied.status == "imported" and list_held(d) == []
    assert d.ledger("two_cancer").get(first.uuid)["phone"] == "13900009999"
    assert d.ledger("two_cancer").count() == 2


def test_an_administrator_may_accept_a_held_package_without_moving_the_clock(chain, capsys):
    d, t, v, tmp = chain
    _fixed(d, v)
    _fixed(t, wall=Y2099)
    t.ledger("two_cancer").add(screening(3), org="示例村一", today=TODAY)
    assert sync.import_package(d, sync.export_package(t, tmp / "usb").path).status == "held"
    [held] = list_held(d)
    clock = d.clock.last
    summary = sync.accept_held(d, held.package_id)
    assert summary.status == "imported" and d.ledger("two_cancer").count() == 1
    assert d.clock.last < d.clock.bound() and d.clock.last >> COUNTER_BITS < Y2099 * 1000
    assert d.clock.last >= clock


def test_a_sender_with_a_wrong_date_is_told_before_it_exports(chain):
    d, t, v, tmp = chain
    _fixed(d, t, v)
    t.ledger("two_cancer").add(screening(4), org="示例村一", today=TODAY)
    sync.import_package(d, sync.export_package(t, tmp / "usb").path)
    d.ledger("two_cancer").add(screening(5), org="430971121001", today=TODAY)
    sync.import_package(t, sync.export_package(d, tmp / "down", to="河坝镇").path)
    # the town's PC jumps to 2099: more than a year later than anything it received
    _fixed(t, wall=Y2099)
    with pytest.raises(StoreError, match="本机日期（2099-12-31）比上次收到的数据.*晚约 .* 天，请先校正电脑日期") as caught:
        sync.export_package(t, tmp / "usb")
    assert caught.value.exit_code == 1 and not list((tmp / "usb").glob("*第2号*"))
    # the town's PC set back to 2020: earlier than what it already wrote
    _fixed(t, wall=dt.datetime(2020, 1, 1).timestamp())
    with pytest.raises(StoreError, match="本机日期（2020-01-01）比上次收到或写入的数据.*早约 .* 天"):
        sync.export_package(t, tmp / "usb")
    _fixed(t)
    assert sync.export_package(t, tmp / "usb").manifest["seq_from"] == 2


def _poison(store, uuid):
    """What the old code did: a stamp of 2099 adopted by the clock, then a local write."""
    store.clock.last = int(Y2099 * 1000) << COUNTER_BITS
    store.ledger("two_cancer").update(uuid, {"phone": "13700001111"}, today=TODAY)


def test_repair_clock_on_a_poisoned_store(chain):
    d, t, v, tmp = chain
    _fixed(d, t, v)
    row = t.ledger("two_cancer").add(screening(6), org="示例村一", today=TODAY)
    sync.import_package(d, sync.export_package(t, tmp / "usb").path)
    _poison(d, row.uuid)
    poisoned_backup = backup.make_backup(d, "manual")
    with pytest.raises(StoreError, match="早约 .* 天.*repair-clock"):
        sync.export_package(d, tmp / "down", to="河坝镇")
    result = sync.repair_clock(d)
    assert result["rows"] == 1 and result["clock_before"] == "2099-12-31" and result["clock_after"] == "2098-01-01"
    assert sync.clock_problem(d) is None
    versions = RowVersions.decode(d.ledger("two_cancer").get(row.uuid)["_versions"])
    assert versions.newest() < d.clock.bound()
    assert d.conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'repair_clock'").fetchone()[0] == 1
    down = sync.export_package(d, tmp / "down", to="河坝镇")
    # the rewritten value reaches the town as a new version of the district
    got = sync.import_package(t, down.path)
    assert got.status == "imported" and t.ledger("two_cancer").get(row.uuid)["phone"] == "13700001111"
    # a restore of the poisoned backup does not bring the poisoned clock back unnoticed
    d.close()
    db = tmp / "d.sqlite3"
    backup.restore(db, poisoned_backup.path)
    with Store.open(db) as again:
        _fixed(again)
        assert "repair-clock" in sync.clock_problem(again)
        with pytest.raises(StoreError, match="请先校正电脑日期"):
            sync.export_package(again, tmp / "down", to="河坝镇")


def test_repair_clock_from_the_command_line(tmp_path, capsys):
    """(The command line runs on this PC's real date, which is before 2099.)"""
    db = tmp_path / "t.sqlite3"
    with Store.create(db, level="town", org="河坝镇", operator="x") as town:
        row = town.ledger("two_cancer").add(screening(8), org="河坝镇", today=TODAY)
        _poison(town, row.uuid)
    assert main(["repair-clock", "--db", str(db), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"] == 1 and result["clock_before"] == "2099-12-31"
    with Store.open(db) as town:
        assert sync.clock_problem(town) is None


def test_repair_clock_is_for_administrators_only(chain):
    from desktop_app.core.store import PermissionDenied, Session
    d, t, v, tmp = chain
    d.session = Session("示例录入员", "录入员")
    with pytest.raises(PermissionDenied):
        sync.repair_clock(d)


def test_repair_clock_keeps_the_clock_above_every_stamp_it_keeps(chain):
    """A village 20 h ahead (within the bound) moves the town's clock; a repair run then must
    not set the clock below the town's own kept stamps, or its next edit would be taken as
    older everywhere (found by the insider attack)."""
    d, t, v, tmp = chain
    _fixed(d, t)
    _fixed(v, wall=NOW + 20 * 3600)
    v.ledger("two_cancer").add(screening(9), today=TODAY)
    assert sync.import_package(t, sync.export_package(v, tmp / "usb").path).status == "imported"
    row = t.ledger("two_cancer").add(screening(1), org="示例村一", today=TODAY)   # stamped ~+20 h
    sync.import_package(d, sync.export_package(t, tmp / "up").path)
    result = sync.repair_clock(t)
    assert result["rows"] == 0
    t.ledger("two_cancer").update(row.uuid, {"phone": "13911112222"}, today=TODAY)
    summary = sync.import_package(d, sync.export_package(t, tmp / "up").path)
    assert summary.totals()["updated"] == 1 and summary.totals()["older"] == 0
    assert d.ledger("two_cancer").get(row.uuid)["phone"] == "13911112222"


def test_an_accepted_package_is_kept_with_stamps_the_level_above_accepts(chain):
    """The village's PC ran at 2099; the town's administrator accepts its held package; the
    town's next package reaches the district (same date as the town) without being held."""
    d, t, v, tmp = chain
    _fixed(d, t)
    _fixed(v, wall=Y2099)
    v.ledger("two_cancer").add(screening(6), today=TODAY)
    assert sync.import_package(t, sync.export_package(v, tmp / "usb").path).status == "held"
    [held] = list_held(t)
    assert sync.accept_held(t, held.package_id).status == "imported"
    [row] = t.ledger("two_cancer").rows()
    kept = RowVersions.decode(t.conn.execute(
        "SELECT _versions FROM ledger_two_cancer WHERE uuid = ?", (row["uuid"],)).fetchone()[0])
    assert max(v_.stamp for v_ in [kept.base, *kept.fields.values()]) <= t.clock.cap()
    up = sync.import_package(d, sync.export_package(t, tmp / "up").path)
    assert up.status == "imported" and list_held(d) == [] and d.ledger("two_cancer").count() == 1


def test_a_village_almost_a_day_ahead_does_not_carry_the_town_s_own_rows_past_the_district(chain):
    """A village 23 h 50 min ahead is within the bound at the town; the town's clock adopts at
    most MAX_ADOPT_MS of it, so the town's own later rows still reach a district whose PC is
    two hours behind the town's."""
    d, t, v, tmp = chain
    _fixed(t)
    _fixed(d, wall=NOW - 2 * 3600)
    _fixed(v, wall=NOW + 23 * 3600 + 50 * 60)
    v.ledger("two_cancer").add(screening(7), today=TODAY)
    assert sync.import_package(t, sync.export_package(v, tmp / "usb").path).status == "imported"
    assert (t.clock.last >> COUNTER_BITS) <= NOW * 1000 + MAX_ADOPT_MS
    village_rows = sync.export_package(t, tmp / "up")      # carries the village's stamps: held above
    assert sync.import_package(d, village_rows.path).status == "held"
    t.ledger("two_cancer").add(screening(8), org="示例村一", today=TODAY)
    own = sync.import_package(d, sync.export_package(t, tmp / "up").path)
    assert own.status == "imported" and d.ledger("two_cancer").count() == 1
