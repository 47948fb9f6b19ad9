"""python -m desktop_app — open the application.

    python -m desktop_app            the last store used (the first time: a short setup)
    python -m desktop_app --demo     the demo store (created when missing)
    python -m desktop_app --db PATH  a given store
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="minsheng-app", description="民生实事台账")
    p.add_argument("--version", action="version", version=f"民生实事台账 {__version__}")
    p.add_argument("--demo", action="store_true", help="打开示例数据库（没有时自动生成）")
    p.add_argument("--db", help="打开指定的数据库文件")
    p.add_argument("--selftest", action="store_true",
                   help="自检：在临时文件夹里试运行各项功能并绘制主窗口，成功时退出码为 0")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.selftest:
        from .selftest import run
        return run()
    from .ui.app import make_app, start_error_handling
    app = make_app(sys.argv[:1])
    start_error_handling()  # the windowed build has no console: errors go to the log and a box
    try:
        return _open_and_run(app, args)
    except Exception as exc:  # a bug at start-up: logged and shown, never a silent exit
        from .ui.errors import report_uncaught
        report_uncaught(exc)
        return 2


def _open_and_run(app, args: argparse.Namespace) -> int:
    from .ui.app import data_dir, last_store
    from .ui.startup import ensure_demo
    demo = data_dir() / "示例数据.sqlite3"
    if args.db:
        path = Path(args.db)
    elif args.demo:
        path = ensure_demo(demo)
        if path is None:
            return 1
    elif last_store() is None:
        from .ui.setup_dialog import SetupDialog
        setup = SetupDialog()
        if setup.exec() != SetupDialog.Accepted or setup.result_path() is None:
            return 0  # cancelled: nothing was created
        path = setup.result_path()
    else:
        path = last_store()
    from .ui.main_window import open_window
    window = open_window(path)
    if window is None:
        return 0
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
