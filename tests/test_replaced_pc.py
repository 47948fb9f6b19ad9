"""A replaced office PC, as the README's 换电脑 says: once the new PC's fingerprint is
confirmed, the old PC's chain ends at the last number received then; a gap below it is
still filled, anything numbered beyond it is refused — also a package the old PC wrote
before it was replaced — and the refusal names the unit (not its code) and the end."""
import datetime as dt

import pytest
from support import init_below, install_below, phoned, screening

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.store.database import Store
from desktop_app.core.sync import profiles

TODAY = dt.date(2024, 12, 31)


@pytest.fixture
def world(tmp_path):
    """大通湖区 with 金盆镇 confirmed; 金盆镇's old PC wrote packages 1–3, the district
    imported 1 and 3; a new PC of 金盆镇 is pending."""
    d = Store.create(tmp_path / "d.sqlite3", level="district", org="430971", operator="专班")
    old = install_below(d, tmp_path / "jp.sqlite3", level="town", org="金盆镇", operator="金盆镇")
    packages = []
    for i in range(4):
        old.ledger("two_cancer").add(screening(10 + i), org="金盆镇", today=TODAY)
        packages.append(sync.export_package(old, tmp_path / "usb").path)
    for p in (packages[0], packages[2]):
        assert sync.import_package(d, p).status == "imported"
    new = init_below(tmp_path / "jp2.sqlite3", tmp_path / "d.msprofile", level="town", org="金盆镇", operator="新电脑")
    assert profiles.import_profile(d, profiles.export_profile(new, tmp_path / "jp2.msprofile"))["replaces"] == "新电脑"
    yield d, old, new, packages, tmp_path
    for s in (d, old, new):
        s.close()


def test_confirming_the_new_pc_says_where_the_old_chain_ends(world, capsys):
    d, old, new, packages, tmp = world
    d.close()
    assert main(["profile", "confirm", "--db", str(tmp / "d.sqlite3"), "--org", "金盆镇",
                 "--fingerprint", phoned(tmp / "jp2.msprofile")]) == 0
    assert "原来那台电脑的密钥已停用，它的数据包收到第 3 号为止，之后的编号不再接收" in capsys.readouterr().out


def test_old_packages_below_the_end_fill_gaps_and_beyond_it_are_refused_naming_the_unit(world):
    d, old, new, packages, tmp = world
    result = sync.confirm_peer(d, "金盆镇", phoned(tmp / "jp2.msprofile"))
    assert result["old_chain_end"] == 3
    assert sync.import_package(d, packages[1]).status == "imported"         # number 2: a gap below the end
    assert sync.import_package(d, packages[1]).status == "already"          # and again: nothing new
    # number 4 was written by the old PC *before* it was replaced, but arrives after: refused
    with pytest.raises(sync.PackageError) as refused:
        sync.import_package(d, packages[3])
    text = str(refused.value)
    assert refused.value.exit_code == 2
    assert "金盆镇原来那台电脑（已更换电脑）发出的第 4 号数据包" in text and "收到第 3 号为止" in text
    assert "即使是换电脑之前发出的" in text and "在新电脑上补录" in text
    assert old.node.org not in text                                          # the name, never the code
    assert d.ledger("two_cancer").count() == 3


def test_a_package_of_a_pc_not_known_yet_names_the_unit_it_claims(world):
    d, old, new, packages, tmp = world
    new.ledger("two_cancer").add(screening(30), org="金盆镇", today=TODAY)
    made = sync.export_package(new, tmp / "usb").path
    sync.reject_peer(d, "金盆镇")
    with pytest.raises(sync.PackageError, match="来自未登记的单位或电脑（自称金盆镇）") as refused:
        sync.import_package(d, made)
    assert new.node.org not in str(refused.value)
