"""The shape of core: one front door per package, dependencies one way, no import circle.

Front ends (the window, the command line, printing, the self-test, tools) import core
only through a package's ``__all__`` (or the top-level errors/paths/demo modules);
inside core, a package imports only from the packages below it, and no module
hides an import inside a function (a lazy import that only dodges a cycle).
"""
import ast
import importlib
from pathlib import Path

import pytest

import desktop_app
import desktop_app.core as core

APP = Path(desktop_app.__file__).parent
CORE = Path(core.__file__).parent
PACKAGES = ("catalog", "store", "excel", "sync", "district")
TOP_MODULES = ("errors", "paths", "logs", "demo", "batch")
# the layers, lowest first; a package may import from its own layer and the ones before it
LAYERS = [{"errors", "paths", "logs", "bulk"}, {"catalog"}, {"store"}, {"excel", "sync"}, {"district"}, {"batch"}, {"demo"}]


def _front_end_files():
    return [p for p in APP.rglob("*.py") if CORE not in p.parents and p.parent != CORE]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    if node.level == 0:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[:len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _core_imports(path: Path, tree: ast.AST | None = None):
    tree = tree or ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _absolute(node, path)
            if target == "desktop_app.core" or target.startswith("desktop_app.core."):
                yield node, target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("desktop_app.core."):
                    yield node, alias.name


def test_front_ends_use_only_the_public_surface():
    offenders = []
    for path in _front_end_files():
        for node, target in _core_imports(path):
            rest = target.removeprefix("desktop_app.core").lstrip(".")
            where = f"{path.relative_to(APP)}:{node.lineno}"
            if isinstance(node, ast.Import) or rest.count(".") or rest in ("",):
                offenders.append(f"{where} imports {target}")
                continue
            if rest in TOP_MODULES:
                continue
            if rest not in PACKAGES:
                offenders.append(f"{where} imports {target}")
                continue
            public = importlib.import_module(target).__all__
            offenders += [f"{where} uses {rest}.{a.name}, not in its __all__"
                          for a in node.names if a.name not in public]
    assert offenders == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_exists_and_is_documented(package):
    module = importlib.import_module(f"desktop_app.core.{package}")
    assert module.__doc__ and ">>>" in module.__doc__
    assert sorted(set(module.__all__)) == sorted(module.__all__)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


def _layer(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def test_core_packages_depend_one_way_and_never_hide_an_import():
    wrong, hidden = [], []
    for path in CORE.rglob("*.py"):
        rel = path.relative_to(CORE)
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if own == "__init__":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = set(tree.body)
        type_checking = {n for b in tree.body if isinstance(b, ast.If) for n in b.body}
        for node, target in _core_imports(path, tree):
            other = target.removeprefix("desktop_app.core.").split(".")[0]
            if node not in top_level and node not in type_checking:
                hidden.append(f"{rel}:{node.lineno} imports {target} inside a function")
            if other != own and _layer(other) > _layer(own):
                wrong.append(f"{rel}:{node.lineno}: {own} imports {other}")
    assert wrong == [] and hidden == []
