"""Hostile input files for the import commands, and the helpers the crash loop shares.

:func:`make_corpus` writes a seeded, deterministic corpus of broken, forged and
malicious files next to each other in one folder, made from a valid workbook and
a valid package (:class:`Sources`), and returns one :class:`Case` per file: the
command that must read it, the exit code a correct program gives (2: "the input
could not be used at all"), and a short label. Workbooks: random bytes,
truncations, byte flips, zip bombs and zip-container attacks (.xlsx and .ods),
a 5 MB cell, files that are not workbooks. Packages: random bytes, truncations,
byte flips in every part, hostile manifests (unsigned and signed by the real
source), forged and misrouted packages, a reused package id, and payloads a
compromised install could sign (nesting, huge lines, decompression bombs, NaN,
duplicate keys, unknown record kinds).

Byte flips in a workbook are classified by what they hit (see :func:`_flip_oracle`):
a flip that changes the bytes of a part holding cell values (a sheet, the shared
strings, the styles) must be refused — the zip's CRC exists to catch exactly this,
and the rows may be wrong; a flip elsewhere (zip bookkeeping, parts without values,
compressed bits that inflate to the same bytes) leaves every value intact and may
also import normally, which for the prepared store (it already holds the workbook's
rows) means "every row unchanged". Such cases carry ``also=(0,)``; every other case
expects exit 2 only.

The second half holds what the crash tests share: building a district → town →
village chain with profiles, filling a village with valid rows, and the child
process that imports a package (or a large workbook) into a copy of a store with
the clock frozen, so that the state after a complete import is reproducible byte
for byte.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import struct
import time
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import support
from support import copy_store, logical_dump, make_chain, make_id, raw_connect

from desktop_app.core.store.crypto import CHUNK_BYTES, SUITES, b64
from desktop_app.core.sync.package_file import FORMAT_VERSION, MAGIC, canonical, write_package

SEED = 20240630
TODAY = dt.date(2024, 12, 31)

# every kind the corpus makes (the tests check each one is present)
WORKBOOK_KINDS = ("wb-random", "wb-truncated", "wb-flip", "wb-bomb", "wb-zip-attack", "wb-ods",
                  "wb-big-cell", "wb-not-a-workbook", "wb-empty", "wb-xml")
PACKAGE_KINDS = ("pkg-random", "pkg-truncated", "pkg-flip-header", "pkg-flip-manifest",
                 "pkg-flip-signature", "pkg-flip-ciphertext", "pkg-manifest", "pkg-signed-manifest",
                 "pkg-forged", "pkg-routing", "pkg-reused-id", "pkg-payload", "pkg-bomb")
KINDS = WORKBOOK_KINDS + PACKAGE_KINDS

# the parts of an .xlsx that hold cell values and formats: damage there can change the rows
# (damage to workbook.xml, the rels or the content types can make the file unreadable or
# rename a sheet, but cannot change a value)
_VALUE_PARTS = ("xl/sharedStrings.xml", "xl/styles.xml")


@dataclass(frozen=True)
class Case:
    """One hostile file and what a correct program does with it."""
    path: Path
    kind: str                  # one of KINDS
    label: str                 # short and unique, e.g. "pkg-flip-manifest-03"
    expected: int = 2          # the exit code of import-excel / import-package
    also: tuple[int, ...] = ()  # other acceptable exit codes (store unchanged all the same)
    says: str | None = None    # a phrase the refusal message must contain
    note: str = ""

    @property
    def command(self) -> str:
        return "import-package" if self.kind.startswith("pkg-") else "import-excel"

    @property
    def allowed(self) -> tuple[int, ...]:
        return (self.expected, *self.also)


@dataclass
class Signer:
    """What a compromised source install has: its own signing key and the destination's
    public key, so it can sign anything it likes."""
    suite: str
    sign_private: bytes
    source: dict              # {"node", "org", "level"} as in a manifest
    dest: dict                # {"node", "org"}
    dest_enc_public: bytes

    def sign(self, data: bytes) -> bytes:
        return SUITES[self.suite].sign(self.sign_private, data)


@dataclass
class Sources:
    xlsx: Path                 # a valid workbook; the target store already holds its rows
    ods: Path                  # a valid .ods workbook
    package: Path              # a valid package for the target store, not yet imported
    imported_package: Path     # a package the target store has already imported
    signer: Signer             # the real source of both packages
    lines: list[bytes]         # the decrypted payload lines of ``package``
    other_nodes: dict = field(default_factory=dict)   # {"district": {"node", "org"}} known peers


# ---------------------------------------------------------------- small helpers

def _rng(tag: str) -> random.Random:
    return random.Random(f"{SEED}:{tag}")


def seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _flip(data: bytes, pos: int, mask: int) -> bytes:
    out = bytearray(data)
    out[pos] ^= mask or 1
    return bytes(out)


def split_package(raw: bytes) -> tuple[dict, bytes, bytes, bytes]:
    """(manifest, manifest bytes, signature, chunk bytes) of a package file's bytes."""
    mlen = struct.unpack(">I", raw[8:12])[0]
    body = raw[12:12 + mlen]
    slen = struct.unpack(">H", raw[12 + mlen:14 + mlen])[0]
    sig = raw[14 + mlen:14 + mlen + slen]
    return json.loads(body), body, sig, raw[14 + mlen + slen:]


def assemble(body: bytes, sig: bytes, chunks: bytes, *, mlen: int | None = None,
             slen: int | None = None) -> bytes:
    return (MAGIC + struct.pack(">I", len(body) if mlen is None else mlen) + body
            + struct.pack(">H", len(sig) if slen is None else slen) + sig + chunks)


# ---------------------------------------------------------------- zip helpers

def zip_parts(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def write_zip(path: Path, parts: Iterable[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    """A zip with fixed timestamps (so the bytes are reproducible); duplicate names allowed."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # "Duplicate name" is the point of some cases
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            for name, data in parts:
                info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
    return path


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
    return info


def _deflate_repeat(prefix: bytes, block: bytes, count: int, suffix: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of prefix + block*count + suffix, made without compressing the repeats:
    each part ends with a full flush, so one compressed block can be repeated.
    Returns (compressed, uncompressed size, CRC-32)."""
    def part(data: bytes, mode: int) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(mode)
    head, seg, tail = part(prefix, zlib.Z_FULL_FLUSH), part(block, zlib.Z_FULL_FLUSH), part(suffix, zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    return head + seg * count + tail, len(prefix) + len(block) * count + len(suffix), crc


def _raw_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from already-deflated members: (name, deflated, size declared, real size, crc).
    Declared sizes are what both headers claim (a liar's zip may claim less than it holds)."""
    out, central = bytearray(), bytearray()
    for name, data, declared, _real, crc in members:
        raw_name = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), declared,
                           len(raw_name), 0) + raw_name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data),
                               declared, len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + eocd)


def _bomb_zip(parts: list[tuple[str, bytes]], target: str, prefix: bytes, suffix: bytes,
              mib: int, lie: bool) -> bytes:
    """The valid workbook with ``target`` replaced by ``mib`` MiB of ASCII zeros inside XML."""
    members = []
    for name, data in parts:
        if name == target:
            comp, size, crc = _deflate_repeat(prefix, b"0" * (1 << 20), mib, suffix)
            declared = min(size, 5 << 20) if lie else size
            members.append((name, comp, declared, size, crc))
        else:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = c.compress(data) + c.flush()
            members.append((name, comp, len(data), len(data), zlib.crc32(data)))
    return _raw_zip(members)


def _flip_oracle(original: bytes, flipped: bytes, pos: int) -> tuple[str, tuple[int, ...]]:
    """What a correct program must do with a one-byte flip at ``pos`` of a valid .xlsx.

    A flip inside the compressed bytes of a part holding cell values (a sheet, the shared
    strings, the styles) that changes what the part decompresses to: the file is damaged
    (its CRC no longer matches), the rows may be wrong, so it must be refused — exit 2
    only. A flip anywhere else (zip headers, the central directory, parts without cell
    values, or compressed bits that decode to the same bytes) leaves the values intact:
    refusing (2) or importing the same rows again (0, every row unchanged) are both right.
    """
    with zipfile.ZipFile(io.BytesIO(original)) as z:
        for info in z.infolist():
            name_len, extra_len = struct.unpack("<HH", original[info.header_offset + 26:info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            if start <= pos < start + info.compress_size:
                before = zlib.decompressobj(-15).decompress(original[start:start + info.compress_size])
                try:
                    d = zlib.decompressobj(-15)
                    after = d.decompress(flipped[start:start + info.compress_size], info.file_size + 1)
                except zlib.error:
                    after = None
                if after == before:
                    return f"data of {info.filename}, same bytes after inflating", (0,)
                if info.filename in _VALUE_PARTS or info.filename.startswith("xl/worksheets/"):
                    return f"data of {info.filename} (cell values): damaged", ()
                return f"data of {info.filename} (no cell values)", (0,)
    return "zip bookkeeping (headers, central directory)", (0,)


# ---------------------------------------------------------------- workbooks

def write_valid_workbook(path: Path, rows: int, *, region: str = "430903", village: str = "示例村一") -> Path:
    """A filled two_cancer sheet (labels as in the catalog), rows valid and complete,
    written with fixed zip timestamps so the bytes are the same on every run."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "两癌检查"
    ws.append(["村（社区）", "姓名", "身份证号", "联系电话", "人群类别", "检查机构", "宫颈癌检查日期",
               "宫颈初筛方法", "宫颈初筛结果", "乳腺癌检查日期", "乳腺初筛结果", "乳腺彩超BI-RADS分级", "状态"])
    for i in range(rows):
        ws.append([village, f"示例表{i}", make_id(f"19{60 + i % 30}0112", 2 * (i // 30) + 2, region),
                   f"139{i:08d}", "农村适龄", "示例卫生院", "2024-04-05", "妇检+HPV", "正常",
                   "2024-04-05", "正常", "2级", "已完成"])
    fixed = dt.datetime(2024, 1, 1)
    wb.properties.created = wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as z:
        parts = [(i.filename, z.read(i)) for i in z.infolist()]
    return write_zip(path, parts)


def _workbook_cases(folder: Path, src: Sources) -> list[Case]:
    cases: list[Case] = []

    def add(name: str, data: bytes, kind: str, label: str, **kw) -> None:
        path = folder / name
        path.write_bytes(data)
        cases.append(Case(path, kind, label, **kw))

    xlsx = src.xlsx.read_bytes()
    ods = src.ods.read_bytes()
    parts = zip_parts(src.xlsx)
    ods_parts = zip_parts(src.ods)
    sheet = next(n for n, _ in parts if n.startswith("xl/worksheets/"))

    # random bytes of several sizes (and with the magic numbers of real formats in front)
    rng = _rng("wb-random")
    for size in (1, 17, 512, 4096, 65536, 1 << 20):
        add(f"wb-random-{size}.xlsx", rng.randbytes(size), "wb-random", f"wb-random-{size}")
    add("wb-random-zipmagic.xlsx", b"PK\x03\x04" + rng.randbytes(8000), "wb-random", "wb-random-zipmagic")
    add("wb-random-olemagic.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + rng.randbytes(8000), "wb-random",
        "wb-random-olemagic")
    add("wb-random-eocd.xlsx", rng.randbytes(3000) + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 3, 3, 200,
                                                                  100, 0), "wb-random", "wb-random-eocd")

    # truncated at every KiB (the central directory is at the end: a cut zip is unusable)
    for n in range(1024, len(xlsx), 1024):
        add(f"wb-trunc-{n}.xlsx", xlsx[:n], "wb-truncated", f"wb-truncated-{n // 1024}k")
    for cut in (1, 22):
        add(f"wb-trunc-end{cut}.xlsx", xlsx[:-cut], "wb-truncated", f"wb-truncated-minus{cut}")

    # one flipped byte at 40 seeded positions
    rng = _rng("wb-flip")
    positions = sorted(rng.sample(range(len(xlsx)), 40))
    for i, pos in enumerate(positions):
        flipped = _flip(xlsx, pos, rng.randrange(1, 256))
        note, also = _flip_oracle(xlsx, flipped, pos)
        add(f"wb-flip-{i:02d}.xlsx", flipped, "wb-flip", f"wb-flip-{i:02d}", also=also,
            note=f"byte {pos}: {note}")

    # a digit changed inside a part stored without compression: still well-formed XML, but the
    # CRC no longer matches, so the file is damaged and the changed value must not come in
    shared = _with_shared_strings(parts)
    for members, target in ((shared, "xl/sharedStrings.xml"), (parts, sheet)):
        damaged = bytearray(_zip_bytes_stored(members, target))
        at = damaged.index(b">13900000005<") + 10
        damaged[at] = ord("9")
        short = "sst" if "shared" in target else "sheet"
        add(f"wb-flip-stored-{short}.xlsx", bytes(damaged), "wb-flip", f"wb-flip-stored-{short}-digit",
            note=f"{target} stored, a phone digit changed, CRC not updated")

    # decompression bombs: ~300 MiB of zeros in the sheet XML, with true and with lying sizes
    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.'
            b'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1"><v>')
    tail = b"</v></c></row></sheetData></worksheet>"
    add("wb-bomb.xlsx", _bomb_zip(parts, sheet, head, tail, 300, lie=False), "wb-bomb", "wb-bomb-300mib")
    add("wb-bomb-lying.xlsx", _bomb_zip(parts, sheet, head, tail, 300, lie=True), "wb-bomb",
        "wb-bomb-300mib-lying-size", note="headers claim 5 MiB")
    add("wb-bomb-nul.xlsx", _raw_zip([(sheet, *_nul_bomb(200))] + [
        (n, _deflate(d), len(d), len(d), zlib.crc32(d)) for n, d in parts if n != sheet]),
        "wb-bomb", "wb-bomb-200mib-nul")
    ods_head = b'<?xml version="1.0" encoding="UTF-8"?><office:document-content><office:body>'
    add("ods-bomb.ods", _bomb_zip(ods_parts, "content.xml", ods_head, b"</office:body></office:document-content>",
                                  300, lie=False), "wb-bomb", "ods-bomb-300mib")

    # zip-container attacks in an otherwise valid .xlsx
    evil = b"<evil/>"
    attacks = {
        "traversal": parts + [("../../x.xml", evil)],
        "traversal-inner": parts + [("xl/../../../etc/cron.d/x", evil)],
        "absolute": parts + [("/etc/x.xml", evil)],
        "drive": parts + [("C:/Windows/x.xml", evil)],
        "backslash": parts + [("xl\\worksheets\\sheet9.xml", evil)],
        "backslash-alias": [(n.replace("/", "\\") if n == sheet else n, d) for n, d in parts],
        "symlink": parts + [(_symlink("xl/worksheets/sheet2.xml"), b"/etc/passwd")],
        "symlink-sheet": [(_symlink(n) if n == sheet else n, b"/etc/passwd" if n == sheet else d)
                          for n, d in parts],
        "duplicate-sheet": parts + [(sheet, _other_sheet(dict(parts)[sheet]))],
        "duplicate-content-types": parts + [("[Content_Types].xml", dict(parts)["[Content_Types].xml"])],
    }
    for label, members in attacks.items():
        add(f"wb-zip-{label}.xlsx", _zip_bytes(members), "wb-zip-attack", f"wb-zip-{label}")
    # the same with the first local header's signature damaged ("PK\x03\x04" no more): calamine
    # finds a zip by its central directory, so a reader that sniffs the first bytes is bypassed
    add("wb-bomb-nomagic.xlsx", _flip(_bomb_zip(parts, sheet, head, tail, 300, lie=False), 1, 0x10), "wb-bomb",
        "wb-bomb-300mib-first-signature-damaged")
    add("wb-zip-traversal-nomagic.xlsx", _flip(_zip_bytes(attacks["traversal"]), 1, 0x10), "wb-zip-attack",
        "wb-zip-traversal-first-signature-damaged")

    # the same in an .ods, and an .ods cut short at every 2 KiB
    ods_attacks = {
        "traversal": ods_parts + [("../../x.xml", evil)],
        "absolute": ods_parts + [("/tmp/x.xml", evil)],
        "backslash": ods_parts + [("Pictures\\x.png", evil)],
        "symlink": ods_parts + [(_symlink("Thumbnails/x.png"), b"/etc/shadow")],
        "duplicate": ods_parts + [("content.xml", dict(ods_parts)["content.xml"])],
    }
    for label, members in ods_attacks.items():
        add(f"ods-zip-{label}.ods", _zip_bytes(members), "wb-ods", f"ods-zip-{label}")
    for n in range(2048, len(ods), 2048):
        add(f"ods-trunc-{n}.ods", ods[:n], "wb-ods", f"ods-truncated-{n // 1024}k")
    add("ods-random.ods", _rng("ods").randbytes(20000), "wb-ods", "ods-random")

    # one cell of 5 MB (a data cell, and a header cell)
    add("wb-big-cell.xlsx", _big_cell(parts, sheet, 5_000_000, row=3, char="x"), "wb-big-cell", "wb-big-cell-5mb",
        says="32,767")
    add("wb-big-header.xlsx", _big_cell(parts, sheet, 5_000_000, row=1), "wb-big-cell",
        "wb-big-cell-5mb-header")

    # not workbooks at all
    text = "姓名,身份证号,联系电话\n示例,430902197001120022,13800000001\n".encode()
    add("wb-text.xlsx", text, "wb-not-a-workbook", "wb-renamed-text")
    add("wb-text-gbk.xls", text.decode().encode("gbk"), "wb-not-a-workbook", "wb-renamed-gbk-csv")
    add("wb-html.xls", "<html><body><table><tr><td>姓名</td><td>身份证号</td></tr></table></body></html>"
        .encode(), "wb-not-a-workbook", "wb-html-as-xls")
    add("wb-pdf.xlsx", b"%PDF-1.4\n" + _rng("pdf").randbytes(3000), "wb-not-a-workbook", "wb-pdf-renamed")
    add("wb-zip-text.xlsx", _zip_bytes([("readme.txt", text)]), "wb-not-a-workbook", "wb-zip-of-text")
    add("wb-docx.xlsx", _zip_bytes([("[Content_Types].xml", dict(parts)["[Content_Types].xml"]),
                                    ("word/document.xml", b"<w:document/>")]), "wb-not-a-workbook",
        "wb-docx-like-zip")
    add("wb-png.xlsx", b"\x89PNG\r\n\x1a\n" + _rng("png").randbytes(2000), "wb-not-a-workbook", "wb-png-renamed")

    # empty files
    for suffix in ("xlsx", "xls", "ods"):
        add(f"wb-empty.{suffix}", b"", "wb-empty", f"wb-empty-{suffix}")

    # XML entity tricks in the sheet (billion laughs; an external entity) in every header cell
    laughs = (b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
              + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10)
                         for i in range(9)) + b"]>")
    add("wb-xml-laughs.xlsx", _zip_bytes(_entity_sheet(parts, sheet, laughs, b"&j;")), "wb-xml",
        "wb-xml-billion-laughs")
    xxe = b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    add("wb-xml-xxe.xlsx", _zip_bytes(_entity_sheet(parts, sheet, xxe, b"&x;")), "wb-xml", "wb-xml-external-entity")
    return cases


def _with_shared_strings(parts) -> list[tuple[str, bytes]]:
    """The workbook with its inline strings moved to xl/sharedStrings.xml (as Excel writes it)."""
    import re
    strings: list[str] = []

    def shared(m):
        strings.append(m.group(2))
        return f'{m.group(1)} t="s"><v>{len(strings) - 1}</v></c>'
    out = []
    for name, data in parts:
        if name.startswith("xl/worksheets/"):
            data = re.sub(r'(<c r="[A-Z]+\d+") t="inlineStr"><is><t>([^<]*)</t></is></c>', shared,
                          data.decode()).encode()
        elif name == "[Content_Types].xml":
            data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        elif name == "xl/_rels/workbook.xml.rels":
            data = data.replace(b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.openxml'
                                b'formats.org/officeDocument/2006/relationships/sharedStrings" '
                                b'Target="sharedStrings.xml"/></Relationships>')
        out.append((name, data))
    sst = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
           f'2006/main" count="{len(strings)}" uniqueCount="{len(strings)}">'
           + "".join(f"<si><t>{x}</t></si>" for x in strings) + "</sst>")
    return out + [("xl/sharedStrings.xml", sst.encode())]


def _zip_bytes_stored(parts, stored: str) -> bytes:
    """A zip of ``parts`` with the part ``stored`` not compressed (fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in parts:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name == stored else zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _nul_bomb(mib: int) -> tuple[bytes, int, int, int]:
    comp, size, crc = _deflate_repeat(b"", bytes(1 << 20), mib, b"")
    return comp, size, size, crc


def _zip_bytes(members) -> bytes:
    buf = io.BytesIO()
    write_zip(buf, members)  # type: ignore[arg-type]
    return buf.getvalue()


def _other_sheet(xml: bytes) -> bytes:
    """The same sheet with every phone number changed: which copy would a reader use?"""
    return xml.replace(b">139", b">137")


def _big_cell(parts, sheet: str, size: int, row: int, char: str = "示") -> bytes:
    """The workbook with an inline-string cell of ``size`` bytes (UTF-8) in column B of ``row``."""
    xml = dict(parts)[sheet].decode()
    cell = f'<c r="B{row}" t="inlineStr"><is><t>{char * (size // len(char.encode()))}</t></is></c>'
    start = xml.index(f'<c r="B{row}"')
    end = xml.index("</c>", start) + 4
    xml = xml[:start] + cell + xml[end:]
    return _zip_bytes([(n, xml.encode() if n == sheet else d) for n, d in parts])


def _entity_sheet(parts, sheet: str, doctype: bytes, ref: bytes) -> list[tuple[str, bytes]]:
    """The sheet with ``doctype`` in front and every header cell's text replaced by ``ref``."""
    import re
    out = []
    for name, data in parts:
        if name == sheet:
            head, rest = data.split(b"</row>", 1)
            head = re.sub(rb"<t>[^<]*</t>", b"<t>" + ref + b"</t>", head)
            data = (b'<?xml version="1.0" encoding="UTF-8"?>' + doctype
                    + re.sub(rb"^<\?xml[^>]*\?>", b"", head) + b"</row>" + rest)
        out.append((name, data))
    return out


# ---------------------------------------------------------------- packages

def write_compressed_package(path: Path, manifest: dict, compressed: Iterable[bytes], *, plain_bytes: int,
                             signer: Signer) -> Path:
    """Like write_package, but from an already-compressed stream and with any plain_bytes
    claim: how a compromised install would ship a decompression bomb without the
    minutes of compressing it (and how it could lie about its size)."""
    suite = SUITES[signer.suite]
    key = suite.new_content_key()
    pid = manifest["package_id"]
    hasher = suite.hasher()
    body = bytearray()
    pieces: list[bytes] = []
    buffer = bytearray()

    def emit(piece: bytes, last: bool) -> None:
        ct = suite.encrypt_chunk(key, len(pieces), piece, f"{pid}|{len(pieces)}|{int(last)}".encode())
        hasher.update(ct)
        pieces.append(struct.pack(">I", len(ct)) + ct)

    for block in compressed:
        buffer += block
        while len(buffer) > CHUNK_BYTES:
            emit(bytes(buffer[:CHUNK_BYTES]), False)
            del buffer[:CHUNK_BYTES]
    emit(bytes(buffer), True)
    info = f"{pid}|{signer.source['node']}|{signer.dest['node']}".encode()
    full = dict(manifest, format="minsheng-package", format_version=1, suite=signer.suite,
                payload_sha256=hasher.hexdigest(), payload_chunks=len(pieces), plain_bytes=plain_bytes,
                sealed_key=b64(suite.seal_key(key, signer.dest_enc_public, info)))
    body = canonical(full)
    with open(path, "wb") as out:
        out.write(assemble(body, signer.sign(body), b""))
        for p in pieces:
            out.write(p)
    return path


def _zlib_zeros(gib: int) -> Iterator[bytes]:
    """A zlib stream of ``gib`` GiB of NUL bytes, about 1 MiB per GiB, made in milliseconds."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    seg = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    n = gib << 10
    yield b"\x78\xda"
    for _ in range(n):
        yield seg
    yield b"\x03\x00"                       # an empty final block
    yield struct.pack(">I", (((n << 20) % 65521) << 16) | 1)   # Adler-32 of n MiB of zeros


def _zlib_repeat(line: bytes, gib: int) -> Iterator[bytes]:
    """A zlib stream of ``line`` repeated to ``gib`` GiB (the Adler-32 is not computed: the
    reader must stop long before the end)."""
    block = line * ((1 << 20) // len(line))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    seg = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    yield b"\x78\xda"
    for _ in range((gib << 30) // len(block)):
        yield seg
    yield b"\x03\x00" + b"\0\0\0\0"


def _package_cases(folder: Path, src: Sources) -> list[Case]:
    cases: list[Case] = []
    signer = src.signer

    def add(name: str, data: bytes | None, kind: str, label: str, **kw) -> Path:
        path = folder / name
        if data is not None:
            path.write_bytes(data)
        cases.append(Case(path, kind, label, **kw))
        return path

    raw = src.package.read_bytes()
    manifest, body, sig, chunks = split_package(raw)
    mlen, slen = len(body), len(sig)
    sig_at, chunks_at = 14 + mlen, 14 + mlen + slen

    # random bytes behind the right MAGIC
    rng = _rng("pkg-random")
    for size in (0, 3, 4, 100, 4096, 65536):
        add(f"pkg-random-{size}.mstz", MAGIC + rng.randbytes(size), "pkg-random", f"pkg-random-{size}")
    junk = rng.randbytes(300)
    add("pkg-random-fitting.mstz", MAGIC + struct.pack(">I", len(junk)) + junk + b"\0\x40" + rng.randbytes(64 + 4000),
        "pkg-random", "pkg-random-fitting-lengths")
    add("pkg-random-json.mstz", assemble(b'{"format":"minsheng-package"}', rng.randbytes(64), rng.randbytes(2000)),
        "pkg-random", "pkg-random-after-json")
    add("pkg-random-nomagic.mstz", rng.randbytes(5000), "pkg-random", "pkg-random-no-magic")

    # truncated at every KiB, and at each boundary of the container
    for n in range(1024, len(raw), 1024):
        add(f"pkg-trunc-{n}.mstz", raw[:n], "pkg-truncated", f"pkg-truncated-{n // 1024}k")
    for label, n in (("empty", 0), ("magic", 8), ("mlen", 12), ("manifest", 12 + mlen - 1),
                     ("slen", 13 + mlen), ("signature", sig_at + slen // 2), ("no-chunks", chunks_at),
                     ("chunk-length", chunks_at + 3), ("last-byte", len(raw) - 1), ("last-tag", len(raw) - 9)):
        add(f"pkg-trunc-{label}.mstz", raw[:n], "pkg-truncated", f"pkg-truncated-at-{label}")

    # one flipped byte: in the header fields, the manifest, the signature and the ciphertext
    rng = _rng("pkg-flip")
    for label, pos in (("magic", 3), ("mlen-high", 8), ("mlen-low", 11), ("slen-high", 12 + mlen),
                       ("slen-low", 13 + mlen), ("chunk-len-high", chunks_at), ("chunk-len-low", chunks_at + 3)):
        add(f"pkg-flip-{label}.mstz", _flip(raw, pos, 1 << rng.randrange(8)), "pkg-flip-header",
            f"pkg-flip-{label}")
    for region, lo, hi, count in (("manifest", 12, 12 + mlen, 16), ("signature", sig_at, sig_at + slen, 12),
                                  ("ciphertext", chunks_at + 4, len(raw), 16)):
        for i, pos in enumerate(sorted(rng.sample(range(lo, hi), count))):
            add(f"pkg-flip-{region}-{i:02d}.mstz", _flip(raw, pos, rng.randrange(1, 256)),
                f"pkg-flip-{region}", f"pkg-flip-{region}-{i:02d}", note=f"byte {pos}")

    # hostile manifests, not validly signed (the original signature kept)
    def forged(name: str, new_body: bytes, label: str, **kw) -> None:
        add(name, assemble(new_body, sig, chunks), "pkg-manifest", label, **kw)

    text = body.decode()
    forged("pkg-m-dupkey.mstz", ('{"dest":{"node":"x","org":"x"},' + text[1:]).encode(), "pkg-manifest-duplicate-dest")
    forged("pkg-m-dupkey-same.mstz", (text[:-1] + ',"kind":"full"}').encode(), "pkg-manifest-duplicate-kind")
    forged("pkg-m-nested.mstz", b"[" * 120_000 + b"]" * 120_000, "pkg-manifest-nested-120k")
    forged("pkg-m-nested-field.mstz", (text[:-1] + ',"x":' + "[" * 60_000 + "]" * 60_000 + "}").encode(),
           "pkg-manifest-nested-in-field")
    forged("pkg-m-nested-obj.mstz", (text[:-1] + ',"x":' + '{"a":' * 40_000 + "1" + "}" * 40_000 + "}").encode(),
           "pkg-manifest-nested-objects")
    huge = "9" * 5000
    forged("pkg-m-hugeint.mstz", json.dumps({k: ("HUGE" if isinstance(v, int) else v) for k, v in manifest.items()})
           .replace('"HUGE"', huge).encode(), "pkg-manifest-huge-ints")
    forged("pkg-m-hugeint-version.mstz", text.replace('"format_version":1', '"format_version":1' + "0" * 4400).encode(),
           "pkg-manifest-huge-format-version")
    forged("pkg-m-bigint.mstz", text.replace('"payload_chunks":', '"payload_chunks":1' + "0" * 300).encode(),
           "pkg-manifest-10e300-chunks")
    forged("pkg-m-float.mstz", text.replace('"format_version":1', '"format_version":1e999').encode(),
           "pkg-manifest-float-overflow")
    forged("pkg-m-nan.mstz", text.replace('"format_version":1', '"format_version":NaN').encode(), "pkg-manifest-nan")
    over = (text[:-1] + ',"pad":"' + "x" * (256 << 10) + '"}').encode()
    forged("pkg-m-oversize.mstz", over, "pkg-manifest-over-size-cap")
    add("pkg-m-mlen-4g.mstz", assemble(body, sig, chunks, mlen=0xFFFFFFFF), "pkg-manifest", "pkg-manifest-length-4g")
    add("pkg-m-mlen-short.mstz", assemble(body, sig, chunks, mlen=mlen - 40), "pkg-manifest",
        "pkg-manifest-length-short")
    forged("pkg-m-array.mstz", b"[1,2,3]", "pkg-manifest-array")
    forged("pkg-m-string.mstz", b'"minsheng-package"', "pkg-manifest-string")
    forged("pkg-m-empty.mstz", b"", "pkg-manifest-empty")
    forged("pkg-m-utf8.mstz", body.replace(b'"kind"', b'"\xff\xfekind"'), "pkg-manifest-bad-utf8")
    forged("pkg-m-bom.mstz", b"\xef\xbb\xbf" + body, "pkg-manifest-bom")
    forged("pkg-m-nul.mstz", body + b"\0", "pkg-manifest-trailing-nul")
    for key, value, label in (("source", "abc", "source-string"), ("source", [1], "source-list"),
                              ("dest", "abc", "dest-string"), ("dest", [], "dest-list"),
                              ("suite", ["x"], "suite-list"), ("suite", {"a": 1}, "suite-object"),
                              ("suite", "SM2/SM3/SM4", "suite-unknown"), ("schema", "1", "schema-string"),
                              ("schema", None, "schema-null"), ("format", None, "format-null"),
                              ("package_id", None, "package-id-null")):
        changed = dict(manifest, **{key: value})
        forged(f"pkg-m-{label}.mstz", canonical(changed), f"pkg-manifest-{label}")
    for key in ("package_id", "sealed_key", "payload_sha256", "source", "dest", "schema"):
        forged(f"pkg-m-no-{key}.mstz", canonical({k: v for k, v in manifest.items() if k != key}),
               f"pkg-manifest-missing-{key}")

    # manifests validly signed by the real source (a compromised install, or a newer program)
    def resigned(name: str, changes: dict, label: str, *, drop: tuple = (), **kw) -> None:
        m = {k: v for k, v in dict(manifest, **changes).items() if k not in drop}
        b = canonical(m)
        add(name, assemble(b, signer.sign(b), chunks), "pkg-signed-manifest", label, **kw)

    from desktop_app.core.store import migrations
    resigned("pkg-s-format-next.mstz", {"format_version": FORMAT_VERSION + 1}, "pkg-signed-future-format-version",
             says="新版本")
    resigned("pkg-s-schema.mstz", {"schema": migrations.latest() + 1}, "pkg-signed-future-schema", says="新版本")
    resigned("pkg-s-schema-huge.mstz", {"schema": 10 ** 30}, "pkg-signed-schema-10e30", says="新版本")
    resigned("pkg-s-format-huge.mstz", {"format_version": 10 ** 30}, "pkg-signed-format-version-10e30")
    resigned("pkg-s-dest-string.mstz", {"dest": "本机"}, "pkg-signed-dest-string")
    resigned("pkg-s-source-string.mstz", {"source": signer.source["node"]}, "pkg-signed-source-string")
    resigned("pkg-s-pid-list.mstz", {"package_id": [manifest["package_id"]]}, "pkg-signed-package-id-list")
    resigned("pkg-s-pid-object.mstz", {"package_id": {"a": 1}}, "pkg-signed-package-id-object")
    resigned("pkg-s-plain-string.mstz", {"plain_bytes": "1000"}, "pkg-signed-plain-bytes-string")
    resigned("pkg-s-chunks-string.mstz", {"payload_chunks": "1"}, "pkg-signed-payload-chunks-string")
    resigned("pkg-s-chunks-huge.mstz", {"payload_chunks": 2 ** 70}, "pkg-signed-payload-chunks-2e70")
    resigned("pkg-s-seq-huge.mstz", {"seq_from": 2 ** 70, "seq_to": 2 ** 70}, "pkg-signed-seq-2e70")
    resigned("pkg-s-seq-reversed.mstz", {"seq_from": 9, "seq_to": 3}, "pkg-signed-seq-reversed")
    resigned("pkg-s-seq-zero.mstz", {"seq_from": 0, "seq_to": 0}, "pkg-signed-seq-zero")
    resigned("pkg-s-seq-string.mstz", {"seq_from": "2", "seq_to": "2"}, "pkg-signed-seq-string")
    resigned("pkg-s-sealed-garbage.mstz", {"sealed_key": "***"}, "pkg-signed-sealed-key-not-base64")
    resigned("pkg-s-sealed-list.mstz", {"sealed_key": ["x"]}, "pkg-signed-sealed-key-list")
    resigned("pkg-s-sealed-other.mstz", {"sealed_key": b64(_rng("sealed").randbytes(80))},
             "pkg-signed-sealed-key-random")
    resigned("pkg-s-hash.mstz", {"payload_sha256": "0" * 64}, "pkg-signed-wrong-hash", says="内容与清单不符")
    resigned("pkg-s-suite.mstz", {"suite": "SM2-SM3-SM4"}, "pkg-signed-unknown-suite")

    # forged: the real source's name, another key; another manifest's signature; no signature
    stranger = SUITES[signer.suite]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    wrong = Ed25519PrivateKey.from_private_bytes(_rng("forged").randbytes(32))
    wrong_private = wrong.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    add("pkg-forged-key.mstz", assemble(body, stranger.sign(wrong_private, body), chunks), "pkg-forged",
        "pkg-forged-wrong-key", says="签名不对")
    edited = canonical(dict(manifest, counts={"two_cancer": 1}))
    add("pkg-forged-edited.mstz", assemble(edited, sig, chunks), "pkg-forged", "pkg-forged-edited-manifest",
        says="签名不对")
    _m1, _b1, sig1, _c1 = split_package(src.imported_package.read_bytes())
    add("pkg-forged-othersig.mstz", assemble(body, sig1, chunks), "pkg-forged", "pkg-forged-other-signature",
        says="签名不对")
    add("pkg-forged-nosig.mstz", assemble(body, b"", chunks), "pkg-forged", "pkg-forged-empty-signature")
    add("pkg-forged-zerosig.mstz", assemble(body, bytes(64), chunks), "pkg-forged", "pkg-forged-zero-signature")
    add("pkg-forged-longsig.mstz", assemble(body, sig + bytes(400), chunks), "pkg-forged", "pkg-forged-long-signature")
    if "district" in src.other_nodes:
        # claims to come from the district (a known peer) but is signed by the village
        d = src.other_nodes["district"]
        m = dict(manifest, source={"node": d["node"], "org": d["org"], "level": "district"})
        b = canonical(m)
        add("pkg-forged-impersonate.mstz", assemble(b, signer.sign(b), chunks), "pkg-forged",
            "pkg-forged-impersonates-known-peer", says="签名不对")

    # well-formed packages that are not for us: another destination; an unknown source
    rng = _rng("routing")
    stranger_keys = _seeded_keys(rng)
    other_dest = {"node": rng.randbytes(8).hex(), "org": "430971123"}
    pid = seeded_uuid(rng)
    base = base_manifest(manifest, pid)
    signed_lines(folder / "pkg-route-wrong-dest.mstz", dict(base, dest=other_dest), src.lines,
                  Signer(signer.suite, signer.sign_private, signer.source, other_dest, stranger_keys[1]))
    cases.append(Case(folder / "pkg-route-wrong-dest.mstz", "pkg-routing", "pkg-routing-wrong-destination",
                      says="不是发给本机的"))
    unknown = {"node": rng.randbytes(8).hex(), "org": "430971123", "level": "town"}
    signed_lines(folder / "pkg-route-unknown-source.mstz", dict(base, package_id=seeded_uuid(rng), source=unknown),
                  src.lines, Signer(signer.suite, stranger_keys[0], unknown, signer.dest, signer.dest_enc_public))
    cases.append(Case(folder / "pkg-route-unknown-source.mstz", "pkg-routing", "pkg-routing-unknown-source",
                      says="未登记的单位"))
    # a correct package of ours whose content key is sealed to someone else
    signed_lines(folder / "pkg-route-sealed-elsewhere.mstz", dict(base, package_id=seeded_uuid(rng)), src.lines,
                  Signer(signer.suite, signer.sign_private, signer.source, signer.dest, stranger_keys[1]))
    cases.append(Case(folder / "pkg-route-sealed-elsewhere.mstz", "pkg-routing", "pkg-routing-sealed-to-another-key"))

    # a package id already imported, reused for other content by the real source
    m_imported = split_package(src.imported_package.read_bytes())[0]
    reused = dict(base, package_id=m_imported["package_id"], seq_from=m_imported["seq_from"],
                  seq_to=m_imported["seq_to"], prev=m_imported.get("prev"))
    signed_lines(folder / "pkg-reused-id.mstz", reused, src.lines, signer)
    cases.append(Case(folder / "pkg-reused-id.mstz", "pkg-reused-id", "pkg-reused-id-other-content",
                      says="同编号数据包内容不同"))
    signed_lines(folder / "pkg-reused-id-empty.mstz", reused, [], signer)
    cases.append(Case(folder / "pkg-reused-id-empty.mstz", "pkg-reused-id", "pkg-reused-id-empty-payload",
                      says="同编号数据包内容不同"))
    imported_raw = src.imported_package.read_bytes()
    # the same signed manifest (the same content_id: the package's identity), a damaged body:
    # the body no longer matches the payload hash the manifest signs
    add("pkg-reused-id-flipped.mstz", _flip(imported_raw, len(imported_raw) - 3, 0x10), "pkg-reused-id",
        "pkg-reused-id-flipped-ciphertext", says="内容与清单不符")

    # payloads a compromised source can sign: each bad line comes after 600 good rows
    rng = _rng("payload")
    good = _good_prefix(src.lines, rng, 600)
    row = json.loads(next(line for line in src.lines if b'"k":"row"' in line and b"ledger_" in line))

    def payload(name: str, bad: list[bytes], label: str, **kw) -> None:
        m = dict(base, package_id=seeded_uuid(rng))
        signed_lines(folder / name, m, good + bad, signer)
        cases.append(Case(folder / name, "pkg-payload", label, **kw))

    def row_with(**over) -> dict:
        return dict(row, u=seeded_uuid(rng), **over)

    payload("pkg-p-nested.mstz", [b'{"k":"row","t":"ledger_two_cancer","v":' + b"[" * 200_000 + b"]" * 200_000 + b"}"],
            "pkg-payload-nested-200k")
    payload("pkg-p-nested-obj.mstz", [b'{"k":"org","x":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}"],
            "pkg-payload-nested-objects")
    payload("pkg-p-hugeline.mstz", [json.dumps(row_with(v=dict(row["v"], name="示" * (3 << 20)))).encode()],
            "pkg-payload-huge-line", says="过长的一行")
    payload("pkg-p-hugeline-audit.mstz", [json.dumps({"k": "audit", "origin": "x", "id": 7, "ts": "t",
                                                     "after": "x" * (5 << 20)}).encode()],
            "pkg-payload-5mib-audit-line", says="过长的一行")
    payload("pkg-p-nan.mstz", [json.dumps(row_with(v=dict(row["v"], phone=float("nan")))).encode()],
            "pkg-payload-nan")
    payload("pkg-p-infinity.mstz", [json.dumps(row_with(v=dict(row["v"], phone=float("inf")))).encode()],
            "pkg-payload-infinity")
    payload("pkg-p-nan-key.mstz", [b'{"k":"audit","origin":"x","id":NaN}'], "pkg-payload-nan-audit-id")
    line = json.dumps(row_with(), ensure_ascii=False, separators=(",", ":"))
    payload("pkg-p-dupkey.mstz", [('{"u":"' + seeded_uuid(rng) + '",' + line[1:]).encode()], "pkg-payload-duplicate-uuid-key")
    payload("pkg-p-dupkey-v.mstz", [(line[:-1] + ',"v":{"name":"示例"}}').encode()], "pkg-payload-duplicate-values-key")
    payload("pkg-p-dupkey-inner.mstz", [line.replace('"v":{', '"v":{"phone":"13000000000",').encode()],
            "pkg-payload-duplicate-field")
    payload("pkg-p-kind.mstz", [json.dumps({"k": "exec", "sql": "DELETE FROM peers"}).encode()], "pkg-payload-unknown-kind")
    payload("pkg-p-nokind.mstz", [json.dumps({"t": "ledger_two_cancer"}).encode()], "pkg-payload-missing-kind")
    payload("pkg-p-array.mstz", [b"[1,2,3]"], "pkg-payload-array-line")
    payload("pkg-p-utf8.mstz", [b'{"k":"org","name":"\xff\xfe"}'], "pkg-payload-bad-utf8")
    payload("pkg-p-org-bad.mstz", [json.dumps({"k": "org", "code": "x" * 100, "name": "", "level": "king"}).encode()],
            "pkg-payload-org-malformed")
    payload("pkg-p-audit-bad.mstz", [json.dumps({"k": "audit", "origin": "x", "id": 1, "user": ["a"]}).encode()],
            "pkg-payload-audit-malformed")
    org = {"k": "org", "code": "430971121099", "name": "示例新村", "level": "village", "parent": "430971121"}
    payload("pkg-p-org-aliases.mstz", [json.dumps(dict(org, aliases=5)).encode()], "pkg-payload-org-aliases-int")
    payload("pkg-p-org-parent.mstz", [json.dumps(dict(org, parent=["430971121"])).encode()],
            "pkg-payload-org-parent-list")
    payload("pkg-p-audit-stamp.mstz", [json.dumps({"k": "audit", "origin": "x", "id": 5, "stamp": 2 ** 70}).encode()],
            "pkg-payload-audit-stamp-2e70")
    payload("pkg-p-audit-huge.mstz", [json.dumps({"k": "audit", "origin": "x", "id": 2 ** 70, "ts": "t"}).encode()],
            "pkg-payload-audit-id-2e70")

    # decompression bombs from a compromised source (streamed: the files stay a few MiB)
    bomb = dict(base, package_id=seeded_uuid(rng))
    write_compressed_package(folder / "pkg-bomb-zeros.mstz", bomb, _zlib_zeros(8), plain_bytes=8 << 30, signer=signer)
    cases.append(Case(folder / "pkg-bomb-zeros.mstz", "pkg-bomb", "pkg-bomb-8gib-zeros-honest-size"))
    write_compressed_package(folder / "pkg-bomb-lying.mstz", dict(bomb, package_id=seeded_uuid(rng)), _zlib_zeros(4),
                             plain_bytes=1000, signer=signer)
    cases.append(Case(folder / "pkg-bomb-lying.mstz", "pkg-bomb", "pkg-bomb-4gib-zeros-lying-size",
                      says="超过清单所写"))
    audit = b'{"k":"audit","origin":"bomb","id":1,"ts":"t"}\n'
    write_compressed_package(folder / "pkg-bomb-lines.mstz", dict(bomb, package_id=seeded_uuid(rng)),
                             _zlib_repeat(audit, 2), plain_bytes=2000, signer=signer)
    cases.append(Case(folder / "pkg-bomb-lines.mstz", "pkg-bomb", "pkg-bomb-2gib-lines-lying-size",
                      says="超过清单所写"))
    write_compressed_package(folder / "pkg-bomb-over-cap.mstz", dict(bomb, package_id=seeded_uuid(rng)),
                             _zlib_zeros(1), plain_bytes=1 << 40, signer=signer)
    cases.append(Case(folder / "pkg-bomb-over-cap.mstz", "pkg-bomb", "pkg-bomb-claims-1tib"))
    write_compressed_package(folder / "pkg-bomb-notzlib.mstz", dict(bomb, package_id=seeded_uuid(rng)),
                             [_rng("notzlib").randbytes(5000)], plain_bytes=5000, signer=signer)
    cases.append(Case(folder / "pkg-bomb-notzlib.mstz", "pkg-bomb", "pkg-bomb-not-zlib", says="无法解压"))
    return cases


def _seeded_keys(rng: random.Random) -> tuple[bytes, bytes]:
    """(Ed25519 private, X25519 public) made from the seed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    enc = X25519PrivateKey.from_private_bytes(rng.randbytes(32))
    return rng.randbytes(32), enc.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)


def base_manifest(manifest: dict, package_id: str) -> dict:
    """A manifest to hand to write_package (what it fills in itself removed)."""
    drop = {"format", "format_version", "suite", "payload_sha256", "payload_chunks", "plain_bytes", "sealed_key"}
    out = {k: v for k, v in manifest.items() if k not in drop}
    out["package_id"] = package_id
    out["seq_from"] = out["seq_to"] = manifest["seq_to"] + 1
    out["prev"] = manifest["package_id"]
    return out


def signed_lines(path: Path, manifest: dict, lines: list[bytes], signer: Signer) -> Path:
    pid = manifest["package_id"]
    write_package(path, manifest, iter(lines), sign=signer.sign, suite_name=signer.suite,
                  dest_enc_key=signer.dest_enc_public,
                  info=f"{pid}|{manifest['source']['node']}|{manifest['dest']['node']}".encode())
    return path


def _good_prefix(lines: list[bytes], rng: random.Random, clones: int) -> list[bytes]:
    """The valid payload with ``clones`` extra copies of one ledger row (new uuids), so a bad
    line after them comes when more than one batch has been written in the transaction."""
    rows = [line for line in lines if b'"k":"row"' in line and b'"t":"ledger_' in line]
    extra = []
    for _ in range(clones):
        rec = json.loads(rows[0])
        rec["u"] = seeded_uuid(rng)
        extra.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode())
    audit = [line for line in lines if line.startswith(b'{"k":"audit"')]
    rest = [line for line in lines if not line.startswith(b'{"k":"audit"')]
    return rest + extra + audit


# ---------------------------------------------------------------- the corpus

def make_corpus(folder: Path | str, sources: Sources) -> list[Case]:
    """Write every hostile file into ``folder`` and return the cases (deterministic:
    the same sources give the same files, except for the randomness inside encryption)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases = _workbook_cases(folder, sources) + _package_cases(folder, sources)
    labels = [c.label for c in cases]
    assert len(labels) == len(set(labels)), "labels must be unique"
    return cases


def breakdown(cases: list[Case]) -> dict[str, int]:
    out = {k: 0 for k in KINDS}
    for c in cases:
        out[c.kind] += 1
    return out


# ---------------------------------------------------------------- shared by the crash tests

def many_women(i: int, region: str = "430902") -> str:
    """The 身份证号 of woman ``i``: distinct up to 400,000 women."""
    birth = f"19{60 + i % 29}01{1 + (i // 29) % 28:02d}"
    return make_id(birth, 2 * ((i // (29 * 28)) % 500) + 2, region)


def screening(i: int, region: str = "430902") -> dict:
    """A complete, finished two_cancer row (field ids) of woman ``i`` with her own phone;
    distinct ID numbers up to 400,000 rows."""
    return support.screening(i, id_number=many_women(i, region), phone=f"138{i:08d}", status="已完成")


def fill_village(village, start: int, count: int, batch: int = 2000) -> None:
    led = village.ledger("two_cancer")
    for lo in range(start, start + count, batch):
        led.add_many([screening(i) for i in range(lo, min(lo + batch, start + count))], today=TODAY)


# The child process of the crash loop: imports one package into one store with the
# clock frozen (so a complete import always ends in the same bytes), and reports its stages.
CHILD = r"""
import sys
from pathlib import Path
from desktop_app.core.store import database as store_mod
from desktop_app.core.sync import incoming
FIXED = "2025-01-02T03:04:05"
for module in list(sys.modules.values()):
    if getattr(module, "__name__", "").startswith("desktop_app") and hasattr(module, "now_iso"):
        module.now_iso = lambda: FIXED
db, pkg = Path(sys.argv[1]), Path(sys.argv[2])
s = store_mod.Store.open(db)
s.clock.wall = lambda: 4070908800.0   # 2099-01-01: fixed, and after the package's stamps (never held)
real_init = incoming._Applier.__init__
def init(self, *a, **k):
    print("tx", flush=True)
    real_init(self, *a, **k)
incoming._Applier.__init__ = init
print("open", flush=True)
result = incoming.import_package(s, pkg)
print("committed", result.status, result.totals()["new"], flush=True)
s.close()
print("closed", flush=True)
"""

# The child of the workbook crash loop: plans and applies one import-excel with the clock,
# the time stamps and the new row ids frozen (a complete import always ends in the same
# bytes), and reports the same stages ("tx": the import's transaction has begun).
CHILD_WORKBOOK = r"""
import datetime as dt
import itertools
import sys
from pathlib import Path
from desktop_app.core.excel import importer
from desktop_app.core.store import database as store_mod
from desktop_app.core.store import writes
FIXED = "2025-01-02T03:04:05"
ids = itertools.count(1)
def new_uuid():
    return f"01942a3b-0000-7000-8000-{next(ids):012x}"
for module in list(sys.modules.values()):
    if getattr(module, "__name__", "").startswith("desktop_app"):
        if hasattr(module, "now_iso"):
            module.now_iso = lambda: FIXED
        if hasattr(module, "new_uuid"):
            module.new_uuid = new_uuid
db, xlsx = Path(sys.argv[1]), Path(sys.argv[2])
s = store_mod.Store.open(db)
s.clock.wall = lambda: 1735787045.0
real_init = writes.Writer.__init__
def init(self, *a, **k):
    print("tx", flush=True)
    real_init(self, *a, **k)
writes.Writer.__init__ = init
print("open", flush=True)
plan = importer.plan_import(s, xlsx, today=dt.date(2024, 12, 31))
result = importer.apply_plan(s, plan)
print("committed", result.status, result.counts.get("new"), flush=True)
s.close()
print("closed", flush=True)
"""


def write_big_workbook(path: Path, rows: int, village: str = "示例村一") -> Path:
    """A two_cancer sheet of ``rows`` valid rows (distinct ID numbers up to 400,000 rows),
    labels as in the catalog, written in openpyxl's streaming mode."""
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("两癌检查")
    ws.append(["村（社区）", "姓名", "身份证号", "联系电话", "人群类别", "检查机构", "宫颈癌检查日期",
               "宫颈初筛方法", "宫颈初筛结果", "乳腺癌检查日期", "乳腺初筛结果", "乳腺彩超BI-RADS分级", "状态"])
    for i in range(rows):
        r = screening(i, region="430903")
        ws.append([village, r["name"], r["id_number"], r["phone"], r["population"], r["institution"],
                   r["cervical_date"], r["cervical_method"], r["cervical_result"], r["breast_date"],
                   r["breast_result"], r["birads"], r["status"]])
    wb.save(path)
    return path


def child_env() -> dict:
    """The environment for a child that imports the same desktop_app as this process."""
    import desktop_app
    env = dict(os.environ)
    here = str(Path(desktop_app.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def integrity(path: Path) -> str:
    conn = raw_connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@dataclass
class CrashWorld:
    base: Path           # the store before the import (closed, one file)
    package: Path
    before: str          # logical dumps
    after: str
    timeline: dict       # seconds from the child's start to "open", "tx", "committed", "closed", "exit"
    child: str = CHILD   # the child's code: CHILD (a package) or CHILD_WORKBOOK (a workbook)


def prepare_crash(root: Path, rows: int, *, workbook: bool = False) -> CrashWorld:
    """A town store and a package of ``rows`` new rows from its village (``workbook``: a
    workbook of ``rows`` new rows of that village instead); both reference dumps."""

    from desktop_app.core import sync
    d, t, v = make_chain(root / "chain")
    if workbook:
        pkg, child = write_big_workbook(root / "示例村一_两癌.xlsx", rows), CHILD_WORKBOOK
    else:
        fill_village(v, 0, rows)
        pkg, child = sync.export_package(v, root / "usb").path, CHILD
    for s in (d, t, v):
        s.close()
    base = root / "base.sqlite3"
    copy_store(root / "chain" / "t.sqlite3", base)
    before = logical_dump(base)
    timelines = []
    dumps = set()
    for i in range(2):                       # twice: the frozen clock makes "after" reproducible
        db = root / f"reference{i}.sqlite3"
        copy_store(base, db)
        timeline = run_child(db, pkg, child=child)
        assert "committed" in timeline, f"the reference import did not finish: {timeline}"
        dumps.add(logical_dump(db))
        timelines.append(timeline)
    assert len(dumps) == 1, "a complete import must always end in the same state"
    after = dumps.pop()
    assert after != before
    timeline = {k: min(t[k] for t in timelines) for k in timelines[0]}
    return CrashWorld(base, pkg, before, after, timeline, child)


def run_child(db: Path, pkg: Path, kill_at: float | None = None, *, child: str = CHILD,
              after_stage: str | None = None) -> dict:
    """Run the child; SIGKILL it ``kill_at`` seconds after the start (None: let it finish),
    or after it reported ``after_stage`` (e.g. "tx": that many seconds into the transaction).
    Returns {stage: seconds} for the stages it reported, plus "killed" when it was killed
    or "exit" when it ended by itself."""
    import signal
    import subprocess
    import sys
    import threading
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", child, str(db), str(pkg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=child_env())
    stages: dict = {}
    reached = threading.Event()

    def read():
        for line in proc.stdout:
            stage = line.split()[0].decode()
            stages.setdefault(stage, time.perf_counter() - start)
            if stage == after_stage:
                reached.set()
        reached.set()                        # the child ended: nothing more to wait for
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if after_stage is not None:
        reached.wait(timeout=300)
    if kill_at is not None:
        try:
            proc.wait(timeout=kill_at)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            stages["killed"] = time.perf_counter() - start
    proc.wait(timeout=300)
    if "killed" not in stages:
        stages["exit"] = time.perf_counter() - start
    reader.join(timeout=10)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if "killed" not in stages and proc.returncode != 0:
        # not a finding about the store: the child could not do its work at all
        raise RuntimeError(f"the import child failed ({proc.returncode}):\n{err}")
    return stages


def crash_once(world: CrashWorld, workdir: Path, kill_at: float,
               after_stage: str | None = None) -> tuple[str, dict]:
    """Copy the store, start the import, kill it at ``kill_at``; check the store.

    Returns ("before" | "rolled-back" | "after" | "finished", stages) — "before": killed
    before the import's transaction began; "rolled-back": killed inside it, nothing kept;
    "after": killed after the commit; "finished": the child ended before the kill. Raises
    AssertionError for a damaged store or a state that is neither before nor after."""

    from desktop_app.core.store.database import Store
    db = workdir / "crash.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    copy_store(world.base, db)
    stages = run_child(db, world.package, kill_at, child=world.child, after_stage=after_stage)
    check = integrity(db)
    assert check == "ok", f"integrity_check after a kill at {kill_at:.3f} s: {check}"
    Store.open(db).close()                   # the app opens it again (and recovers the WAL)
    dump = logical_dump(db)
    if dump == world.after:
        return ("after" if "killed" in stages else "finished"), stages
    assert dump == world.before, (f"killed at {kill_at:.3f} s (stages {stages}): the store is neither "
                                  "as before nor as after the import")
    return ("rolled-back" if "tx" in stages else "before"), stages


def pick_kill_time(rng: random.Random, timeline: dict) -> float:
    """A seeded kill moment: mostly anywhere from interpreter start-up to the end of the
    child, and one time in four close to the commit (the riskiest moment, and the only
    window for kills that find the import complete)."""
    end = timeline.get("exit", timeline["closed"] + 0.02)
    if rng.random() < 0.25:
        return rng.uniform(timeline["committed"] - 0.1, end)
    return rng.uniform(0.5 * timeline["open"], end)
