#!/usr/bin/env python3
"""Set up and run the project on a fresh machine with nothing but python3.

    python3 packaging/dev.py run     # app on the demo store (.venv, editable install)
    python3 packaging/dev.py test    # the test suite (.venv-test, non-editable install)

Each command makes its own virtual environment beside the checkout and
re-installs only when pyproject.toml changed (the test command always
re-installs the package itself, so it tests what a wheel contains).
Extra arguments are passed on: ``dev.py test -k catalog``, ``dev.py run --db X``.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APT_LINE = ("sudo apt-get install -y libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 "
            "libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 "
            "libxcb-shape0 libxcb-xinerama0 libxcb-render-util0 libxcb-image0 fonts-wqy-microhei")


def _python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _ensure_env(name: str, extras: str, editable: bool) -> Path:
    env = ROOT / name
    py = _python(env)
    stamp = env / ".installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if not py.exists():
        print(f"[dev] creating {name} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(env)
    if not stamp.exists() or stamp.read_text() != want:
        print(f"[dev] installing dependencies into {name} (first run takes a few minutes) …",
              flush=True)
        subprocess.check_call([py, "-m", "pip", "install", "-q", "--upgrade", "pip"])
        target = f"{ROOT}[{extras}]" if extras else str(ROOT)
        cmd = [py, "-m", "pip", "install", "-q"] + (["-e", target] if editable else [target])
        subprocess.check_call(cmd)
        stamp.write_text(want)
    elif not editable:
        subprocess.check_call([py, "-m", "pip", "install", "-q", "--no-deps",
                               "--force-reinstall", str(ROOT)])
    return py


def _qt_problems(py: Path) -> str | None:
    """Why Qt cannot start here (missing system libraries), or None."""
    probe = ("import PySide6, pathlib, subprocess, sys\n"
             "from PySide6 import QtWidgets\n"
             "p = pathlib.Path(PySide6.__file__).parent / 'Qt/plugins/platforms/libqxcb.so'\n"
             "if p.exists():\n"
             "    out = subprocess.run(['ldd', str(p)], capture_output=True, text=True).stdout\n"
             "    miss = sorted({l.split()[0] for l in out.splitlines() if 'not found' in l})\n"
             "    if miss: print('missing: ' + ', '.join(miss)); sys.exit(3)\n")
    res = subprocess.run([py, "-c", probe], capture_output=True, text=True)
    if res.returncode == 0:
        return None
    text = (res.stdout + res.stderr).strip().splitlines()
    return text[-1] if text else "unknown error"


def run(args: list[str]) -> int:
    py = _ensure_env(".venv", "", editable=True)
    if sys.platform.startswith("linux") and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        problem = _qt_problems(py)
        if problem:
            print(f"[dev] Qt cannot start on this machine: {problem}\n"
                  f"[dev] install the system libraries Qt needs, then run again:\n    {APT_LINE}",
                  file=sys.stderr)
            return 2
    if not any(a.startswith("--db") for a in args) and "--demo" not in args:
        args = ["--demo"] + args
    return subprocess.call([py, "-m", "desktop_app"] + args)


def test(args: list[str]) -> int:
    py = _ensure_env(".venv-test", "test", editable=False)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    # run from the checkout with importlib mode: tests import the *installed* package
    return subprocess.call([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + args,
                           cwd=ROOT / "tests", env=env)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test"}:
        print(__doc__)
        return 2
    return {"run": run, "test": test}[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
