"""PyInstaller entry of the windowed application (minsheng)."""
import sys

from desktop_app.__main__ import main

sys.exit(main())
