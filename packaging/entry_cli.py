"""PyInstaller entry of the console program (minsheng-cli): the CLI, plus --selftest/--version,
so an installer can be checked from a terminal on the target machine."""
import sys

if len(sys.argv) > 1 and sys.argv[1] in ("--selftest", "--version"):
    from desktop_app.__main__ import main
else:
    from desktop_app.cli import main

sys.exit(main())
