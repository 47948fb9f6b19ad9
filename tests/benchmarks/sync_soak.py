"""The sync property tests with many more examples and steps (not CI).

    python tests/benchmarks/sync_soak.py [EXAMPLES] [STEPS]
"""
import os
import subprocess
import sys
from pathlib import Path

examples = sys.argv[1] if len(sys.argv) > 1 else "300"
steps = sys.argv[2] if len(sys.argv) > 2 else "60"
env = dict(os.environ, SYNC_EXAMPLES=examples, SYNC_STEPS=steps, SYNC_SHRINK="1")
tests = Path(__file__).resolve().parent.parent
sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tests / "test_sync_properties.py")], env=env, cwd=tests))
