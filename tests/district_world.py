"""The generated district of the district tests (core and UI): 5 towns, their villages,
overlapping people, and the packages of 4 towns merged at the district.

    d, towns = build_district(root)     # stores open; the caller closes them
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support import household, init_below, make_id, screening, trust_profile

from desktop_app.core.store.database import Store
from desktop_app.core import sync
from desktop_app.core.sync import profiles

TODAY = dt.date(2024, 12, 31)
TOWN_NAMES = ["河坝镇", "金盆镇", "北洲子镇", "千山红镇", "南湾湖管理处"]
SHARED = make_id("19700312", 2)        # a woman screened in 河坝镇 and in 金盆镇
DISABLED = make_id("19600101", 5)      # a man whose home is modified in two towns


def woman(i: int) -> str:
    """The 身份证号 of the district's woman ``i`` (the numbers the district tests assert on)."""
    return make_id(f"197{i % 10}0415", 2 * i)


@pytest.fixture
def world(tmp_path):
    """(the district, 河坝镇, tmp_path) of :func:`build_district`; every store closed after."""
    d, towns = build_district(tmp_path)
    yield d, towns["河坝镇"], tmp_path
    for s in (d, *towns.values()):
        s.close()


def build_district(root: Path) -> tuple[Store, dict[str, Store]]:
    """The district store and its towns' stores, in ``root``."""
    d = Store.create(root / "d.sqlite3", level="district", org="430971", operator="专班")
    profiles.export_profile(d, root / "d.msprofile")
    towns = {}
    for i, name in enumerate(TOWN_NAMES):
        t = init_below(root / f"t{i}.sqlite3", root / "d.msprofile", level="town",
                       org=name, operator=f"{name}录入员")
        t.add_villages(["示例村一", "示例村二"])
        profiles.export_profile(t, root / f"t{i}.msprofile")
        trust_profile(d, root / f"t{i}.msprofile")
        towns[name] = t
    hb, jp = towns["河坝镇"], towns["金盆镇"]
    hb.ledger("two_cancer").add_many(
        [screening(1, id_number=SHARED), screening(2, id_number=woman(2)), screening(3, id_number=woman(3))],
        org="示例村一", today=TODAY)
    jp.ledger("two_cancer").add_many(
        [screening(4, day="2024-05-06", id_number=SHARED), screening(5, id_number=woman(5))],
        org="示例村二", today=TODAY)
    towns["北洲子镇"].ledger("two_cancer").add(screening(6, id_number=woman(6)), org="示例村一", today=TODAY)
    # last year's screening of 河坝镇's woman 2, entered from last year's list (checked rows)
    last_year = hb.ledger("two_cancer").check(
        screening(7, day="2024-01-02", id_number=woman(2)), today=TODAY).values
    last_year.update(cervical_date="2023-06-01", breast_date="2023-06-01", org="430971121002")
    hb.ledger("two_cancer").insert_valid([last_year], [[]])
    man = household(0, name="示例残", id_number=DISABLED)
    hb.ledger("barrier_free").add(man, org="示例村二", today=TODAY)
    towns["千山红镇"].ledger("barrier_free").add(man, org="示例村一", today=TODAY)
    for name in ("河坝镇", "金盆镇", "北洲子镇", "千山红镇"):   # 南湾湖管理处 never sends
        pkg = sync.export_package(towns[name], root / "usb")
        sync.import_package(d, pkg.path)
    return d, towns
