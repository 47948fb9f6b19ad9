"""desktop_app.core never imports Qt: checked in the source and at run time."""
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import desktop_app.core as core


def test_core_sources_do_not_import_qt():
    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|shiboken6|PyQt\d)", re.M)
    offenders = [p.name for p in Path(core.__file__).parent.rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_importing_every_core_module_loads_no_qt():
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "desktop_app.core.")]
    assert len(names) >= 10
    code = ("import importlib, sys\n"
            f"for n in {names!r}: importlib.import_module(n)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')]\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
