"""Evidence attachments (佐证材料): photos and scans stored by content beside the store.

A file is checked by its content (JPEG, PNG or PDF, whatever its name says), its
size and, for an image, its pixel count (a decompression bomb is refused before
anything decodes it), then stored once, encrypted, in
``<store folder>/attachments/<store name>/<n[:2]>/<n>``, where ``n`` is a keyed hash
(HMAC) of the file's SHA-256, so neither content nor name can be guessed from the
folder. The attachment key is random and kept in the store's settings (inside the
encrypted database); each file is sealed in 1 MiB chunks with AES-256-GCM under a key
of its own (streamed: memory stays bounded), numbered so that chunks cannot be
reordered, dropped or cut off. A file is written beside and renamed into place, so it
is either complete or absent; the same content added twice is stored once. Reading
decrypts and re-hashes it, so a damaged file is never shown as evidence. A row's
attachment field holds references::

    [{"sha256": "…", "name": "改造前.jpg", "size": 2048000, "type": "jpeg"}]

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store.database import Store
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.create(folder / "t.sqlite3", level="town", org="河坝镇", operator="示例")
    >>> png = folder / "改造前.png"
    >>> _ = png.write_bytes(tiny_png())
    >>> ref = Attachments(store).put(png)
    >>> ref["type"], ref["name"], Attachments(store).read(ref["sha256"]) == png.read_bytes()
    ('png', '改造前.png', True)
    >>> Attachments(store).put(png) == ref      # stored once
    True
    >>> stored = Attachments(store).path_for(ref["sha256"])
    >>> stored.name != ref["sha256"], tiny_png() in stored.read_bytes()
    (True, False)
    >>> store.close()
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..catalog.attachment_refs import KINDS, MAX_NAME, is_sha256, parse_refs
from ..errors import StoreError
from . import cipher
from .versions import now_iso

if TYPE_CHECKING:
    from .database import Store

DEFAULT_MAX_MB = 20
MAX_PIXELS = 60_000_000          # 60 megapixels: more than any phone camera; bombs are bigger
_BLOCK = 1 << 20
MAGIC = b"MSA1"                  # an encrypted attachment file starts with this
_SALT = 16
_TAG = 16


class AttachmentError(StoreError):
    """A file that cannot be stored or used as an attachment (exit 1); nothing was stored."""

    def __init__(self, message: str):
        super().__init__(message, 1)


@dataclass(frozen=True)
class Inspected:
    kind: str
    size: int
    width: int | None = None
    height: int | None = None
    data: bytes = field(default=b"", repr=False)   # the bytes checked (and then stored)


# ---------------------------------------------------------------- checking content

def sniff(head: bytes) -> str | None:
    """The kind by the first bytes (never by the file name)."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:5] == b"%PDF-":
        return "pdf"
    return None


def inspect(path: Path | str, *, kinds=tuple(KINDS), max_mb: float | None = None) -> Inspected:
    """Check a file before it is stored: kind by content, size, structure, pixel count.

    :raises AttachmentError: with a message naming the file and what to do.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise AttachmentError(f"找不到文件 {path}")
    size = path.stat().st_size
    limit = (max_mb or DEFAULT_MAX_MB) * 1024 * 1024
    if size == 0:
        raise AttachmentError(f"{name} 是空文件")
    if size > limit:
        raise AttachmentError(f"{name} 有 {size / 1048576:.1f} MB，超过上限 {limit / 1048576:g} MB；"
                              "请压缩图片或分页扫描后再添加")
    with open(path, "rb") as f:
        kind = sniff(f.read(16))
    allowed = "、".join(KINDS[k] for k in kinds)
    if kind is None:
        raise AttachmentError(f"{name} 不是图片或 PDF（按文件内容判断，与扩展名无关）；只能添加{allowed}")
    if kind not in kinds:
        raise AttachmentError(f"{name} 是{KINDS[kind]}，这一栏只能添加{allowed}")
    data = path.read_bytes()
    size = len(data)
    if size > limit:  # grew since it was measured
        raise AttachmentError(f"{name} 在检查时被改动了，请重新添加")
    return check_content(data, name, kind)


def check_content(data: bytes, name: str, kind: str) -> Inspected:
    """The structure and pixel checks of :func:`inspect` for bytes whose kind is ``kind``
    (a file received in a package is checked like one picked here: its first bytes must
    say ``kind`` — no SVG, no HTML posing as a photo).

    :raises AttachmentError: naming ``name`` and what is wrong.
    """
    if sniff(data[:16]) != kind:
        raise AttachmentError(f"{name} 的内容不是它声称的{KINDS.get(kind, kind)}（按文件内容判断），已拒收")
    size = len(data)
    check = {"jpeg": _check_jpeg, "png": _check_png, "pdf": _check_pdf}[kind]
    width, height = check(data, name)
    if width is not None and width * height > MAX_PIXELS:
        raise AttachmentError(f"{name} 的尺寸为 {width}×{height}，像素过多（可能是恶意构造的图片），已拒绝")
    return Inspected(kind, size, width, height, data)


def _check_jpeg(data: bytes, name: str) -> tuple[int, int]:
    """Walk the markers up to the image data; the file must end with EOI."""
    damaged = AttachmentError(f"{name} 不是完整的 JPEG 图片（文件损坏或不完整），请重新拍摄或导出")
    i, size = 2, None
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise damaged
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if length < 2 or i + 2 + length > len(data):
            raise damaged
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if length < 7:
                raise damaged
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: the entropy-coded data follows, then EOI
            # (phones may append data after EOI, so EOI need not be the last bytes)
            if size is None or 0 in size or data.find(b"\xff\xd9", i + 2 + length) < 0:
                raise damaged
            return size
        i += 2 + length
    raise damaged


def _check_png(data: bytes, name: str) -> tuple[int, int]:
    """Every chunk's CRC, the header, and the image data inflated with a bound."""
    damaged = AttachmentError(f"{name} 不是完整的 PNG 图片（文件损坏或不完整），请重新导出")
    i, width, height, idat = 8, None, None, zlib.decompressobj()
    produced, expected, ended = 0, None, False
    while i + 12 <= len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        ctype = data[i + 4:i + 8]
        body = data[i + 8:i + 8 + length]
        if len(body) < length or i + 12 + length > len(data):
            raise damaged
        (crc,) = struct.unpack(">I", data[i + 8 + length:i + 12 + length])
        if zlib.crc32(ctype + body) != crc:
            raise damaged
        if ctype == b"IHDR":
            if length != 13:
                raise damaged
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if not width or not height:
                raise damaged
            if width * height > MAX_PIXELS:
                return width, height  # refused by the caller before inflating anything
            channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color)
            if channels is None:
                raise damaged
            expected = _png_bytes(width, height, channels * depth, interlace)
        elif ctype == b"IDAT":
            if expected is None:
                raise damaged
            try:
                produced += len(idat.decompress(body, expected + 1 - produced))
            except zlib.error:
                raise damaged from None
            if produced > expected or idat.unconsumed_tail:
                raise AttachmentError(f"{name} 解压后的数据远大于图片尺寸（可能是恶意构造的图片），已拒绝")
        elif ctype == b"IEND":
            ended = True
            break
        i += 12 + length
    if not ended or width is None or produced < (expected or 0) * 0.5:
        raise damaged
    return width, height


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_bytes(width: int, height: int, bits: int, interlace: int) -> int:
    """Inflated size of the image data: one filter byte per row of each pass."""
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        w, h = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if w and h:
            total += h * (1 + (w * bits + 7) // 8)
    return total


def _check_pdf(data: bytes, name: str) -> tuple[None, None]:
    tail = data[-2048:]
    if b"%%EOF" not in tail or b"startxref" not in tail:
        raise AttachmentError(f"{name} 不是完整的 PDF 文件（文件损坏或不完整），请重新扫描或导出")
    return None, None


def _clean_name(name: str) -> str:
    name = re.sub(r"[/\\\x00-\x1f]", "_", name).strip() or "附件"
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) < 10 else name[:MAX_NAME]
    return name


# ---------------------------------------------------------------- the file store

def _file_cipher(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=SHA256(), length=32, salt=salt,
                       info=b"minsheng attachment file").derive(key))


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class _Sealer:
    """Writes an encrypted attachment file as the plaintext arrives (in any block sizes)."""

    def __init__(self, out, key: bytes):
        salt = os.urandom(_SALT)
        out.write(MAGIC + salt)
        self.out, self.aead, self.buf, self.index = out, _file_cipher(key, salt), bytearray(), 0

    def _emit(self, piece: bytes, last: bool) -> None:
        self.out.write(self.aead.encrypt(_nonce(self.index, last), piece, MAGIC))
        self.index += 1

    def write(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) > _BLOCK:   # the last chunk is written by close(), marked last
            piece = bytes(self.buf[:_BLOCK])
            del self.buf[:_BLOCK]
            self._emit(piece, False)

    def close(self) -> None:
        self._emit(bytes(self.buf), True)
        self.buf = bytearray()


def _unsealed(path: Path, key: bytes, damaged: AttachmentError):
    """The plaintext of an encrypted attachment file, chunk by chunk (AttachmentError when
    any chunk was changed, moved or cut off)."""
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + _SALT)
        if head[:len(MAGIC)] != MAGIC or len(head) != len(MAGIC) + _SALT:
            raise damaged
        aead = _file_cipher(key, head[len(MAGIC):])
        index, current = 0, f.read(_BLOCK + _TAG)
        while True:
            following = f.read(_BLOCK + _TAG)
            last = not following
            try:
                yield aead.decrypt(_nonce(index, last), current, MAGIC)
            except InvalidTag:
                raise damaged from None
            if last:
                return
            index, current = index + 1, following


class Attachments:
    """The attachment files of one store (and its ``attachments`` table)."""

    def __init__(self, store: Store):
        self.store = store
        self.root = store.path.parent / "attachments" / store.path.stem

    def _key(self, create: bool = False) -> bytes | None:
        """The store's attachment key (made with the first file)."""
        text = self.store.setting("attachment_key")
        if text is None and create:
            text = os.urandom(32).hex()
            with self.store.transaction():
                self.store.conn.execute("INSERT OR IGNORE INTO settings (key, value) "
                                        "VALUES ('attachment_key', ?)", (text,))
            text = self.store.setting("attachment_key")
        return bytes.fromhex(text) if text else None

    def _name(self, sha: str, key: bytes) -> str:
        return hmac.new(key, sha.encode("ascii"), "sha256").hexdigest()

    def path_for(self, sha: str, *, create_key: bool = False) -> Path:
        """Where the encrypted file of content ``sha`` is kept (its name is keyed)."""
        if not is_sha256(sha):
            raise AttachmentError("附件的校验值不对")
        key = self._key(create_key)
        if key is None:
            return self.root / "-" / "-"   # no file was ever stored here
        name = self._name(sha, key)
        return self.root / name[:2] / name

    def _plain_path(self, sha: str) -> Path:
        """Where a store made before encryption kept the file, unencrypted."""
        return self.root / sha[:2] / sha

    def has(self, sha: str) -> bool:
        if self.path_for(sha).is_file():
            return True
        return self._encrypt_plain(sha)

    def missing(self, shas) -> list[str]:
        return sorted({s for s in shas if not self.has(s)})

    def put(self, src: Path | str, *, name: str | None = None, kinds=tuple(KINDS),
            max_mb: float | None = None) -> dict:
        """Check ``src`` and store it (once); returns the reference for a row's field."""
        src = Path(src)
        info = inspect(src, kinds=kinds, max_mb=max_mb)
        sha = self._write(iter([info.data]), expect=None)   # the very bytes that were checked
        self._record(sha, info.kind, info.size)
        return {"sha256": sha, "name": _clean_name(name or src.name), "size": info.size,
                "type": info.kind}

    def add(self, path: Path | str, *, kinds=tuple(KINDS), max_mb: float | None = None,
            prepare=None) -> dict:
        """Store a file the user picked: ``prepare(path, kinds=…, max_mb=…) -> path`` (the
        Qt decode check and downscale, :func:`desktop_app.imaging.prepare`) runs first; a
        scaled-down copy it returns is stored under the original's name and then removed."""
        path = Path(path)
        ready = prepare(path, kinds=kinds, max_mb=max_mb) if prepare else path
        try:
            name = path.name if ready == path else path.stem + ready.suffix
            return self.put(ready, name=name, kinds=kinds, max_mb=max_mb)
        finally:
            if ready != path:
                ready.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    ready.parent.rmdir()

    def put_stream(self, blocks, sha: str, size: int, kind: str) -> str | None:
        """Store a file that arrived in a package (at most a package's file cap, held in
        memory to be checked); returns why it was refused (nothing stored), or None: its
        bytes do not hash to ``sha`` or are not ``size`` long, or its content is not the
        ``kind`` it claims or fails the checks a local file gets (:func:`check_content`)."""
        if self.has(sha):
            for _ in blocks:  # consume: the package stream moves on
                pass
            return None
        data = bytearray()
        for block in blocks:   # read to the end (the package stream moves on), keep at most size + 1
            if len(data) <= size:
                data += block
        data = bytes(data)
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
            return "与校验值不符（传递中损坏或被改动）"
        try:
            check_content(data, f"附件 {sha[:8]}", kind)
        except AttachmentError as exc:
            return str(exc)
        self._write(iter([data]), expect=(sha, size))
        self._record(sha, kind, size)
        return None

    def _write(self, blocks, expect) -> str:
        key = self._key(create=True)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".incoming-{os.getpid()}-{id(blocks)}"
        digest, total = hashlib.sha256(), 0
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
            with os.fdopen(fd, "wb") as out:
                sealer = _Sealer(out, key)
                for block in blocks:
                    digest.update(block)
                    total += len(block)
                    sealer.write(block)
                sealer.close()
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            if expect is not None and (sha, total) != expect:
                raise AttachmentError("附件内容与校验值不符")
            final = self.path_for(sha)
            if not final.exists():
                final.parent.mkdir(exist_ok=True)
                os.replace(tmp, final)
            return sha
        finally:
            tmp.unlink(missing_ok=True)

    def _record(self, sha: str, kind: str, size: int) -> None:
        with self.store.transaction():
            self.store.conn.execute("INSERT OR IGNORE INTO attachments (sha256, kind, size, added) "
                                    "VALUES (?, ?, ?, ?)", (sha, kind, size, now_iso()))

    def read(self, sha: str) -> bytes:
        """The file's bytes, decrypted and verified against its hash.

        :raises AttachmentError: missing (not received yet) or damaged.
        """
        if not self.has(sha):
            raise AttachmentError("这个附件还没有收到（发送单位的下一个数据包会带来），或已被删除")
        damaged = AttachmentError("这个附件的文件已损坏（与校验值不符）；请让录入单位重新发送")
        data = b"".join(_unsealed(self.path_for(sha), self._key(), damaged))
        if hashlib.sha256(data).hexdigest() != sha:
            raise damaged
        return data

    def blocks(self, sha: str):
        """The stored file in plaintext blocks, verified as it is read (for packages)."""
        damaged = AttachmentError(f"附件 {sha[:12]}… 的文件已损坏（与校验值不符）")
        self.has(sha)
        digest = hashlib.sha256()
        for block in _unsealed(self.path_for(sha), self._key(), damaged):
            digest.update(block)
            yield block
        if digest.hexdigest() != sha:
            raise damaged

    def _encrypt_plain(self, sha: str) -> bool:
        """A file a store made before encryption kept in plaintext: encrypted now (True),
        or there is none (False)."""
        plain = self._plain_path(sha)
        if not plain.is_file():
            return False
        with open(plain, "rb") as f:
            if f.read(len(MAGIC)) == MAGIC:
                return False
        try:
            self._write(_file_blocks(plain), expect=(sha, plain.stat().st_size))
        except (OSError, AttachmentError, cipher.Error):
            return False   # damaged (left as it is), or a read-only handle: the writer does it
        plain.unlink(missing_ok=True)
        return self.path_for(sha).is_file()

    def encrypt_plain_files(self) -> int:
        """Encrypt every plaintext file left by a store made before encryption; a file whose
        content does not match its name is left as it is. Returns how many were encrypted."""
        if not self.root.is_dir():
            return 0
        done = 0
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for path in sorted(folder.iterdir()):
                if is_sha256(path.name) and path.name[:2] == folder.name and \
                        _digest(path) == path.name and self._encrypt_plain(path.name):
                    done += 1
        return done


def _file_blocks(path: Path):
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            yield block


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    for block in _file_blocks(path):
        digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- settings

PHOTO_MAX_EDGE = 2560   # pixels: sharp on any screen and print, a tenth of a phone's bytes


def photo_max_edge(store: Store) -> int:
    """Long edge (pixels) photos are scaled down to when added; 0 keeps originals."""
    try:
        return max(0, int(store.setting("photo_max_edge", str(PHOTO_MAX_EDGE))))
    except ValueError:
        return PHOTO_MAX_EDGE


def set_photo_max_edge(store: Store, pixels: int) -> None:
    store.require("admin")
    if not (int(pixels) == 0 or 800 <= int(pixels) <= 10_000):
        raise StoreError("照片长边上限应在 800–10000 像素之间（0 表示保留原图）", 1)
    store.set_setting("photo_max_edge", str(int(pixels)))


# ---------------------------------------------------------------- on a row

def _attachment_field(store: Store, ledger_id: str, field_id: str):
    led = store.ledger(ledger_id).ledger
    if not led.has_field(field_id) or led.field(field_id).type != "attachment":
        names_ = "、".join(f.id for f in led.fields if f.type == "attachment") or "没有"
        raise StoreError(f"{led.label}没有附件字段“{field_id}”（附件字段：{names_}）", 1)
    return led.field(field_id)


def attach(store: Store, ledger_id: str, uid: str, field_id: str, paths, *, prepare=None,
           source: str = "cli:attach") -> list[dict]:
    """Store ``paths`` and add them to the row's attachment field (one audited change).

    ``prepare`` as in :meth:`Attachments.add`. A file that is refused refuses the whole
    call; files already stored stay (they are only content, referenced by nothing).

    :raises AttachmentError: a file is wrong (exit 1); :raises StoreError: no such row/field.
    """
    store.require("edit")
    field = _attachment_field(store, ledger_id, field_id)
    records = store.ledger(ledger_id)
    row = records.get(uid)
    if row is None or row["_deleted"]:
        raise StoreError(f"{records.ledger.label}中没有这条记录（{uid}）", 1)
    refs = parse_refs(row.get(field_id))
    paths = list(paths)
    if field.max_files and len(refs) + len(paths) > field.max_files:
        raise AttachmentError(f"{field.label}最多 {field.max_files} 个文件，已有 {len(refs)} 个，"
                              f"这次加 {len(paths)} 个；请先移除不需要的")
    box = Attachments(store)
    for path in paths:
        ref = box.add(path, kinds=field.kinds, max_mb=field.max_mb, prepare=prepare)
        if all(r["sha256"] != ref["sha256"] for r in refs):
            refs.append(ref)
    records.update(uid, {field_id: refs}, source=source)
    return refs


def detach(store: Store, ledger_id: str, uid: str, field_id: str, sha: str,
           source: str = "cli:attach") -> list[dict]:
    """Remove one file from the row's field (an audited change; the file itself stays)."""
    store.require("edit")
    _attachment_field(store, ledger_id, field_id)
    records = store.ledger(ledger_id)
    row = records.get(uid)
    if row is None or row["_deleted"]:
        raise StoreError(f"{records.ledger.label}中没有这条记录（{uid}）", 1)
    refs = parse_refs(row.get(field_id))
    kept = [r for r in refs if r["sha256"] != sha]
    if len(kept) == len(refs):
        raise StoreError("这条记录没有这个附件", 1)
    records.update(uid, {field_id: kept}, source=source)
    return kept


def png_bytes(width: int, height: int, pixels: bytes) -> bytes:
    """A PNG of 8-bit RGB ``pixels`` (row after row), e.g. for demo photos and tests."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    stride = width * 3
    raw = b"".join(b"\x00" + pixels[y * stride:(y + 1) * stride] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def tiny_png() -> bytes:
    """A valid 1×1 PNG (for examples and tests)."""
    return png_bytes(1, 1, b"\xff\x00\x00")
