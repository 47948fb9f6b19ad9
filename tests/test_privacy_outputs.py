"""Privacy on every path (issue 14): one masking policy, person ids kept inside, units enforced.

The per-role test runs every command as a 录入员 bound to 示例村一 and reads every byte
it puts out — stdout, stderr, JSON, every file it writes (xlsx and zip unpacked, PDF
streams inflated) and the log folder — for the full ID numbers and phones stored at
the town: none may appear, except a value the command's own input carried. A 审核员
sees them only with --reveal and --purpose, audited.
"""
import json
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from privacy_world import (ADMIN, CLERK, EXPORT_PHONE, LATER_PHONE, PASSWORD, REVIEWER, TOWN_PHONE,
                           VILLAGE_ONE, VILLAGE_PHONE, VILLAGE_TWO, leaks, make_world, new_id, text_of)
from support import TODAY, install_below, make_id, screening

from desktop_app.cli import main
from desktop_app.core import district, sync
from desktop_app.core.store import PermissionDenied, Policy, Selection, Session, LedgerView, login
from desktop_app.core.store.database import Store

SKIPPED_PARTS = ("backups", "attachments")


def run(capsys, monkeypatch, user, *argv):
    monkeypatch.setenv("MINSHENG_USER", user)
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def files_of(root: Path) -> dict[Path, tuple]:
    """Every file under ``root`` a command may have written (the store itself, its backups
    and attachments aside), with what tells a change."""
    found = {}
    for p in root.rglob("*"):
        if p.is_file() and ".sqlite3" not in p.name and not set(p.relative_to(root).parts) & set(SKIPPED_PARTS):
            st = p.stat()
            found[p] = (st.st_size, st.st_mtime_ns)
    return found


class Sweep:
    """Runs commands and reads all they put out; ``problems`` lists every leak found."""

    def __init__(self, world, capsys, monkeypatch):
        self.world, self.capsys, self.monkeypatch = world, capsys, monkeypatch
        self.problems: list[str] = []
        self.ran: list[str] = []

    def __call__(self, user, *argv, inputs=(), code=None, check=True):
        before = files_of(self.world.root)
        words = 2 if argv[0] in ("villages", "users", "profile") else 1   # a command and its action
        got, out, err = run(self.capsys, self.monkeypatch, user, *argv[:words], "--db", self.world.db,
                            *argv[words:])
        name = " ".join(str(a) for a in argv[:3])
        self.ran.append(name)
        if code is not None:
            assert got == code, f"{name}: exit {got}, {err}"
        written = {p: text_of(p) for p, sig in files_of(self.world.root).items() if before.get(p) != sig}
        if check:
            allowed = {v for v in self.world.forbidden
                       if any(v in str(a) for a in argv) or any(v in text_of(Path(f)) for f in inputs)}
            for where, text in [("stdout", out), ("stderr", err), *((str(p), t) for p, t in written.items())]:
                found = leaks(text, self.world.forbidden, allowed)
                if found:
                    self.problems.append(f"{user} {name}: {where} shows {found}")
        return got, out, err, written


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path)


def opened(path, user):
    """The store opened as ``user`` does it (log-in opens it)."""
    if hasattr(Store, "unlock"):
        return Store.unlock(path, user, PASSWORD)
    store = Store.open(path)
    login(store, user, PASSWORD)
    return store


def book(path: Path, rows: list[dict]) -> Path:
    """A two_cancer sheet headed by the catalog's labels (``org``: a 村（社区） column)."""
    from desktop_app.core.catalog import load_catalog
    led = load_catalog().ledger("two_cancer")
    wb = Workbook()
    fields = list(rows[0])
    wb.active.append(["村（社区）" if f == "org" else led.field(f).label for f in fields])
    for row in rows:
        wb.active.append([row.get(f) for f in fields])
    wb.save(path)
    return path


def test_every_command_as_a_clerk_shows_no_stored_number(world, capsys, monkeypatch, tmp_path):
    run_ = Sweep(world, capsys, monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    one_person = screening(2, phone="13811112222")                    # an existing row of 示例村一
    other_person = screening(4, phone="13811113333")                  # a row of 示例村二
    newcomer = screening(20, id_number=new_id(1), phone="13811114444")
    broken = screening(21, id_number="430902197501011234", phone="13811115555")
    workbook = book(tmp_path / "村一.xlsx", [one_person, other_person, newcomer, broken])

    run_(CLERK, "catalog", "--json", code=0)
    run_(CLERK, "villages", "list", code=None)
    run_(CLERK, "users", "list", code=1)
    run_(CLERK, "backup", "--list", code=1)
    _, rows_out, _, _ = run_(CLERK, "records", "--ledger", "two_cancer", "--json", code=0)
    rows = json.loads(rows_out)["rows"]
    assert {r["org"] for r in rows} == {"430971121001"} and {r["uuid"] for r in rows} == set(world.one)
    assert all("*" in r["id_number"] and "*" in r["phone"] for r in rows)
    run_(CLERK, "records", "--ledger", "two_cancer", code=0)
    run_(CLERK, "records", "--ledger", "barrier_free", "--json", code=0)
    run_(CLERK, "records", "--ledger", "two_cancer", "--deleted", "--json", code=0)
    _, _, err, _ = run_(CLERK, "records", "--ledger", "two_cancer", "--org", VILLAGE_TWO, code=1)
    assert "不能查看其他单位的记录" in err
    run_(CLERK, "records", "--ledger", "two_cancer", "--reveal", "--purpose", "好奇", code=1)
    added = screening(22, id_number=new_id(2), phone="13811116666")
    run_(CLERK, "add", "--ledger", "two_cancer", "--json-row", json.dumps(added, ensure_ascii=False), "--json",
         code=0)
    _, _, err, _ = run_(CLERK, "add", "--ledger", "two_cancer", "--org", VILLAGE_TWO,
                        "--json-row", json.dumps(screening(23, id_number=new_id(3)), ensure_ascii=False), code=1)
    assert "不能录入或修改其他单位的记录" in err
    _, _, err, _ = run_(CLERK, "add", "--ledger", "two_cancer",
                        "--json-row", json.dumps(screening(5, phone="13811117777"), ensure_ascii=False), code=1)
    assert "其他单位的已有记录重复" in err        # a person of 示例村二: not named
    run_(CLERK, "template", "--ledger", "two_cancer", "--out", out / "模板.xlsx", code=0)
    for name in ("导出.xlsx", "导出.csv"):
        run_(CLERK, "export-excel", "--ledger", "two_cancer", "--out", out / name, code=0)
    lines = (out / "导出.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert len(lines) == 4 and all(line.startswith(VILLAGE_ONE) for line in lines)   # 示例村一's rows only
    run_(CLERK, "export-excel", "--ledger", "two_cancer", "--village", VILLAGE_TWO, "--out", out / "x.xlsx", code=1)
    run_(CLERK, "export-excel", "--ledger", "two_cancer", "--reveal", "--purpose", "好奇", "--out",
         out / "y.xlsx", code=1)
    run_(CLERK, "export-excel", "--ledger", "two_cancer", "--deidentify", "--purpose", "统计",
         "--out", out / "去标识.xlsx")
    _, dry, _, _ = run_(CLERK, "import-excel", workbook, "--dry-run", "--json", inputs=[workbook], code=1)
    by_row = {r["row"]: r for r in json.loads(dry)["files"][0]["rows"]}
    assert by_row[2]["status"] == "updated"       # 示例村一's woman: the old phone masked, the new one hers
    assert by_row[2]["changes"]["联系电话"] == ["138****0001", "13811112222"]
    assert by_row[3]["status"] == "rejected" and "其他单位" in by_row[3]["messages"][0]
    assert by_row[4]["status"] == "new"
    run_(CLERK, "import-excel", workbook, "--errors", out / "错误.xlsx", "--json", inputs=[workbook], code=1)
    assert (out / "错误.xlsx").exists()
    run_(CLERK, "progress", "--json", "--as-of", TODAY, code=0)
    run_(CLERK, "progress", "--as-of", TODAY, "--xlsx", out / "进展.xlsx", code=0)
    run_(CLERK, "report", "--month", "2024-06", "--xlsx", out / "调度.xlsx", "--pdf", out / "调度.pdf")
    _, _, err, _ = run_(CLERK, "conflicts", "--json", code=1)
    assert "无权" in err
    run_(CLERK, "resolve", "1", "--keep", "mine", code=1)
    run_(CLERK, "duplicates", "--json", code=0)
    run_(CLERK, "board", "--json")
    _, reviews, _, _ = run_(CLERK, "reviews", "--json", code=0)
    assert [r["row"] for r in json.loads(reviews)["reviews"]] == [world.one[1]]
    run_(CLERK, "reply", "--ledger", "two_cancer", "--row", world.one[1], "--text", "已核实", code=0)
    run_(CLERK, "export-package", "--out", out / "包")
    run_(CLERK, "import-package", world.package)
    run_(CLERK, "profile", "export", "--out", out / "配置")

    # a reviewer's outputs are masked too, unless revealed with a purpose (audited)
    _, masked, _, _ = run_(REVIEWER, "conflicts", "--json", code=0)
    [c] = json.loads(masked)["conflicts"]
    assert (c["mine"], c["theirs"]) == ("137****0007", "139****0009")
    _, full, _, _ = run_(REVIEWER, "conflicts", "--json", "--reveal", "--purpose", "核对冲突", code=0, check=False)
    assert [(c["mine"], c["theirs"]) for c in json.loads(full)["conflicts"]] == [(TOWN_PHONE, VILLAGE_PHONE)]
    _, full, _, _ = run_(REVIEWER, "records", "--ledger", "two_cancer", "--json", "--reveal", "--purpose",
                         "电话回访", code=0, check=False)
    assert TOWN_PHONE in full
    returned = out / "回访.xlsx"
    run_(REVIEWER, "export-excel", "--ledger", "two_cancer", "--village", VILLAGE_ONE, "--reveal",
         "--purpose", "电话回访", "--out", returned, code=0, check=False)

    # changed here after that full export, and in the returned sheet by the clerk: a conflict
    with opened(world.db, ADMIN) as store:
        store.ledger("two_cancer").update(world.one[2], {"phone": LATER_PHONE}, today=TODAY)
    wb = load_workbook(returned)
    ws = wb.active
    phone_col = next(c.column for r in ws.iter_rows(max_row=6) for c in r if c.value and "联系电话" in str(c.value))
    row = next(c.row for r in ws.iter_rows() for c in r if c.value == screening(3)["id_number"])
    ws.cell(row, phone_col).value = EXPORT_PHONE
    wb.save(returned)
    _, dry, _, _ = run_(CLERK, "import-excel", returned, "--dry-run", "--json", inputs=[returned], code=1)
    conflict = next(r for r in json.loads(dry)["files"][0]["rows"] if r["status"] == "conflict")
    assert "135****0005" in conflict["messages"][0] and EXPORT_PHONE in conflict["messages"][0]
    run_(CLERK, "import-excel", returned, "--errors", out / "冲突.xlsx", inputs=[returned], code=1)

    logs = [p for p in world.root.rglob("*.log*") if p.is_file()]
    run_.problems += [f"log {p}: {leaks(text_of(p), world.forbidden)}" for p in logs
                      if leaks(text_of(p), world.forbidden)]
    assert run_.problems == []
    with opened(world.db, ADMIN) as store:
        reveals = store.conn.execute("SELECT user, source FROM audit WHERE action = 'reveal'").fetchall()
    assert {u for u, _ in reveals} == {REVIEWER}
    assert {"cli:conflicts", "cli:records"} <= {s for _, s in reveals}
    commands = {name.split()[0] for name in run_.ran}
    assert commands >= {"catalog", "villages", "users", "backup", "records", "add", "template", "export-excel",
                        "import-excel", "progress", "report", "conflicts", "resolve", "duplicates", "board",
                        "reviews", "reply", "export-package", "import-package", "profile"}


# ---------------------------------------------------------------- finding 4: search, person ids

def test_search_by_id_needs_the_whole_number(world):
    with opened(world.db, CLERK) as store:
        led = store.catalog.ledger("two_cancer")
        row = store.ledger("two_cancer").rows()[0]
        number = row["id_number"]

        def found(text, policy=None):
            return LedgerView(store, led, Selection(search=text), policy=policy).count()
        assert found(number) == 1
        # a masked number cannot be recovered digit by digit: no part of it finds the row
        assert [found(number[:n]) for n in range(1, 18)] == [0] * 17
        assert found(number[-6:]) == found(number[6:14]) == 0
        assert [p["name"] for p in store.persons.search(number)] == [row["name"]]
        assert store.persons.search(number[:-1]) == [] and store.persons.search(number[-6:]) == []
        reviewer = Policy("审核员")   # may reveal: the last digits too, never a middle part
        assert found(number[-6:], reviewer) >= 1 and found(number[6:14], reviewer) == 0
        fetched = LedgerView(store, led, Selection(search=number)).fetch(
            LedgerView(store, led, Selection(search=number)).ids())
        assert all(r["id_number"] != number and "*" in r["id_number"] for r in fetched.values())


def test_person_ids_are_kept_inside(tmp_path, capsys, monkeypatch):
    """Two towns count the same woman: the district's pair, conflicts and JSON name her by
    no person id (a hash of her ID number) unless revealed."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="区")
    towns = [install_below(d, tmp_path / f"{n}.sqlite3", level="town", org=n, operator="镇",
                           villages=[f"{n}示例村"]) for n in ("河坝镇", "金盆镇")]
    for t in towns:
        t.ledger("two_cancer").add(screening(1), org=t.orgs.children(t.node.org)[0].code, today=TODAY)
        sync.import_package(d, sync.export_package(t, tmp_path / "out").path)
    [pair] = district.find_duplicates(d)
    assert pair.person_id is not None            # a window of a role that may reveal holds it
    add_user_and_clerk(d)
    code, out, _ = run(capsys, monkeypatch, CLERK, "duplicates", "--db", d.path, "--json")
    [shown] = json.loads(out)["pairs"]
    assert code == 0 and shown["person_id"] is None and pair.person_id not in out
    login(d, CLERK, PASSWORD)
    assert district.find_duplicates(d)[0].person_id is None
    assert d.persons.search(screening(1)["id_number"])    # the whole number finds her
    for s in (d, *towns):
        s.close()


def add_user_and_clerk(store):
    from desktop_app.core.store import add_user
    add_user(store, ADMIN, PASSWORD, "管理员")
    login(store, ADMIN, PASSWORD)
    add_user(store, CLERK, PASSWORD, "录入员")
    store.session = None


def test_conflicts_of_the_person_master_hide_the_person_id(chain):
    d, t, v, tmp = chain
    uid = v.ledger("two_cancer").add(screening(1), today=TODAY).uuid
    sync.import_package(t, sync.export_package(v, tmp / "out").path)
    pid = t.ledger("two_cancer").get(uid)["person_id"]
    t.conn.execute("INSERT INTO conflicts (tbl, uuid, field, stamp, origin, version, value, detected) "
                   "VALUES ('persons', ?, 'phone', 1, 'x', 'x', '\"13900000001\"', '2024-06-30')", (pid,))
    t.conn.commit()
    [c] = sync.list_conflicts(t)                       # as a window holds it (may reveal)
    assert c["uuid"] == pid
    [c] = sync.list_conflicts(t, policy=Policy("审核员"))   # as the command line prints it
    assert c["uuid"] is None and c["theirs"] == "139****0001"


# ---------------------------------------------------------------- finding 3: conflicts

def test_conflicts_are_the_reviewers_and_masked(world, capsys, monkeypatch):
    with opened(world.db, CLERK) as store:
        assert sync.list_conflicts(store) == []          # not a 录入员's queue
        with pytest.raises(PermissionDenied):
            sync.resolve_conflict(store, 1, "mine")
    code, out, _ = run(capsys, monkeypatch, REVIEWER, "conflicts", "--db", world.db)
    assert code == 0 and "137****0007" in out and TOWN_PHONE not in out and VILLAGE_PHONE not in out
    code, _, err = run(capsys, monkeypatch, REVIEWER, "conflicts", "--db", world.db, "--reveal")
    assert code == 1 and "--purpose" in err


def test_import_conflict_text_masks_the_value_stored_here(world, tmp_path):
    """A row of a revealed export, changed here since and in the sheet: the conflict names
    the file's values as they are and today's value here masked (the preview, the dry run
    and the error workbook all read this text)."""
    from desktop_app.core.excel import export_ledger, plan_import
    with opened(world.db, REVIEWER) as store:
        export_ledger(store, "two_cancer", tmp_path / "e.xlsx", village=VILLAGE_ONE, reveal=True,
                      purpose="核对")
        store.session = Session(ADMIN, "管理员")
        store.ledger("two_cancer").update(world.one[2], {"phone": LATER_PHONE}, today=TODAY)
        wb = load_workbook(tmp_path / "e.xlsx")
        ws = wb.active
        for r in ws.iter_rows():
            for c in r:
                if c.value == "13800000001":
                    c.value = EXPORT_PHONE
        wb.save(tmp_path / "e.xlsx")
        plan = plan_import(store, tmp_path / "e.xlsx")
    conflict = next(r for r in plan.rows if r.status == "conflict")
    assert "本机已改为“135****0005”" in conflict.problems[0].message
    assert LATER_PHONE not in " ".join(p.message for r in plan.rows for p in r.problems)


# ---------------------------------------------------------------- finding 7: units

def test_a_clerk_bound_to_a_village_reads_and_writes_only_it(world):
    with opened(world.db, CLERK) as store:
        led = store.ledger("two_cancer")
        assert {r["uuid"] for r in led.rows()} == set(world.one) and led.count() == 3
        assert led.get(world.two[0]) is None and led.history(world.two[0]) == []
        assert led.history(world.one[0])
        with pytest.raises(KeyError):
            led.update(world.two[0], {"institution": "示例"}, today=TODAY)
        with pytest.raises(KeyError):
            led.delete(world.two[0])
        with pytest.raises(PermissionDenied):
            led.update(world.one[0], {"org": VILLAGE_TWO}, today=TODAY)
        with pytest.raises(PermissionDenied):
            led.rows(org="430971121002")
        saved = led.add(screening(30, id_number=new_id(30)), today=TODAY)   # by default: 示例村一
        assert led.get(saved.uuid)["org"] == "430971121001"
        view = LedgerView(store, led.ledger)
        assert view.count() == 4
        with pytest.raises(PermissionDenied):
            LedgerView(store, led.ledger, Selection(org="430971121002")).count()
        other = store.conn.execute("SELECT person_id FROM ledger_two_cancer WHERE uuid = ?",
                                   (world.two[0],)).fetchone()[0]
        assert store.persons.visible(other) is None
        assert store.persons.search(screening(4)["id_number"]) == []
        mine = store.conn.execute("SELECT person_id FROM ledger_two_cancer WHERE uuid = ?",
                                  (world.one[0],)).fetchone()[0]
        assert {a["row"]["org"] for a in store.persons.appearances(mine)} == {"430971121001"}
        report = district.compute(store, TODAY)
        assert report.scope == "430971121001"
        with pytest.raises(PermissionDenied):
            district.compute(store, TODAY, scope="430971121002")


def test_a_town_user_sees_the_towns_villages(world):
    with opened(world.db, ADMIN) as store:
        from desktop_app.core.store import add_user
        add_user(store, "示例镇录入员", PASSWORD, "录入员", unit="河坝镇")
        add_user(store, "单位写错", PASSWORD, "录入员", unit="没有这个村")
    with opened(world.db, "示例镇录入员") as store:
        assert store.ledger("two_cancer").count() == 5      # the whole town: both villages
    with opened(world.db, "单位写错") as store:            # an unknown unit: nothing, and says why
        assert store.ledger("two_cancer").count() == 0
        with pytest.raises(PermissionDenied, match="没有这个村"):
            store.ledger("two_cancer").add(screening(31, id_number=new_id(31)), today=TODAY)


def test_autofill_from_a_known_number_shows_what_the_role_may_see(world):
    with opened(world.db, CLERK) as store:
        led = store.ledger("two_cancer")
        woman = screening(1)
        shown, hidden = led.person_fill("id_number", woman["id_number"])
        assert shown == {"name": woman["name"]} and set(hidden) == {"phone"}
        assert hidden["phone"].count("*") == 4
        # kept on saving: the master's phone goes into the row without reaching the form
        raw = {k: v for k, v in screening(1, day="2024-04-01").items() if k != "phone"}
        completed = led.complete(raw, keep=["phone"])
        assert completed["phone"][-4:] == hidden["phone"][-4:] and "*" not in completed["phone"]


def test_a_full_number_of_someone_of_another_village_finds_no_one(world):
    """Typing the whole ID number of a woman of 示例村二 neither fills the form nor names her
    in a warning: the person master follows the unit rule of the person page."""
    other = screening(4)            # a woman of 示例村二 only
    with opened(world.db, CLERK) as store:
        led = store.ledger("two_cancer")
        assert led.person_fill("id_number", other["id_number"]) == ({}, {})
        raw = {"name": "某某", "id_number": other["id_number"], "cervical_date": "2024-05-01"}
        assert led.complete(raw, keep=["phone"])["phone"] is None
        saved = led.add(raw, today=TODAY, allow_duplicate=True)
        assert saved.incomplete and other["name"] not in " ".join(w.message for w in saved.warnings)
        assert led.get(saved.uuid)["phone"] is None          # nothing of hers copied into the row


def test_an_import_names_only_the_users_unit(world, tmp_path):
    from desktop_app.core.excel import plan_import
    path = book(tmp_path / "b.xlsx", [dict(screening(40, id_number=new_id(40)), org=VILLAGE_TWO)])
    with opened(world.db, CLERK) as store:
        plan = plan_import(store, path)
        [row] = [r for r in plan.rows if r.status != "skipped"]
        assert row.status == "rejected" and "其他单位" in row.problems[0].message
        with pytest.raises(PermissionDenied):
            plan_import(store, path, default_org=VILLAGE_TWO)
        no_org = book(tmp_path / "c.xlsx", [screening(41, id_number=new_id(41))])
        [row] = [r for r in plan_import(store, no_org).rows if r.status != "skipped"]
        assert row.org == "430971121001"


def test_masking_keeps_the_form_values_of_a_revealed_session():
    """The policy itself: a reveal needs the role and a purpose (the store checks both)."""
    from desktop_app.core.catalog import load_catalog
    led = load_catalog().ledger("two_cancer")
    row = {"uuid": "u", "org": "430971121001", "id_number": make_id("19710916", 154),
           "phone": "13812341234", "person_id": "p"}
    assert Policy("录入员").row(led, row)["id_number"].count("*") == 11
    assert "person_id" not in Policy("审核员").row(led, row)
    assert Policy("审核员", revealed=True).row(led, row) == row
    assert Policy("录入员").for_screen().revealed is False
