"""Hostile files against import-excel and import-package (see hostile_corpus.py).

Every file of the corpus goes through the command line, in-process, against a fresh
copy of a prepared town store (河坝镇, which already holds the valid workbook's rows and
one package from its village 示例村一). For each file: the exit code is the case's (2:
"could not be used at all"; a few workbook byte flips may also import the same rows
again), the JSON names the file and, on a refusal, says why in Chinese and names the
file, nothing reaches stderr but that message (no traceback), and the store is
logically unchanged (tests/support.logical_dump: only the import history may note the
refusal).

Every file of the corpus must pass (a bug the corpus finds is fixed in the program, not
marked here). Below the corpus: signed payloads a compromised install could send whose
right answer is "refuse the package, or reject that one record" (not necessarily exit
2), and what a package may do to the receiving install afterwards.
"""
from __future__ import annotations

import contextlib
import io
import json
import random
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import hostile_corpus as hc
import pytest
from support import copy_store, logical_dump, make_chain, make_id, raw_connect

from desktop_app.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CHINESE = re.compile(r"[\u4e00-\u9fff]")

# ---------------------------------------------------------------- the prepared world

@dataclass
class World:
    root: Path
    sources: hc.Sources
    pristine: Path            # the town store (closed, one file)
    dump: str                 # its logical dump
    imported_lines: list      # payload lines of the package the town already imported
    town_node: str


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    from desktop_app.core.excel.importer import apply_plan, plan_import
    from desktop_app.core import sync
    from desktop_app.core.sync.package_file import open_package, unseal
    root = tmp_path_factory.mktemp("hostile")
    d, t, v = make_chain(root / "chain")
    xlsx = hc.write_valid_workbook(root / "valid.xlsx", 100)
    assert apply_plan(t, plan_import(t, xlsx, today=hc.TODAY)).status == "imported"
    hc.fill_village(v, 0, 5)
    first = sync.export_package(v, root / "usb").path
    assert sync.import_package(t, first).status == "imported"
    hc.fill_village(v, 5, 200)
    pkg = sync.export_package(v, root / "usb").path

    def lines(path):
        opened = open_package(path)
        m = opened.manifest
        key = unseal(opened, t.keys().enc_private, f"{m['package_id']}|{v.node.id}|{t.node.id}".encode())
        return list(opened.lines(key)), m

    payload, manifest = lines(pkg)
    imported, _ = lines(first)
    signer = hc.Signer(v.suite, v.keys().sign_private, manifest["source"], manifest["dest"], t.keys().enc_public)
    sources = hc.Sources(xlsx, FIXTURES / "legacy_two_cancer.ods", pkg, first, signer, payload,
                         {"district": {"node": d.node.id, "org": d.node.org}})
    town_node = t.node.id
    for s in (d, t, v):
        s.close()
    pristine = root / "town.sqlite3"
    copy_store(root / "chain" / "t.sqlite3", pristine)
    return World(root, sources, pristine, logical_dump(pristine), imported, town_node)


@pytest.fixture(scope="session")
def summary(request):
    """Lines printed at the end of the session (the corpus breakdown and outcomes)."""
    lines: list[str] = []
    yield lines
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or not lines:
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        reporter.write_sep("-", "hostile corpus")
        for line in lines:
            reporter.write_line(line)


@pytest.fixture(scope="session")
def corpus(world, tmp_path_factory, summary) -> dict:
    folder = tmp_path_factory.mktemp("corpus")
    start = time.perf_counter()
    cases = hc.make_corpus(folder, world.sources)
    elapsed = time.perf_counter() - start
    size = sum(c.path.stat().st_size for c in cases)
    summary.append(f"{len(cases)} files ({size / 2**20:.1f} MiB) made in {elapsed:.1f} s")
    for kind, n in hc.breakdown(cases).items():
        summary.append(f"  {kind:22s} {n:4d}")
    return {"cases": cases, "seconds": elapsed, "folder": folder}


def by_label(corpus, label: str) -> hc.Case:
    return next(c for c in corpus["cases"] if c.label == label)


# ---------------------------------------------------------------- running one file

@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    crash: str | None
    seconds: float
    dump: str
    db: Path


def run_cli(argv: list[str]) -> tuple[int | None, str, str, str | None]:
    out, err = io.StringIO(), io.StringIO()
    crash = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:          # argparse
            code = exc.code
        except BaseException:              # what `python -m desktop_app.cli` would print as a traceback
            code, crash = None, traceback.format_exc()
    return code, out.getvalue(), err.getvalue(), crash


def run_file(world: World, command: str, path: Path, workdir: Path) -> Outcome:
    db = workdir / "case.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    copy_store(world.pristine, db)
    start = time.perf_counter()
    code, out, err, crash = run_cli([command, "--db", str(db), str(path), "--json"])
    return Outcome(code, out, err, crash, time.perf_counter() - start, logical_dump(db), db)


def problems(case: hc.Case, o: Outcome, before: str) -> list[str]:
    """Everything wrong with one outcome (empty: as a correct program does)."""
    found = []
    if o.crash:
        found.append("traceback: " + o.crash.strip().splitlines()[-1])
    if "Traceback" in o.err:
        found.append("traceback on stderr")
    if o.code not in case.allowed:
        found.append(f"exit {o.code}, expected {' or '.join(map(str, case.allowed))}")
    if o.dump != before:
        found.append("the store changed")
    if o.seconds > 20:
        found.append(f"took {o.seconds:.0f} s")
    try:
        [item] = json.loads(o.out)["files"]
    except (ValueError, KeyError, TypeError):
        found.append(f"no JSON report on stdout: {o.out[:80]!r}")
        return found
    if item.get("file") != case.path.name:
        found.append(f"JSON names {item.get('file')!r}, not the file")
    message = item.get("message") or ""
    if o.code == 2:
        if item.get("status") not in ("unusable", "refused"):
            found.append(f"status {item.get('status')!r} with exit 2")
        if not CHINESE.search(message):
            found.append(f"message not in Chinese: {message!r}")
        if case.path.name not in message:
            found.append(f"message does not name the file: {message!r}")
        if case.says and case.says not in message:
            found.append(f"message does not say “{case.says}”: {message!r}")
        if o.err.strip() and not o.err.startswith("错误："):
            found.append(f"stderr: {o.err[:120]!r}")
    elif o.code == 0:
        counts = {k: v for k, v in item.items() if isinstance(v, int) and v and k not in ("unchanged", "skipped")}
        if case.kind.startswith("wb-") and counts:
            found.append(f"imported with changes: {counts}")
    return found


def describe(case: hc.Case, o: Outcome, found: list[str]) -> str:
    return f"{case.label} ({case.path.name}; {case.note or case.kind}): " + "; ".join(found)


# ---------------------------------------------------------------- the corpus itself

def test_corpus_is_large_varied_and_fast(corpus):
    cases = corpus["cases"]
    counts = hc.breakdown(cases)
    assert len(cases) >= 200
    assert all(counts[k] >= 1 for k in hc.KINDS), counts
    assert counts["wb-flip"] >= 40
    assert counts["pkg-flip-manifest"] + counts["pkg-flip-signature"] + counts["pkg-flip-ciphertext"] >= 40
    assert counts["wb-truncated"] >= 10 and counts["pkg-truncated"] >= 20
    assert len({c.path for c in cases}) == len(cases) and all(c.path.is_file() for c in cases)
    assert corpus["seconds"] < 20
    # every expectation is definite: exit 2, except workbook flips that leave every value intact
    assert all(c.expected == 2 for c in cases)
    assert {c.also for c in cases} <= {(), (0,)}
    assert all(c.kind == "wb-flip" for c in cases if c.also)


def test_corpus_is_deterministic(world, corpus, tmp_path):
    """The same sources give the same cases and, except where encryption draws fresh
    randomness (new packages written here), the same bytes."""
    again = hc.make_corpus(tmp_path / "again", world.sources)
    first = corpus["cases"]
    assert [(c.label, c.kind, c.allowed, c.says, c.note) for c in again] == \
        [(c.label, c.kind, c.allowed, c.says, c.note) for c in first]
    fresh_crypto = ("pkg-routing", "pkg-reused-id", "pkg-payload", "pkg-bomb")
    for a, b in zip(first, again):
        if a.kind in fresh_crypto:
            assert a.path.stat().st_size == b.path.stat().st_size, a.label
        else:
            assert a.path.read_bytes() == b.path.read_bytes(), a.label


@pytest.mark.parametrize("kind", hc.KINDS)
def test_every_hostile_file_is_refused_cleanly(kind, world, corpus, tmp_path, summary):
    cases = [c for c in corpus["cases"] if c.kind == kind]
    failures, codes, slowest = [], {}, (0.0, "")
    for case in cases:
        outcome = run_file(world, case.command, case.path, tmp_path)
        codes[outcome.code] = codes.get(outcome.code, 0) + 1
        slowest = max(slowest, (outcome.seconds, case.label))
        found = problems(case, outcome, world.dump)
        if found:
            failures.append(describe(case, outcome, found))
    summary.append(f"{kind:22s} {len(cases):4d} run, exit codes {dict(sorted(codes.items(), key=str))}, "
                   f"slowest {slowest[0]:.2f} s ({slowest[1]})")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- signed single records

def _row(world: World, existing: bool = False) -> dict:
    lines = world.imported_lines if existing else world.sources.lines
    return json.loads(next(line for line in lines if b'"t":"ledger_two_cancer"' in line))


def _package(world: World, tmp_path: Path, records: list, name: str) -> Path:
    rng = random.Random(f"{hc.SEED}:{name}")
    manifest = hc.split_package(world.sources.package.read_bytes())[0]
    path = tmp_path / f"{name}.mstz"
    lines = [r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode() for r in records]
    hc.signed_lines(path, hc.base_manifest(manifest, hc.seeded_uuid(rng)), lines, world.sources.signer)
    return path


def _row_state(db: Path, uid: str):
    conn = raw_connect(db)
    try:
        return conn.execute("SELECT * FROM ledger_two_cancer WHERE uuid = ?", (uid,)).fetchone()
    finally:
        conn.close()


def _non_finite(db: Path) -> list:
    conn = raw_connect(db)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(ledger_two_cancer)")]
        return [(c, r[0]) for c in cols for r in conn.execute(
            f"SELECT [{c}] FROM ledger_two_cancer WHERE typeof([{c}]) = 'real' AND "
            f"([{c}] > 1e308 OR [{c}] < -1e308 OR [{c}] <> [{c}])")]
    finally:
        conn.close()


def _refused_or_rejected(world: World, o: Outcome, uid: str) -> list[str]:
    """A bad record from a validly signed package: refuse the whole package (exit 2, store
    unchanged) or import the rest and reject that record (exit 0, the row not written)."""
    if o.crash:
        return ["traceback: " + o.crash.strip().splitlines()[-1]]
    if o.code == 2:
        return [] if o.dump == world.dump else ["refused, but the store changed"]
    if o.code != 0:
        return [f"exit {o.code}"]
    found = []
    before = _row_state(world.pristine, uid)
    if _row_state(o.db, uid) != before:
        found.append("the bad record was written" if before is None else "the bad record changed the row")
    if _non_finite(o.db):
        found.append(f"non-finite numbers stored: {_non_finite(o.db)}")
    return found


def _record(world: World, kind: str) -> tuple[dict, str]:
    """The record a probe sends, and the uuid of the row it concerns."""
    rng = random.Random(f"{hc.SEED}:{kind}")
    row = _row(world)
    uid = hc.seeded_uuid(rng)
    fresh = dict(row, u=uid)
    if kind == "valid-row":
        return fresh, uid
    if kind == "values-not-an-object":
        return dict(fresh, v=[1, 2]), uid
    if kind == "unknown-table":
        return dict(fresh, t="settings"), uid
    if kind == "value-2e70":
        return dict(fresh, v=dict(row["v"], note=2 ** 70)), uid
    if kind == "value-1e999":
        return dict(fresh, v=dict(row["v"], note="@INF@")), uid
    if kind == "table-a-list":
        return dict(fresh, t=["ledger_two_cancer"]), uid
    if kind == "versions-nested":
        return dict(fresh, ver="[" * 90_000 + "]" * 90_000), uid
    if kind == "row-of-another-town":
        return dict(fresh, v=dict(row["v"], org="430971123")), uid
    old = _row(world, existing=True)
    if kind == "versions-seen-not-a-stamp":
        return dict(old, ver=json.dumps([[(1 << 62), "zz", {"a": "x"}]])), old["u"]
    if kind == "losers-seen-not-a-stamp":
        return dict(old, ver=json.dumps([[(1 << 62), "zz"]]), l={"phone": [[[1, "a", {"b": "c"}], "x"]]}), old["u"]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "valid-row", "values-not-an-object", "unknown-table",
    "value-2e70",                 # an int SQLite cannot hold
    "value-1e999",                # parses to inf: no non-finite number may be stored
    "table-a-list",               # counted as rejected, no TypeError
    "versions-nested",            # no RecursionError
    "versions-seen-not-a-stamp",  # the seen vector is checked, not only stamp and origin
    "losers-seen-not-a-stamp",
    "row-of-another-town",        # a village may write rows only of its own org (and below)
])
def test_one_bad_record_in_a_signed_package(kind, world, tmp_path):
    record, uid = _record(world, kind)
    line = json.dumps(record, ensure_ascii=False).replace('"@INF@"', "1e999").encode()
    path = _package(world, tmp_path, [line], kind)
    outcome = run_file(world, "import-package", path, tmp_path)
    if kind == "valid-row":           # the control: a good record is imported
        assert outcome.code == 0 and _row_state(outcome.db, uid) is not None, outcome.out
        return
    found = _refused_or_rejected(world, outcome, uid)
    assert not found, f"{kind}: " + "; ".join(found) + f"\n{outcome.out[:400]}"


def test_a_package_cannot_add_orgs_outside_its_sender(world, tmp_path):
    org = {"k": "org", "code": "430971999", "name": "伪造镇", "level": "town", "parent": None}
    outcome = run_file(world, "import-package", _package(world, tmp_path, [org], "org-new-town"), tmp_path)
    assert outcome.crash is None and outcome.code in (0, 2)
    conn = raw_connect(outcome.db)
    added = conn.execute("SELECT code FROM orgs WHERE code = '430971999'").fetchall()
    conn.close()
    assert not added, "the town's org tree now holds a town made up by a village"


def test_a_package_from_a_far_future_clock_does_not_break_later_writes(world, tmp_path):
    record, _uid = _record(world, "valid-row")
    year_9999 = 253402300799000 << 16
    record["ver"] = json.dumps([[year_9999, record["o"]]])
    outcome = run_file(world, "import-package", _package(world, tmp_path, [record], "far-future"), tmp_path)
    assert outcome.crash is None and outcome.code in (0, 2), outcome.out
    row = json.dumps({"姓名": "示例后来", "身份证号": make_id("19700112", 998, "430903")}, ensure_ascii=False)
    code, out, err, crash = run_cli(["add", "--db", str(outcome.db), "--ledger", "two_cancer", "--json-row", row])
    assert crash is None and code == 0, (crash or err).strip().splitlines()[-1]


def test_a_package_cannot_change_a_row_of_another_unit(world, tmp_path):
    """A village's package naming the uuid of a row the town keeps for itself (org 河坝镇,
    not the village), with a newer version and the village as its org: the row is not taken."""
    db = tmp_path / "town.sqlite3"
    copy_store(world.pristine, db)
    row = json.dumps({"姓名": "示例镇里", "身份证号": make_id("19700113", 996, "430903"), "联系电话": "13900000999"},
                     ensure_ascii=False)
    code, out, err, crash = run_cli(["add", "--db", str(db), "--ledger", "two_cancer", "--json-row", row])
    assert crash is None and code == 0, err
    conn = raw_connect(db)
    (uid, town_org), = conn.execute("SELECT uuid, org FROM ledger_two_cancer WHERE name = '示例镇里'").fetchall()
    conn.close()
    before = _row_state(db, uid)
    record, _ = _record(world, "valid-row")
    assert record["v"]["org"] != town_org
    soon = (int(time.time() * 1000) + 60_000) << 16
    record.update(u=uid, ver=json.dumps([[soon, record["o"]]]), v=dict(record["v"], phone="13900000666"))
    path = _package(world, tmp_path, [record], "other-unit-row")
    code, out, err, crash = run_cli(["import-package", "--db", str(db), str(path), "--json"])
    assert crash is None and code in (0, 2), err
    assert _row_state(db, uid) == before
    if code == 0:
        assert json.loads(out)["files"][0]["rejected"] == 1


# ---------------------------------------------------------------- the real command line

@pytest.mark.parametrize("label", ["wb-bomb-300mib", "pkg-forged-wrong-key", "pkg-payload-nan"])
def test_the_installed_command_line_refuses_without_a_traceback(label, world, corpus, tmp_path):
    """The same, through `python -m desktop_app.cli` in its own process: what a user sees."""
    import subprocess
    import sys
    case = by_label(corpus, label)
    db = tmp_path / "case.sqlite3"
    copy_store(world.pristine, db)
    proc = subprocess.run([sys.executable, "-m", "desktop_app.cli", case.command, "--db", str(db),
                           str(case.path), "--json"], capture_output=True, env=hc.child_env(), timeout=120)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert "Traceback" not in err and err.startswith("错误：") and case.path.name in err
    assert json.loads(proc.stdout)["files"][0]["status"] in ("unusable", "refused")
    assert logical_dump(db) == world.dump
