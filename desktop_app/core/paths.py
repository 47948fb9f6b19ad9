"""Find the files that ship with the application: ``resources/`` and ``db/``.

In a source checkout they sit beside the ``desktop_app`` package; in a wheel
(and in the PyInstaller bundle) they sit inside it. One locator serves all::

    >>> (resources_dir() / "catalog").is_dir()
    True
"""
from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def _locate(name: str) -> Path:
    candidates = [_PACKAGE / name, _PACKAGE.parent / name]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.insert(0, Path(bundle) / "desktop_app" / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"找不到程序自带的 {name}/ 目录（查找过：{', '.join(map(str, candidates))}）。"
        "请重新安装本程序。"
    )


@cache
def resources_dir() -> Path:
    """The ``resources/`` directory (catalog, org tree, icons, translations)."""
    return _locate("resources")


@cache
def migrations_dir() -> Path:
    """The ``db/`` directory holding the numbered SQL migrations."""
    return _locate("db")
