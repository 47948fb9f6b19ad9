"""A town answers the district's 核实意见 from the command line (``reply``) and the answer
reaches the district in the town's next package."""
import json

import pytest

from support import screening

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.district import flag, list_reviews, reply
from desktop_app.core.errors import StoreError
from desktop_app.core.store import Store
from support import install_below


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_reply_on_the_command_line_travels_up(tmp_path, capsys, monkeypatch):
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="专班")
    town = install_below(d, tmp_path / "t.sqlite3", level="town", org="河坝镇", operator="镇",
                         villages=["示例村一"])
    uid = town.ledger("two_cancer").add(screening(1), org="示例村一").uuid
    sync.import_package(d, sync.export_package(town, tmp_path / "up").path)
    flag(d, "two_cancer", uid, note="电话号码疑似错误，请核实", status="退回修改")
    sync.import_package(town, sync.export_package(d, tmp_path / "down", to="河坝镇").path)
    town.close()
    db = tmp_path / "t.sqlite3"
    code, _, err = run(capsys, "reply", "--db", db, "--ledger", "two_cancer", "--row", uid, "--text", "  ")
    assert code == 1 and "请写明答复" in err
    code, _, err = run(capsys, "reply", "--db", db, "--ledger", "two_cancer", "--row", "no-such-row",
                       "--text", "已改正")
    assert code == 1 and "没有核实意见" in err
    code, _, err = run(capsys, "reply", "--db", db, "--ledger", "two_cancer", "--row", uid, "--text", "改" * 501)
    assert code == 1 and "最多 500 个字" in err
    code, out, _ = run(capsys, "reviews", "--db", db, "--open", "--json")
    [listed] = json.loads(out)["reviews"]
    assert (listed["row"], listed["status"], listed["note"], listed["reply"]) == (
        uid, "退回修改", "电话号码疑似错误，请核实", None)
    code, out, _ = run(capsys, "reply", "--db", db, "--ledger", "two_cancer", "--row", uid,
                       "--text", "已核实并\x00改正电话\n", "--json")
    assert code == 0 and json.loads(out)["reply"] == "已核实并 改正电话"
    with Store.open(db) as town:
        sync.import_package(d, sync.export_package(town, tmp_path / "up").path)
    [review] = list_reviews(d)
    assert (review["row_uuid"], review["reply"], review["status"]) == (uid, "已核实并 改正电话", "退回修改")
    with pytest.raises(StoreError, match="区级数据库不答复") as refused:   # the district flags, never answers
        reply(d, "two_cancer", uid, "区里自己答复")
    assert refused.value.exit_code == 1
    d.close()
