"""Packages an insider can make: signed with a real member's key, content chosen by the
attacker (issue 15). Used by test_insider_scope.py and test_insider_content.py.

    lines = [org_line("430971123777", "假村", parent="430971121")]
    path = forged(hb, d, lines, tmp / "evil.mstz")     # 河坝镇 → district, really signed
"""
from __future__ import annotations

import itertools
import json
import uuid
from pathlib import Path

from desktop_app.core.store import migrations
from desktop_app.core.store.persons import person_id
from desktop_app.core.store.crypto import SUITES
from desktop_app.core.store.versions import now_iso
from desktop_app.core.sync.package_file import write_package
from desktop_app.core.sync.peers import peers

HB = "430971121"                # 河坝镇

_SEQ = itertools.count(1)


def forged(src, dst, lines: list[dict], path: Path, *, catalog: dict | None | str = "same",
           seq: int | None = None) -> Path:
    """A package from ``src`` to ``dst`` holding exactly ``lines``, signed with ``src``'s
    real key (as a compromised or broken install of ``src`` can); ``catalog`` overrides the
    manifest's catalog (None: left out), ``seq`` its number."""
    dest = next(p for p in peers(src) if p.node == dst.node.id)
    # numbered well past the sender's real packages (so none collides), within the jump a
    # receiver accepts (bounds.MAX_SEQ_JUMP)
    got = dst.conn.execute("SELECT MAX(seq) FROM received WHERE source = ?", (src.node.id,)).fetchone()[0]
    seq = seq if seq is not None else (got or 0) + 500 + next(_SEQ) % 400
    manifest = {
        "package_id": str(uuid.uuid4()), "kind": "incremental", "schema": migrations.latest(),
        "created": now_iso(), "source": {"node": src.node.id, "org": src.node.org, "level": src.node.level},
        "dest": {"node": dest.node, "org": dest.org}, "seq_from": seq, "seq_to": seq, "prev": None,
        "counts": {},
    }
    if catalog == "same":
        manifest["catalog"] = {"id": src.catalog.id, "version": src.catalog.version}
    elif catalog is not None:
        manifest["catalog"] = catalog
    keys, suite = src.keys(), SUITES[src.suite]
    body = [json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() for line in lines]
    write_package(path, manifest, iter(body), sign=lambda data: suite.sign(keys.sign_private, data),
                  suite_name=src.suite, dest_enc_key=dest.enc_key,
                  info=f"{manifest['package_id']}|{src.node.id}|{dest.node}".encode())
    return path


def record_sent(src, path: Path) -> None:
    """Record a package made by :func:`forged` as sent by ``src`` (what ``src``'s own export
    would have recorded), so that refusal notices about it count."""
    from desktop_app.core.sync.package_file import open_package
    m = open_package(path).manifest
    src.conn.execute(
        "INSERT INTO packages (package_id, direction, kind, source, dest, seq_from, seq_to, sha256, created, "
        "handled, file, status) VALUES (?, 'out', ?, ?, ?, ?, ?, '', ?, ?, ?, 'sent')",
        (m["package_id"], m["kind"], src.node.id, m["dest"]["node"], m["seq_from"], m["seq_to"], m["created"],
         now_iso(), path.name))
    src.conn.commit()


def org_line(code: str, name: str, *, parent: str, level: str = "village", aliases=()) -> dict:
    return {"k": "org", "code": code, "name": name, "level": level, "parent": parent, "aliases": list(aliases)}


def row_line(store, tbl: str, uid: str, values: dict, *, origin: str | None = None,
             created_by: str | None = None) -> dict:
    """A row record as an export writes it, every field stamped now by ``origin`` (default:
    ``store``'s node) so that it wins any merge."""
    origin = origin or store.node.id
    stamp = store.clock.tick() + 10_000_000     # well ahead of anything written so far
    return {"k": "row", "t": tbl, "u": uid, "ver": json.dumps([[stamp, origin]]), "c": now_iso(),
            "o": created_by if created_by is not None else origin, "v": values}


def current(store, tbl: str, uid: str) -> dict | None:
    cur = store.conn.execute(f"SELECT * FROM [{tbl}] WHERE uuid = ?", (uid,))
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else None


def versioned(store, tbl: str, uid: str) -> dict:
    """The replicated values of a row here (what a package carries in ``v``)."""
    from desktop_app.core.sync.peers import record_specs
    spec = record_specs(store)[tbl][0]
    row = current(store, tbl, uid)
    return {c: row[c] for c in spec.versioned}


def audit_line(origin: str, oid: int, *, action: str = "reveal", user: str = "伪造者") -> dict:
    return {"k": "audit", "origin": origin, "id": oid, "ts": now_iso(), "stamp": 1, "user": user,
            "unit": None, "action": action, "tbl": None, "uuid": None, "before": None, "after": None,
            "source": "screen", "batch": None}


def members_state(store, orgs: list[str], attacker: str) -> dict:
    """Everything of the units ``orgs`` (code prefixes) the district holds: their ledger rows,
    the persons with a row there (and none in ``attacker``'s unit, who may edit those), the
    reviews of their rows and the audit entries of their installs — what another member's
    hostile package must never change."""
    from desktop_app.core.sync.peers import record_specs
    out = {}
    specs = record_specs(store)
    nodes = [n for (n,) in store.conn.execute(
        f"SELECT node FROM peers WHERE {' OR '.join('org LIKE ?' for _ in orgs)}", [o + "%" for o in orgs])]
    for tbl, (spec, led) in specs.items():
        if tbl == "persons":
            continue   # "persons of rows" below
        cond = " OR ".join("substr(org, 1, ?) = ?" for _ in orgs)
        params = [x for o in orgs for x in (len(o), o)]
        rows = store.conn.execute(f"SELECT * FROM [{tbl}] WHERE {cond} ORDER BY uuid", params).fetchall()
        out[tbl] = [tuple(r) for r in rows]
        if led is not None and spec.person_columns:
            col = spec.person_columns[0]
            out.setdefault("persons*", set()).update(r for (r,) in store.conn.execute(
                f"SELECT [{col}] FROM [{tbl}] WHERE {cond}", params))
    theirs = set()
    for tbl, (spec, led) in specs.items():
        for col in spec.person_columns if led is not None else ():
            theirs.update(r for (r,) in store.conn.execute(
                f"SELECT [{col}] FROM [{tbl}] WHERE substr(org, 1, ?) = ?", (len(attacker), attacker)))
    people = sorted(p for p in out.pop("persons*", set()) - theirs if p)
    out["persons of rows"] = [tuple(r) for r in store.conn.execute(
        f"SELECT * FROM persons WHERE uuid IN ({','.join('?' * len(people))}) ORDER BY uuid", people)]
    out["audit"] = [tuple(r) for r in store.conn.execute(
        f"SELECT origin, origin_id, ts, stamp, user, action, before, after FROM audit WHERE origin IN "
        f"({','.join('?' * len(nodes))}) ORDER BY origin, origin_id", nodes)]
    return out


def row_of(hb, ledger: str, n: int, **changed) -> dict:
    """河坝镇's first row of ``ledger`` as a new row ``n`` with ``changed`` values, linked to
    the person a changed 身份证号 names as sent (as the install sending it links it)."""
    first = hb.ledger(ledger).rows()[0]
    values = dict(versioned(hb, f"ledger_{ledger}", first["uuid"]), org=HB + "001", **changed)
    if isinstance(changed.get("id_number"), str) and changed["id_number"].strip():
        values["person_id"] = person_id(hb.setting("person_namespace"), changed["id_number"])
    return row_line(hb, f"ledger_{ledger}", f"00000000-0000-4000-8000-{n:012d}", values)
