"""A member's package carries stored values, but an insider (a broken or hostile install
with a valid key) may send values never normalised the way the app normalises what is
typed or imported from Excel: a 身份证号 with spaces, full-width digits or a lower-case x,
a phone with dashes, a date written 2024年3月5日, a choice of another width or spacing.
Such a row is stored as the same values typed into the app become, so counting,
duplicates and person matching treat it alike. A row whose identity field (the 身份证号 of
a person ledger, the 名称 of a site) is empty is held like a row breaking a rule, never
merged as a blank-keyed row that counts."""
import json

import pytest
from district_world import TODAY, world  # noqa: F401 - world is the fixture
from insider_world import HB, current, forged, record_sent, row_line, row_of, versioned
from support import make_id

from desktop_app.core import sync
from desktop_app.core.catalog import Checker, load_catalog
from desktop_app.core.store.persons import person_id
from desktop_app.core.sync import incoming

WX = make_id("19700312", 58)                 # 43090219700312058X: a woman whose number ends in X
FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def typed(ledger: str, field: str, raw):
    """What the app stores for ``raw`` typed into ``field`` (or imported from Excel)."""
    catalog = load_catalog()
    return Checker(catalog.ledger(ledger), plan_year=catalog.plan_year, today=TODAY).check_rows(
        [{field: raw}]).values[field][0]


# (field, value as the package carries it, value stored): each acceptable only once normalised
UNNORMALISED = [
    ("id_number", f" {WX.translate(FULL)}　", WX),
    ("id_number", WX.lower(), WX),
    ("id_number", "43090219700312058x", "43090219700312058X"),
    ("phone", "138-0000 0001", "13800000001"),
    ("phone", "+86 139 0000 0002", "13900000002"),
    ("phone", "0737 1234567", "0737-1234567"),
    ("cervical_date", "2024年3月5日", "2024-03-05"),
    ("cervical_date", "2024.3.5", "2024-03-05"),
    ("population", "农村 适龄", "农村适龄"),
    ("population", "低保", "城镇低保"),
    ("cervical_method", "妇检＋ＴＣＴ", "妇检+TCT"),
    ("birads", "１级", "1级"),
    ("name", " 示例\u3000", "示例"),
    ("address", "", None),
]


@pytest.mark.parametrize("field, sent, stored", UNNORMALISED)
def test_a_value_acceptable_once_normalised_is_stored_as_typed_into_the_app(world, field, sent, stored):
    d, hb, tmp = world
    assert typed("two_cancer", field, sent) == stored
    row = row_of(hb, "two_cancer", 1, **{field: sent})
    summary = sync.import_package(d, forged(hb, d, [row], tmp / "raw.mstz"))
    assert summary.totals()["new"] == 1 and summary.totals()["rejected"] == 0
    assert current(d, "ledger_two_cancer", row["u"])[field] == stored
    if field == "id_number":      # linked to the person the number names, as typed here
        assert current(d, "ledger_two_cancer", row["u"])["person_id"] == person_id(d.setting("person_namespace"), stored)


def test_a_normalised_id_number_counts_as_the_same_person(world):
    """The town's row of woman WX and a forged row of her number in lower case and full
    width: one number in the district, a duplicate of each other."""
    d, hb, tmp = world
    base = row_of(hb, "two_cancer", 1, id_number=WX)
    other = row_of(hb, "two_cancer", 2, id_number=WX.lower().translate(FULL))
    summary = sync.import_package(d, forged(hb, d, [base, other], tmp / "twice.mstz"))
    assert summary.totals()["new"] == 2
    assert d.ledger("two_cancer").count(match={"id_number": WX}) == 2
    stored = current(d, "ledger_two_cancer", other["u"])
    assert sorted(d.ledger("two_cancer").duplicates_of(stored)) == sorted([base["u"], other["u"]])


def test_values_repeated_across_batches_are_normalised_in_each(world, monkeypatch):
    """A value is normalised once per package (remembered between its batches): every row
    carrying it is stored normalised, whichever batch it is in."""
    monkeypatch.setattr(incoming, "BATCH", 2)
    d, hb, tmp = world
    rows = [row_of(hb, "two_cancer", n, phone="138-0000-0001" if n % 2 else "13800000001",
                   cervical_date="2024.3.5") for n in range(1, 8)]
    summary = sync.import_package(d, forged(hb, d, rows, tmp / "batches.mstz"))
    assert summary.totals()["new"] == 7
    assert {(current(d, "ledger_two_cancer", r["u"])["phone"], current(d, "ledger_two_cancer", r["u"])["cervical_date"])
            for r in rows} == {("13800000001", "2024-03-05")}


def test_the_per_row_merge_normalises_as_the_bulk_merge(world, monkeypatch):
    d, hb, tmp = world
    row = row_of(hb, "two_cancer", 1, id_number=WX.lower(), phone="138 0000 0001", population="低保")
    monkeypatch.setattr(incoming._Applier, "bulk", False)
    sync.import_package(d, forged(hb, d, [row], tmp / "single.mstz"))
    stored = current(d, "ledger_two_cancer", row["u"])
    assert (stored["id_number"], stored["phone"], stored["population"]) == (WX, "13800000001", "城镇低保")


def test_a_persons_record_is_stored_normalised(world):
    d, hb, tmp = world
    uid = hb.ledger("two_cancer").rows()[0]["person_id"]
    values = dict(versioned(hb, "persons", uid), phone="138-0000-0009", name=" 示例一 ")
    summary = sync.import_package(d, forged(hb, d, [row_line(hb, "persons", uid, values)], tmp / "p.mstz"))
    assert summary.totals()["updated"] == 1
    stored = current(d, "persons", uid)
    assert (stored["phone"], stored["name"]) == ("13800000009", "示例一")


# ---------------------------------------------------------------- an empty identity field

EMPTY_KEY = [
    ("two_cancer", "id_number", None, "身份证号：必填，不能为空"),
    ("two_cancer", "id_number", " \u3000", "身份证号：必填，不能为空"),
    ("barrier_free", "id_number", "", "身份证号：必填，不能为空"),
    ("meal_points", "name", None, "站点名称：必填，不能为空"),
]


MEAL_POINT = {"org": HB + "001", "name": "示例助餐点", "address": "示例路1号", "site_type": "益老食堂",
              "operator": "示例公司", "operator_code": "91350100M000100Y43", "status": "运营中", "_deleted": 0}


@pytest.mark.parametrize("ledger, field, sent, says", EMPTY_KEY)
def test_a_row_with_an_empty_identity_field_is_held_and_the_sender_told(world, ledger, field, sent, says):
    d, hb, tmp = world
    if ledger == "meal_points":     # (no site in the district world: a row of its own)
        row = row_line(hb, "ledger_meal_points", "00000000-0000-4000-8000-000000000001", dict(MEAL_POINT, name=sent))
    else:
        row = row_of(hb, ledger, 1, **{field: sent})
    summary = sync.import_package(d, forged(hb, d, [row], tmp / "blank.mstz"))
    record_sent(hb, tmp / "blank.mstz")
    assert summary.totals()["rejected"] == 1 and current(d, f"ledger_{ledger}", row["u"]) is None
    (rule,) = [r for (r,) in d.conn.execute(
        "SELECT rule FROM quarantine WHERE direction = 'held' AND kind = 'row' AND uuid = ?", (row["u"],))]
    assert rule == says
    assert any(f"（{says}）" in w and "已暂存待查、未导入台账" in w for w in summary.warnings)
    told = sync.import_package(hb, sync.export_package(d, tmp / "down", to=HB).path)
    assert any("拒收了本单位发出的 1 条记录" in w for w in told.warnings)


def test_an_edit_emptying_the_identity_field_of_a_row_here_is_held(world):
    d, hb, tmp = world
    uid = hb.ledger("two_cancer").rows()[0]["uuid"]
    before = current(d, "ledger_two_cancer", uid)
    line = row_line(hb, "ledger_two_cancer", uid, dict(versioned(hb, "ledger_two_cancer", uid), id_number=None))
    summary = sync.import_package(d, forged(hb, d, [line], tmp / "emptied.mstz"))
    assert summary.totals()["rejected"] == 1
    assert current(d, "ledger_two_cancer", uid)["id_number"] == before["id_number"]


def test_a_row_merged_into_an_empty_identity_field_is_kept_pending(world):
    """A tombstone is never held for its values (it is how a bad row goes), so one may empty
    the 身份证号 of a row here; a later undelete whose 身份证号 is older leaves the merged row
    live with it empty: kept, but 待补充 on 身份证号 and out of progress."""
    d, hb, tmp = world
    uid = hb.ledger("two_cancer").rows()[0]["uuid"]
    values = versioned(hb, "ledger_two_cancer", uid)
    base = hb.clock.tick() + 1_000_000
    gone = row_line(hb, "ledger_two_cancer", uid, dict(values, id_number=None, _deleted=1))
    gone["ver"] = json.dumps([[base, hb.node.id]])
    back = row_line(hb, "ledger_two_cancer", uid, dict(values, _deleted=0))
    back["ver"] = json.dumps([[base - 10, hb.node.id], {"_deleted": [base + 10, hb.node.id]}])
    first = sync.import_package(d, forged(hb, d, [gone], tmp / "gone.mstz"))
    assert first.totals()["rejected"] == 0 and current(d, "ledger_two_cancer", uid)["_deleted"] == 1
    sync.import_package(d, forged(hb, d, [back], tmp / "back.mstz"))
    state = current(d, "ledger_two_cancer", uid)
    assert (state["_deleted"], state["id_number"]) == (0, None)
    assert state["_incomplete"] == 1 and "id_number" in state["_missing"].split("、")


def test_an_id_number_sent_as_a_number_is_held_without_showing_its_digits(world):
    """A package may carry an integer where the 身份证号 is text: the row is held as one
    Excel turned into a number, and the reason (kept, shown, sent back) shows the number
    as Excel does (4.30902E+17), never its digits."""
    d, hb, tmp = world
    number = 430902197109161531
    row = row_of(hb, "two_cancer", 1, id_number=number)
    summary = sync.import_package(d, forged(hb, d, [row], tmp / "number.mstz"))
    assert summary.totals()["rejected"] == 1
    (rule,) = [r for (r,) in d.conn.execute("SELECT rule FROM quarantine WHERE uuid = ?", (row["u"],))]
    assert rule.startswith("身份证号：已被 Excel 转成数字（4.30902E+17）")
    assert not any(str(number)[:15] in text for text in [rule, *summary.warnings])
