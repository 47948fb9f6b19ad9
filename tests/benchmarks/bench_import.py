"""Benchmark: import a generated 100k-row × 15-column workbook end to end.

    python tests/benchmarks/bench_import.py [--rows 100000] [--profile]

Compares, in the same run, core's batch import of the workbook (as the wizard and
import-excel do: plan, backup, apply — read, normalise, validate, insert, change
log, audit) with python-calamine's raw read plus a raw executemany of the same rows
into a plain table (goal ≤ 2×): with the standard library's sqlite3 ("raw"), and with
the store's own SQLCipher build and a key ("raw-enc", what the store pays for
encryption too). Each side runs in its own process so peak memory (goal ≤ 300 MB) is
measured separately; wall-clock and CPU seconds are both given (on a shared machine
the CPU time is the steadier figure).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
HEADER = ["村（社区）", "姓名", "身份证号", "联系电话", "家庭住址", "人群类别", "检查机构",
          "宫颈癌检查日期", "宫颈初筛方法", "宫颈初筛结果", "乳腺癌检查日期", "乳腺初筛结果",
          "乳腺彩超BI-RADS分级", "状态", "备注"]


def make_workbook(rows: int) -> Path:
    import xlsxwriter
    from stdnum.cn import ric
    path = OUT / f"import_{rows}.xlsx"
    if path.exists():
        return path
    OUT.mkdir(exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("台账")
    ws.write_row(0, 0, HEADER)
    for i in range(rows):
        birth = dt.date(1965, 1, 1) + dt.timedelta(days=i % 7000)
        body = f"43{(i // 500) % 90 + 10:02d}02{birth:%Y%m%d}{(i % 500) * 2:03d}"
        day = (dt.date(2024, 1, 2) + dt.timedelta(days=i % 300)).isoformat()
        ws.write_row(i + 1, 0, [
            "示例村一" if i % 2 else "示例村二", f"示例{i}", body + ric.calc_check_digit(body + "0"),
            f"138{i:08d}", f"示例路{i}号", ("农村适龄", "城镇低保")[i % 2], "示例卫生院", day,
            "妇检+TCT", "正常", day, "正常", "1级", "已完成", ""])
    wb.close()
    return path


def run_child(mode: str, book: Path, db: Path) -> dict:
    code = f"import sys; sys.argv=['x', '--child', {mode!r}, {str(book)!r}, {str(db)!r}]; " \
           "import runpy; runpy.run_path(" + repr(__file__) + ", run_name='__main__')"
    # run from the database's folder: a "-c" child puts its working directory first on
    # sys.path, so a checkout there would shadow the one PYTHONPATH names
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=db.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(mode: str, book: Path, db: Path) -> None:
    import os
    import resource
    t, cpu = time.perf_counter(), time.process_time()
    if mode in ("raw", "raw-enc"):
        import os
        import sqlite3

        from python_calamine import CalamineWorkbook

        from desktop_app.core.store import cipher
        rows = CalamineWorkbook.from_path(str(book)).get_sheet_by_index(0).to_python()
        conn = sqlite3.connect(db) if mode == "raw" else cipher.connect(db, os.urandom(32))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"CREATE TABLE t ({', '.join(f'c{i}' for i in range(15))})")
        with conn:
            conn.executemany(f"INSERT INTO t VALUES ({','.join('?' * 15)})", rows[1:])
        n = len(rows) - 1
    else:
        from desktop_app.core.batch import Workbook, import_workbooks
        from desktop_app.core.store.database import Store
        store = Store.create(db, level="town", org="河坝镇", operator="示例")
        store.add_villages(["示例村一", "示例村二"])
        t, cpu = time.perf_counter(), time.process_time()
        if mode == "profile":
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.enable()
        [result] = import_workbooks(store, [Workbook(book, ledger="two_cancer")]).files
        if mode == "profile":
            prof.disable()
            pstats.Stats(prof, stream=sys.stderr).sort_stats(os.environ.get("SORT", "tottime")).print_stats(int(os.environ.get("TOP", "25")))
        n = result.entry["new"]
        assert result.status == "imported", result.entry["message"]
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_mb": peak, "rows": n}))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    book = make_workbook(args.rows)
    tmp = Path(tempfile.mkdtemp())
    if args.profile:
        code = f"import sys; sys.argv=['x', '--child', 'profile', {str(book)!r}, {str(tmp / 'p.sqlite3')!r}]; " \
               "import runpy; runpy.run_path(" + repr(__file__) + ", run_name='__main__')"
        subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp)
        return 0
    raw = run_child("raw", book, tmp / "raw.sqlite3")
    enc = run_child("raw-enc", book, tmp / "raw-enc.sqlite3")
    ours = run_child("import", book, tmp / "import.sqlite3")
    print(f"rows: {ours['rows']:,} × 15 columns ({book.stat().st_size / 2**20:.1f} MB xlsx)")
    for name, r in (("raw: calamine + sqlite3", raw), ("raw-enc: calamine + SQLCipher", enc),
                    ("import (batch: plan + apply)", ours)):
        print(f"{name:30s} {r['seconds']:7.2f} s wall {r['cpu']:7.2f} s CPU  peak {r['peak_mb']:.0f} MB")
    for name, r in (("raw", raw), ("raw-enc", enc)):
        print(f"import / {name:8s} {ours['seconds'] / r['seconds']:.2f}x wall, {ours['cpu'] / r['cpu']:.2f}x CPU"
              " (goal <= 2x)")
    print(f"import peak {ours['peak_mb']:.0f} MB (goal <= 300 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
