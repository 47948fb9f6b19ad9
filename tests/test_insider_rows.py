"""A member's package row is judged by the row rules local input gets, not only field by
field: a row whose fields are each valid but which breaks a cross-field rule (a date
before the one it follows, a man in the 两癌 ledger, a 残疾证号 of another person, a
birth date the ID number contradicts) is held like a row breaking a field rule — not in
the ledger, not in progress, kept with its reason, the sender told in the next package."""
import pytest
from district_world import TODAY, build_district, woman
from insider_world import current, forged, record_sent, row_line, versioned
from support import household, make_id, screening

from desktop_app.core import sync

HB = "430971121"


@pytest.fixture
def world(tmp_path):
    d, towns = build_district(tmp_path)
    yield d, towns["河坝镇"], tmp_path
    for s in (d, *towns.values()):
        s.close()


def row_of(hb, ledger: str, n: int, **changed) -> dict:
    """河坝镇's first row of ``ledger`` as a new row ``n`` with ``changed`` values."""
    first = hb.ledger(ledger).rows()[0]
    values = dict(versioned(hb, f"ledger_{ledger}", first["uuid"]), org=HB + "001", **changed)
    return row_line(hb, f"ledger_{ledger}", f"00000000-0000-4000-8000-{n:012d}", values)


# (ledger, changed values, what the held rule says): each value valid on its own
BROKEN = [
    ("two_cancer", {"id_number": make_id("19700312", 3)}, "身份证号：两癌检查对象应为女性"),
    ("two_cancer", {"id_number": make_id("20000101", 2)}, "两癌检查对象应为检查日 35–64 周岁的妇女"),
    ("barrier_free", {"finish_date": "2024-02-15"}, "完工日期：应为入户评估 ≤ 开工 ≤ 完工 ≤ 验收"),
    ("barrier_free", {"disability_cert": make_id("19600101", 99) + "41"}, "残疾证号应为身份证号加类别码"),
    ("barrier_free", {"sex": "女"}, "性别：与身份证号不一致，请核对"),
]


@pytest.mark.parametrize("ledger, changed, says", BROKEN)
def test_a_row_breaking_a_cross_field_rule_is_held_and_the_sender_told(world, ledger, changed, says):
    d, hb, tmp = world
    row = row_of(hb, ledger, 1, **changed)
    summary = sync.import_package(d, forged(hb, d, [row], tmp / "cross.mstz"))
    record_sent(hb, tmp / "cross.mstz")
    assert summary.status == "imported" and summary.totals()["rejected"] == 1
    assert current(d, f"ledger_{ledger}", row["u"]) is None
    (rule,) = [r for (r,) in d.conn.execute(
        "SELECT rule FROM quarantine WHERE direction = 'held' AND kind = 'row' AND uuid = ?", (row["u"],))]
    assert says in rule
    assert any(f"（{rule}）" in w and "已暂存待查、未导入台账" in w for w in summary.warnings)
    told = sync.import_package(hb, sync.export_package(d, tmp / "down", to=HB).path)
    assert any("拒收了本单位发出的 1 条记录" in w for w in told.warnings)
