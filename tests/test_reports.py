"""The 民生实事进展情况统计表 workbook: rows equal core progress, a sheet per child unit, print setup."""
import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from support import TODAY, make_id, screening

from desktop_app.core.district.progress import compute
from desktop_app.core.district.reports import (
    COLUMNS,
    FIRST_ROW,
    HEADER_ROW,
    LAG_LABELS,
    lag_label,
    progress_workbook,
    target_text,
)


@pytest.fixture
def report_town(town):
    """The town with 两癌 rows: two women in 示例村一, one in 示例村二."""
    led = town.ledger("two_cancer")
    led.add(screening(1, id_number=make_id("19700101", 2), status="已完成"), org="示例村一", today=TODAY)
    led.add(screening(2, id_number=make_id("19750505", 4), status="已完成"), org="示例村一", today=TODAY)
    led.add(screening(3, id_number=make_id("19800808", 6), status="已完成"), org="示例村二", today=TODAY)
    return town


def table(ws) -> dict[str, dict]:
    """指标 → {column name: value} for every indicator row of a sheet."""
    names = [name for name, _ in COLUMNS]
    out = {}
    for row in ws.iter_rows(min_row=FIRST_ROW, values_only=True):
        if not isinstance(row[0], int):
            break
        out[row[2]] = dict(zip(names, row))
    return out


def test_the_total_sheet_has_one_row_per_indicator_equal_to_core_progress(report_town, tmp_path):
    report = compute(report_town, TODAY)
    path = progress_workbook(report_town, report, tmp_path / "进展.xlsx")
    ws = load_workbook(path)["合计"]
    assert ws["A1"].value == "2024年民生实事进展情况统计表"
    info = ws["A2"].value
    assert "填报单位：河坝镇" in info and "统计日期：2024年6月30日" in info
    assert f"序时进度：{report.expected_rate:g}%" in info
    assert [c.value for c in ws[HEADER_ROW]] == [name for name, _ in COLUMNS]

    rows = table(ws)
    assert len(rows) == len(report.indicators)
    assert sorted(r["序号"] for r in rows.values()) == list(range(1, len(rows) + 1))
    for item in report.indicators:
        row = rows[item.indicator.name]
        assert row["完成"] == item.achieved
        assert row["完成率"] == (None if item.rate is None else pytest.approx(item.rate / 100))
        assert row["序时进度"] == (None if item.expected_rate is None
                                else pytest.approx(item.expected_rate / 100))
        assert row["目标（含单位）"] == target_text(item)
        assert row["是否滞后"] == lag_label(item)
        assert row["责任单位"] == "、".join(item.indicator.units)

    screening = rows["“两癌”免费检查"]   # the district's 3000 is not the town's target
    assert (screening["目标（含单位）"], screening["完成"], screening["完成率"], screening["是否滞后"]) == \
        ("未分解", 3, None, "未分解")
    assert "“未分解”：区尚未把该指标的目标分解到本单位" in ws.cell(FIRST_ROW + len(rows) + 1, 1).value


def test_a_town_with_a_quota_is_judged_by_its_quota(report_town, tmp_path):
    report_town.set_quota("two_cancer_screening", "430971121", 600)   # as the district's profile brings
    report = compute(report_town, TODAY)
    rows = table(load_workbook(progress_workbook(report_town, report, tmp_path / "进展.xlsx"))["合计"])
    screening = rows["“两癌”免费检查"]
    assert (screening["目标（含单位）"], screening["完成"], screening["是否滞后"]) == ("600人", 3, "滞后")
    assert screening["完成率"] == pytest.approx(0.005)


def test_one_sheet_per_village_recomputed_for_it(report_town, tmp_path):
    report = compute(report_town, TODAY)
    path = progress_workbook(report_town, report, tmp_path / "进展.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["合计", "示例村一", "示例村二"]
    for name, women in (("示例村一", 2), ("示例村二", 1)):
        ws = wb[name]
        assert f"统计范围：{name}" in ws["A2"].value
        village = compute(report_town, TODAY, scope=report_town.orgs.resolve(name).code)
        rows = table(ws)
        assert rows["“两癌”免费检查"]["完成"] == women
        for item in village.indicators:
            assert rows[item.indicator.name]["完成"] == item.achieved


def test_a_district_report_has_a_sheet_per_town(district, tmp_path):
    report = compute(district, TODAY)
    path = progress_workbook(district, report, tmp_path / "进展.xlsx", unit_name="区民政人社局")
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == ["合计"] + [t.name for t in district.orgs.children("430971")]
    rows = book.get_sheet_by_name("合计").to_python()
    assert rows[1][0].startswith("填报单位：区民政人社局")
    assert rows[HEADER_ROW - 1][:3] == ["序号", "项目", "指标"]


def test_projects_are_grouped_and_merged(report_town, tmp_path):
    report = compute(report_town, TODAY)
    ws = load_workbook(progress_workbook(report_town, report, tmp_path / "进展.xlsx"))["合计"]
    merged = [r for r in ws.merged_cells.ranges if r.min_col == 2 and r.min_row >= FIRST_ROW]
    assert merged
    projects = [ws.cell(r.min_row, 2).value for r in merged]
    assert len(projects) == len(set(projects))  # each project is one block


def test_lagging_rows_are_highlighted_and_labels_are_the_six_words(report_town, tmp_path):
    report_town.set_quota("two_cancer_screening", "430971121", 600)
    report = compute(report_town, TODAY)
    ws = load_workbook(progress_workbook(report_town, report, tmp_path / "进展.xlsx"))["合计"]
    labels = set()
    for row in ws.iter_rows(min_row=FIRST_ROW, max_row=FIRST_ROW + len(report.indicators) - 1):
        label = row[8].value
        labels.add(label)
        assert (row[2].fill.fgColor.rgb == "00FFC7CE") == (label == "滞后")
        assert row[1].fill.fgColor.rgb != "00FFC7CE"  # the merged project cell stays white
    assert labels <= set(LAG_LABELS)
    assert {"滞后", "未分解", "定性"} <= labels
    qualitative = [i for i in report.indicators if i.indicator.kind == "qualitative"]
    assert all(lag_label(i) == "定性" and target_text(i) == "定性任务" for i in qualitative)


def test_prints_on_a4_landscape_with_the_header_on_every_page(report_town, tmp_path):
    report = compute(report_town, TODAY)
    wb = load_workbook(progress_workbook(report_town, report, tmp_path / "进展.xlsx"))
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
        assert ws.print_title_rows == "$1:$3"
        assert ws.cell(FIRST_ROW, 3).border.left.style == "thin"
        assert ws.cell(FIRST_ROW, 3).alignment.wrap_text
