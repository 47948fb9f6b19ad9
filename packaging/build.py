#!/usr/bin/env python3
"""Build the one-folder bundle (PyInstaller) and, on Linux, the .deb — then check them.

    python3 packaging/build.py            # bundle + .deb + checks
    python3 packaging/build.py --no-deb   # bundle only (Windows: then compile minsheng.iss)

Uses its own virtual environment (.venv-build: the app installed non-editable plus
PyInstaller). Afterwards it runs the bundle's ``--version`` and ``--selftest``
(offscreen), reports the bundle's size and the newest glibc symbol it needs, builds
``dist/minsheng-taizhang_<version>_amd64.deb`` with dpkg-deb, unpacks it with
``dpkg -x`` into a scratch root and checks its contents and that the unpacked
program runs. Exits non-zero if any check fails.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
BUNDLE = DIST / "minsheng"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
EXE = ".exe" if os.name == "nt" else ""
SIZE_GOAL_MB = 150


def venv_python() -> Path:
    env = ROOT / ".venv-build"
    py = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(env)])
    subprocess.check_call([py, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    subprocess.check_call([py, "-m", "pip", "install", "-q", str(ROOT), "pyinstaller>=6.10"])
    return py


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def newest_glibc(path: Path) -> str:
    """The highest GLIBC_x.y symbol version any ELF file of the bundle requires."""
    best = (0, 0)
    for f in path.rglob("*"):
        if not f.is_file() or f.stat().st_size < 64 or f.read_bytes()[:4] != b"\x7fELF":
            continue
        out = subprocess.run(["objdump", "-T", str(f)], capture_output=True, text=True).stdout
        for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", out):
            best = max(best, (int(major), int(minor)))
    return f"{best[0]}.{best[1]}"


def prune_unreferenced(folder: Path) -> list[Path]:
    """Delete the shared libraries nothing in the bundle loads any more.

    PyInstaller follows the dependencies of every Qt plugin before the spec drops the
    unused plugins (GTK theme, Wayland, …), so their libraries (pango, cairo, krb5, …)
    stay behind. Roots are what Python or Qt load by path: extension modules, Qt
    plugins and libpython; every ELF file no root needs (directly or through another
    kept library) is removed. The --selftest run afterwards proves nothing needed went.
    """
    elf = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
           and p.read_bytes()[:4] == b"\x7fELF"]
    needed = {}
    for f in elf:
        out = subprocess.run(["readelf", "-d", str(f)], capture_output=True, text=True).stdout
        needed[f] = set(re.findall(r"NEEDED.*\[(.+?)\]", out))
    by_name = {f.name: f for f in elf}
    alive = {f for f in elf if "/plugins/" in f.as_posix() or ".cpython-" in f.name
             or f.name.endswith(".abi3.so") or f.name.startswith("libpython")}
    todo = list(alive)
    while todo:
        for name in needed[todo.pop()]:
            target = by_name.get(name)
            if target is not None and target not in alive:
                alive.add(target)
                todo.append(target)
    dead = [f for f in elf if f not in alive]
    for f in dead:
        f.unlink()
    for link in folder.rglob("*"):  # PyInstaller's links to the removed files
        if link.is_symlink() and not link.exists():
            link.unlink()
    return dead


def check(cmd: list, what: str, expect: str) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    print(f"[build] {what}: exit {out.returncode}")
    print("        " + "\n        ".join((out.stdout or out.stderr).strip().splitlines()[-9:]))
    if out.returncode != 0 or expect not in out.stdout:
        raise SystemExit(f"[build] {what} failed")


def build_deb(glibc: str) -> Path:
    stage = Path(tempfile.mkdtemp()) / "deb"
    opt = stage / "opt" / "minsheng-taizhang"
    shutil.copytree(BUNDLE, opt, symlinks=True)
    apps = stage / "usr" / "share" / "applications"
    icons = stage / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps"
    bin_dir = stage / "usr" / "bin"
    for d in (apps, icons, bin_dir, stage / "DEBIAN"):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "packaging" / "linux" / "minsheng-taizhang.desktop", apps)
    shutil.copy(ROOT / "resources" / "icons" / "app.png", icons / "minsheng-taizhang.png")
    (bin_dir / "minsheng").symlink_to("/opt/minsheng-taizhang/minsheng-cli")
    (bin_dir / "minsheng-app").symlink_to("/opt/minsheng-taizhang/minsheng")
    installed_kb = int(size_mb(stage) * 1024)
    (stage / "DEBIAN" / "control").write_text(
        "Package: minsheng-taizhang\n"
        f"Version: {VERSION}\n"
        "Section: office\nPriority: optional\nArchitecture: amd64\n"
        "Maintainer: 大通湖区民政人社局 <noreply@example.invalid>\n"
        f"Installed-Size: {installed_kb}\n"
        f"Depends: libc6 (>= {glibc}), libegl1, libgl1, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1,"
        " libdbus-1-3, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0,"
        " libxcb-xinerama0, libxcb-render-util0, libxcb-image0\n"
        "Recommends: fonts-wqy-microhei | fonts-noto-cjk\n"
        "Description: 民生实事台账 — offline ledgers of a district's livelihood projects\n"
        " 离线记录民生实事台账，以签名加密的增量数据包逐级报送，按计划指标统计进度。\n"
        " 数据存放在用户数据目录，卸载不会删除。\n", encoding="utf-8")
    deb = DIST / f"minsheng-taizhang_{VERSION}_amd64.deb"
    subprocess.check_call(["dpkg-deb", "--root-owner-group", "--build", str(stage), str(deb)],
                          stdout=subprocess.DEVNULL)
    return deb


def check_deb(deb: Path) -> None:
    root = Path(tempfile.mkdtemp()) / "root"
    subprocess.check_call(["dpkg", "-x", str(deb), str(root)])
    wanted = ["opt/minsheng-taizhang/minsheng", "opt/minsheng-taizhang/minsheng-cli",
              "opt/minsheng-taizhang/_internal/desktop_app/resources/catalog/plan.toml",
              "opt/minsheng-taizhang/_internal/desktop_app/db/0001_init.sql",
              "usr/share/applications/minsheng-taizhang.desktop",
              "usr/share/icons/hicolor/256x256/apps/minsheng-taizhang.png"]
    missing = [w for w in wanted if not (root / w).exists()]
    if missing:
        raise SystemExit(f"[build] .deb lacks: {missing}")
    info = subprocess.run(["dpkg-deb", "--info", str(deb)], capture_output=True, text=True).stdout
    print(f"[build] .deb {deb.name}: {deb.stat().st_size / 2**20:.1f} MB, contents checked "
          f"({len(wanted)} key files); control:\n        " +
          "\n        ".join(l.strip() for l in info.splitlines() if l.strip().startswith(("Package", "Version", "Depends"))))
    check([str(root / "opt/minsheng-taizhang/minsheng-cli"), "--version"], "unpacked .deb --version", VERSION)


def main() -> int:
    started = time.monotonic()
    py = venv_python()
    shutil.rmtree(BUNDLE, ignore_errors=True)
    t = time.monotonic()
    subprocess.check_call([py, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                           "--distpath", str(DIST), "--workpath", str(ROOT / "build" / "pyinstaller"),
                           str(ROOT / "packaging" / "minsheng.spec")])
    built = time.monotonic() - t
    if sys.platform.startswith("linux"):
        dead = prune_unreferenced(BUNDLE / "_internal")
        print(f"[build] removed {len(dead)} shared libraries nothing loads: "
              f"{', '.join(sorted(f.name for f in dead)[:8])}…")
    size = size_mb(BUNDLE)
    print(f"[build] bundle {BUNDLE}: {size:.0f} MB unpacked (goal < {SIZE_GOAL_MB} MB), "
          f"PyInstaller {built:.0f} s")
    check([str(BUNDLE / f"minsheng-cli{EXE}"), "--version"], "bundle --version", VERSION)
    check([str(BUNDLE / f"minsheng-cli{EXE}"), "--selftest"], "bundle --selftest", "自检通过")
    if sys.platform.startswith("linux"):
        glibc = newest_glibc(BUNDLE)
        print(f"[build] newest glibc symbol needed by the bundle: GLIBC_{glibc} "
              "(build on the oldest target, e.g. UOS 20 / Kylin V10 with glibc 2.28, to run there)")
        if "--no-deb" not in sys.argv:
            check_deb(build_deb(glibc))
    print(f"[build] done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
