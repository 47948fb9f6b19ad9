"""Bounds on the numbers a sender controls: how far a package number may run ahead of what
was received from its source, and the missing numbers as ranges (never as one set of
every number up to the highest, which a package numbered 3×10^7 made 3 GB).

A package may number at most :data:`MAX_SEQ_JUMP` past the highest number received from
its source (nothing received yet: past 0). A genuine install numbers its packages to one
destination 1, 2, 3 … and a full package covers 1 up to the next number, so only a
thousand lost packages in a row would reach the bound; a number beyond it is refused
with the whole package (exit 2, nothing written)::

    >>> spans_missing([(1, 3), (5, 5), (9, 10)])
    [(4, 4), (6, 8)]
    >>> spans_missing([(1, 3)], extra=range(7, 9))
    [(4, 6)]
"""
from __future__ import annotations

from .package_file import PackageError

MAX_SEQ_JUMP = 1000     # how far past the highest number received a package may number
MAX_GAP_LINES = 20      # missing ranges named one by one; the rest are counted


def received_spans(conn, source_node: str) -> list[tuple[int, int]]:
    """The runs of package numbers received from a source, e.g. ``[(1, 3), (5, 5)]``,
    computed by SQLite from the received numbers (one row per run, not per number)."""
    return [(lo, hi) for lo, hi in conn.execute(
        "SELECT MIN(seq), MAX(seq) FROM (SELECT seq, seq - ROW_NUMBER() OVER (ORDER BY seq) AS run "
        "FROM received WHERE source = ?) GROUP BY run ORDER BY 1", (source_node,))]


def spans_missing(spans: list[tuple[int, int]], extra: range | None = None) -> list[tuple[int, int]]:
    """The runs of numbers missing below the highest one of ``spans`` (sorted, disjoint)
    and ``extra`` (numbers about to be received, on a dry run)."""
    if extra:
        spans = sorted([*spans, (extra[0], extra[-1])])
    out, covered = [], 0
    for lo, hi in spans:
        if lo > covered + 1:
            out.append((covered + 1, lo - 1))
        covered = max(covered, hi)
    return out


def highest_received(conn, source_node: str) -> int:
    return conn.execute("SELECT COALESCE(MAX(seq), 0) FROM received WHERE source = ?",
                        (source_node,)).fetchone()[0]


def check_sequence(conn, source_node: str, manifest: dict, file_name: str, org_name: str) -> None:
    """Refuse a package numbered more than :data:`MAX_SEQ_JUMP` past the highest number
    received from its source (a further volume of files has no number: not checked).

    :raises PackageError: (exit 2) naming the file, the numbers and what to do.
    """
    seq_to = manifest.get("seq_to")
    if seq_to is None:
        return
    top = highest_received(conn, source_node)
    if seq_to - top > MAX_SEQ_JUMP:
        raise PackageError(
            f"{file_name} 的编号是第 {seq_to:,} 号，而本机收到过的{org_name}数据包最大编号是第 {top:,} 号，"
            f"一次跳过超过 {MAX_SEQ_JUMP:,} 个编号，不合常理（对方程序出错或数据包被伪造），已拒绝，"
            f"本机数据没有改变；请与{org_name}核实，让对方按顺序重发或发送全量包")
