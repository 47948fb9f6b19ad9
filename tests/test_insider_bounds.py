"""Issue 15, items 5 and 8: counts a member controls are bounded, and writing a package is
durable before it counts as sent. The packages are signed with a real member's key (the
village's; see insider_bounds_corpus.py), so only the bounds stand in their way."""
from __future__ import annotations

import errno
import json
import os
import tracemalloc

import hostile_corpus as hc
import insider_bounds_corpus as ic
import pytest
from support import logical_dump

from desktop_app.cli import main
from desktop_app.core import sync
from desktop_app.core.sync import package_file, status
from desktop_app.core.sync.bounds import MAX_GAP_LINES, MAX_SEQ_JUMP
from desktop_app.core.sync.incoming import gaps
from desktop_app.core.sync.package_file import PackageError
from desktop_app.core.sync.warning_list import MAX_KINDS, MAX_LINE_CHARS, Warnings


@pytest.fixture
def world(tmp_path):
    w = ic.insider_world(tmp_path)
    yield w
    w.close()


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- package numbers

@pytest.mark.parametrize("seq", [10**12, 3 * 10**7])
def test_a_package_number_far_ahead_is_refused_whole_through_the_cli(world, tmp_path, capsys, seq):
    pkg = ic.seq_package(world, tmp_path / f"第{seq}号.mstz", seq)
    world.town.close()
    before = logical_dump(world.town.path)
    code, out, err = cli(capsys, "import-package", "--db", world.town.path, "--json", pkg)
    assert code == 2
    entry = json.loads(out)["files"][0]
    assert entry["status"] == "refused" and f"第 {seq:,} 号" in entry["message"]
    assert "示例村一" in entry["message"] and pkg.name in entry["message"] and "Traceback" not in err
    assert logical_dump(world.town.path) == before


def test_the_bound_is_counted_from_the_highest_number_received(world, tmp_path):
    # the town has package 1: 1 + MAX_SEQ_JUMP is the furthest a package may number
    too_far = ic.seq_package(world, tmp_path / "far.mstz", 2 + MAX_SEQ_JUMP)
    with pytest.raises(PackageError, match=f"第 {2 + MAX_SEQ_JUMP:,} 号.*最大编号是第 1 号"):
        sync.import_package(world.town, too_far)
    ok = ic.seq_package(world, tmp_path / "ok.mstz", 1 + MAX_SEQ_JUMP)
    got = sync.import_package(world.town, ok)
    assert got.status == "imported" and got.gaps == [f"示例村一：第 2–{MAX_SEQ_JUMP} 号数据包缺失"]


def test_a_full_package_from_one_may_not_reach_beyond_the_bound_either(world, tmp_path):
    full = ic.seq_package(world, tmp_path / "full.mstz", 5 * MAX_SEQ_JUMP, seq_from=1)
    with pytest.raises(PackageError, match="一次跳过超过"):
        sync.import_package(world.town, full, dry_run=True)


def test_gaps_of_a_store_poisoned_before_the_bound_are_computed_from_runs(world):
    """A store that accepted 3×10^6 before the bound: its board no longer builds a set of
    every number (3×10^7 took 25 s and 3.1 GB per board view)."""
    t = world.town
    with t.transaction():
        t.conn.execute("INSERT INTO received (source, seq, package_id) VALUES (?, ?, 'poison')",
                       (world.village.node.id, 3 * 10**6))
    tracemalloc.start()
    try:
        shown = status.sources(t)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [s.gaps for s in shown] == [["示例村一：第 2–2999999 号数据包缺失"]]
    assert peak < 5 << 20


def test_many_gaps_are_named_up_to_a_limit_and_the_rest_counted(world):
    t = world.town
    with t.transaction():
        t.conn.executemany("INSERT INTO received (source, seq, package_id) VALUES (?, ?, 'x')",
                           [(world.village.node.id, s) for s in range(3, 3 + 2 * 40, 2)])
    lines = gaps(t, world.village.node.id, "示例村一")
    assert len(lines) == MAX_GAP_LINES + 1
    assert lines[0] == "示例村一：第 2 号数据包缺失"
    assert lines[-1] == f"示例村一：另有 {40 - MAX_GAP_LINES} 段共 {40 - MAX_GAP_LINES} 个编号的数据包缺失"


def test_a_dry_run_names_the_gaps_the_package_would_leave(world, tmp_path):
    pkg = ic.seq_package(world, tmp_path / "p5.mstz", 5, seq_from=4)
    got = sync.import_package(world.town, pkg, dry_run=True)
    assert got.gaps == ["示例村一：第 2–3 号数据包缺失"]
    assert gaps(world.town, world.village.node.id, "示例村一") == []


# ---------------------------------------------------------------- warnings

def test_a_flood_of_records_of_unknown_tables_gives_one_warning_line(world, tmp_path):
    """2 M such records in 383 KB gave 2 M warnings, 1.3 GB and 130 MB of output (200 k here)."""
    pkg = ic.warning_flood(world, tmp_path / "flood.mstz", 200_000, tables=50_000)
    got = sync.import_package(world.town, pkg)
    assert got.status == "imported" and got.totals()["rejected"] == 200_000
    assert len(got.warnings) == 1 and "同类提示共 200,000 条" in got.warnings[0]
    assert len(got.counts) <= 12                   # ten names, then one line for the others
    assert got.counts["（其他未知表）"]["rejected"] == 200_000 - 10 * 4
    assert len(json.dumps(got.to_json(), ensure_ascii=False)) < 5000
    stored = world.town.conn.execute("SELECT summary FROM packages WHERE package_id = ?",
                                     (got.package_id,)).fetchone()[0]
    assert len(stored) < 2000


def test_warnings_keep_one_line_per_kind_and_a_bounded_number_of_lines():
    w = Warnings()
    for i in range(MAX_KINDS + 5):
        w.append(f"提示 {i}")
    w.append("提示 0")
    w.add("long", "长" * 5000)
    assert len(w) == MAX_KINDS + 1
    assert w[0] == "提示 0（同类提示共 2 条）"
    assert w[-1] == "另有 6 条其他提示未列出"
    assert all(len(line) <= MAX_LINE_CHARS for line in w)
    assert json.loads(json.dumps(w)) == list(w)


# ---------------------------------------------------------------- counts not in clear

def test_counts_travel_only_inside_the_encrypted_part(world, tmp_path):
    hc.fill_village(world.village, 5, 3)
    exported = sync.export_package(world.village, tmp_path / "out")
    raw = exported.path.read_bytes()
    manifest = hc.split_package(raw)[0]
    assert "counts" not in manifest and exported.counts == {"persons": 3, "two_cancer": 3}
    assert exported.to_json()["rows"] == 6
    got = sync.import_package(world.town, exported.path)
    stored = json.loads(world.town.conn.execute("SELECT summary FROM packages WHERE package_id = ?",
                                                (got.package_id,)).fetchone()[0])
    assert stored["ledgers"] == {"persons": 3, "two_cancer": 3}
    assert status.received_packages(world.town)[0].counts == {"persons": 3, "two_cancer": 3}


def test_an_older_package_with_counts_in_its_manifest_is_still_read_and_its_counts_not_trusted(world, tmp_path):
    rows = [line for line in world.lines if b'"k":"org"' in line or b'"t":"persons"' in line]
    manifest = dict(ic._manifest(world, "old", 2, 2), counts={"persons": 999, "two_cancer": 7})
    pkg = hc.signed_lines(tmp_path / "old.mstz", manifest, rows, world.signer)
    got = sync.import_package(world.town, pkg)
    assert got.status == "imported"
    stored = json.loads(world.town.conn.execute("SELECT summary FROM packages WHERE package_id = ?",
                                                (got.package_id,)).fetchone()[0])
    assert stored["ledgers"] == {"persons": 5}


# ---------------------------------------------------------------- disk full, fsync

class _FullDisk:
    """A file whose writes fail with ENOSPC after ``room`` bytes, as on a full USB stick."""

    def __init__(self, real, room: int):
        self.real, self.room = real, room

    def write(self, data):
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def test_disk_full_while_writing_a_package_says_so_and_counts_nothing_as_sent(world, tmp_path, capsys,
                                                                            monkeypatch):
    hc.fill_village(world.village, 5, 50)
    world.village.close()
    db, usb = world.village.path, tmp_path / "u盘"
    before = logical_dump(db)
    monkeypatch.setattr(package_file, "open", lambda *a, **k: _FullDisk(open(*a, **k), 100), raising=False)
    code, out, err = cli(capsys, "export-package", "--db", db, "--out", usb)
    assert code == 2 and "磁盘空间不足" in err and "没有记为已发送" in err and "Traceback" not in err
    assert [p.name for p in usb.iterdir()] == []
    assert not [p for p in db.parent.iterdir() if p.name.endswith(("-journal", ".tmp"))]
    assert logical_dump(db) == before
    monkeypatch.undo()
    monkeypatch.setenv("MINSHENG_PASSWORD", "示例密码-2024")
    code, out, err = cli(capsys, "export-package", "--db", db, "--out", usb, "--json")
    assert code == 0 and json.loads(out)["seq_to"] == 2       # number 2 was not used up


def test_a_package_is_on_the_disk_before_it_is_renamed_and_recorded(world, tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync")
        return real_fsync(fd)

    def replace(a, b):
        events.append(f"replace {os.path.basename(a)[-9:]}")
        return real_replace(a, b)
    monkeypatch.setattr(package_file.os, "fsync", fsync)
    monkeypatch.setattr(package_file.os, "replace", replace)
    sync.export_package(world.village, tmp_path / "out")
    assert events[:2] == ["fsync", "replace .mstz.tmp"]

    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(package_file.os, "fsync", broken)
    hc.fill_village(world.village, 5, 1)
    with pytest.raises(PackageError, match="没有写成"):
        sync.export_package(world.village, tmp_path / "out2")
    assert not (tmp_path / "out2").exists() or list((tmp_path / "out2").iterdir()) == []
    assert world.village.conn.execute("SELECT MAX(seq_to) FROM packages WHERE direction = 'out'").fetchone()[0] == 2
