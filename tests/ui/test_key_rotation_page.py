"""更换本机密钥… on the 同步中心's 单位与配置文件 tab: core's rotation, the new fingerprint
shown, and the receiving page accepting the change the old key signed."""
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from support import make_chain

from desktop_app.core.store.database import Store
from desktop_app.core.sync import read_profile, spaced_fingerprint
from desktop_app.ui.sync_page import SyncPage
from desktop_app.ui.tasks import TaskRunner

WAIT = 30000


@pytest.fixture
def chain(tmp_path):
    for store in make_chain(tmp_path):
        store.close()
    return tmp_path


@pytest.fixture
def open_page(qtbot):
    made = []

    def make(path: Path) -> SyncPage:
        runner = TaskRunner(path)
        reader = Store.open_readonly(path)
        page = SyncPage(runner, reader)
        qtbot.addWidget(page)
        made.append((runner, reader))
        qtbot.waitUntil(lambda: page.state is not None, timeout=WAIT)
        return page
    yield make
    for runner, reader in made:
        runner.shutdown()
        reader.close()


def test_rotating_shows_the_new_fingerprint_and_the_receiver_accepts_it(qtbot, chain, open_page):
    town = open_page(chain / "t.sqlite3")
    tab = town.peers_tab
    assert tab.rotate_keys_button.property("permission") == "admin"
    old = tab.own_fingerprint.text()
    with qtbot.waitSignal(tab.keys_rotated, timeout=WAIT) as blocker:
        tab.rotate_keys_to(chain / "usb")
    rotation = blocker.args[0]
    assert rotation.path.parent == chain / "usb"
    assert spaced_fingerprint(rotation.previous_fingerprint) == old
    assert tab.own_fingerprint.text() == spaced_fingerprint(rotation.fingerprint) != old
    assert read_profile(rotation.path).fingerprint == rotation.fingerprint
    assert str(rotation.path) in tab.profile_message.text()

    district = open_page(chain / "d.sqlite3")
    with qtbot.waitSignal(district.profiles_imported, timeout=WAIT) as blocker:
        district.import_profiles([rotation.path])
    (outcome,) = blocker.args[0]
    assert outcome.status == "rotated" and outcome.fingerprint == rotation.fingerprint
    assert district.peers_tab.pending_model.rowCount() == 0     # no phone check needed
    texts = [w.text() for w in district.peers_tab.profile_results.findChildren(QLabel)]
    assert spaced_fingerprint(rotation.fingerprint) in texts
    assert any(spaced_fingerprint(rotation.previous_fingerprint) in t for t in texts)


def test_a_folder_that_cannot_be_written_changes_no_key(qtbot, chain, open_page, tmp_path):
    town = open_page(chain / "t.sqlite3")
    tab = town.peers_tab
    old = tab.own_fingerprint.text()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with qtbot.waitSignal(town.jobs.failed, timeout=WAIT):
        tab.rotate_keys_to(blocked / "usb")
    assert tab.profile_message.text().startswith("没有完成")
    with qtbot.waitSignal(town.jobs.state_read, timeout=WAIT):
        town.jobs.refresh()
    assert tab.own_fingerprint.text() == old
    assert {p.name for p in tmp_path.rglob("*.msprofile*")} == {"d.msprofile", "t.msprofile", "v.msprofile"}
