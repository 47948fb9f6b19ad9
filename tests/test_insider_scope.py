"""Issue 15, items 3 and 4: a member with a valid key (河坝镇) sends packages whose content
reaches outside its scope — orgs under another town, same-name units, hostile names that
would make paths, other towns' persons, the district's review status, audit entries under
another install's origin. Every package here is signed with the member's real key."""
import datetime as dt
import json

import pytest
from district_world import DISABLED, SHARED, TODAY, build_district, woman
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from insider_world import audit_line, current, forged, members_state, org_line, row_line, versioned
from support import logical_dump, make_chain, raw_connect, screening

from desktop_app.core import sync
from desktop_app.core.district import flag
from desktop_app.core.store import Store
from desktop_app.core.store.persons import person_id
from desktop_app.core.sync import profiles
from desktop_app.core.sync.conflicts import list_conflicts, resolve_conflict
from desktop_app.core.sync.package_file import PackageError

HB, JP = "430971121", "430971123"


@pytest.fixture
def world(tmp_path):
    d, towns = build_district(tmp_path)
    yield d, towns, tmp_path
    for s in (d, *towns.values()):
        s.close()


def pid(store, number):
    return person_id(store.setting("person_namespace"), number)


# ---------------------------------------------------------------- 3. the org tree from below

@pytest.mark.parametrize("org, says", [
    (org_line("430971123777", "假村", parent=HB), "不以上级单位（河坝镇）的代码 430971121 开头"),
    (org_line("4309711219", "短码村", parent=HB), "应为 12 位数字"),
    (org_line("430971121901", "示例村一", parent=HB), "同名"),
    (org_line("430971121902", "新村", parent=HB, aliases=["示例村二"]), "同名"),
    (org_line("430971121904", "示例村一\u2060", parent=HB), "同名"),
    (org_line("430971121903", "镇中镇", parent=HB, level="town"), "镇级单位的代码应为 9 位数字"),
])
def test_an_org_that_does_not_fit_the_code_scheme_refuses_the_package(world, org, says):
    d, towns, tmp = world
    before = logical_dump(d.path)
    with pytest.raises(PackageError, match=says) as refused:
        sync.import_package(d, forged(towns["河坝镇"], d, [org], tmp / "org.mstz"))
    assert refused.value.exit_code == 2 and logical_dump(d.path) == before
    assert d.orgs.get(org["code"]) is None


def test_a_fake_village_under_hebazhen_never_puts_its_rows_in_jinpenzhen_scope(world):
    """The issue's attack: 430971123777 under 河坝镇, then a 河坝镇 row in it reached 金盆镇."""
    d, towns, tmp = world
    hb = towns["河坝镇"]
    fake = org_line("430971123777", "假村", parent=HB)
    uid = "00000000-0000-4000-8000-000000000777"
    row = row_line(hb, "ledger_two_cancer", uid, dict(versioned_row(hb), org="430971123777"))
    with pytest.raises(PackageError):
        sync.import_package(d, forged(hb, d, [fake, row], tmp / "fake.mstz"))
    assert current(d, "ledger_two_cancer", uid) is None


def resigned_profile(store, orgs: list[dict], path):
    """``store``'s own profile, newer, listing ``orgs`` besides its own, signed with its real key."""
    from desktop_app.core.store.crypto import SUITES, b64
    from desktop_app.core.sync.package_file import canonical
    body = profiles.make_profile(store)["profile"]
    body["orgs"] += [{k: v for k, v in org.items() if k != "k"} for org in orgs]
    signature = SUITES[store.suite].sign(store.keys().sign_private, canonical(body))
    path.write_text(json.dumps({"profile": body, "signature": b64(signature)}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("org, says", [
    (org_line("430971123777", "金盆镇里的假村", parent=JP), "不在它的管辖范围内"),
    (org_line("430971199", "假镇", parent="430971", level="town"), "不在它的管辖范围内"),
    (org_line("430971123778", "挂错的村", parent=HB), "不以上级单位（河坝镇）的代码 430971121 开头"),
    (org_line("430971121901", "示例村一", parent=HB), "同名"),
    (org_line("430971121904", "示例村\u2060一\u00ad", parent=HB), "同名"),     # invisible format characters
])
def test_a_profile_from_below_may_only_teach_units_below_its_sender(world, org, says):
    """The org tree from below through the other door: a town's profile signed with its real
    key lists a unit under another town (or a town of its own making). Refused whole, as a
    package listing it would be; nothing of it is learned."""
    d, towns, tmp = world
    before = logical_dump(d.path)
    path = resigned_profile(towns["河坝镇"], [org], tmp / "hb.msprofile")
    with pytest.raises(profiles.ProfileError, match=says) as refused:
        profiles.import_profile(d, path)
    assert refused.value.exit_code == 2 and logical_dump(d.path) == before
    assert d.orgs.get(org["code"]) is None or org["name"] == "示例村一"


def test_a_profile_from_below_still_brings_its_new_villages(world):
    d, towns, tmp = world
    path = resigned_profile(towns["河坝镇"], [org_line("430971121050", "新建村", parent=HB)], tmp / "hb.msprofile")
    assert profiles.import_profile(d, path)["orgs_added"] == 1
    assert d.orgs.get("430971121050").parent == HB


def versioned_row(store):
    """The replicated values of the store's first two_cancer row."""
    first = store.ledger("two_cancer").rows()[0]
    return versioned(store, "ledger_two_cancer", first["uuid"])


def test_a_good_new_village_is_still_accepted(world):
    d, towns, tmp = world
    summary = sync.import_package(d, forged(towns["河坝镇"], d, [org_line("430971121050", "新建村", parent=HB)],
                                            tmp / "ok.mstz"))
    assert summary.status == "imported" and d.orgs.get("430971121050").name == "新建村"


def test_file_names_are_made_of_codes_and_sanitised_names(world):
    """An org name ``evil/../../../escaped`` (put straight into the store, as a broken or
    hostile install could have it) never makes a path outside the folder asked for."""
    d, towns, tmp = world
    hb = towns["河坝镇"]
    for store, sql in [(hb, f"UPDATE orgs SET name = 'evil/../../../escaped' WHERE code = '{HB}'"),
                       (hb, "UPDATE orgs SET name = '../../up' WHERE code = '430971'"),
                       (d, f"UPDATE orgs SET name = '..\\..\\镇/../x' WHERE code = '{HB}'")]:
        conn = raw_connect(store.path)       # straight into the store, past every check
        conn.execute(sql)
        conn.commit()
        conn.close()
    out = tmp / "deep" / "out"
    pkg = sync.export_package(hb, out)
    assert pkg.path.parent == out and pkg.path.name.startswith("evilescaped_至up_")
    assert sorted(p.name for p in out.iterdir()) == [pkg.path.name]
    profile = profiles.export_profile(hb, out)
    assert profile.parent == out and profile.name == f"evilescaped_{HB}_配置.msprofile"
    down = sync.export_package(d, out, to=HB)
    assert down.path.parent == out and "/" not in down.path.name and "\\" not in down.path.name
    assert not (tmp / "escaped").exists() and not list(tmp.glob("*escaped*"))


def test_a_unit_name_that_is_a_path_is_refused():
    from desktop_app.core.catalog.orgs import name_problem
    assert "不能含有" in name_problem("evil/../../../escaped")
    assert "不能含有" in name_problem("a\\b")


# ---------------------------------------------------------------- 4. persons

def test_a_person_of_another_town_is_never_overwritten_or_deleted(world):
    d, towns, tmp = world
    hb = towns["河坝镇"]
    victim = pid(d, woman(5))                      # screened in 金盆镇 only
    before = current(d, "persons", victim)
    values = dict(versioned(d, "persons", victim), org=HB + "001", name="篡改", phone="13900000000",
                  _deleted=1)
    summary = sync.import_package(d, forged(hb, d, [row_line(hb, "persons", victim, values)], tmp / "p.mstz"))
    assert current(d, "persons", victim) == before
    assert summary.totals()["conflicts"] >= 1 and any("人员信息的修改" in w for w in summary.warnings)
    held = [c for c in list_conflicts(d) if c["ledger"] == "persons" and c["kind"] == "scope"]
    assert {c["field"] for c in held} >= {"name", "phone", "_deleted"}
    # a reviewer may still take one of them: a new edit here, which then travels
    name = next(c for c in held if c["field"] == "name")
    resolve_conflict(d, name["id"], "theirs")
    assert current(d, "persons", victim)["name"] == "篡改" and not current(d, "persons", victim)["_deleted"]


def test_a_person_with_a_row_in_the_senders_scope_is_edited_and_one_of_its_own_rows_makes_it_so(world):
    d, towns, tmp = world
    hb = towns["河坝镇"]
    shared = pid(d, SHARED)                        # rows in 河坝镇 and 金盆镇
    values = dict(versioned(d, "persons", shared), address="河坝镇新址")
    sync.import_package(d, forged(hb, d, [row_line(hb, "persons", shared, values)], tmp / "a.mstz"))
    assert current(d, "persons", shared)["address"] == "河坝镇新址"
    # ... but not deleted while 金盆镇 still has her row
    values = dict(versioned(d, "persons", shared), _deleted=1)
    sync.import_package(d, forged(hb, d, [row_line(hb, "persons", shared, values)], tmp / "b.mstz"))
    assert current(d, "persons", shared)["_deleted"] == 0
    # a person of 金盆镇 becomes 河坝镇's too when the same package brings her a 河坝镇 row
    other = pid(d, woman(5))
    row = row_line(hb, "ledger_two_cancer", "00000000-0000-4000-8000-000000000555",
                   dict(versioned_row(hb), org=HB + "001", id_number=woman(5), person_id=other,
                        name="示例5", birth_date=None, sex=None))
    person = row_line(hb, "persons", other, dict(versioned(d, "persons", other), phone="13700000005"))
    sync.import_package(d, forged(hb, d, [person, row], tmp / "c.mstz"))
    assert current(d, "persons", other)["phone"] == "13700000005"



@pytest.mark.parametrize("deleted", [0, 1])
def test_a_row_linked_to_a_person_its_id_number_does_not_name_is_held(world, deleted):
    """A 河坝镇 row of its own woman linked (person_id) to 金盆镇's woman 5 — live or
    deleted — would make her 河坝镇's to edit: held, and her person record left alone."""
    d, towns, tmp = world
    hb = towns["河坝镇"]
    victim = pid(d, woman(5))
    before = current(d, "persons", victim)
    row = row_line(hb, "ledger_two_cancer", "00000000-0000-4000-8000-000000000556",
                   dict(versioned_row(hb), org=HB + "001", id_number=woman(8), person_id=victim,
                        name="示例8", birth_date=None, sex=None, _deleted=deleted))
    person = row_line(hb, "persons", victim, dict(versioned(d, "persons", victim), name="篡改", phone="13700000005"))
    summary = sync.import_package(d, forged(hb, d, [person, row], tmp / "link.mstz"))
    assert current(d, "persons", victim) == before
    assert current(d, "ledger_two_cancer", row["u"]) is None
    (rule,) = [r for (r,) in d.conn.execute("SELECT rule FROM quarantine WHERE uuid = ?", (row["u"],))]
    assert rule == "身份证号：与这条记录关联的人员（受检妇女）不符，请在本机重新保存这条记录后再发送"
    assert not any(woman(5) in w or woman(8) in w for w in summary.warnings)


# ---------------------------------------------------------------- 4. reviews

def test_a_town_replies_but_never_overwrites_the_districts_review(world):
    d, towns, tmp = world
    hb = towns["河坝镇"]
    row = next(r for r in d.ledger("two_cancer").rows() if r["org"].startswith(HB))
    rid = flag(d, "two_cancer", row["uuid"], note="电话号码疑似错误，请核实", status="退回修改")
    values = dict(versioned(d, "reviews", rid), status="已核实", note="无问题", reviewer="镇里", reply="已改正",
                  _deleted=1)
    sync.import_package(d, forged(hb, d, [row_line(hb, "reviews", rid, values)], tmp / "r.mstz"))
    review = current(d, "reviews", rid)
    assert (review["status"], review["note"], review["reviewer"], review["_deleted"]) == (
        "退回修改", "电话号码疑似错误，请核实", "专班", 0)
    assert review["reply"] == "已改正"


# ---------------------------------------------------------------- 4. audit entries and origins

def test_audit_entries_under_another_installs_origin_are_held_and_never_displace_the_genuine_ones(world):
    d, towns, tmp = world
    hb, jp = towns["河坝镇"], towns["金盆镇"]
    nxt = jp.conn.execute("SELECT MAX(id) FROM audit").fetchone()[0] + 1
    forged_entries = [audit_line(jp.node.id, i) for i in range(nxt, nxt + 30)]
    summary = sync.import_package(d, forged(hb, d, forged_entries, tmp / "audit.mstz"))
    assert any("审计记录自称来自" in w for w in summary.warnings)
    assert d.conn.execute("SELECT COUNT(*) FROM audit WHERE user = '伪造者'").fetchone()[0] == 0
    assert d.conn.execute("SELECT COUNT(*) FROM quarantine WHERE kind = 'audit'").fetchone()[0] == 30
    # 金盆镇's genuine reveal entry (the id the forgery took) arrives and is kept
    jp.ledger("two_cancer").add(screening(9, id_number=woman(9)), org="示例村一", today=TODAY)
    sync.import_package(d, sync.export_package(jp, tmp / "usb").path)
    genuine = d.conn.execute("SELECT user FROM audit WHERE origin = ? AND origin_id = ?",
                             (jp.node.id, nxt)).fetchone()
    assert genuine is not None and genuine[0] != "伪造者"


def test_a_relayed_origins_own_entry_wins_in_either_order(tmp_path):
    """At the town, village 示例村一's entries can come from the village itself or (forged)
    from the district: the village's own entry is kept whichever arrives first."""
    for first in ("forgery", "genuine"):
        d, t, v = make_chain(tmp_path / first)
        v.ledger("two_cancer").add(screening(1), today=TODAY)
        oid = v.conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
        genuine = sync.export_package(v, tmp_path / first / "up").path
        fake = forged(d, t, [audit_line(v.node.id, oid)], tmp_path / first / "fake.mstz")
        for path in ([fake, genuine] if first == "forgery" else [genuine, fake]):
            sync.import_package(t, path)
        users = [u for (u,) in t.conn.execute("SELECT user FROM audit WHERE origin = ? AND origin_id = ?",
                                              (v.node.id, oid))]
        assert users == ["村"], first
        assert t.conn.execute("SELECT COUNT(*) FROM quarantine WHERE kind = 'audit'").fetchone()[0] == 1
        for s in (d, t, v):
            s.close()


def test_two_different_relayed_copies_keep_the_first_and_hold_the_second(world):
    d, towns, tmp = world
    hb = towns["河坝镇"]
    relayed = "11111111-2222-4333-8444-555555555555"      # a village node behind 河坝镇
    sync.import_package(d, forged(hb, d, [audit_line(relayed, 7, user="甲")], tmp / "1.mstz"))
    summary = sync.import_package(d, forged(hb, d, [audit_line(relayed, 7, user="乙")], tmp / "2.mstz"))
    assert [u for (u,) in d.conn.execute("SELECT user FROM audit WHERE origin = ?", (relayed,))] == ["甲"]
    assert any("同编号记录内容不同" in w for w in summary.warnings)
    # that origin is now 河坝镇's: 金盆镇 cannot claim it
    jp = towns["金盆镇"]
    sync.import_package(d, forged(jp, d, [audit_line(relayed, 8)], tmp / "3.mstz"))
    assert d.conn.execute("SELECT COUNT(*) FROM audit WHERE origin = ?", (relayed,)).fetchone()[0] == 1


def test_one_package_holding_two_copies_of_an_entry_keeps_the_first_and_holds_the_second(world):
    d, towns, tmp = world
    hb = towns["河坝镇"]
    relayed = "11111111-2222-4333-8444-555555555555"
    lines = [audit_line(relayed, k) for k in range(1, 1201)]           # more than one bulk write
    lines[700:700] = [audit_line(relayed, 3, user="乙")]                  # entry 3 again, differing
    summary = sync.import_package(d, forged(hb, d, lines, tmp / "1.mstz"))
    assert d.conn.execute("SELECT COUNT(*) FROM audit WHERE origin = ?", (relayed,)).fetchone()[0] == 1200
    assert d.conn.execute("SELECT user FROM audit WHERE origin = ? AND origin_id = 3", (relayed,)).fetchone() == ("伪造者",)
    assert d.conn.execute("SELECT COUNT(*) FROM quarantine WHERE kind = 'audit'").fetchone()[0] == 1
    assert any("同编号记录内容不同" in w for w in summary.warnings)
    again = sync.import_package(d, forged(hb, d, lines[:50], tmp / "2.mstz"))   # known entries: nothing new
    assert d.conn.execute("SELECT COUNT(*) FROM audit WHERE origin = ?", (relayed,)).fetchone()[0] == 1200
    assert not any("同编号" in w for w in again.warnings)


def test_a_new_row_cannot_claim_another_towns_install_as_its_origin(world):
    d, towns, tmp = world
    hb, jp = towns["河坝镇"], towns["金盆镇"]
    uid = "00000000-0000-4000-8000-000000000888"
    row = row_line(hb, "ledger_two_cancer", uid, dict(versioned_row(hb), org=HB + "001"), created_by=jp.node.id)
    summary = sync.import_package(d, forged(hb, d, [row], tmp / "o.mstz"))
    assert current(d, "ledger_two_cancer", uid) is None and summary.totals()["rejected"] == 1


# ---------------------------------------------------------------- the property

_OTHERS = [JP, "430971124", "430971130"]


def _hostile_line(hb, d, kind: str, i: int) -> list[dict]:
    people = [pid(d, woman(5)), pid(d, woman(6)), pid(d, DISABLED)]
    if kind == "row-elsewhere":
        row = d.ledger("two_cancer").rows()
        target = next(r for r in row if r["org"].startswith(JP))
        return [row_line(hb, "ledger_two_cancer", target["uuid"],
                         dict(versioned(d, "ledger_two_cancer", target["uuid"]), name="改", _deleted=1))]
    if kind == "row-moved":
        target = next(r for r in d.ledger("two_cancer").rows() if r["org"].startswith(JP))
        return [row_line(hb, "ledger_two_cancer", target["uuid"],
                         dict(versioned(d, "ledger_two_cancer", target["uuid"]), org=HB + "001"))]
    if kind == "person":
        victim = people[i % len(people)]
        return [row_line(hb, "persons", victim, dict(versioned(d, "persons", victim), org=HB + "001",
                                                     name="改", phone="13900000000", _deleted=i % 2))]
    if kind == "audit":
        node = d.conn.execute("SELECT node FROM peers WHERE org = ?", (_OTHERS[i % 3],)).fetchone()[0]
        return [audit_line(node, 1 + i)]
    if kind == "org":
        return [org_line(f"4309711{23 + i % 2}{i % 10}99", "假村", parent=HB)]
    if kind == "review":
        row = next(r for r in d.ledger("two_cancer").rows() if r["org"].startswith(HB))
        from desktop_app.core.district.reviews import review_id
        rid = review_id("two_cancer", row["uuid"])
        if current(d, "reviews", rid) is None:
            return []
        return [row_line(hb, "reviews", rid, dict(versioned(d, "reviews", rid), status="已核实", note="改"))]
    if kind == "future":       # a clock set to 2099: the whole package is held, the clock kept
        line = row_line(hb, "ledger_two_cancer", f"00000000-0000-4000-9000-{i:012d}",
                        dict(versioned_row(hb), org=HB + "001"))
        line["ver"] = json.dumps([[FUTURE_STAMP, hb.node.id]])
        return [line]
    bad = {"id_number": "not-an-id", "population": "非法值", "cervical_date": '=HYPERLINK("x")'}
    col = list(bad)[i % 3]
    return [row_line(hb, "ledger_two_cancer", f"00000000-0000-4000-8000-{i:012d}",
                     dict(versioned_row(hb), org=HB + "001", **{col: bad[col]}))]


FUTURE_STAMP = int(dt.datetime(2099, 12, 31, tzinfo=dt.timezone.utc).timestamp() * 1000) << 16


@pytest.fixture(scope="module")
def property_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("insider")
    d, towns = build_district(root)
    flag(d, "two_cancer", next(r for r in d.ledger("two_cancer").rows() if r["org"].startswith(HB))["uuid"],
         note="请核实", status="退回修改")
    d.close()
    for t in towns.values():
        t.close()
    return root


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(st.tuples(st.sampled_from(["row-elsewhere", "row-moved", "person", "audit", "org",
                                                     "review", "invalid", "future"]),
                                   st.integers(0, 5)), min_size=1, max_size=4), min_size=1, max_size=3))
def test_hostile_packages_from_a_member_leave_every_other_member_unchanged(property_world, tmp_path_factory,
                                                                          packages):
    from support import copy_store
    work = tmp_path_factory.mktemp("run")
    d = Store.open(copy_store(property_world / "d.sqlite3", work / "d.sqlite3"))
    hb = Store.open(copy_store(property_world / "t0.sqlite3", work / "t0.sqlite3"))
    try:
        before = members_state(d, _OTHERS, HB)
        review = d.conn.execute("SELECT status, note FROM reviews").fetchall()
        for n, lines in enumerate(packages):
            body = [line for kind, i in lines for line in _hostile_line(hb, d, kind, i)]
            try:
                sync.import_package(d, forged(hb, d, body, work / f"{n}.mstz"), before_write=lambda: None)
            except PackageError:
                pass
        assert members_state(d, _OTHERS, HB) == before
        assert d.conn.execute("SELECT status, note FROM reviews").fetchall() == review
        assert d.clock.last <= d.clock.bound()          # no received stamp moved the clock past its bound
        assert not [v for (v,) in d.conn.execute("SELECT _versions FROM ledger_two_cancer")
                    if str(FUTURE_STAMP) in v]
        assert d.conn.execute("SELECT COUNT(*) FROM ledger_two_cancer WHERE name = '改' OR id_number = "
                              "'not-an-id' OR population = '非法值'").fetchone()[0] == 0
    finally:
        d.close()
        hb.close()


def test_the_feedback_flow_still_works(world):
    """A normal round trip after the checks: the town's package, the district's feedback."""
    d, towns, tmp = world
    hb = towns["河坝镇"]
    hb.ledger("two_cancer").add(screening(20, id_number=woman(20)), org="示例村一", today=TODAY)
    summary = sync.import_package(d, sync.export_package(hb, tmp / "usb").path)
    assert summary.totals()["rejected"] == 0 and summary.totals()["new"] == 2, json.dumps(summary.to_json())
