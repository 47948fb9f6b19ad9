"""The package file: signed manifest, encrypted and compressed NDJSON payload.

Layout (no archive format, so no member names or paths to trust)::

    MAGIC (8 bytes) | manifest length (u32) | manifest JSON | signature length (u16) | signature
    | chunks: length (u32) + AES-256-GCM ciphertext, the last one marked in its AAD

The manifest (no personal data) names format and schema versions, package id,
kind, source and destination, sequence range, previous package id, counts per
ledger, the payload hash (over the ciphertext), the crypto suite and the content
key sealed to the destination. The signature covers the manifest bytes and so
the ciphertext. Reading checks, in this order and before writing anything:
size caps, the container, versions, the source is known, we are the destination,
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

from .crypto import CHUNK_BYTES, SUITES, CryptoError, b64, unb64

MAGIC = b"MSTZPKG1"
FORMAT = "minsheng-package"
FORMAT_VERSION = 1
MAX_PACKAGE_BYTES = 4 << 30
MAX_MANIFEST_BYTES = 256 << 10
MAX_CHUNK_BYTES = CHUNK_BYTES + 1024
MAX_PLAIN_BYTES = 16 << 30
MAX_LINE_BYTES = 4 << 20
SUFFIX = ".mstz"


class PackageError(Exception):
    """The file cannot be used (CLI exit 2); the message says why and what to do."""


def canonical(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"重复的键 {k!r}")
        out[k] = v
    return out


def strict_json(data: bytes | str) -> object:
    """JSON with no duplicate keys, NaN or runaway nesting/numbers (raises ValueError)."""
    def no_constants(name):
        raise ValueError(f"不允许的数值 {name}")
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=no_constants)
    except RecursionError:
        raise ValueError("嵌套层数过多") from None


# ---------------------------------------------------------------- writing

def write_package(path: Path, manifest: dict, lines: Iterator[bytes], *, sign: Callable[[bytes], bytes],
                  suite_name: str, dest_enc_key: bytes, info: bytes) -> dict:
    """Write the package; ``manifest`` is completed with payload hash, sizes, suite and sealed key.

    The payload is written to a temporary file first and the package is renamed
    into place at the end, so a failure never leaves a half-written package.
    """
    suite = SUITES[suite_name]
    key = suite.new_content_key()
    package_id = manifest["package_id"]
    hasher = suite.hasher()
    tmp_payload = path.with_name(path.name + ".payload")
    plain = 0
    chunks = 0
    comp = zlib.compressobj(6)
    with open(tmp_payload, "wb") as out:
        buffer = bytearray()

        def emit(piece: bytes, last: bool) -> None:
            nonlocal chunks
            aad = f"{package_id}|{chunks}|{int(last)}".encode()
            ct = suite.encrypt_chunk(key, chunks, piece, aad)
            out.write(struct.pack(">I", len(ct)))
            out.write(ct)
            hasher.update(ct)
            chunks += 1

        def flush(final: bool) -> None:
            while len(buffer) > CHUNK_BYTES or (not final and len(buffer) == CHUNK_BYTES):
                emit(bytes(buffer[:CHUNK_BYTES]), False)
                del buffer[:CHUNK_BYTES]
            if final:  # the last chunk (possibly empty) is marked, so truncation is caught
                emit(bytes(buffer), True)
                buffer.clear()
        for line in lines:
            plain += len(line) + 1
            buffer += comp.compress(line + b"\n")
            flush(False)
        buffer += comp.flush()
        flush(True)
    manifest = dict(manifest, format=FORMAT, format_version=FORMAT_VERSION, suite=suite_name,
                    payload_sha256=hasher.hexdigest(), payload_chunks=chunks, plain_bytes=plain,
                    sealed_key=b64(suite.seal_key(key, dest_enc_key, info)))
    body = canonical(manifest)
    signature = sign(body)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as out, open(tmp_payload, "rb") as payload:
            out.write(MAGIC + struct.pack(">I", len(body)) + body + struct.pack(">H", len(signature))
                      + signature)
            while block := payload.read(1 << 20):
                out.write(block)
        os.replace(tmp, path)
    finally:
        tmp_payload.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return manifest


# ---------------------------------------------------------------- reading

@dataclass
class OpenedPackage:
    path: Path
    manifest: dict
    manifest_bytes: bytes
    signature: bytes
    offset: int          # where the chunks start
    sha256: str          # of the whole file

    def verify(self, sign_public: bytes, verify: Callable[[bytes, bytes, bytes], bool]) -> None:
        if not verify(sign_public, self.signature, self.manifest_bytes):
            raise PackageError(f"{self.path.name} 的签名不对：不是由发送单位的密钥签发的，或清单被改动过。"
                               "请勿使用，向发送单位核实")

    def chunks(self) -> Iterator[tuple[int, bytes]]:
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
                count != self.manifest.get("payload_chunks"):
            raise PackageError(f"{self.path.name} 的内容与清单不符（文件损坏或被篡改），请让发送单位重新发送")

    def lines(self, content_key: bytes) -> Iterator[bytes]:
        """Decrypt, decompress (bounded) and split the payload into lines."""
        suite = SUITES[self.manifest["suite"]]
        pid = self.manifest["package_id"]
        total = self.manifest["payload_chunks"]
        decomp = zlib.decompressobj()
        pending = b""
        produced = 0
        for index, data in self.chunks():
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
                if len(pending) > MAX_LINE_BYTES:
                    raise PackageError(f"{self.path.name} 含有过长的一行，已拒绝")
                yield from complete
        if pending or not decomp.eof:
            raise PackageError(f"{self.path.name} 的内容不完整，已拒绝")


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
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageError(f"{path.name} 不是本程序的数据包")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise PackageError(f"{path.name} 的格式版本是 {manifest.get('format_version')}，本程序只认识 "
                           f"{FORMAT_VERSION}；请安装新版本的程序后再导入")
    for key in ("package_id", "kind", "source", "dest", "suite", "payload_sha256", "payload_chunks",
                "sealed_key", "schema"):
        if key not in manifest:
            raise PackageError(f"{path.name} 的清单缺少 {key}，文件已损坏")
    if manifest["suite"] not in SUITES:
        raise PackageError(f"{path.name} 使用的加密算法 {manifest['suite']} 本程序不支持")
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return OpenedPackage(path, manifest, body, signature, offset, digest.hexdigest())


def unseal(opened: OpenedPackage, enc_private: bytes, info: bytes) -> bytes:
    suite = SUITES[opened.manifest["suite"]]
    try:
        return suite.open_key(unb64(opened.manifest["sealed_key"]), enc_private, info)
    except CryptoError as exc:
        raise PackageError(f"{opened.path.name}：{exc}") from None
