"""The package file: signed manifest, encrypted and compressed NDJSON payload.

Layout (no archive format, so no member names or paths to trust)::

    MAGIC (8 bytes) | manifest length (u32) | manifest JSON | signature length (u16) | signature
    | chunks: length (u32) + AES-256-GCM ciphertext, the last one marked in its AAD

The manifest (no personal data) names format and schema versions, package id,
kind, source and destination, sequence range, previous package id, the payload
hash (over the ciphertext), the crypto suite and the content key sealed to the
destination. Row counts per ledger are not in it (the receiver counts the
encrypted records; an older package's manifest counts are accepted, not read). The signature covers the manifest bytes and so
the ciphertext. Reading checks, in this order and before writing anything:
size caps, the container, versions, the type and range of every manifest value
(:func:`check_manifest`), the source is known, we are the destination,
the signature, the hash; only then is the payload decrypted, decompressed (with
an output bound) and parsed line by line (line length, JSON depth and number
limits, no duplicate keys).
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import UserError, describe
from ..store.crypto import CHUNK_BYTES, SUITES, CryptoError, b64, unb64

MAGIC = b"MSTZPKG1"
FORMAT = "minsheng-package"
FORMAT_VERSION = 2          # 2: attached files may follow the payload (1 is still read)
MAX_PACKAGE_BYTES = 4 << 30
MAX_MANIFEST_BYTES = 256 << 10
MAX_CHUNK_BYTES = CHUNK_BYTES + 1024
MAX_PLAIN_BYTES = 16 << 30
MAX_LINE_BYTES = 4 << 20
MAX_LINES = 20_000_000      # records in one payload (a town's full package holds far fewer)
HEADER_RESERVE = 16 << 10   # magic, manifest (blank-padded) and signature; then the chunks
SUFFIX = ".mstz"


class PackageError(UserError):
    """The file cannot be used (CLI exit 2); the message says why and what to do."""


def canonical(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"重复的键 {k!r}")
            seen.add(k)
    return out


def _no_constants(name):
    raise ValueError(f"不允许的数值 {name}")


# one decoder for every line (json.loads with a hook would build one per call)
_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def _json_text(data: bytes) -> str:
    """``data`` read as :func:`json.loads` reads bytes (a UTF-8 BOM, UTF-16 or UTF-32 as
    a profile saved by a text editor may be), UTF-8 without a BOM at once."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or text[:1] == "\ufeff":
        return data.decode(json.detect_encoding(data), "surrogatepass")
    return text


def strict_json(data: bytes | str) -> object:
    """JSON with no duplicate keys, NaN or runaway nesting/numbers (raises ValueError,
    its message in Chinese: it goes into the messages that refuse a file)::

        >>> strict_json(b'{"a":1,"b":[2]}')
        {'a': 1, 'b': [2]}
        >>> strict_json(b'{"a":1,"b":{"a":2,"a":3}}')
        Traceback (most recent call last):
        ...
        ValueError: 重复的键 'a'
    """
    try:
        return _STRICT.decode(data if data.__class__ is str else _json_text(data))
    except RecursionError:
        raise ValueError("嵌套层数过多") from None
    except UnicodeDecodeError:
        raise ValueError("含有无效的字符编码（不是 UTF-8）") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）") from None
    except ValueError as exc:
        if any("\u4e00" <= c <= "\u9fff" for c in str(exc)):   # ours (a duplicate key, NaN)
            raise
        raise ValueError("含有位数过多的数字") from None          # Python's limit on int digits


# ---------------------------------------------------------------- writing

def write_package(path: Path, manifest: dict, lines: Iterator[bytes], *, sign: Callable[[bytes], bytes],
                  suite_name: str, dest_enc_key: bytes, info: bytes,
                  files: Callable[[], list[Iterator[bytes]]] | None = None) -> dict:
    """Write the package; ``manifest`` is completed with payload hash, sizes, suite and sealed key.

    ``files`` (called once ``lines`` are exhausted: the last lines name the files) gives
    each attached file's bytes, in the order the lines name them; they follow the
    payload as their own encrypted chunks, not compressed (photos do not compress).

    The package is written beside its final name (the chunks after a header space
    reserved for the signed manifest), flushed to the disk (fsync) and renamed into
    place at the end, so a failure never leaves a half-written package and the caller
    records it as sent only once it is really on the disk (USB stick).

    :raises PackageError: (exit 2) the disk is full, read-only or gone; nothing is left behind.
    """
    suite = SUITES[suite_name]
    key = suite.new_content_key()
    package_id = manifest["package_id"]
    hasher = suite.hasher()
    tmp = path.with_name(path.name + ".tmp")
    plain = chunks = file_chunks = 0
    placed = False
    comp = zlib.compressobj(6)
    try:
        with open(tmp, "wb") as out:
            out.seek(HEADER_RESERVE)

            def emit(piece: bytes, aad: bytes) -> None:
                ct = suite.encrypt_chunk(key, chunks + file_chunks, piece, aad)
                out.write(struct.pack(">I", len(ct)))
                out.write(ct)
                hasher.update(ct)

            buffer = bytearray()

            def flush(final: bool) -> None:
                nonlocal chunks
                while len(buffer) > CHUNK_BYTES or (not final and len(buffer) == CHUNK_BYTES):
                    emit(bytes(buffer[:CHUNK_BYTES]), f"{package_id}|{chunks}|0".encode())
                    chunks += 1
                    del buffer[:CHUNK_BYTES]
                if final:  # the last chunk (possibly empty) is marked, so truncation is caught
                    emit(bytes(buffer), f"{package_id}|{chunks}|1".encode())
                    chunks += 1
                    buffer.clear()
            for line in lines:
                plain += len(line) + 1
                buffer += comp.compress(line + b"\n")
                flush(False)
            buffer += comp.flush()
            flush(True)
            for blocks in (files() if files else []):
                for piece in _rechunk(blocks):
                    emit(piece, f"{package_id}|f|{chunks + file_chunks}".encode())
                    file_chunks += 1
            manifest = dict(manifest, format=FORMAT, format_version=2 if file_chunks else 1,
                            suite=suite_name, payload_sha256=hasher.hexdigest(),
                            payload_chunks=chunks, plain_bytes=plain,
                            sealed_key=b64(suite.seal_key(key, dest_enc_key, info)))
            if file_chunks:
                manifest["file_chunks"] = file_chunks
            # the header goes into the space reserved at the start: the manifest is padded
            # with blanks (JSON allows them; the signature covers them) so the chunks begin
            # exactly at HEADER_RESERVE and nothing is copied
            sig_len = len(sign(b"probe"))
            mlen = HEADER_RESERVE - len(MAGIC) - 4 - 2 - sig_len
            body = canonical(manifest)
            if len(body) > mlen:
                raise PackageError("数据包清单过长，无法写入")  # never reached by real counts
            body += b" " * (mlen - len(body))
            signature = sign(body)
            if len(signature) != sig_len:
                raise PackageError("签名长度异常，无法写入数据包")
            out.seek(0)
            out.write(MAGIC + struct.pack(">I", mlen) + body + struct.pack(">H", sig_len) + signature)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        placed = True
        _sync_folder(path.parent)
    except OSError as exc:
        if placed:      # renamed but the rename may not be on the disk: not a package to count
            _remove(path)
        raise PackageError(f"数据包 {path.name} 没有写成，也没有记为已发送："
                           + describe(OSError(exc.errno, exc.strerror, str(path.parent)))) from None
    finally:
        _remove(tmp)
    return manifest


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:     # the USB stick is gone: nothing more can be done about it
        pass


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rechunk(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """A file's bytes in pieces of exactly CHUNK_BYTES (the last one shorter)."""
    buffer = bytearray()
    for block in blocks:
        buffer += block
        while len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:CHUNK_BYTES])
            del buffer[:CHUNK_BYTES]
    if buffer:
        yield bytes(buffer)


# ---------------------------------------------------------------- reading

@dataclass
class OpenedPackage:
    path: Path
    manifest: dict
    manifest_bytes: bytes
    signature: bytes
    offset: int          # where the chunks start

    @property
    def content_id(self) -> str:
        """What identifies the content (the signed payload hash): a package id seen
        again with another content_id is a forgery or a reused id."""
        return str(self.manifest.get("payload_sha256"))

    def file_sha256(self) -> str:
        """The hash of the whole file (how earlier versions identified a package)."""
        import hashlib
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    @property
    def file_chunks(self) -> int:
        return self.manifest.get("file_chunks", 0)

    def verify(self, sign_public: bytes, verify: Callable[[bytes, bytes, bytes], bool]) -> None:
        if not verify(sign_public, self.signature, self.manifest_bytes):
            raise PackageError(f"{self.path.name} 的签名不对：不是由发送单位的密钥签发的，或清单被改动过。"
                               "请勿使用，向发送单位核实")

    def chunks(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """(index, ciphertext) of every chunk from ``start`` on (earlier ones skipped unread)."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            index = 0
            while True:
                head = f.read(4)
                if not head:
                    return
                if len(head) < 4:
                    raise PackageError(f"{self.path.name} 不完整（在第 {index + 1} 块处截断），请重新拷贝")
                (size,) = struct.unpack(">I", head)
                if size > MAX_CHUNK_BYTES:
                    raise PackageError(f"{self.path.name} 的第 {index + 1} 块大小异常，文件已损坏")
                if index < start:
                    f.seek(size, 1)
                    index += 1
                    continue
                data = f.read(size)
                if len(data) < size:
                    raise PackageError(f"{self.path.name} 不完整（在第 {index + 1} 块处截断），请重新拷贝")
                yield index, data
                index += 1

    def check_hash(self, hasher) -> None:
        count = 0
        for _, data in self.chunks():
            hasher.update(data)
            count += 1
        if hasher.hexdigest() != self.manifest.get("payload_sha256") or \
                count != self.manifest.get("payload_chunks") + self.file_chunks:
            raise PackageError(f"{self.path.name} 的内容与清单不符（文件损坏或被篡改），请让发送单位重新发送")

    def lines(self, content_key: bytes) -> Iterator[bytes]:
        """Decrypt, decompress (bounded) and split the payload into lines."""
        suite = SUITES[self.manifest["suite"]]
        pid = self.manifest["package_id"]
        total = self.manifest["payload_chunks"]
        decomp = zlib.decompressobj()
        pending = b""
        produced = count = 0
        for index, data in self.chunks():
            if index >= total:  # the attached files follow: read by files()
                break
            last = index == total - 1
            try:
                plain = suite.decrypt_chunk(content_key, index, data, f"{pid}|{index}|{int(last)}".encode())
            except CryptoError as exc:
                raise PackageError(f"{self.path.name}：{exc}") from None
            chunk = plain
            while chunk:
                try:
                    out = decomp.decompress(chunk, MAX_LINE_BYTES)
                except zlib.error:
                    raise PackageError(f"{self.path.name} 的内容无法解压，文件已损坏") from None
                chunk = decomp.unconsumed_tail
                produced += len(out)
                if produced > MAX_PLAIN_BYTES or produced > self.manifest.get("plain_bytes", 0) + 1:
                    raise PackageError(f"{self.path.name} 解压后的大小超过清单所写，已拒绝")
                pending += out
                *complete, pending = pending.split(b"\n")
                # every line, not only the unfinished one: a long line may end within one step
                if len(pending) > MAX_LINE_BYTES or any(len(line) > MAX_LINE_BYTES for line in complete):
                    raise PackageError(f"{self.path.name} 含有过长的一行，已拒绝")
                count += len(complete)
                if count > MAX_LINES:
                    raise PackageError(f"{self.path.name} 含有超过 {MAX_LINES:,} 条记录，超出一个数据包的上限，"
                                       "已拒绝；请让发送单位分次发送")
                yield from complete
        if pending or not decomp.eof:
            raise PackageError(f"{self.path.name} 的内容不完整，已拒绝")

    def files(self, content_key: bytes, records: list[dict]) -> Iterator[tuple[dict, Iterator[bytes]]]:
        """Each attached file named by ``records`` (in order) with its decrypted bytes, which
        must be read to the end before the next file. The records' chunk counts were checked
        against the manifest before (``check_file_records``)."""
        suite = SUITES[self.manifest["suite"]]
        pid = self.manifest["package_id"]
        stream = self.chunks(start=self.manifest["payload_chunks"])

        def blocks(n: int) -> Iterator[bytes]:
            for _ in range(n):
                index, data = next(stream)
                try:
                    yield suite.decrypt_chunk(content_key, index, data, f"{pid}|f|{index}".encode())
                except CryptoError as exc:
                    raise PackageError(f"{self.path.name}：{exc}") from None
        for rec in records:
            yield rec, blocks(rec["chunks"])

    def check_file_records(self, records: list[dict]) -> None:
        if sum(r["chunks"] for r in records) != self.file_chunks:
            raise PackageError(f"{self.path.name} 的附件清单与内容不符，文件已损坏或被篡改")


def open_package(path: Path | str) -> OpenedPackage:
    """Read and sanity-check the container and the manifest (nothing decrypted yet)."""
    path = Path(path)
    if not path.is_file():
        raise PackageError(f"找不到数据包 {path}")
    size = path.stat().st_size
    if size > MAX_PACKAGE_BYTES:
        raise PackageError(f"{path.name} 有 {size >> 20} MB，超过数据包上限，已拒绝")
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:8] != MAGIC:
            raise PackageError(f"{path.name} 不是本程序的数据包（{SUFFIX}），或文件已损坏")
        (mlen,) = struct.unpack(">I", head[8:12])
        if mlen > MAX_MANIFEST_BYTES:
            raise PackageError(f"{path.name} 的清单过大，文件已损坏")
        body = f.read(mlen)
        slen_raw = f.read(2)
        if len(body) < mlen or len(slen_raw) < 2:
            raise PackageError(f"{path.name} 不完整，请重新拷贝")
        (slen,) = struct.unpack(">H", slen_raw)
        signature = f.read(slen)
        if len(signature) < slen or slen > 512:
            raise PackageError(f"{path.name} 不完整，请重新拷贝")
        offset = f.tell()
    try:
        manifest = strict_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PackageError(f"{path.name} 的清单无法读取（{exc}），文件已损坏") from None
    check_manifest(path.name, manifest)
    return OpenedPackage(path, manifest, body, signature, offset)


INT64_MAX = (1 << 63) - 1   # what an SQLite INTEGER holds
MAX_SEQ_SPAN = 1_000_000    # package numbers one package may cover (a full package: all so far)
REQUIRED = ("package_id", "kind", "source", "dest", "suite", "payload_sha256", "payload_chunks",
            "sealed_key", "schema", "seq_from", "seq_to")


def _text(limit: int, *, empty: bool = False) -> Callable[[object], bool]:
    return lambda v: type(v) is str and (empty or len(v) > 0) and len(v) <= limit


def _integer(low: int, high: int) -> Callable[[object], bool]:
    return lambda v: type(v) is int and low <= v <= high


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: v is None or check(v)


def _obj(fields: dict[str, Callable[[object], bool]], optional: tuple[str, ...] = ()) -> Callable[[object], bool]:
    return lambda v: (type(v) is dict and all(k in v or k in optional for k in fields)
                      and all(check(v[k]) for k, check in fields.items() if k in v))


def _counts(v) -> bool:
    """Rows per ledger, as older programs wrote them in clear (checked, never read)."""
    return type(v) is dict and len(v) <= 1_000 and all(
        len(k) <= 64 and type(n) is int and 0 <= n <= INT64_MAX for k, n in v.items())


def _hex(v) -> bool:
    return type(v) is str and 0 < len(v) <= 128 and all(c in "0123456789abcdef" for c in v)


# every manifest key this program reads, with what its value must be (keys a newer
# program adds are ignored; "format", "format_version" and "schema" have their own checks)
MANIFEST_KEYS: dict[str, Callable[[object], bool]] = {
    "package_id": _text(64),
    "kind": _text(32),
    "schema": lambda v: type(v) is int and v >= 0,   # above ours: "install the new version" (sync)
    "created": _optional(_text(64, empty=True)),
    "source": _obj({"node": _text(64), "org": _text(64), "level": _text(16)}, optional=("level",)),
    "dest": _obj({"node": _text(64), "org": _text(64)}),
    "seq_from": _optional(_integer(1, INT64_MAX)),
    "seq_to": _optional(_integer(1, INT64_MAX)),
    "prev": _optional(_text(64)),
    "counts": _counts,
    "catalog": _obj({"id": _optional(_text(200, empty=True)), "version": _optional(_text(200, empty=True))},
                    optional=("id", "version")),
    "suite": lambda v: type(v) is str and v in SUITES,
    "payload_sha256": _hex,
    "payload_chunks": _integer(1, (1 << 32) - 1),
    "file_chunks": _integer(0, (1 << 32) - 1),
    "plain_bytes": _integer(0, INT64_MAX),
    "sealed_key": _text(8192),
    "volume": _integer(1, 1_000_000),
    "volumes": _integer(1, 1_000_000),
    "volume_of": _text(64),
}
_KEY_NAMES = {"package_id": "数据包编号", "kind": "类型", "schema": "数据库版本", "created": "生成时间",
              "source": "发送单位", "dest": "收件单位", "seq_from": "起始序号", "seq_to": "截止序号",
              "prev": "上一个数据包", "counts": "各台账条数", "catalog": "计划目录", "suite": "加密算法",
              "payload_sha256": "内容校验值", "payload_chunks": "内容块数", "file_chunks": "附件块数",
              "plain_bytes": "内容大小", "sealed_key": "密钥", "volume": "卷号", "volumes": "卷数",
              "volume_of": "所属数据包"}


def check_manifest(name: str, manifest: object) -> None:
    """Every manifest key this program reads has a value of the right type and range,
    so nothing later can trip over it (a package signed by a compromised install, or
    made by a newer program, is refused here rather than half-read).

    :raises PackageError: naming the file ``name`` and the key.
    """
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageError(f"{name} 不是本程序的数据包")
    version = manifest.get("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        shown = version if type(version) is int and 0 <= version < 1_000_000 else "未知"
        raise PackageError(f"{name} 的格式版本是 {shown}，本程序只认识 1–{FORMAT_VERSION}；"
                           "请安装新版本的程序后再导入")
    for key in REQUIRED:
        if key not in manifest:
            raise PackageError(f"{name} 的清单缺少 {key}，文件已损坏")
    if type(manifest["suite"]) is str and manifest["suite"] not in SUITES:
        raise PackageError(f"{name} 使用的加密算法 {manifest['suite'][:40]} 本程序不支持")
    for key, check in MANIFEST_KEYS.items():
        if key in manifest and not check(manifest[key]):
            raise PackageError(f"{name} 的清单中“{_KEY_NAMES[key]}”（{key}）不合规，文件已损坏或被篡改，已拒绝")
    lo, hi = manifest["seq_from"], manifest["seq_to"]
    if lo is None and hi is None:
        if manifest["kind"] != "files":   # only a further volume (files only) has no numbers
            raise PackageError(f"{name} 的清单缺少序号，文件已损坏或被篡改，已拒绝")
    elif lo is None or hi is None or not lo <= hi or hi - lo > MAX_SEQ_SPAN:
        raise PackageError(f"{name} 的清单中的序号范围不合理，文件已损坏或被篡改，已拒绝")
    if manifest.get("file_chunks", 0) and version < 2:
        raise PackageError(f"{name} 的清单中“附件块数”与格式版本不符，文件已损坏或被篡改，已拒绝")


def unseal(opened: OpenedPackage, enc_private: bytes | list[bytes], info: bytes) -> bytes:
    """The package's content key, opened with this install's decryption key, or (a list,
    current key first) with any of them: after a key rotation, packages sealed to an
    old key are still on their way."""
    suite = SUITES[opened.manifest["suite"]]
    keys = [enc_private] if isinstance(enc_private, bytes) else list(enc_private)
    failure = None
    for key in keys:
        try:
            return suite.open_key(unb64(opened.manifest["sealed_key"]), key, info)
        except CryptoError as exc:
            failure = failure or exc
    raise PackageError(f"{opened.path.name}：{failure}")
