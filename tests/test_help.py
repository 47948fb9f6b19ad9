"""The guide in the app (帮助 → 使用说明) and in the README are the same text."""
import re
from pathlib import Path

import pytest

from desktop_app.core.paths import resources_dir

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_form(text: str) -> str:
    """The guide one heading level down, with image paths from the repository root."""
    text = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)
    return text.replace("](screenshots/", "](resources/help/screenshots/")


def test_readme_carries_the_same_guide():
    if not README.exists():
        pytest.skip("README not beside the tests")
    guide = (resources_dir() / "help" / "guide.md").read_text(encoding="utf-8")
    assert readme_form(guide).strip() in README.read_text(encoding="utf-8")


def test_every_screenshot_the_guide_shows_exists():
    guide = (resources_dir() / "help" / "guide.md").read_text(encoding="utf-8")
    images = re.findall(r"\]\((screenshots/[^)]+)\)", guide)
    assert len(images) >= 4
    for image in images:
        assert (resources_dir() / "help" / image).is_file(), image
