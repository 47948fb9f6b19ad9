"""Evidence attachments: checking files by content, the store, rows, and packages."""
import datetime as dt
import hashlib
import json
import struct
import zlib
from pathlib import Path

import pytest
from openpyxl import load_workbook
from support import household, logical_dump

from desktop_app.cli import main
from desktop_app.core.catalog.attachment_refs import parse_refs
from desktop_app.core.excel.export import export_ledger
from desktop_app.core.excel.template import FIRST_DATA_ROW, HEADER_ROW
from desktop_app.core.store.attachments import AttachmentError, Attachments, attach, detach, inspect
from desktop_app.core.store.database import StoreError
from desktop_app.core.sync import files as sync_files
from desktop_app.core import sync
from desktop_app.core.sync.package_file import PackageError

TODAY = dt.date(2024, 12, 31)
FIXTURES = Path(__file__).parent / "fixtures"
PHOTO, INTERLACED, PDF = FIXTURES / "photo.jpg", FIXTURES / "interlaced.png", FIXTURES / "acceptance.pdf"


def png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def stored_files(store) -> list[Path]:
    root = Attachments(store).root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ---------------------------------------------------------------- checking files

def test_kinds_are_told_by_content_not_by_name(tmp_path):
    assert inspect(PHOTO).kind == "jpeg" and (inspect(PHOTO).width, inspect(PHOTO).height) == (320, 240)
    assert inspect(INTERLACED).kind == "png" and inspect(INTERLACED).width == 97
    assert inspect(PDF).kind == "pdf"
    renamed = tmp_path / "照片.pdf"
    renamed.write_bytes(PHOTO.read_bytes())
    assert inspect(renamed).kind == "jpeg"
    with pytest.raises(AttachmentError, match="这一栏只能添加JPEG 图片、PNG 图片"):
        inspect(PDF, kinds=("jpeg", "png"))


BAD = {
    "text.jpg": (lambda: "不是图片".encode() * 10, "不是图片或 PDF（按文件内容判断"),
    "zip.png": (lambda: b"PK\x03\x04" + bytes(100), "不是图片或 PDF"),
    "empty.jpg": (lambda: b"", "空文件"),
    "truncated.jpg": (lambda: PHOTO.read_bytes()[:1000], "不是完整的 JPEG"),
    "no-end.jpg": (lambda: PHOTO.read_bytes()[:-2], "不是完整的 JPEG"),
    "flipped.png": (lambda: INTERLACED.read_bytes()[:500] + bytes([INTERLACED.read_bytes()[500] ^ 1])
                    + INTERLACED.read_bytes()[501:], "不是完整的 PNG"),
    "truncated.png": (lambda: INTERLACED.read_bytes()[:-40], "不是完整的 PNG"),
    "giant.png": (lambda: png(100_000, 100_000, b""), "像素过多"),
    "bomb.png": (lambda: png(100, 100, bytes(50_000_000)), "解压后的数据远大于图片尺寸"),
    "truncated.pdf": (lambda: PDF.read_bytes()[:5000], "不是完整的 PDF"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_refused_with_a_message_and_nothing_is_stored(name, town, tmp_path):
    make, message = BAD[name]
    path = tmp_path / name
    path.write_bytes(make())
    assert path.stat().st_size < 200_000  # the bomb is small on disk
    with pytest.raises(AttachmentError, match=message) as err:
        Attachments(town).put(path)
    assert name in str(err.value) or "空文件" in str(err.value)
    assert stored_files(town) == []
    assert town.conn.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 0


def test_oversized_files_are_refused(town, tmp_path):
    big = tmp_path / "大.jpg"
    big.write_bytes(PHOTO.read_bytes() + bytes(2 * 1024 * 1024))  # data after EOI is allowed …
    assert inspect(big).kind == "jpeg"
    with pytest.raises(AttachmentError, match=r"2\.0 MB，超过上限 1 MB"):   # … but not above the limit
        Attachments(town).put(big, max_mb=1)
    assert stored_files(town) == []


def test_stored_once_by_content_and_verified_on_read(town, tmp_path):
    box = Attachments(town)
    copy = tmp_path / "同一张.jpg"
    copy.write_bytes(PHOTO.read_bytes())
    a, b = box.put(PHOTO), box.put(copy)
    assert a["sha256"] == b["sha256"] == hashlib.sha256(PHOTO.read_bytes()).hexdigest()
    assert (a["name"], b["name"]) == ("photo.jpg", "同一张.jpg")
    assert len(stored_files(town)) == 1 and box.read(a["sha256"]) == PHOTO.read_bytes()
    assert oct(stored_files(town)[0].stat().st_mode & 0o777) == "0o600"
    stored_files(town)[0].write_bytes(b"changed on disk")
    with pytest.raises(AttachmentError, match="已损坏"):
        box.read(a["sha256"])
    with pytest.raises(AttachmentError, match="还没有收到"):
        box.read("0" * 64)


# ---------------------------------------------------------------- on a row

def test_attach_and_detach_are_audited_changes(town):
    uid = town.ledger("barrier_free").add(household(), org="示例村一", today=TODAY).uuid
    refs = attach(town, "barrier_free", uid, "photos_before", [PHOTO, INTERLACED])
    assert [r["name"] for r in refs] == ["photo.jpg", "interlaced.png"]
    again = attach(town, "barrier_free", uid, "photos_before", [PHOTO])   # the same photo: no second copy
    assert len(again) == 2
    row = town.ledger("barrier_free").get(uid)
    assert [r["type"] for r in parse_refs(row["photos_before"])] == ["jpeg", "png"]
    left = detach(town, "barrier_free", uid, "photos_before", refs[0]["sha256"])
    assert [r["name"] for r in left] == ["interlaced.png"]
    actions = town.conn.execute("SELECT action, after FROM audit WHERE uuid = ? ORDER BY id", (uid,)).fetchall()
    assert [a for a, _ in actions] == ["insert", "update", "update"]
    assert "photo.jpg" not in actions[-1][1] and "interlaced.png" in actions[-1][1]
    assert len(stored_files(town)) == 2   # a removed file stays (a tombstone in the row, not a deletion)
    with pytest.raises(StoreError, match="没有附件字段“name”"):
        attach(town, "barrier_free", uid, "name", [PHOTO])
    with pytest.raises(AttachmentError, match="只能添加JPEG 图片、PNG 图片"):
        attach(town, "barrier_free", uid, "photos_after", [PDF])
    attach(town, "barrier_free", uid, "acceptance_scan", [PDF])


def test_too_many_files_for_a_field(town, tmp_path):
    uid = town.ledger("barrier_free").add(household(), org="示例村一", today=TODAY).uuid
    files = []
    for i in range(6):
        p = tmp_path / f"验收{i}.png"
        p.write_bytes(png(2, 2, bytes([0, i, i, 0, i, i])))
        files.append(p)
    with pytest.raises(AttachmentError, match="验收单扫描件最多 5 个文件，已有 0 个，这次加 6 个"):
        attach(town, "barrier_free", uid, "acceptance_scan", files)
    assert town.ledger("barrier_free").get(uid)["acceptance_scan"] is None


def test_excel_export_lists_attachments_by_name(town, tmp_path):
    uid = town.ledger("barrier_free").add(household(), org="示例村一", today=TODAY).uuid
    attach(town, "barrier_free", uid, "photos_before", [PHOTO, INTERLACED])
    export_ledger(town, "barrier_free", tmp_path / "out.xlsx")
    ws = load_workbook(tmp_path / "out.xlsx").worksheets[0]
    header = [c.value for c in ws[HEADER_ROW]]
    assert ws.cell(FIRST_DATA_ROW, header.index("改造前照片") + 1).value == "photo.jpg、interlaced.png"
    assert ws.cell(FIRST_DATA_ROW, header.index("改造后照片") + 1).value is None


# ---------------------------------------------------------------- in packages

def test_photos_reach_the_district_through_the_town_once(chain):
    d, t, v, tmp = chain
    uid = v.ledger("barrier_free").add(household(), today=TODAY).uuid
    attach(v, "barrier_free", uid, "photos_before", [PHOTO])
    attach(v, "barrier_free", uid, "acceptance_scan", [PDF])
    up = sync.export_package(v, tmp / "out")
    assert (up.files, up.volumes) == (2, [])
    got = sync.import_package(t, up.path)
    assert got.files == 2 and got.warnings == []
    assert got.to_json()["files_received"] == 2
    at_town = parse_refs(t.ledger("barrier_free").get(uid)["photos_before"])[0]
    assert Attachments(t).read(at_town["sha256"]) == PHOTO.read_bytes()

    # the village edits the row again: the next package does not carry the photos again
    v.ledger("barrier_free").update(uid, {"subsidy": 3600})
    second = sync.export_package(v, tmp / "out")
    assert second.files == 0 and sync.import_package(t, second.path).files == 0

    to_district = sync.export_package(t, tmp / "out")
    assert to_district.files == 2
    assert sync.import_package(d, to_district.path).files == 2
    row = d.ledger("barrier_free").get(uid)
    assert Attachments(d).read(parse_refs(row["acceptance_scan"])[0]["sha256"]) == PDF.read_bytes()
    # nothing goes back down to the village, and a second package up carries none
    t.ledger("barrier_free").update(uid, {"subsidy": 3700})
    assert sync.export_package(t, tmp / "out").files == 0
    # a full package carries them again (first submission, recovery)
    assert sync.export_package(t, tmp / "out", full=True).files == 2


def test_a_photo_not_received_yet_is_reported_not_fatal(chain):
    d, t, v, tmp = chain
    uid = v.ledger("barrier_free").add(household(), today=TODAY).uuid
    attach(v, "barrier_free", uid, "photos_before", [PHOTO])
    for p in stored_files(v):   # lost from the village's disk before sending
        p.unlink()
    up = sync.export_package(v, tmp / "out")
    assert (up.files, up.files_pending) == (0, 1)
    got = sync.import_package(t, up.path)
    assert got.totals()["new"] >= 1 and any("尚未收到" in w for w in got.warnings)
    assert stored_files(t) == []


def test_files_above_the_cap_go_into_numbered_volumes(chain, tmp_path):
    d, t, v, tmp = chain
    uids = [v.ledger("barrier_free").add(household(i), today=TODAY).uuid for i in range(3)]
    for i, uid in enumerate(uids):
        p = tmp_path / f"照片{i}.jpg"
        p.write_bytes(PHOTO.read_bytes() + bytes([i]) * 3000)
        attach(v, "barrier_free", uid, "photos_after", [p])
    up = sync.export_package(v, tmp / "out", volume_bytes=4000)
    assert up.files == 3 and len(up.volumes) == 2
    assert "_卷1之3" in up.path.name and [p.stem.split("_")[-1] for p in up.volumes] == ["卷2之3", "卷3之3"]
    # volumes may arrive in any order; each is verified on its own
    assert sync.import_package(t, up.volumes[1]).files == 1
    first = sync.import_package(t, up.path)
    assert first.files == 1 and any("尚未收到" in w for w in first.warnings)
    assert sync.import_package(t, up.volumes[0]).files == 1
    assert sync.import_package(t, up.volumes[0]).status == "already"
    assert len(stored_files(t)) == 3 and first.gaps == []


def test_a_tampered_attachment_is_rejected_and_the_rows_still_arrive(chain, monkeypatch):
    """A compromised sender signs a package whose file bytes do not match their hash."""
    d, t, v, tmp = chain
    uid = v.ledger("barrier_free").add(household(), today=TODAY).uuid
    attach(v, "barrier_free", uid, "photos_before", [PHOTO])
    monkeypatch.setattr(Attachments, "blocks", lambda self, sha: iter([b"\xff\xd8\xff" + bytes(1992)]))
    up = sync.export_package(v, tmp / "out")
    got = sync.import_package(t, up.path)
    assert got.files == 0 and any("与校验值不符" in w for w in got.warnings)
    assert stored_files(t) == [] and t.ledger("barrier_free").get(uid) is not None


def test_a_flipped_byte_in_a_file_chunk_refuses_the_whole_package(chain):
    d, t, v, tmp = chain
    uid = v.ledger("barrier_free").add(household(), today=TODAY).uuid
    attach(v, "barrier_free", uid, "photos_before", [PHOTO])
    up = sync.export_package(v, tmp / "out")
    data = bytearray(up.path.read_bytes())
    data[-200] ^= 0x01                    # inside the last chunk: the photo
    up.path.write_bytes(bytes(data))
    before = logical_dump(t.path)
    with pytest.raises(PackageError):
        sync.import_package(t, up.path, before_write=lambda: None)
    assert logical_dump(t.path) == before and stored_files(t) == []


def test_cli_attach_detach_and_import_report(chain, capsys):
    d, t, v, tmp = chain
    v.close()
    db = str(tmp / "v.sqlite3")
    code = main(["add", "--db", db, "--ledger", "barrier_free", "--json", "--json-row",
                 json.dumps(household(), ensure_ascii=False)])
    uid = json.loads(capsys.readouterr().out)["uuid"]
    assert code == 0
    assert main(["attach", "--db", db, "--ledger", "barrier_free", "--row", uid, "--field", "photos_before",
                 "--json", str(PHOTO), str(INTERLACED)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in out["files"]] == ["photo.jpg", "interlaced.png"]
    bad = tmp / "假照片.jpg"
    bad.write_bytes(b"not an image at all")
    assert main(["attach", "--db", db, "--ledger", "barrier_free", "--row", uid, "--field", "photos_before",
                 str(bad)]) == 1
    assert "假照片.jpg 不是图片或 PDF" in capsys.readouterr().err
    assert main(["detach", "--db", db, "--ledger", "barrier_free", "--row", uid, "--field", "photos_before",
                 "--sha256", out["files"][1]["sha256"]]) == 0
    capsys.readouterr()
    assert main(["export-package", "--db", db, "--out", str(tmp / "pk"), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["files"] == 1
    t.close()
    assert main(["import-package", "--db", str(tmp / "t.sqlite3"), exported["path"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["files_received"] == 1


def test_hostile_attachment_values_are_refused_not_crashing():
    for value in ("[" * 100_000 + "]" * 100_000, '{"a": 1}', '[{"sha256": "../x", "name": "a", "size": 1, '
                  '"type": "png"}]', "[" + ",".join(["{}"] * 2000) + "]", "x" * 2_000_000):
        with pytest.raises(ValueError):
            parse_refs(value)


def _lie(field: str, value):
    def line(ref):
        out = sync_files_line(ref)
        out[field] = value(out) if callable(value) else value
        return out
    return line


sync_files_line = sync_files.file_line
SIGNED_LIES = {   # a compromised village signs a package whose file lines lie
    "chunks-more": _lie("chunks", lambda o: o["chunks"] + 1),
    "chunks-zero": _lie("chunks", 0),
    "size-huge": _lie("size", 1 << 40),
    "size-string": _lie("size", "1995"),
    "sha-path": _lie("sha256", "../" * 21 + "x"),
    "type-exe": _lie("type", "exe"),
    "extra-key": _lie("path", "/etc/passwd"),
}


@pytest.mark.parametrize("lie", sorted(SIGNED_LIES))
def test_signed_packages_with_lying_file_lines_are_refused(lie, chain, monkeypatch, capsys):
    d, t, v, tmp = chain
    uid = v.ledger("barrier_free").add(household(), today=TODAY).uuid
    attach(v, "barrier_free", uid, "photos_before", [PHOTO])
    monkeypatch.setattr(sync_files, "file_line", SIGNED_LIES[lie])
    up = sync.export_package(v, tmp / "out")
    t.close()
    before = logical_dump(tmp / "t.sqlite3")
    assert main(["import-package", "--db", str(tmp / "t.sqlite3"), str(up.path)]) == 2
    err = capsys.readouterr().err
    assert up.path.name in err and "Traceback" not in err
    assert logical_dump(tmp / "t.sqlite3") == before
    folder = tmp / "attachments" / "t"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


@pytest.mark.parametrize("cut", [1, 100, 5000, 1 << 20])
def test_a_package_cut_inside_its_files_is_refused(cut, chain):
    d, t, v, tmp = chain
    uid = v.ledger("barrier_free").add(household(), today=TODAY).uuid
    attach(v, "barrier_free", uid, "photos_before", [PHOTO, INTERLACED])
    up = sync.export_package(v, tmp / "out")
    data = up.path.read_bytes()
    up.path.write_bytes(data[:max(len(data) - cut, 100)])
    before = logical_dump(t.path)
    with pytest.raises(PackageError, match=up.path.name):
        sync.import_package(t, up.path, before_write=lambda: None)
    assert logical_dump(t.path) == before and stored_files(t) == []
