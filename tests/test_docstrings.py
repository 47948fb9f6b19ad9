"""The examples in the core's docstrings run and are right."""
import doctest
import importlib
import pkgutil

import pytest

import desktop_app.core as core

MODULES = [m.name for m in pkgutil.walk_packages(core.__path__, "desktop_app.core.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
