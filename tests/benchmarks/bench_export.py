"""Benchmark: export a 100,000-row × 15-column ledger to .xlsx (not run in CI).

    python tests/benchmarks/bench_export.py [--rows 100000] [--repeat 5] [--profile]

Fills a town store's two_cancer table directly (executemany), then, in the
same run and on the same rows:

  export_ledger   core.export.export_ledger to .xlsx (masked, audited, formatted,
                  hidden uuid and base-JSON columns, dropdowns, comments)
  openpyxl        the same cell values written raw with openpyxl's write-only mode
  xlsxwriter      the same cell values written raw with XlsxWriter constant_memory
                  (typed write_string / write_number, dates as serial numbers)

and prints the best of ``--repeat`` interleaved rounds for each (wall-clock and
CPU seconds: on a shared machine the CPU time is the steadier figure), the ratio of
export_ledger to the fastest raw writer (goal: at most 1.1) and each one's
peak traced memory (a separate tracemalloc pass, so tracing does not slow the
timed runs). ``--profile`` adds a cProfile of export_ledger, sorted by own time.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import xlsxwriter
from openpyxl import Workbook
from stdnum.cn import ric

from desktop_app.core.catalog.fieldtypes import EXCEL_EPOCH
from desktop_app.core.excel.export import export_ledger
from desktop_app.core.store.database import Store

FIELDS = ("name", "id_number", "phone", "address", "population", "institution", "cervical_date",
          "cervical_method", "cervical_result", "breast_date", "breast_result", "birads",
          "diagnosis", "note", "status")  # 15 columns


def fill(store: Store, n: int) -> None:
    """n rows in the village 示例村一, written straight into the table."""
    rng = random.Random(1)
    village = store.orgs.children(store.node.org)[0].code

    def rows():
        for i in range(n):
            birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randint(0, 7000))
            body = f"43{(i // 500) % 100:02d}02{birth:%Y%m%d}{(i % 500) * 2:03d}"
            day = (dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 180))).isoformat()
            yield (f"u{i:07d}", village, f"示例{i}", body + ric.calc_check_digit(body + "0"),
                   f"138{i:08d}", f"示例路{i}号", rng.choice(["农村适龄", "城镇低保"]),
                   "示例卫生院", day, "妇检+TCT", "正常", day, "正常", "1级", "未见异常",
                   f"备注{i}", "已完成")
    cols = ("uuid", "org") + FIELDS
    with store.transaction():
        store.conn.executemany(
            f"INSERT INTO ledger_two_cancer ({', '.join(cols)}, _versions) "
            f"VALUES ({', '.join('?' * len(cols))}, '[[1,\"n\"]]')", rows())


def same_values(path: Path) -> list[list]:
    """The cells export_ledger wrote, read back (dates as serial numbers), for the raw writers."""
    from python_calamine import CalamineWorkbook
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    out = []
    for row in sheet[3:]:
        out.append([(v - EXCEL_EPOCH).days if isinstance(v, dt.date) else
                    None if v == "" else v for v in row])
    return out


def raw_openpyxl(path: Path, values: list[list]) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    for row in values:
        ws.append(row)
    wb.save(path)


def raw_xlsxwriter(path: Path, values: list[list]) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("data")
    write_string, write_number = ws.write_string, ws.write_number
    for r, row in enumerate(values):
        for c, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, str):
                write_string(r, c, v)
            else:
                write_number(r, c, v)
    wb.close()


def best_times(runs: dict, repeat: int) -> dict[str, tuple[float, float]]:
    """The best (wall-clock, CPU) seconds of each run over ``repeat`` rounds; each round
    runs every writer once, so a change in the machine's load hits all of them alike."""
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    return {name: (min(walls[name]), min(cpus[name])) for name in runs}


def peak_mib(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_export_"))
    store = Store.create(folder / "town.sqlite3", level="town", org="河坝镇", operator="示例")
    store.add_villages(["示例村一"])
    started = time.perf_counter()
    fill(store, args.rows)
    fill_seconds = time.perf_counter() - started
    print(f"filled {args.rows} rows × {len(FIELDS)} fields in {fill_seconds:.1f} s")

    out = folder / "export.xlsx"
    runs = {"export_ledger": lambda: export_ledger(store, "two_cancer", out)}
    runs["export_ledger"]()
    values = same_values(out)
    cells = sum(v is not None for row in values for v in row)
    runs["openpyxl"] = lambda: raw_openpyxl(folder / "raw_openpyxl.xlsx", values)
    runs["xlsxwriter"] = lambda: raw_xlsxwriter(folder / "raw_xlsxwriter.xlsx", values)
    seconds = best_times(runs, args.repeat)
    peaks = {name: peak_mib(fn) for name, fn in runs.items()}
    print(f"{len(values)} rows, {cells} non-empty cells (incl. hidden uuid and base-JSON columns); "
          f"best of {args.repeat} rounds")
    for name in runs:
        wall, cpu = seconds[name]
        print(f"  {name:14s} {wall:7.2f} s wall {cpu:7.2f} s CPU   "
              f"peak traced memory {peaks[name]:6.1f} MiB")
    for i, what in enumerate(("wall", "CPU")):
        fastest = min(("openpyxl", "xlsxwriter"), key=lambda n: seconds[n][i])
        ratio = seconds["export_ledger"][i] / seconds[fastest][i]
        print(f"export_ledger / {fastest} ({what}) = {ratio:.2f} "
              f"(goal ≤ 1.1: {'met' if ratio <= 1.1 else 'MISSED'})")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(runs["export_ledger"])
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
