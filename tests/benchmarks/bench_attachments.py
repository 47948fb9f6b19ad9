"""Benchmark: a package carrying 200 photos of 2 MB each (not run in CI).

    python tests/benchmarks/bench_attachments.py [--photos 200] [--mb 2] [--repeat 3]

A village store holds ``--photos`` barrier-free rows, each with one photo of ``--mb``
MB (a real JPEG followed by random bytes, as incompressible as a camera's). In the
same run, best of ``--repeat`` interleaved rounds:

  export     sync.export_package: rows + photos read, verified, encrypted in 1 MiB
             chunks, signed
  import     sync.import_package at the town: verified, decrypted, each photo hashed
             and written atomically (and the store backed up first, as always)
  cp+sha256  the same photo files copied to another folder (cp) and hashed (sha256sum)

Goal: export and import each at most 2× cp+sha256. Each of export and import also
runs once in a child process whose peak resident memory (ru_maxrss) is reported
beside the package size: it must stay bounded, not grow with the package.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
if not any((Path(p) / "desktop_app").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(HERE.parent.parent))          # a source checkout without an install

from support import household, install_below  # noqa: E402

from desktop_app.core.store.attachments import Attachments  # noqa: E402
from desktop_app.core.store.database import Store  # noqa: E402
from desktop_app.core import sync  # noqa: E402

PHOTO = HERE.parent / "fixtures" / "photo.jpg"


def setup(root: Path, photos: int, mb: float) -> Path:
    """Town and village stores with profiles exchanged; photos on disk and in the village."""
    t = Store.create(root / "t.sqlite3", level="town", org="河坝镇", operator="镇")
    t.add_villages(["示例村一"])
    v = install_below(t, root / "v.sqlite3", level="village", org="示例村一", operator="村")
    folder = root / "photos"
    folder.mkdir()
    head = PHOTO.read_bytes()
    box, records = Attachments(v), v.ledger("barrier_free")
    uids = [s.uuid for s in records.add_many([household(i) for i in range(photos)], allow_duplicate=True)]
    for i, uid in enumerate(uids):
        path = folder / f"照片{i:03d}.jpg"
        path.write_bytes(head + os.urandom(int(mb * 1048576) - len(head)))
        records.update(uid, {"photos_after": [box.put(path)]})
    t.close()
    v.close()
    shutil.copytree(root, root.with_name(root.name + "-pristine"))
    return folder


def reset(root: Path) -> None:
    pristine = root.with_name(root.name + "-pristine")
    shutil.rmtree(root)
    shutil.copytree(pristine, root)


def timed_export(root: Path) -> tuple[float, Path]:
    with Store.open(root / "v.sqlite3") as v:
        start = time.perf_counter()
        out = sync.export_package(v, root / "out")
        return time.perf_counter() - start, out.path


def timed_import(root: Path, package: Path) -> float:
    with Store.open(root / "t.sqlite3") as t:
        start = time.perf_counter()
        summary = sync.import_package(t, package)
        seconds = time.perf_counter() - start
    assert summary.files > 0, summary
    return seconds


def cp_sha(folder: Path, target: Path) -> float:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    files = sorted(str(p) for p in folder.iterdir())
    start = time.perf_counter()
    subprocess.run(["cp", *files, str(target)], check=True)
    subprocess.run(["sha256sum", *sorted(str(p) for p in target.iterdir())], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def child(mode: str, root: Path, package: str | None) -> None:
    """One export or import; prints its peak resident memory (MiB)."""
    if mode == "export":
        seconds, path = timed_export(root)
        package = str(path)
    else:
        seconds = timed_import(root, Path(package))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "package": package}))


def in_child(mode: str, root: Path, package: Path | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent.parent))
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--root", str(root),
                          "--package", str(package or "")], check=True, capture_output=True,
                         text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--photos", type=int, default=200)
    p.add_argument("--mb", type=float, default=2.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", choices=["export", "import"])
    p.add_argument("--root")
    p.add_argument("--package")
    args = p.parse_args()
    if args.child:
        child(args.child, Path(args.root), args.package)
        return
    root = Path(tempfile.mkdtemp(prefix="bench-attach-")) / "w"
    root.mkdir()
    t0 = time.perf_counter()
    folder = setup(root, args.photos, args.mb)
    total = sum(p.stat().st_size for p in folder.iterdir())
    print(f"{args.photos} photos, {total / 1048576:.0f} MiB, set up in {time.perf_counter() - t0:.1f} s")
    best = {"export": float("inf"), "import": float("inf"), "cp+sha256": float("inf")}
    for _ in range(args.repeat):
        reset(root)
        best["cp+sha256"] = min(best["cp+sha256"], cp_sha(folder, root / "copy"))
        seconds, package = timed_export(root)
        best["export"] = min(best["export"], seconds)
        best["import"] = min(best["import"], timed_import(root, package))
    size = package.stat().st_size
    base = best["cp+sha256"]
    print(f"package {size / 1048576:.0f} MiB")
    for name, seconds in best.items():
        print(f"  {name:10s} {seconds:7.2f} s  {total / 1048576 / seconds:6.0f} MiB/s  "
              f"ratio {seconds / base:4.2f}×" + ("  (goal ≤ 2×)" if name != "cp+sha256" else ""))
    reset(root)
    exp = in_child("export", root)
    imp = in_child("import", root, Path(exp["package"]))
    print(f"  peak resident memory: export {exp['peak_mib']:.0f} MiB, import {imp['peak_mib']:.0f} MiB "
          f"(package {size / 1048576:.0f} MiB)")
    shutil.rmtree(root.parent)
    shutil.rmtree(root.with_name(root.name + "-pristine"), ignore_errors=True)


if __name__ == "__main__":
    main()
