"""Issue 15, item 6: content from a member's packages gets the checks local input gets.
Rows breaking a field rule are quarantined (not in the ledger, kept with the rule broken)
and the sender hears of it in the next package it receives; attached files are checked
by content like a file picked here. Packages are signed with the member's real key."""
import pytest
from district_world import TODAY, woman, world  # noqa: F401 - world is the fixture
from insider_world import HB, current, forged, record_sent, row_line, versioned
from support import household, logical_dump, screening

from desktop_app.core import sync
from desktop_app.core.store import attachments as attachments_module
from desktop_app.core.store.attachments import Attachments, Inspected, attach, tiny_png
from desktop_app.core.sync.package_file import PackageError

HTML = b"<html><body><script>alert(1)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>')


def bad_row(hb, n: int, **bad) -> dict:
    first = hb.ledger("two_cancer").rows()[0]
    values = dict(versioned(hb, "ledger_two_cancer", first["uuid"]), org=HB + "001", **bad)
    return row_line(hb, "ledger_two_cancer", f"00000000-0000-4000-8000-{n:012d}", values)


def test_rows_breaking_a_field_rule_are_quarantined_and_reported_to_the_sender(world):
    d, hb, tmp = world
    rows = [bad_row(hb, 1, id_number="not-an-id"), bad_row(hb, 2, population="非法值"),
            bad_row(hb, 3, cervical_date='=HYPERLINK("http://example.invalid","点")'),
            bad_row(hb, 4, phone="=1+1")]
    summary = sync.import_package(d, forged(hb, d, rows, tmp / "bad.mstz"))
    record_sent(hb, tmp / "bad.mstz")       # a broken 河坝镇 install sent it: its notices count
    assert summary.status == "imported" and summary.totals()["rejected"] == 4
    assert all(current(d, "ledger_two_cancer", r["u"]) is None for r in rows)
    held = dict(d.conn.execute("SELECT uuid, rule FROM quarantine WHERE direction = 'held' AND kind = 'row'"))
    assert set(held) == {r["u"] for r in rows}
    assert "人群类别" in held[rows[1]["u"]] and "宫颈癌检查日期" in held[rows[2]["u"]]
    assert "not-an-id" not in held[rows[0]["u"]]            # a sensitive field's value is never echoed
    assert any("不符合计划目录的填报规则" in w for w in summary.warnings)
    # the district's next package to 河坝镇 tells it, once
    told = sync.import_package(hb, sync.export_package(d, tmp / "down", to=HB).path)
    reported = dict(hb.conn.execute("SELECT uuid, rule FROM quarantine WHERE direction = 'reported'"))
    # in 河坝镇's own words: these rows are not in its ledger, so it cannot name the rule itself
    assert set(reported) == set(held) and set(reported.values()) == {"记录不符合对方的填报规则"}
    assert sum("拒收了本单位发出的 4 条记录" in w for w in told.warnings) == 1
    again = sync.import_package(hb, sync.export_package(d, tmp / "down2", to=HB).path)
    assert not any("拒收了本单位发出的" in w for w in again.warnings)


def test_a_row_lacking_only_a_field_is_pending_not_refused(world):
    d, hb, tmp = world
    row = bad_row(hb, 9, institution=None)                # required, not an identity field
    sync.import_package(d, forged(hb, d, [row], tmp / "missing.mstz"))
    stored = current(d, "ledger_two_cancer", row["u"])
    assert stored["_incomplete"] == 1 and "institution" in stored["_missing"]


@pytest.mark.parametrize("catalog, says", [
    (None, "没有写明生成它的计划目录版本"),
    ({"id": "dth-minsheng-2025", "version": "2025.1"}, "另一份计划目录"),
    ({"id": "dth-minsheng-2024", "version": "2024.9"}, "请先导入上级单位的新配置文件"),
    ({"id": "dth-minsheng-2024", "version": "新版"}, "更新的计划目录"),
])
def test_a_package_is_checked_with_a_catalog_version_the_receiver_knows(world, catalog, says):
    d, hb, tmp = world
    before = logical_dump(d.path)
    with pytest.raises(PackageError, match=says) as refused:
        sync.import_package(d, forged(hb, d, [bad_row(hb, 5)], tmp / "cat.mstz", catalog=catalog))
    assert refused.value.exit_code == 2 and logical_dump(d.path) == before


def test_an_older_catalog_version_is_accepted(world):
    d, hb, tmp = world
    summary = sync.import_package(d, forged(hb, d, [bad_row(hb, 6)], tmp / "old.mstz",
                                            catalog={"id": "dth-minsheng-2024", "version": "2024.1"}))
    assert summary.totals()["new"] == 1


def test_received_attachments_get_the_content_checks_of_local_ones(world, monkeypatch, tmp_path):
    """A broken or hostile 河坝镇 install stores HTML as a "jpeg" and an SVG as a "png" (its
    own checks switched off) and sends them: the district keeps the row, refuses the files
    and the town hears of it."""
    d, hb, tmp = world
    uid = hb.ledger("barrier_free").rows()[0]["uuid"]
    (tmp_path / "photo.jpg").write_bytes(HTML)
    (tmp_path / "plan.png").write_bytes(SVG)
    (tmp_path / "real.png").write_bytes(tiny_png())
    with monkeypatch.context() as m:
        m.setattr(attachments_module, "inspect",
                  lambda path, **kw: Inspected("png" if path.suffix == ".png" else "jpeg",
                                               path.stat().st_size, None, None, path.read_bytes()))
        refs = attach(hb, "barrier_free", uid, "photos_before",
                      [tmp_path / "photo.jpg", tmp_path / "plan.png", tmp_path / "real.png"])
    summary = sync.import_package(d, sync.export_package(hb, tmp / "usb").path)
    assert current(d, "ledger_barrier_free", uid) is not None
    box = Attachments(d)
    assert [box.has(r["sha256"]) for r in refs] == [False, False, True]
    assert summary.files == 1 and any("2 个附件的内容不合规" in w for w in summary.warnings)
    held = {u for (u,) in d.conn.execute("SELECT uuid FROM quarantine WHERE kind = 'file'")}
    assert held == {refs[0]["sha256"], refs[1]["sha256"]}
    told = sync.import_package(hb, sync.export_package(d, tmp / "down", to=HB).path)
    assert [w for w in told.warnings if "拒收了本单位发出的" in w] == [
        "大通湖区拒收了本单位发出的 2 条记录（附件未通过对方的内容检查（不是它声称的照片或 PDF））；请改正后重新发送"]


def test_a_thumbnail_never_hands_an_svg_or_html_to_qt():
    from desktop_app.imaging import thumbnail
    assert thumbnail(SVG).isNull() and thumbnail(HTML).isNull()
    assert not thumbnail(tiny_png()).isNull()


def test_valid_traffic_is_not_quarantined(world):
    d, hb, tmp = world
    hb.ledger("two_cancer").add(screening(30, id_number=woman(30)), org="示例村一", today=TODAY)
    hb.ledger("barrier_free").add(household(31), org="示例村一", today=TODAY)
    summary = sync.import_package(d, sync.export_package(hb, tmp / "usb", full=True).path)
    assert summary.totals()["rejected"] == 0 and summary.warnings == []
    assert d.conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0


def test_a_value_holding_two_usual_lines_is_held_as_each_value_alone_would_be(world):
    d, hb, tmp = world
    first = hb.ledger("two_cancer").rows()[0]
    number = versioned(hb, "ledger_two_cancer", first["uuid"])["id_number"]
    rows = [bad_row(hb, 1, phone="13800001234\n13900001234"), bad_row(hb, 2, phone="13800001234"),
            bad_row(hb, 3, id_number=f"{number}\n{number}")]
    sync.import_package(d, forged(hb, d, rows, tmp / "lines.mstz"))
    held = dict(d.conn.execute("SELECT uuid, rule FROM quarantine WHERE direction = 'held' AND kind = 'row'"))
    assert current(d, "ledger_two_cancer", rows[0]["u"]) is None and "联系电话" in held[rows[0]["u"]]
    assert current(d, "ledger_two_cancer", rows[2]["u"]) is None and "身份证号" in held[rows[2]["u"]]
