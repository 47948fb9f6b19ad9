"""A non-editable install carries resources/ and db/ inside the package."""
import importlib.metadata
from pathlib import Path

import pytest

import desktop_app
from desktop_app.core.paths import migrations_dir, resources_dir


def test_resources_ship_inside_the_installed_package():
    pkg = Path(desktop_app.__file__).resolve().parent
    if (pkg.parent / "pyproject.toml").exists():
        pytest.skip("running from a source checkout (the README test command installs a wheel)")
    assert resources_dir() == pkg / "resources"
    assert migrations_dir() == pkg / "db"
    files = {str(f) for f in importlib.metadata.files("minsheng-taizhang")}
    assert {"desktop_app/resources/catalog/plan.toml", "desktop_app/resources/orgs.toml",
            "desktop_app/db/0001_init.sql"} <= files
