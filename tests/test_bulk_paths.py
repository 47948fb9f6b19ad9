"""Issue 18: the bulk paths give what the row-by-row ones gave — a sheet planned a few rows
at a time plans as a whole, rows written a chunk at a time link their persons as one
batch, and person ids are the UUIDv5 they always were."""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from support import make_id, screening

from desktop_app.core.excel import importer
from desktop_app.core.excel.export import export_ledger
from desktop_app.core.excel.importer import apply_plan, plan_import
from desktop_app.core.store import records
from desktop_app.core.store.persons import person_id

FIX = Path(__file__).parent / "fixtures"
TODAY = dt.date(2024, 12, 31)


def planned(plan) -> list[tuple]:
    return [(r.row_no, r.status, r.org, r.values, list(r.missing), dict(r.changes),
             [(p.field, p.message, p.severity) for p in r.problems], r.cells) for r in plan.rows]


@pytest.mark.parametrize("name", ["legacy_two_cancer.xlsx", "河坝镇_两癌检查台账_示例.xlsx"])
def test_a_sheet_checked_two_rows_at_a_time_plans_as_a_whole(town, monkeypatch, name):
    town.add_villages(["示例社区"])
    whole = planned(plan_import(town, FIX / name, today=TODAY))
    monkeypatch.setattr(importer, "CHUNK", 2)
    assert planned(plan_import(town, FIX / name, today=TODAY)) == whole
    assert any(row[1] == "duplicate" for row in whole) == (name != "legacy_two_cancer.xlsx")


def test_a_returned_export_checked_a_row_at_a_time(town, tmp_path, monkeypatch):
    led = town.ledger("two_cancer")
    rows = [screening(i, phone=f"1380000000{i}", status="已完成", breast_method="触诊+彩超") for i in range(1, 5)]
    uids = [s.uuid for s in led.add_many(rows, org="示例村一", today=TODAY)]
    path = export_ledger(town, "two_cancer", tmp_path / "e.xlsx").path
    led.update(uids[0], {"institution": "本镇改的"}, today=TODAY)
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    cols = {c.value: c.column for c in ws[3] if c.value}
    at = {ws.cell(row=r, column=1).value: r for r in range(4, ws.max_row + 1)}
    ws.cell(row=at[uids[0]], column=cols["*宫颈癌检查机构"], value="村里改的")      # a conflict
    ws.cell(row=at[uids[1]], column=cols["*宫颈癌检查机构"], value="村里改的二")    # an update
    ws.cell(row=ws.max_row + 1, column=cols["*姓名"], value="示例9")               # a bad new row
    wb.save(path)
    whole = planned(plan_import(town, path, today=TODAY))
    monkeypatch.setattr(importer, "CHUNK", 1)
    assert planned(plan_import(town, path, today=TODAY)) == whole
    assert sorted(row[1] for row in whole) == ["conflict", "rejected", "unchanged", "unchanged", "updated"]


def test_persons_of_rows_written_in_chunks_are_linked_as_one_batch(town, monkeypatch):
    woman = make_id("19700312", 2)
    rows = [screening(1, id_number=woman, name="示例一"), screening(2),
            screening(3, id_number=woman, name="示例改名"), screening(4)]
    monkeypatch.setattr(records, "CHUNK", 2)
    saved = town.ledger("two_cancer").add_many(rows, org="示例村一", today=TODAY, allow_duplicate=True)
    person = town.persons.by_id_number(woman)
    assert person["name"] == "示例一"                              # the first row names the person
    assert [s.warnings for s in saved] == [[], [], [], []]        # a later row of the batch warns of nothing
    got = {r["uuid"]: r for r in town.ledger("two_cancer").rows()}
    assert got[saved[0].uuid]["person_id"] == got[saved[2].uuid]["person_id"] == person["uuid"]
    assert town.conn.execute("SELECT COUNT(*) FROM persons").fetchone()[0] == 3


def test_an_import_writes_a_generator_of_rows_in_chunks(town, monkeypatch):
    monkeypatch.setattr(records, "CHUNK", 2)
    plan = plan_import(town, FIX / "legacy_two_cancer.xlsx", today=TODAY)
    result = apply_plan(town, plan, accept_valid=True)
    assert result.counts["incomplete"] == 4 == town.ledger("two_cancer").count()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24), st.uuids())
def test_a_person_id_is_the_uuid5_of_the_id_number(number, namespace):
    assert person_id(namespace, number) == str(uuid.uuid5(namespace, number))
    assert person_id(str(namespace), number) == str(uuid.uuid5(namespace, number))
