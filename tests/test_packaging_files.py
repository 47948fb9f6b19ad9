"""The packaging files refer to things that exist and say what they must (checked here;
building them is packaging/build.py, not part of the tests)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
pytestmark = pytest.mark.skipif(not PACKAGING.exists(), reason="packaging/ not beside the tests")


def test_inno_setup_script():
    iss = (PACKAGING / "windows" / "minsheng.iss").read_text(encoding="utf-8")
    for section in ("[Setup]", "[Languages]", "[Tasks]", "[Files]", "[Icons]", "[Run]"):
        assert section in iss
    assert "ChineseSimplified.isl" in iss and "{autodesktop}" in iss and "{group}" in iss
    assert (ROOT / "resources" / "icons" / "app.ico").is_file()
    assert "--selftest" in iss
    # the data folder is never deleted: nothing outside {app} is listed for removal
    deleted = re.findall(r"^Type: \w+; Name: \"([^\"]+)\"", iss, flags=re.M)
    assert all(name.startswith("{app}") for name in deleted)


def test_spec_and_entries():
    spec = (PACKAGING / "minsheng.spec").read_text(encoding="utf-8")
    assert '"desktop_app/resources"' in spec and '"desktop_app/db"' in spec
    assert "PySide6.QtWebEngineCore" in spec and "console=False" in spec
    for entry in ("entry_gui.py", "entry_cli.py"):
        assert (PACKAGING / entry).is_file() and entry in spec
    desktop = (PACKAGING / "linux" / "minsheng-taizhang.desktop").read_text(encoding="utf-8")
    assert "Exec=/opt/minsheng-taizhang/minsheng" in desktop and "Icon=minsheng-taizhang" in desktop
