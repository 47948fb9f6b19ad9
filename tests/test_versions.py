"""The hybrid logical clock and per-field version vectors."""
from desktop_app.core.store.versions import Clock, RowVersions, Version, successor


def test_clock_is_strictly_increasing_when_the_wall_clock_goes_back():
    walls = iter([100.0, 100.0, 50.0, 200.0])
    clock = Clock(wall=lambda: next(walls))
    stamps = [clock.tick() for _ in range(4)]
    assert stamps == sorted(set(stamps))
    assert stamps[0] >> 16 == 100_000 and stamps[2] >> 16 == 100_000


def test_observe_flags_far_future_stamps_and_never_adopts_them():
    """A stamp more than MAX_SKEW (24 h) ahead of the wall clock never moves the clock (issue 15)."""
    clock = Clock(wall=lambda: 1000.0)
    near = (1000_000 + 3600_000) << 16
    assert clock.observe(near) is False and clock.tick() > near
    far = (1000_000 + 3 * 86400_000) << 16
    assert clock.observe(far) is True
    assert clock.tick() < far and clock.last < clock.bound()


def test_observe_never_adopts_a_stamp_beyond_the_year_2100():
    """A stamp from a PC set to the year 9999 does not fit SQLite's INTEGER: adopting it
    would make every later local write fail."""
    from desktop_app.core.store.versions import MAX_STAMP
    clock = Clock(wall=lambda: 1000.0)
    assert MAX_STAMP < 2 ** 63 // 2
    assert clock.observe(253402300799000 << 16) is True
    assert clock.tick() < 2 ** 63 and clock.last < MAX_STAMP
    assert clock.observe(MAX_STAMP) is True and clock.last < (1000_000 + 86400_000 + 1) << 16


def test_checked_decoding_refuses_what_a_package_must_not_carry():
    import pytest
    ok = RowVersions.decode_checked('[[5,"a"],{"phone":[9,"b",{"a":5}]}]')
    assert ok.get("phone") == Version(9, "b") and ok.get("phone").seen == {"a": 5}
    for bad in ("[" * 5000 + "]" * 5000, '[[5,"a",{"b":"x"}]]', '[[5,"a",{"b":1.5}]]', '[[-1,"a"]]',
                f'[[{2 ** 70},"a"]]', '[["5","a"]]', '[[5,7]]', '[[5,"a"],[1]]', '[]', '{}', '[[true,"a"]]',
                '[[5,"a"],{"x":[NaN,"b"]}]', '[[5]]', '[[5,"a",{},4]]'):
        with pytest.raises(ValueError):
            RowVersions.decode_checked(bad)


def test_edit_on_top_covers_the_value_it_replaced():
    a = Version(10, "a")
    b = successor(20, "b", [a])
    assert b.covers(a) and not a.covers(b) and not a.concurrent(b)


def test_concurrent_edits_and_an_old_value_arriving_late():
    a = Version(10, "a")
    b1 = successor(20, "b", [a])
    b2 = successor(30, "b", [b1])       # b edits twice
    c = successor(25, "c", [a])         # c edits a concurrently
    assert b2.covers(a) and b2.covers(b1)          # a is an ancestor, not a conflict
    assert b2.concurrent(c) and c.concurrent(b1)


def test_row_versions_round_trip_and_stay_small():
    rv = RowVersions(Version(5, "n1"))
    assert rv.encode() == '[[5,"n1"]]'
    rv.set("phone", successor(9, "n2", [rv.get("phone")]))
    again = RowVersions.decode(rv.encode())
    assert again.get("phone").vector() == {"n1": 5, "n2": 9}
    assert again.get("name") == Version(5, "n1")
