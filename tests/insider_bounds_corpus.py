"""Insider cases on resource bounds: packages signed with a real member's key (a village's,
as a compromised or buggy village install would sign them) whose *numbers* are hostile.

The outsider cases live in :mod:`hostile_corpus`; these are signed by the real source,
so they pass every signature and hash check and must be stopped by the bounds:

- ``seq_package(world, path, 10**12)``: a package number far beyond anything received
  (a MemoryError traceback before the bound);
- ``seq_package(world, path, 3 * 10**7)``: accepted before the bound, after which every
  board view and every import from that village took 25 s / 3.1 GB;
- ``warning_flood(world, path, n)``: ``n`` records of tables the receiver does not have
  (2 M of them in 383 KB gave 2 M warnings, 1.3 GB of memory and 130 MB of output).

    world = insider_world(tmp_path)            # district → town → village, one package imported
    pkg = seq_package(world, tmp_path / "p.mstz", 10**12)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import hostile_corpus as hc
from support import make_chain

from desktop_app.core import sync
from desktop_app.core.sync.package_file import open_package, unseal


@dataclass
class InsiderWorld:
    root: Path
    district: object
    town: object            # the receiver
    village: object         # the member whose key signs the hostile packages
    signer: hc.Signer
    manifest: dict          # the manifest of the last genuine package the town imported
    lines: list[bytes]      # its decrypted payload lines

    def close(self) -> None:
        for s in (self.district, self.town, self.village):
            s.close()


def insider_world(root: Path, rows: int = 5) -> InsiderWorld:
    """A chain whose town has imported one genuine package (number 1) from its village."""
    d, t, v = make_chain(root / "chain")
    hc.fill_village(v, 0, rows)
    first = sync.export_package(v, root / "usb").path
    assert sync.import_package(t, first).status == "imported"
    opened = open_package(first)
    m = opened.manifest
    key = unseal(opened, t.keys().enc_private, f"{m['package_id']}|{v.node.id}|{t.node.id}".encode())
    signer = hc.Signer(v.suite, v.keys().sign_private, m["source"], m["dest"], t.keys().enc_public)
    return InsiderWorld(root, d, t, v, signer, m, list(opened.lines(key)))


def _manifest(world: InsiderWorld, tag: str, seq_from: int, seq_to: int) -> dict:
    rng = hc._rng(f"insider:{tag}")
    out = hc.base_manifest(world.manifest, hc.seeded_uuid(rng))
    out.update(seq_from=seq_from, seq_to=seq_to)
    return out


def seq_package(world: InsiderWorld, path: Path, seq: int, *, seq_from: int | None = None) -> Path:
    """A genuine-looking package (the org lines of the real one) numbered ``seq``
    (``seq_from``–``seq`` when given), signed by the village."""
    orgs = [line for line in world.lines if line.startswith(b'{"k":"org"')]
    manifest = _manifest(world, f"seq{seq}", seq if seq_from is None else seq_from, seq)
    return hc.signed_lines(path, manifest, orgs, world.signer)


def warning_flood(world: InsiderWorld, path: Path, n: int, *, tables: int = 1) -> Path:
    """``n`` row records of tables the town's catalog does not have (``tables`` distinct
    names, cycled), numbered 2: each one was a warning line of its own."""
    lines = [json.dumps({"k": "row", "t": f"ledger_x{i % tables}"}).encode() for i in range(n)]
    return hc.signed_lines(path, _manifest(world, f"flood{n}-{tables}", 2, 2), lines, world.signer)
