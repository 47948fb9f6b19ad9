"""The district: a generated district with 5 towns, their villages and overlapping people —
board states, duplicates across towns (exact pairs), progress before and after confirming,
review feedback town ↔ district, provenance, and the monthly report (xlsx and PDF)."""
import datetime as dt
import os

import pytest
from district_world import TODAY, build_district
from openpyxl import load_workbook
from support import make_id

from desktop_app.core.district import board, duplicates, reviews
from desktop_app.core.district.monthly import monthly_report, monthly_workbook
from desktop_app.core.district.progress import compute
from desktop_app.core import sync


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    root = tmp_path_factory.mktemp("district")
    d, towns = build_district(root)
    yield d, towns, root
    for s in [d, *towns.values()]:
        s.close()


def test_duplicates_across_towns_and_years_exact_pairs(district):
    d, towns, root = district
    pairs = duplicates.find_duplicates(d)
    found = sorted((p.ledger, p.kind, p.a["org"][:9], p.b["org"][:9]) for p in pairs)
    led = d.ledger("two_cancer")
    woman2 = led.rows(match={"id_number": make_id("19720415", 4)})
    assert len(woman2) == 2
    expected = sorted([
        ("two_cancer", "cross_town", *sorted(["430971121", "430971123"])),
        ("barrier_free", "cross_town", *sorted(["430971121", "430971130"])),
        ("two_cancer", "cross_year", "430971121", "430971121"),
    ])
    assert [(a, b, *sorted([c, e])) for a, b, c, e in found] == expected


def test_confirming_a_duplicate_stops_double_counting(district):
    d, towns, root = district
    before = compute(d, TODAY).get("two_cancer_screening").achieved
    before_rows = compute(d, TODAY).get("two_cancer_screening").rows
    pair = next(p for p in duplicates.find_duplicates(d, "two_cancer") if p.kind == "cross_town")
    duplicates.decide(d, "two_cancer", pair.a["uuid"], pair.b["uuid"], "same", keep=pair.a["uuid"])
    after = compute(d, TODAY).get("two_cancer_screening")
    assert after.rows == before_rows - 1
    assert after.achieved == before            # distinct persons: the woman was already once
    hb = [o for o in after.by_org if o.org in ("430971121", "430971123")]
    assert sum(o.achieved for o in hb) == 3 + 2 - 1
    assert next(p for p in duplicates.find_duplicates(d, "two_cancer") if p.kind == "cross_town").decision == "same"
    duplicates.decide(d, "two_cancer", pair.a["uuid"], pair.b["uuid"], "different")
    assert compute(d, TODAY).get("two_cancer_screening").rows == before_rows


def test_board_on_time_overdue_gap_and_never(district):
    d, towns, root = district
    board.set_schedule(d, "month", 5)
    node = {org: n for n, org in d.conn.execute("SELECT node, org FROM peers")}
    # pretend the packages arrived on these dates (the board reads the receipt times)
    when = {"430971121": "2024-03-04T10:00:00", "430971123": "2024-02-03T10:00:00",
            "430971124": "2024-03-05T09:00:00", "430971130": "2024-03-01T09:00:00"}
    with d.transaction():
        for org, ts in when.items():
            d.conn.execute("UPDATE packages SET handled = ? WHERE source = ? AND direction = 'in'",
                           (ts, node[org]))
        d.conn.execute("INSERT INTO received (source, seq, package_id) VALUES (?, 3, 'x')", (node["430971124"],))
    lines = {b.name: b for b in board.submission_board(d, dt.date(2024, 3, 20))}
    assert lines["河坝镇"].overdue == ["2024-01-05", "2024-02-05"]          # only March's was met
    assert lines["金盆镇"].overdue == ["2024-01-05", "2024-03-05"]
    assert lines["北洲子镇"].gaps == ["北洲子镇：第 2 号数据包缺失"] and lines["北洲子镇"].status == "red"
    assert not lines["南湾湖管理处"].packages and lines["南湾湖管理处"].status == "red"
    assert [v.name for v in lines["河坝镇"].villages] == ["示例村一", "示例村二"]
    assert lines["河坝镇"].villages[0].rows >= 3
    # the same ID number was registered under two names in 河坝镇 and 金盆镇: a dispute both
    # towns are party to, whichever town's edit happens to carry the larger clock stamp
    assert lines["金盆镇"].conflicts == lines["河坝镇"].conflicts == 1
    with d.transaction():
        d.conn.execute("DELETE FROM received WHERE package_id = 'x'")
    on_time = {b.name: b for b in board.submission_board(d, dt.date(2024, 1, 20))}
    assert on_time["北洲子镇"].status == "red"                    # nothing arrived by 5 January
    with d.transaction():
        d.conn.execute("UPDATE packages SET handled = '2024-01-04T16:00:00' WHERE source = ?",
                       (node["430971124"],))
    on_time = {b.name: b for b in board.submission_board(d, dt.date(2024, 1, 20))}
    assert (on_time["北洲子镇"].status, on_time["北洲子镇"].overdue) == ("green", [])


def test_feedback_travels_down_and_the_correction_comes_back(district):
    d, towns, root = district
    hb = towns["河坝镇"]
    row = d.ledger("two_cancer").rows(org="430971121", match={"name": "示例2"})[0]
    reviews.flag(d, "two_cancer", row["uuid"], note="电话号码疑似错误，请核实", status="退回修改")
    down = sync.export_package(d, root / "down", to="河坝镇")
    assert down.manifest["kind"] == "feedback"
    sync.import_package(hb, down.path)
    for led in hb.catalog.ledgers:                   # nothing of other towns reached 河坝镇
        assert hb.ledger(led.id).count() == hb.ledger(led.id).count(org="430971121")
    [flagged] = reviews.list_reviews(hb, ledger_id="two_cancer", open_only=True)
    assert (flagged["row_uuid"], flagged["status"]) == (row["uuid"], "退回修改")
    # the town corrects the row and replies; both go up
    hb.ledger("two_cancer").update(row["uuid"], {"phone": "13900000002"}, today=TODAY)
    reviews.reply(hb, "two_cancer", row["uuid"], "已核实并改正电话")
    up = sync.import_package(d, sync.export_package(hb, root / "usb").path)
    assert up.totals()["updated"] >= 2
    assert d.ledger("two_cancer").get(row["uuid"])["phone"] == "13900000002"
    [back] = reviews.list_reviews(d, ledger_id="two_cancer")
    assert back["reply"] == "已核实并改正电话"
    reviews.flag(d, "two_cancer", row["uuid"], note="", status="已核实")
    assert reviews.list_reviews(d, open_only=True) == []
    # another town never receives 河坝镇's rows or reviews
    other = sync.export_package(d, root / "down", to="金盆镇")
    jp = towns["金盆镇"]
    sync.import_package(jp, other.path)
    assert reviews.list_reviews(jp) == [] and jp.ledger("two_cancer").count(org="430971121") == 0


def test_provenance_of_a_merged_row(district):
    d, towns, root = district
    row = d.ledger("two_cancer").rows(match={"name": "示例6"})[0]
    where = d.ledger("two_cancer").provenance(row["uuid"])
    assert where["org_path"] == "北洲子镇 / 示例村一" and where["town"] == "北洲子镇"
    assert where["entered_at_org"] == "北洲子镇" and where["entered_by"] == "北洲子镇录入员"
    assert where["packages"][0]["from"] == "北洲子镇" and where["packages"][0]["seq"] == 1


def test_monthly_report_xlsx_and_pdf(district, tmp_path):
    d, towns, root = district
    report = monthly_report(d, 2024, 6)
    assert report.progress.as_of == dt.date(2024, 6, 30)
    assert any("南湾湖管理处" in i for i in report.issues) or any(b.name == "南湾湖管理处" for b in report.board)
    xlsx = monthly_workbook(d, report, tmp_path / "r.xlsx")
    names = load_workbook(xlsx).sheetnames
    assert names[:4] == ["合计", "滞后指标", "报送情况", "待办问题"] and "河坝镇" in names
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from desktop_app.printing import monthly_pdf, report_html
    pdf = monthly_pdf(report, tmp_path / "r.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    text = report_html(report)
    assert "大通湖区民生实事工作调度报告（2024年6月）" in text and "区妇联" in text
