"""A town whose stored ID numbers and phones are known, with users of every role, for the
privacy tests (issue 14): what a 录入员 may see is checked against every byte of output.

    world = make_world(tmp_path)        # closed stores; the town at world.db
    world.forbidden                     # every full ID number and phone stored at the town
    text_of(path)                       # a written file as text (xlsx/zip unpacked, pdf streams inflated)
"""
from __future__ import annotations

import datetime as dt
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from support import TODAY, household, make_chain, make_id, screening

from desktop_app.core import district, sync
from desktop_app.core.store import add_user, login

PASSWORD = "示例密码-2024"
ADMIN, CLERK, REVIEWER = "示例管理员", "示例录入员", "示例审核员"
VILLAGE_ONE, VILLAGE_TWO = "示例村一", "示例村二"
VILLAGE_PHONE, TOWN_PHONE = "13900000009", "13700000007"     # the two sides of a conflict
EXPORT_PHONE, LATER_PHONE = "13600000006", "13500000005"    # a returned export, then changed here
PERSON_NUMBERS = ("id_card", "phone", "disability_cert")


@dataclass
class World:
    root: Path
    db: Path
    village_db: Path
    district_db: Path
    package: Path                       # a package from the village (already imported once)
    rows: dict[str, list[dict]] = field(default_factory=dict)   # ledger -> rows as added
    one: list[str] = field(default_factory=list)        # uuids of 示例村一's rows (two_cancer)
    two: list[str] = field(default_factory=list)        # uuids of 示例村二's rows (two_cancer)
    conflict_row: str = ""
    forbidden: set[str] = field(default_factory=set)    # full ID numbers and phones stored here


def make_world(root: Path) -> World:
    """District, town (河坝镇: 示例村一, 示例村二) and village (示例村一); rows in both villages
    of the town, a conflict on a phone, a 核实意见 from the district; users 示例管理员, 示例录入员 (bound to 示例村一) and 示例审核员 at the town."""
    d, t, v = make_chain(root)
    t.add_villages([VILLAGE_TWO])
    out = root / "packages"
    w = World(root, t.path, v.path, d.path, root)
    led_v = v.ledger("two_cancer")
    w.one = [led_v.add(screening(i), today=TODAY).uuid for i in (1, 2, 3)]
    w.package = sync.export_package(v, out).path
    sync.import_package(t, w.package)
    led_t = t.ledger("two_cancer")
    w.two = [led_t.add(screening(i), org=VILLAGE_TWO, today=TODAY).uuid for i in (4, 5)]
    t.ledger("barrier_free").add(household(1), org=VILLAGE_ONE, today=TODAY)
    t.ledger("barrier_free").add(household(2, phone="13800000019"), org=VILLAGE_TWO, today=TODAY)
    # the same phone changed at the village and at the town: a conflict at the town
    w.conflict_row = w.one[0]
    v.ledger("two_cancer").update(w.conflict_row, {"phone": VILLAGE_PHONE}, today=TODAY)
    t.clock.observe(v.clock.last)
    led_t.update(w.conflict_row, {"phone": TOWN_PHONE}, today=TODAY)
    sync.import_package(t, sync.export_package(v, out).path)
    # a 核实意见 from the district about a row of 示例村一
    sync.import_package(d, sync.export_package(t, out).path)
    district.flag(d, "two_cancer", w.one[1], note="请核实联系电话")
    sync.import_package(t, sync.export_package(d, out, to="河坝镇").path)
    add_user(t, ADMIN, PASSWORD, "管理员")
    login(t, ADMIN, PASSWORD)
    add_user(t, CLERK, PASSWORD, "录入员", unit=VILLAGE_ONE)
    add_user(t, REVIEWER, PASSWORD, "审核员")
    w.forbidden = stored_numbers(t) | {VILLAGE_PHONE}
    for s in (d, t, v):
        s.close()
    return w


def stored_numbers(store) -> set[str]:
    """Every ID number, phone and certificate number stored in ``store`` (rows of every
    ledger, deleted ones too, and the person master), read without restriction."""
    found: set[str] = set()
    for led in store.catalog.ledgers:
        cols = [f.id for f in led.fields if f.type in PERSON_NUMBERS]
        if not cols:
            continue
        for row in store.ledger(led.id).rows(deleted=None, any_unit=True):
            found |= {str(row[c]) for c in cols if row.get(c)}
    for (number, phone) in store.conn.execute("SELECT id_number, phone FROM persons"):
        found |= {str(x) for x in (number, phone) if x}
    return {x for x in found if len(x) >= 8}


def text_of(path: Path) -> str:
    """Everything a file says, as text: a zip (xlsx) unpacked, a PDF's streams inflated."""
    data = path.read_bytes()
    parts = [data.decode("utf-8", "ignore")]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            parts += [z.read(n).decode("utf-8", "ignore") for n in z.namelist()]
    if data.startswith(b"%PDF"):
        for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
            try:
                parts.append(zlib.decompress(m.group(1)).decode("latin-1"))
            except zlib.error:
                pass
    return "\n".join(parts)


def leaks(text: str, forbidden: set[str], allowed: set[str] = frozenset()) -> list[str]:
    """The forbidden values ``text`` carries (beyond those the command's own input carried)."""
    return sorted(v for v in forbidden - set(allowed) if v in text)


def new_id(i: int) -> str:
    """An ID number no stored row has (a woman of 1975)."""
    return make_id("19750601", 100 + 2 * i)


def as_of() -> dt.date:
    return TODAY
