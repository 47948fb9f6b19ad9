"""A district store of --rows ledger rows over 20 towns and their villages, for bench_ui.

    path = make_district(1_000_000)      # kept in tests/benchmarks/out/ for the next run

The rows are the demo's (core.demo: generated from the catalog and saved through the real
checks, so every ledger, counting rule and indicator is exercised) copied with plain SQL
as the towns' packages would have merged them: each copy a new uuid, its village (or
town) in turn, its people's ID numbers and person links remade (valid check digits,
uuid5 person ids, a person master row each), natural keys made unique — except a
cross-town duplicate now and then (an institution two towns both report) — and the
versions stamped by the town's install. Beside the rows: a peer per town (two replaced
by a new PC, one new PC waiting for its fingerprint check), a year of received packages
(a few gaps, a few late towns, rejected rows), a few conflicts, held packages and
duplicate decisions, so the district's board has something to show.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
from pathlib import Path

from stdnum.cn import ric, uscc

from desktop_app.core.catalog.orgs import Org, OrgTree
from desktop_app.core.demo import create_demo
from desktop_app.core.store.database import Store
from desktop_app.core.store.persons import person_id

OUT = Path(__file__).parent / "out"
DISTRICT = "430971"
TOWNS = 20
VILLAGES = 10          # per town
# share of the rows per ledger (the other ledgers: the remainder, evenly; 指标进展: the demo's rows)
SHARES = {"two_cancer": 0.25, "relief_payments": 0.25, "meal_records": 0.20, "newborn_screening": 0.08,
          "employment": 0.08, "training": 0.05, "barrier_free": 0.03, "child_rehab": 0.02, "legal_aid": 0.02}
REGIONS = ("430902", "430903", "430921", "430922", "430923", "430981", "430900", "430971")
_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def org_tree() -> list[Org]:
    """The shipped district and towns, 15 more towns, and VILLAGES villages in each."""
    shipped = list(OrgTree.shipped())
    towns = [o for o in shipped if o.level == "town"]
    towns += [Org(f"{DISTRICT}{200 + i:03d}", f"示例镇{i + 1}", "town", DISTRICT)
              for i in range(TOWNS - len(towns))]
    villages = [Org(f"{t.code}{v + 1:03d}", f"{t.name}示例村{v + 1}", "village", t.code)
                for t in towns for v in range(VILLAGES)]
    return [o for o in shipped if o.level == "district"] + towns + villages


def make_district(rows: int) -> Path:
    path = OUT / f"district_{rows}.sqlite3"
    if path.exists() and Path(f"{path}.keys").exists():
        return path
    for old in OUT.glob(f"district_{rows}.sqlite3*"):
        old.unlink()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = create_demo(Path(tmp) / "demo.sqlite3", scale=1.0)
        templates = {led.id: _rows(demo.conn, led.table) for led in demo.catalog.ledgers}
        demo_node = demo.node.id
        demo.close()
    store = Store.create(path, level="district", org=DISTRICT, operator="区", orgs=org_tree())
    try:
        _fill(store, templates, demo_node, rows)
    except BaseException:
        store.close()
        for old in OUT.glob(f"district_{rows}.sqlite3*"):
            old.unlink()
        raise
    store.close()
    return path


def _rows(conn, table: str) -> list[dict]:
    cur = conn.execute(f"SELECT * FROM [{table}] WHERE _deleted = 0 ORDER BY rowid")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


class _Copier:
    """Copy ``k`` of a template row: new ids, its unit, its people, its keys."""

    def __init__(self, store: Store):
        self.ns = store.setting("person_namespace")
        tree = store.orgs
        self.towns = [o.code for o in tree.children(DISTRICT)]
        self.villages = [o.code for t in self.towns for o in tree.children(t)]
        self.nodes = {t: f"town{i:02d}{'0' * 10}"[:16] for i, t in enumerate(self.towns)}
        self.district_node = store.node.id
        self.persons: dict[str, tuple] = {}
        self.n = 0

    def id_number(self, number: str, k: int) -> str:
        """Another valid number of the same birth date and sex, one per (number, k)."""
        sex = int(number[16]) % 2
        seq = (k // len(REGIONS) % 500) * 2 + sex
        body = f"{REGIONS[k % len(REGIONS)]}{number[6:14]}{seq:03d}"
        return body + ric.calc_check_digit(body + "0")

    def credit_code(self, k: int, salt: int) -> str:
        rng = random.Random(k * 7919 + salt)
        body = "9143090" + str(salt % 10) + "".join(rng.choice(_USCC) for _ in range(9))
        return body + uscc.calc_check_digit(body + "0")

    def copy(self, led, row: dict, k: int, i: int, demo_node: str) -> dict:
        self.n += 1
        out = dict(row)
        out["uuid"] = f"{self.n:08x}-b000-7000-8000-{k:04x}{i:08x}"
        org = row["org"]
        if led.indicator_field() is not None:
            pass                  # the district's 指标进展 (a rotation names its towns): as they are
        elif len(org) == 12:
            org = self.villages[self.n % len(self.villages)]
        elif len(org) == 9:
            org = self.towns[self.n % len(self.towns)]
        out["org"] = org
        node = self.nodes.get(org[:9], self.district_node)
        out["_versions"] = row["_versions"].replace(demo_node, node)
        out["_origin"] = node
        day = row.get(led.date_field) or "2024-06-01"
        out["_created"] = out["_updated"] = f"{day}T10:00:00"
        if led.persons:
            self._people(led, out, k)
        elif k:                   # the first copy keeps the demo's keys
            self._key(led, out, k)
        return out

    def _people(self, led, out: dict, k: int) -> None:
        """Copy ``k``'s people (the first copy keeps the demo's), linked and in the master."""
        for f in led.fields if k else ():
            if f.type == "id_card" and out.get(f.id):
                out[f.id] = self.id_number(out[f.id], k)
        for f in led.fields if k else ():
            if f.type == "disability_cert" and out.get(f.id) and out.get("id_number"):
                out[f.id] = out["id_number"] + out[f.id][18:]
            elif f.type == "credit_code" and out.get(f.id):
                out[f.id] = self.credit_code(k, len(f.id))
            elif f.id in led.natural_key and f.id in ("case_no", "class_name", "child_name") and out.get(f.id):
                out[f.id] = f"{out[f.id]}{k}"
        for link in led.persons:
            number = out.get(link.fields["id_number"])
            if not number:
                continue
            pid = person_id(self.ns, number)
            out[link.column] = pid
            if pid not in self.persons:
                self.persons[pid] = (pid, out["org"], number, out.get(link.fields.get("name", "")) or "示例",
                                     out["_versions"], out["_created"], out["_origin"])

    def _key(self, led, out: dict, k: int) -> None:
        # now and then two towns report the same institution: the copy shares the key of the one before
        same = k - 1 if k % 50 == 1 and k > 1 else k
        for fid in led.natural_key:
            f = led.field(fid) if led.has_field(fid) else None
            if f is None or out.get(fid) is None:
                continue
            if f.type == "credit_code":
                out[fid] = self.credit_code(same, 1)
            elif f.type == "text" and fid != (led.indicator_field().id if led.indicator_field() else None):
                out[fid] = f"{out[fid]}{same}"


def _fill(store: Store, templates: dict[str, list[dict]], demo_node: str, rows: int) -> None:
    cat = store.catalog
    rest = [led.id for led in cat.ledgers if led.id not in SHARES and led.indicator_field() is None]
    left = 1 - sum(SHARES.values())
    want = {lid: int(rows * SHARES.get(lid, left / len(rest))) for lid in (led.id for led in cat.ledgers)}
    for led in cat.ledgers:      # the district's own 指标进展 rows: once, as the demo has them
        if led.indicator_field() is not None:
            want[led.id] = len(templates[led.id])
    want["two_cancer"] += rows - sum(want.values())
    copier = _Copier(store)
    stamp = store.clock.tick()
    with store.transaction():
        for led in cat.ledgers:
            tpl = templates[led.id]
            made = []
            for j in range(want[led.id]):
                k, i = divmod(j, len(tpl))
                made.append(copier.copy(led, tpl[i], k, i, demo_node))
            cols = list(tpl[0])
            store.conn.executemany(
                f"INSERT INTO [{led.table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({','.join('?' * len(cols))})",
                ([r[c] for c in cols] for r in made))
            store.conn.executemany("INSERT INTO change_log (tbl, uuid, stamp) VALUES (?, ?, ?)",
                                   ((led.table, r["uuid"], stamp) for r in made))
        pcols = ("uuid", "org", "id_number", "name", "_versions", "_created", "_origin")
        store.conn.executemany(f"INSERT OR IGNORE INTO persons ({', '.join(pcols)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               copier.persons.values())
        _history(store, copier)
        _reviews(store)


def _history(store: Store, copier: _Copier) -> None:
    """Peers, a year of received packages, held packages and conflicts."""
    rng = random.Random(18)
    me = store.node.id
    now = "2024-12-20T09:00:00"
    peers, packages, received, held = [], [], [], []
    for t, (town, node) in enumerate(copier.nodes.items()):
        chains = [node]
        if t in (3, 11):   # a town that replaced its PC in May: the old chain ended
            old = f"old{t:02d}".ljust(16, "0")
            peers.append((old, town, "town", "x", "s", "e", _fingerprint(rng), "2024-01-02T09:00:00",
                          "2024-01-03T09:00:00", "replaced", node, 9))
            chains.insert(0, old)
        peers.append((node, town, "town", "x", "s", "e", _fingerprint(rng), "2024-01-02T09:00:00",
                      "2024-01-03T09:00:00", "active", None, None))
        late = t % 7 == 5                    # a town that often sends late
        for c, source in enumerate(chains):
            first_month = 1 if c == 0 else 6
            last_month = 5 if len(chains) == 2 and c == 0 else 12
            seq = 0
            for month in range(first_month, last_month + 1):
                for part in range(2 if month % 3 else 1):     # twice a month, once at quarter end
                    seq += 1
                    if t % 9 == 4 and seq in (7, 8) or (late and month in (3, 8)):
                        continue                              # lost on the way / not sent
                    day = dt.datetime(2024, month, 3 + part * 12, 10, t)
                    pid = f"{source}-{seq:04d}"
                    summary = {"ledgers": {"two_cancer": rng.randint(50, 900), "relief_payments": rng.randint(0, 900),
                                           "persons": rng.randint(10, 300)},
                               "new": rng.randint(100, 2000), "updated": rng.randint(0, 50), "unchanged": 0,
                               "older": 0, "deleted": rng.randint(0, 3), "conflicts": 0,
                               "rejected": rng.choice((0, 0, 0, 0, 1, 3))}
                    packages.append((pid, "in", "incremental", source, me, seq, seq, seq * 1000, seq * 1000 + 999,
                                     seq * 10, None, f"{rng.getrandbits(128):032x}", day.isoformat(),
                                     (day + dt.timedelta(hours=20)).isoformat(timespec="seconds"),
                                     f"{town}_{seq:04d}.mspkg", "imported", json.dumps(summary)))
                    received.append((source, seq, pid))
        if t in (6, 15):   # a package held: its sender's clock was a day ahead
            held.append((f"held-{t}", node, town, 99, 99, "clock_skew", "时钟超前", f"{town}_held.mspkg",
                         "0" * 64, now))
    store.conn.executemany(
        "INSERT INTO peers (node, org, level, suite, sign_key, enc_key, fingerprint, profile_created, added, status, "
        "replaced_by, chain_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", peers)
    store.conn.executemany(
        "INSERT INTO packages (package_id, direction, kind, source, dest, seq_from, seq_to, change_from, change_to, "
        "audit_to, prev, sha256, created, handled, file, status, summary) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", packages)
    store.conn.executemany("INSERT INTO received (source, seq, package_id) VALUES (?, ?, ?)", received)
    store.conn.executemany(
        "INSERT INTO held_packages (package_id, source_node, source_org, seq_from, seq_to, reason, message, file, "
        "sha256, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", held)
    town = copier.towns[8]
    store.conn.execute(
        "INSERT INTO pending_peers (org, node, org_name, level, suite, sign_key, fingerprint, profile, since) "
        "VALUES (?, ?, ?, 'town', 'x', 's', ?, '{}', ?)",
        (town, "newpc08".ljust(16, "0"), town, _fingerprint(rng), now))
    # conflicts: a town's losing value of a field of a row of another town
    rows = store.conn.execute("SELECT uuid, org FROM ledger_two_cancer WHERE rowid % 20011 = 7").fetchall()
    store.conn.executemany(
        "INSERT INTO conflicts (tbl, uuid, field, stamp, origin, version, value, detected) "
        "VALUES ('ledger_two_cancer', ?, 'phone', ?, ?, '[1]', ?, ?)",
        [(u, 1 << 16, copier.nodes[copier.towns[(copier.towns.index(o[:9]) + 1) % len(copier.towns)]],
          json.dumps(f"1390000{n:04d}"), now) for n, (u, o) in enumerate(rows)])


def _fingerprint(rng: random.Random) -> str:
    return "-".join(f"{rng.getrandbits(16):04X}" for _ in range(8))


def _reviews(store: Store) -> None:
    """Decisions on people counted in two towns: some the same person (one row kept), some not."""
    for led in store.catalog.ledgers:
        if not led.persons:
            continue
        pairs = store.conn.execute(
            f"SELECT a.uuid, b.uuid FROM [{led.table}] AS a JOIN [{led.table}] AS b "
            f"ON a.person_id = b.person_id AND a.uuid < b.uuid AND substr(a.org, 1, 9) <> substr(b.org, 1, 9) "
            f"WHERE a.rowid % 97 = 0 LIMIT 60").fetchall()
        store.conn.executemany(
            "INSERT OR IGNORE INTO duplicate_reviews (ledger, uuid_a, uuid_b, decision, keep, reviewer, decided) "
            "VALUES (?, ?, ?, ?, ?, '示例审核员', '2024-11-01T09:00:00')",
            [(led.id, a, b, "same" if n % 3 else "different", a if n % 3 else None) for n, (a, b) in enumerate(pairs)])


if __name__ == "__main__":   # python tests/benchmarks/district_store.py [rows]
    import sys
    print(make_district(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
