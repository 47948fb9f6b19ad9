"""A demo store: the district with its towns, 示例 villages and a year of ledgers.

Every person is fictional and named 示例…; every ID number is well formed but
made up. Rows are generated from the catalog (its fields, rules and the
indicators that count them) and saved through the same checks as typed rows,
so the demo exercises the real validation::

    >>> import tempfile, pathlib
    >>> store = create_demo(pathlib.Path(tempfile.mkdtemp()) / "demo.sqlite3", scale=0.02)
    >>> store.ledger("two_cancer").count() > 30
    True
    >>> store.close()
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
from pathlib import Path

from stdnum.cn import ric, uscc

from .catalog.idnumbers import DISABILITY_CATEGORIES, DISABILITY_GRADES
from .catalog.model import Field, Indicator, Ledger
from .store import keyring
from .store.attachments import Attachments, png_bytes
from .store.database import Store
from .store.users import add_user, login

VILLAGE_NAMES = ("示例村一", "示例村二", "示例社区")
DEMO_USERS = (("示例管理员", "管理员"), ("示例审核员", "审核员"), ("示例录入员", "录入员"))
DEMO_PASSWORD = "demo1234"   # fictional data only: the log-in screen shows it
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "秀英桂兰玉梅春华建国志强丽娟海燕红霞文杰明辉小红晓燕淑珍凤英国平德华"
REGIONS = ("430902", "430903", "430921", "430981", "430922")
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class _Maker:
    def __init__(self, store: Store, rng: random.Random, year: int):
        self.store, self.rng, self.year = store, rng, year
        self.serial = 0
        self.people: list[dict] = []

    # -- small values
    def n(self) -> int:
        self.serial += 1
        return self.serial

    def name(self) -> str:
        r = self.rng
        return "示例" + r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2))))

    def phone(self) -> str:
        digits = "".join(self.rng.choice("0123456789") for _ in range(9))
        return "1" + self.rng.choice("3578") + digits

    def credit_code(self) -> str:
        body = "9143090" + self.rng.choice("0123456789") + "".join(
            self.rng.choice(_USCC_CHARS) for _ in range(9))
        return body + uscc.calc_check_digit(body + "0")

    def day(self, lo: dt.date, hi: dt.date) -> dt.date:
        return lo + dt.timedelta(days=self.rng.randint(0, max((hi - lo).days, 0)))

    def person(self, sex: str | None, age: tuple[int, int] | None, at: dt.date) -> dict:
        """A 示例 person of the given sex and age (reusing one now and then: 一张表)."""
        if self.people and self.rng.random() < 0.12:
            sample = self.rng.sample(self.people, min(40, len(self.people)))
            fits = [p for p in sample if (sex is None or p["sex"] == sex) and
                    (age is None or age[0] <= _age(p["birth"], at) <= age[1])]
            if fits:
                return self.rng.choice(fits)
        lo, hi = age or (20, 75)
        years = self.rng.randint(lo, hi)
        birth = at - dt.timedelta(days=int(years * 365.25) + self.rng.randint(20, 340))
        sex = sex or self.rng.choice("男女")
        seq = self.rng.randrange(0, 499) * 2 + (1 if sex == "男" else 0)
        body = f"{self.rng.choice(REGIONS)}{birth:%Y%m%d}{seq:03d}"
        person = {"id": body + ric.calc_check_digit(body + "0"), "name": self.name(), "sex": sex,
                  "birth": birth, "phone": self.phone(), "address": f"示例路{self.n()}号"}
        self.people.append(person)
        return person

    # -- rows
    def row(self, led: Ledger, fixed: dict, event: dt.date) -> dict:
        row: dict = {}
        dates = self._dates(led, event)
        status_choices = [s for s in led.statuses]
        for f in led.fields:
            if f.id in fixed:
                row[f.id] = fixed[f.id]
            elif f.type == "date":
                row[f.id] = dates.get(f.id, event).isoformat() if f.id in dates or f.required else None
            elif f.id == "status":
                row[f.id] = status_choices[-1]
            elif f.derive_from or f.default_from or _filled_by_rule(led, f.id):
                continue   # the save fills it (from the ID number, another field, a rule)
            else:
                row[f.id] = self._value(led, f, row)
        self._people(led, row, event)
        self._conditional(led, row, fixed)
        return row

    def _conditional(self, led: Ledger, row: dict, fixed: dict) -> None:
        """Leave empty what the ledger asks for only under a condition that does not hold
        (阴道镜 after a normal screen, 残疾证号 on a 低保 payment, a recall date without a
        recall), and give a field a ``value_in_if`` rule limits a value it allows."""
        wanted: dict[str, list] = {}
        for rule in led.rules:
            p = rule.params
            if rule.kind == "required_if":
                wanted.setdefault(p["field"], []).append(p)
        for fid, conds in wanted.items():
            if fid in fixed or led.field(fid).required or fid == led.date_field:
                continue
            if not any(row.get(c["when_field"]) in c["when_in"] for c in conds):
                row[fid] = None
        for rule in led.rules:
            p = rule.params
            if (rule.kind == "empty_unless" and p["field"] not in fixed
                    and row.get(p["when_field"]) not in p["when_in"]):
                row[p["field"]] = None
        for rule in led.rules:
            p = rule.params
            if (rule.kind == "value_in_if" and row.get(p["when_field"]) in p["when_in"]
                    and row.get(p["field"]) is not None and row[p["field"]] not in p["in"]):
                row[p["field"]] = self.rng.choice(p["in"])
                cert = next((r.params for r in led.rules if r.kind == "disability_cert"
                             and r.params.get("grade_field") == p["field"]), None)
                if cert and row.get(cert["field"]):   # the certificate's grade digit follows
                    code = DISABILITY_GRADES.index(row[p["field"]]) + 1
                    row[cert["field"]] = row[cert["field"]][:19] + str(code)

    def _dates(self, led: Ledger, event: dt.date) -> dict[str, dt.date]:
        """Dates around the event date that satisfy the ledger's date rules."""
        dates = {led.date_field: event}
        for rule in led.rules:
            if rule.kind == "days_between":
                lo, hi = rule.params.get("min", 0), rule.params.get("max", 30)
                start = dates.get(rule.params["from"], event)
                dates[rule.params["to"]] = start + dt.timedelta(days=self.rng.randint(lo, min(hi, lo + 5)))
        for rule in led.rules:
            if rule.kind != "date_order":
                continue
            chain = rule.params["fields"]
            known = [i for i, fid in enumerate(chain) if fid in dates]
            first = known[0] if known else 0
            if not known:
                dates[chain[0]] = event - dt.timedelta(days=self.rng.randint(10, 40))
            for j in range(first - 1, -1, -1):  # before the first known date
                dates.setdefault(chain[j], dates[chain[j + 1]] - dt.timedelta(days=self.rng.randint(3, 15)))
            for j in range(first + 1, len(chain)):  # after it, never earlier than the previous
                step = dt.timedelta(days=self.rng.randint(2, 12))
                prev = dates[chain[j - 1]]
                if chain[j] not in dates or dates[chain[j]] < prev:
                    dates[chain[j]] = prev + step
        lo, hi = dt.date(self.year, 1, 1), dt.date(self.year, 12, 31)
        return {k: min(max(v, lo), hi) for k, v in dates.items()}

    def _value(self, led: Ledger, f: Field, row: dict):
        r = self.rng
        if f.type in ("choice",):
            return r.choice(f.choices)
        if f.type == "multichoice":
            return "、".join(r.sample(f.choices, k=min(len(f.choices), r.choice((1, 1, 2)))))
        if f.type == "yesno":
            return r.choice((1, 1, 1, 0))
        if f.type in ("integer", "decimal"):
            lo = f.min if f.min is not None else 1
            for rule in led.rules:   # a plausible site meets the 50 人次/日 and 供餐能力 checks
                if rule.kind == "min_value" and rule.params["field"] == f.id:
                    lo = max(lo, rule.params["min"])
            hi = f.max if f.max is not None else 100
            hi = min(hi, lo + 200)
            value = r.uniform(lo, hi)
            return int(value) if f.type == "integer" else round(value, 1)
        if f.type == "phone":
            return self.phone()
        if f.type == "credit_code":
            return self.credit_code()
        if f.type in ("id_card", "disability_cert", "attachment"):
            return None  # filled with the person; photos are added by hand
        if "address" in f.id or "location" in f.id or f.id == "venue":
            return f"示例路{self.n()}号"
        if f.id == "note" or f.id == "diagnosis":
            return None
        text = f"示例{f.label[:6]}{self.n()}"
        return text[: f.max_length] if f.max_length else text

    def _people(self, led: Ledger, row: dict, event: dt.date) -> None:
        sex_of, age_of = {}, {}
        for rule in led.rules:
            if rule.kind == "sex":
                sex_of[rule.params["id_field"]] = rule.params["value"]
            if rule.kind == "age" and "id_field" in rule.params:
                lo, hi = rule.params.get("min", 0), rule.params.get("max", 100)
                old = age_of.get(rule.params["id_field"], (0, 200))
                age_of[rule.params["id_field"]] = (max(lo, old[0]), min(hi, old[1], 92))
        links = {link.fields.get("id_number"): link for link in led.persons}
        for f in led.fields:
            if f.type not in ("id_card",) or row.get(f.id):
                continue
            p = self.person(sex_of.get(f.id), age_of.get(f.id) or (22, 70), event)
            row[f.id] = p["id"]
            link = links.get(f.id)
            if link:
                for pf, lf in link.fields.items():
                    if pf in ("name", "phone", "address") and led.field(lf).type in ("text", "phone"):
                        row[lf] = p[pf]
        for f in led.fields:
            if f.type == "disability_cert":
                id_field = next((r.params["id_field"] for r in led.rules if r.kind == "disability_cert"),
                                "id_number")
                cat = next((r.params.get("category_field") for r in led.rules
                            if r.kind == "disability_cert"), None)
                grade = next((r.params.get("grade_field") for r in led.rules
                              if r.kind == "disability_cert"), None)
                c = self.rng.randrange(7)
                g = self.rng.choice((0, 0, 1, 1, 1, 2))
                if cat:
                    row[cat] = DISABILITY_CATEGORIES[c]
                if grade:
                    row[grade] = DISABILITY_GRADES[g]
                row[f.id] = f"{row[id_field]}{c + 1}{g + 1}"


def _filled_by_rule(led: Ledger, field_id: str) -> bool:
    """Whether a ``value_in_if`` rule gives the field its value (元/月 for 城市低保)."""
    return any(r.kind == "value_in_if" and r.params["field"] == field_id and len(r.params["in"]) == 1
               for r in led.rules)


def _age(birth: dt.date, at: dt.date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def create_demo(path: Path, *, seed: int = 2024, scale: float = 1.0) -> Store:
    """Create the demo district store at ``path`` and return it open.

    ``scale`` shrinks the row counts (tests use a small demo).
    """
    store = Store.create(path, level="district", org="430971", operator="示例管理员")
    year = store.catalog.plan_year
    rng = random.Random(seed)
    towns = [o for o in store.orgs.children(store.node.org)]
    for town in towns:
        store.add_villages(list(VILLAGE_NAMES), town=town.code)
    villages = [o.code for o in store.orgs if o.level == "village"]
    maker = _Maker(store, rng, year)
    by_ledger: dict[str, list[Indicator]] = {}
    for ind in store.catalog.indicators:
        if not ind.derived:
            by_ledger.setdefault(ind.measure.ledger, []).append(ind)
    for led in store.catalog.ledgers:
        rows, orgs = _rows_for(maker, led, by_ledger.get(led.id, []), villages, towns, scale)
        _save(store, led, rows, orgs)
    # targets the catalog derives (not written in the plan) last, so the rows of the others
    # stay as they were before such a target was added
    for ind in (i for i in store.catalog.indicators if i.derived):
        led = store.catalog.ledger(ind.measure.ledger)
        rows, orgs = _rows_for(maker, led, [ind], villages, towns, scale)
        _save(store, led, rows, orgs)
    for i, (name, role) in enumerate(DEMO_USERS):
        add_user(store, name, DEMO_PASSWORD, role)
        if i == 0:
            login(store, name, DEMO_PASSWORD)
    _photos(store, rng)
    store.session = None
    store.set_setting("demo", "1")
    with keyring.editing(path) as ring:   # the log-in may say so before the store opens
        ring.data.setdefault("label", {})["demo"] = True
        ring.save()
    return store


def _event(rng: random.Random, year: int) -> dt.date:
    return dt.date(year, 1, 8) + dt.timedelta(days=rng.randint(0, 330))


def _rows_for(maker: _Maker, led: Ledger, inds: list[Indicator], villages, towns, scale):
    rng, year = maker.rng, maker.year
    rows, orgs = [], []

    def add(fixed: dict, event: dt.date, org: str) -> None:
        row = maker.row(led, fixed, event)
        if led.persons and rng.random() < 0.03:  # a legacy row still to be completed (待补充)
            keep = set(led.identity) | {led.title_field} | set(led.persons[0].fields.values())
            row = {k: v for k, v in row.items() if k in keep}
        rows.append(row)
        orgs.append(org)

    if led.indicator_field() is not None:
        for ind in inds:
            _progress_rows(maker, led, ind, add, towns)
        return rows, orgs
    if not inds:  # a ledger no indicator counts (e.g. 就餐明细): a sample
        for _ in range(max(3, int(120 * scale))):
            add({}, _event(rng, year), rng.choice(villages))
        return rows, orgs
    for ind in inds:
        m = ind.measure
        # a demo row is a state that still holds: no status that needs the date it ended (已停业)
        ended = {s for r in led.rules if m.until and r.kind == "required_if"
                 and r.params["field"] == m.until for s in r.params["when_in"]}
        fixed = {k: rng.choice([x for x in v if x not in ended]) for k, v in m.where.items()}
        if m.method in ("count", "distinct", "households"):
            n = max(1, round(ind.target * rng.uniform(0.82, 1.06) * (scale if ind.target > 30 else 1)))
            for _ in range(n):
                fixed = {k: rng.choice(v) for k, v in m.where.items()}
                add(fixed, _event(rng, year), rng.choice(villages))
        elif m.method == "sum":
            total = ind.target * rng.uniform(0.8, 1.05)
            parts = rng.randint(2, 5)
            whole = led.field(m.field).type == "integer"
            for i in range(parts):
                qty = max(1, round(total / parts)) if whole else round(total / parts, 3)
                extra = {} if whole else {"plan_qty": round(qty * 1.1, 3)}
                add(fixed | {m.field: qty} | extra, _event(rng, year), rng.choice(towns).code)
        elif m.method == "standard":
            for i in range(max(6, int(40 * scale))):
                value = ind.target + rng.choice((0, 0, 10, 20, 50))
                if i == 3:
                    value = ind.target - 20  # one payment under the standard, as happens
                persons = rng.choice((1, 1, 1, 2)) if m.per else 1   # judged per person: amount ÷ persons
                fixed2 = fixed | {m.field: value * persons} | ({m.per: persons} if m.per else {})
                if m.field != "amount":
                    fixed2["amount"] = round(value * 0.4)
                add(fixed2, _event(rng, year), rng.choice(villages))
        elif m.method == "orgs_with":
            for code in m.orgs[:-1]:  # one town without a 益老食堂 built this year …
                add(fixed, _event(rng, year), code)
            if m.span == "state":     # … but with one built the year before, still running
                row = maker.row(led, fixed | {"status": "运营中"}, dt.date(year, 1, 8))
                row.update({f: f"{year - 1}-{md}" for f, md in
                            ((led.date_field, "10-16"), ("open_date", "11-01")) if led.has_field(f)})
                rows.append(row)
                orgs.append(m.orgs[-1])
    if any(link.role == "户主" for link in led.persons):
        _households(maker, led, rows, orgs)
    return rows, orgs


def _households(maker: _Maker, led: Ledger, rows: list[dict], orgs: list[str]) -> None:
    """户主 of each row: often the disabled person; now and then a second disabled person of
    the same household (一户多残: the same 户主, village and address). A legacy row still
    without 户主 (待补充 of the old catalog) stays so: it counts by its disabled person."""
    link = next(link for link in led.persons if link.role == "户主")
    own = led.persons[0].fields
    hid, hname = link.fields["id_number"], link.fields.get("name")
    rng = maker.rng
    previous = None
    for i, row in enumerate(rows):
        if not row.get(hid):
            continue
        if previous is not None and rng.random() < 0.08:
            j = previous
            for fid in (hid, hname, "householder_relation", own.get("address")):
                if fid:
                    row[fid] = rows[j].get(fid)
            if row.get("householder_relation") == "本人":
                row["householder_relation"] = rng.choice(("配偶", "子女", "父母"))
                rows[j]["householder_relation"] = "本人"
            orgs[i] = orgs[j]
            for r in (row, rows[j]):
                if r.get("hardship") and "一户多残" not in r["hardship"]:
                    r["hardship"] += "、一户多残"
            previous = None
            continue
        if rng.random() < 0.45:
            row[hid] = row[own["id_number"]]
            if hname:
                row[hname] = row[own["name"]]
            row["householder_relation"] = "本人"
        elif row.get("householder_relation") == "本人":
            row["householder_relation"] = rng.choice(("配偶", "父母", "子女"))
        previous = i


def _progress_rows(maker: _Maker, led: Ledger, ind: Indicator, add, towns) -> None:
    """Rows of the generic 指标进展 ledger for one indicator."""
    rng, year = maker.rng, maker.year
    m = ind.measure
    ifield = led.indicator_field().id
    base = {ifield: ind.name, "status": led.statuses[-1]}
    district = maker.store.node.org
    if m.method == "periods":
        n = maker.store.catalog.periods_in_year(m.period)
        step = {"day": 1, "month": 31, "quarter": 91, "year": 300}[m.period]
        for i in range(n):
            if rng.random() < 0.08:
                continue  # a missed period now and then
            day = min(dt.date(year, 1, 10) + dt.timedelta(days=i * step), dt.date(year, 12, 28)) \
                if m.period != "day" else dt.date(year, 1, 1) + dt.timedelta(days=i)
            org = district
            if m.rotation:
                org = m.rotation[i % len(m.rotation)]
            add(base | {"item": f"示例企业{maker.n()}", "note": "按期完成"}, day, org)
    elif m.method == "latest":
        for month in (3, 6, 9, 12):
            share = {3: 0.55, 6: 0.8, 9: 0.92, 12: rng.uniform(0.95, 1.04)}[month]
            value = round(ind.target * share, 1)
            if ind.unit == "%":
                value = min(value, 100.0)
            if ind.comparator == "=" and month == 12:
                value = ind.target
            add(base | {"value": value, "note": "季度填报"}, dt.date(year, month, 25), district)
    elif m.method in ("count", "distinct") and m.field and led.field(m.field).choices:
        # items from the plan's fixed list (高效办成一件事), one of them not yet in force,
        # and one row whose free-text name is not on the list (待补充 until an item is chosen)
        for item in led.field(m.field).choices[:-1]:
            add(base | {m.field: item}, _event(rng, year), district)
        add(base | {"item": "示例清单外事项"}, _event(rng, year), district)
    elif m.method in ("count", "distinct"):
        for _ in range(int(ind.target) + rng.choice((-2, 0, 1))):
            add(base | {"item": f"示例事项{maker.n()}"}, _event(rng, year), district)
    else:  # notes
        for month in (3, 6, 9):
            add(base | {"note": f"第{month // 3}季度：按计划推进，已召开专题会议并开展督查。"},
                dt.date(year, month, 20), district)


def _save(store: Store, led: Ledger, rows: list[dict], orgs: list[str]) -> None:
    records = store.ledger(led.id)
    today = dt.date(store.catalog.plan_year, 12, 31)
    good, good_orgs, seen, errors = [], [], set(), []
    checked = records.check_many(rows, today=today)
    for i, (row, org) in enumerate(zip(rows, orgs)):
        check = checked.row(i)
        key = records.natural_key(check.values)
        if not check.ok:
            errors.append(check)
            continue
        if key is not None and key in seen:
            continue  # a generated clash (same person twice): skip it, as a clerk would
        seen.add(key)
        good.append(row)
        good_orgs.append(org)
    if len(errors) > 0.05 * len(rows):
        raise RuntimeError(f"示例数据生成有误（{led.label}）：{[p.message for p in errors[0].errors][:3]}")
    if good:
        records.add_many(good, orgs=good_orgs, source="demo", today=today, allow_duplicate=True)


def _photos(store: Store, rng: random.Random, households: int = 3) -> None:
    """Drawn before/after pictures (a step, then a ramp) on a few barrier-free rows."""
    box, records = Attachments(store), store.ledger("barrier_free")
    w, h = 320, 240

    def picture(after: bool, tint: int) -> bytes:
        rows = []
        for y in range(h):
            for x in range(w):
                floor = y > (h * 0.75 - x * 0.3 if after else (h * 0.55 if x < w // 2 else h * 0.75))
                wall = (200, 196, 188) if after else (150, 140, 120)
                rows.append((90 + tint, 90, 96) if floor else wall)
        return png_bytes(w, h, bytes(c for px in rows for c in px))
    for row in records.rows()[:households]:
        refs = {}
        for fid, after in (("photos_before", False), ("photos_after", True)):
            data = picture(after, rng.randrange(40))
            sha = hashlib.sha256(data).hexdigest()
            box.put_stream(iter([data]), sha, len(data), "png")
            refs[fid] = [{"sha256": sha, "name": ("改造后" if after else "改造前") + ".png",
                          "size": len(data), "type": "png"}]
        records.update(row["uuid"], refs, source="demo")
