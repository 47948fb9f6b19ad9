"""Benchmark: the ledger table on a 1,000,000-row ledger, and cold start.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_ui.py [--rows 1000000]

Reports time to first rows painted (goal ≤ 0.5 s), jump to the last row
(≤ 0.2 s), a partial search (≤ 0.3 s) — each the median of ``--repeat`` runs (5) on a
fresh page — and cold start to the main window shown (≤ 2 s), next to the raw
baselines measured in the same run: SQLite reading the same rowid list, and Python
starting and importing PySide6. The store is encrypted as the app makes it (SQLCipher).
The generated store is kept in tests/benchmarks/out/ for the next run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
OUT = Path(__file__).parent / "out"


def make_store(rows: int) -> Path:
    from stdnum.cn import ric

    from desktop_app.core.store.database import Store
    path = OUT / f"ui_{rows}.sqlite3"
    if path.exists() and Path(f"{path}.keys").exists():
        return path
    for old in OUT.glob(f"ui_{rows}.sqlite3*"):   # made before encryption: made again
        old.unlink()
    OUT.mkdir(exist_ok=True)
    store = Store.create(path, level="town", org="河坝镇", operator="示例")
    store.add_villages(["示例村一", "示例村二"])

    def ident(i):
        body = f"430902{1960 + i % 25}0{1 + i % 9}{10 + i % 18}{i % 500 * 2:03d}"
        return body + ric.calc_check_digit(body + "0")
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO ledger_two_cancer (uuid, org, name, id_number, phone, population, "
            "cervical_date, status, _versions) VALUES (?, ?, ?, ?, ?, '农村适龄', ?, '已完成', "
            "'[[1,\"n\"]]')",
            ((f"u{i:07d}", "430971121001" if i % 2 else "430971121002", f"示例{i}", ident(i),
              f"138{i:08d}", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}") for i in range(rows)))
    store.close()
    return path


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    path = make_store(args.rows)

    from desktop_app.core.store import cipher, database
    conn = cipher.connect(path, database.key_for(path)[0])
    raw_ids = timed(lambda: conn.execute(
        "SELECT rowid FROM ledger_two_cancer WHERE _deleted = 0 ORDER BY rowid DESC").fetchall())
    raw_search = timed(lambda: conn.execute(
        "SELECT rowid FROM ledger_two_cancer WHERE id_number LIKE '%99999%' "
        "OR phone LIKE '%99999%'").fetchall())
    conn.close()

    from PySide6.QtWidgets import QApplication

    from desktop_app.core.store.database import Store
    from desktop_app.ui.app import make_app
    from desktop_app.ui.ledger_page import LedgerPage
    from desktop_app.ui.tasks import TaskRunner
    app = make_app(["bench"])

    def wait(cond, limit=60.0):
        end = time.perf_counter() + limit
        while not cond():
            QApplication.processEvents()
            if time.perf_counter() > end:
                raise TimeoutError
            time.sleep(0.001)

    def one_run():
        runner, ids_runner = TaskRunner(path), TaskRunner(path, readonly=True)
        reader = Store.open_readonly(path)
        page = LedgerPage(runner, ids_runner, reader)
        page.resize(1200, 800)
        page.show()
        t = time.perf_counter()
        page.show_ledger("two_cancer")
        wait(lambda: page.model.rowCount() > 0)
        page.table.viewport().repaint()
        first_paint = time.perf_counter() - t
        wait(lambda: page.model.rowCount() == args.rows)
        full_list = time.perf_counter() - t

        def jump():
            page.table.scrollToBottom()
            page.table.viewport().repaint()
        jump_last = timed(jump)
        assert page.model.uuid_at(args.rows - 1) is not None

        t = time.perf_counter()
        page.search.setText("99999")
        page._search_timer.stop()
        page.reload()  # measured without the 250 ms typing pause the page waits for
        wait(lambda: page.model.view.selection.search == "99999" and page.count_label.text().startswith("共"))
        page.table.viewport().repaint()
        search = time.perf_counter() - t
        found = page.model.rowCount()
        page.close()
        ids_runner.shutdown()
        runner.shutdown()
        reader.close()
        return first_paint, full_list, jump_last, search, found

    runs = [one_run() for _ in range(args.repeat)]
    first_paint, full_list, jump_last, search = (statistics.median(r[i] for r in runs) for i in range(4))
    found = runs[-1][4]
    every = {name: " ".join(f"{r[i]:.3f}" for r in runs)
             for i, name in enumerate(("first", "full", "jump", "search"))}

    code = ("import time, os; t=time.perf_counter(); "
            "from desktop_app.ui.app import make_app; from desktop_app.ui.main_window import MainWindow; "
            f"app=make_app(['b']); w=MainWindow(r'{path}'); w.show(); app.processEvents(); "
            "print(time.time(), time.perf_counter()-t, flush=True); os._exit(0)")
    t = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shown_at, in_process = map(float, out.stdout.split()[-2:])
    cold = shown_at - t
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import PySide6.QtWidgets"], check=True)
    raw_start = time.perf_counter() - t

    print(f"rows: {args.rows:,} (encrypted store; median of {args.repeat} runs: {every})")
    print(f"raw: SQLite id list {raw_ids:.3f} s, SQLite LIKE search {raw_search:.3f} s, "
          f"python+PySide6 import {raw_start:.3f} s")
    print(f"first rows painted   {first_paint:.3f} s  (goal <= 0.5)")
    print(f"full id list loaded  {full_list:.3f} s  {full_list / raw_ids:.2f}x raw id list (scroll bar complete)")
    print(f"jump to last row     {jump_last:.3f} s  (goal <= 0.2)")
    print(f"search '99999'       {search:.3f} s  (goal <= 0.3)  {search / raw_search:.1f}x raw LIKE, {found} rows")
    print(f"cold start to window {cold:.3f} s  (goal <= 2.0)  {cold / raw_start:.1f}x python+PySide6 import"
          f"  [in-process part {in_process:.3f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
