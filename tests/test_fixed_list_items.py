"""The district adds the items a fixed list misses (高效办成一件事: target 17, the plan names
14): ``rules --items``, the rows waiting for such an item count once it is added, and the
list travels down in the district's choices; the counting rule says when the list is shorter
than the target."""
import datetime as dt
import json

from support import make_chain

from desktop_app.cli import main
from desktop_app.core.catalog.choices import load_choices, save_choices
from desktop_app.core.district.progress import compute
from desktop_app.core.sync import profiles

END = dt.date(2024, 12, 31)
ONE_THING = "“高效办成一件事”事项落地生效"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_rules_items_adds_to_the_list_and_a_waiting_row_counts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINSHENG_USER", "示例专班")
    db = tmp_path / "district.sqlite3"
    assert run(capsys, "init", "--db", db, "--level", "district", "--org", "430971", "--operator", "示例专班")[0] == 0
    code, out, _ = run(capsys, "catalog", "--db", db, "--json")
    counting = {i["id"]: i["counting"] for i in json.loads(out)["indicators"]}["efficient_one_thing"]
    assert "清单只有 14 项，少于目标 17个" in counting
    from desktop_app.core.store.database import Store
    store = Store.open(db)
    try:
        row = store.ledger("indicator_progress").add(
            {"indicator": ONE_THING, "date": "2024-05-01", "item": "示例补入事项"}, today=END)
        assert row.missing == ["one_thing_item"]
    finally:
        store.close()
    code, out, err = run(capsys, "rules", "--db", db, "--json", "--items", "efficient_one_thing",
                         "示例补入事项", "示例事项二", "示例事项三")
    assert code == 0, err
    data = json.loads(out)
    assert data["items"] == {"efficient_one_thing": ["示例补入事项", "示例事项二", "示例事项三"]}
    assert "17 项，其中区里补入 3 项" in data["counting"]["efficient_one_thing"]
    assert "少于目标" not in data["counting"]["efficient_one_thing"]
    code, out, _ = run(capsys, "progress", "--db", db, "--json", "--as-of", "2024-12-31")
    figure = next(i for i in json.loads(out)["indicators"] if i["id"] == "efficient_one_thing")
    assert figure["achieved"] == 1                                   # the waiting row now counts
    code, _, err = run(capsys, "rules", "--db", db, "--items", "efficient_one_thing", "就医")
    assert code == 1 and "已在" in err
    code, _, err = run(capsys, "rules", "--db", db, "--items", "two_cancer_screening", "示例")
    assert code == 1 and "不按固定清单统计" in err


def test_added_items_travel_down_in_the_district_profile(tmp_path):
    d, t, v = make_chain(tmp_path / "chain")
    try:
        save_choices(d, load_choices(d).with_items(d.catalog, "efficient_one_thing", ["示例补入事项"]))
        profiles.import_profile(t, profiles.export_profile(d, tmp_path / "d2.msprofile"))
        assert "示例补入事项" in t.catalog.ledger("indicator_progress").field("one_thing_item").choices
        saved = t.ledger("indicator_progress").add(
            {"indicator": ONE_THING, "date": "2024-05-01", "one_thing_item": "示例补入事项"}, today=END)
        assert not saved.incomplete
        assert compute(t, END).get("efficient_one_thing").achieved == 1
    finally:
        for s in (d, t, v):
            s.close()
