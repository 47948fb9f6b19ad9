"""帮助 → 使用说明 shows the guide; --selftest and --version work from the installed package."""
import os
import subprocess
import sys

from desktop_app.ui.help_dialog import HelpDialog


def test_help_dialog_shows_the_guide_with_its_screenshots(qtbot):
    dialog = HelpDialog()
    qtbot.addWidget(dialog)
    text = dialog.browser.toPlainText()
    assert "发送和接收数据包" in text and "导入被拒绝时怎么办" in text
    html = dialog.browser.toHtml()
    assert "screenshots/02_dashboard.png" in html


def test_selftest_and_version_exit_zero():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-m", "desktop_app", "--selftest"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "自检通过" in out.stdout and "✓ 加密数据包" in out.stdout
    version = subprocess.run([sys.executable, "-m", "desktop_app", "--version"], capture_output=True,
                             text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("民生实事台账 ")
