"""One institution sent by two towns counts once at the district: rows of a ledger without
persons with the same natural key (统一社会信用代码, 名称＋级别…) in two towns — the row
entered first counts until a reviewer decides; progress --explain and duplicates list the
other one."""
import datetime as dt
import json

import pytest
from support import install_below

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.district import decide, explain, find_duplicates
from desktop_app.core.district.progress import compute
from desktop_app.core.store.database import Store

END = dt.date(2024, 12, 31)
NURSERY = {"name": "示例托育中心", "credit_code": "91350100M000100Y43", "address": "示例路1号",
           "care_type": "托育机构", "new_slots": 20, "fee": 800, "record_date": "2024-02-01",
           "status": "已认定", "recognize_date": "2024-03-01"}


@pytest.fixture
def two_towns(tmp_path):
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="示例专班")
    towns = [install_below(d, tmp_path / f"t{i}.sqlite3", level="town", org=org, operator="示例录入员",
                           villages=["示例村一"]) for i, org in enumerate(("河坝镇", "金盆镇"))]
    yield d, towns
    for s in (d, *towns):
        s.close()


def send(d, towns, tmp_path):
    for t in towns:
        sync.import_package(d, sync.export_package(t, tmp_path / "out", full=True).path)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().out


def slots(store):
    return compute(store, END, indicators=["childcare_slots"]).get("childcare_slots")


def test_one_nursery_sent_by_two_towns_counts_once_and_explain_says_why(two_towns, tmp_path, capsys):
    d, (hb, jp) = two_towns
    first = hb.ledger("childcare_slots").add(NURSERY, org="示例村一", today=END).uuid
    second = jp.ledger("childcare_slots").add(NURSERY, org="示例村一", today=END).uuid
    send(d, (hb, jp), tmp_path)
    figure = slots(d)
    assert figure.achieved == 20 and figure.rows == 1
    assert [(o.name, o.achieved) for o in figure.by_org if o.achieved] == [("河坝镇", 20)]
    code, out = run(capsys, "progress", "--db", d.path, "--json", "--as-of", END,
                    "--explain", "childcare_slots")
    data = json.loads(out)
    assert code == 0 and data["indicator"]["achieved"] == 20
    assert [r["uuid"] for r in data["counted"]] == [first]
    [excluded] = data["excluded"]
    assert (excluded["uuid"], excluded["reason"]) == (second, "duplicate")
    assert excluded["reason_text"].startswith(f"跨镇重复：与河坝镇的记录 {first[:8]}统一社会信用代码相同")
    # each town alone still counts its own row
    assert slots(hb).achieved == 20 and slots(jp).achieved == 20


def test_the_duplicates_listing_shows_the_pair_and_a_decision_moves_the_count(two_towns, tmp_path, capsys):
    d, (hb, jp) = two_towns
    first = hb.ledger("childcare_slots").add(NURSERY, org="示例村一", today=END).uuid
    second = jp.ledger("childcare_slots").add(NURSERY, org="示例村一", today=END).uuid
    send(d, (hb, jp), tmp_path)
    code, out = run(capsys, "duplicates", "--db", d.path, "--json")
    [pair] = json.loads(out)["pairs"]
    assert code == 0 and (pair["ledger"], pair["kind"], pair["decision"]) == ("childcare_slots", "same_key", None)
    assert pair["entered_first"] == first and pair["person_id"] is None
    code, out = run(capsys, "duplicates", "--db", d.path)
    assert "（跨镇同一项） 待核实" in out
    from desktop_app.ui.district_review import read_pairs    # what the 重复计数核实 page shows
    [view] = read_pairs(d)
    assert (view.left.id_number, view.right.id_number) == (NURSERY["credit_code"],) * 2
    assert (view.left.name, view.right.name) == ("示例托育中心",) * 2
    assert sorted(side.org_path for side in (view.left, view.right)) == sorted(
        d.orgs.path(d.ledger("childcare_slots").get(u)["org"]) for u in (first, second))
    decide(d, "childcare_slots", first, second, "same", keep=second)      # 金盆镇's row is kept
    assert slots(d).achieved == 20
    assert [r["uuid"] for r in explain(d, "childcare_slots", END).counted] == [second]
    decide(d, "childcare_slots", first, second, "different")              # two nurseries after all
    assert slots(d).achieved == 40
    assert find_duplicates(d)[0].decision == "different"


def test_an_earlier_row_that_does_not_count_does_not_hide_the_one_that_does(two_towns, tmp_path):
    d, (hb, jp) = two_towns
    hb.ledger("childcare_slots").add(NURSERY | {"status": "申报中", "recognize_date": None},
                                     org="示例村一", today=END)
    jp.ledger("childcare_slots").add(NURSERY, org="示例村一", today=END)
    send(d, (hb, jp), tmp_path)
    figure = slots(d)
    assert figure.achieved == 20
    assert [(o.name, o.achieved) for o in figure.by_org if o.achieved] == [("金盆镇", 20)]
    assert {r["reason"] for r in explain(d, "childcare_slots", END).excluded} == {"status"}


def test_two_communities_of_the_same_name_in_two_towns_count_twice_until_a_reviewer_says_same(two_towns, tmp_path):
    """A key of names (社区名称＋级别) may be two communities: both count, the pair is listed,
    and only a reviewer's "same" makes it count once."""
    d, (hb, jp) = two_towns
    row = {"name": "示例社区", "level": "省级", "create_year": 2024, "labor_force": 1000, "employed": 980,
           "declare_date": "2024-03-01", "accept_date": "2024-09-01", "status": "已通过验收"}
    first = hb.ledger("full_employment").add(row, org="示例村一", today=END).uuid
    second = jp.ledger("full_employment").add(row, org="示例村一", today=END).uuid
    send(d, (hb, jp), tmp_path)
    ids = [i.id for i in d.catalog.indicators if i.measure.ledger == "full_employment"]
    assert sum(compute(d, END, indicators=ids).get(i).achieved or 0 for i in ids) == 2
    [pair] = [p for p in find_duplicates(d) if p.ledger == "full_employment"]
    assert pair.kind == "same_key" and pair.first is None
    decide(d, "full_employment", first, second, "same", keep=first)
    assert sum(compute(d, END, indicators=ids).get(i).achieved or 0 for i in ids) == 1
