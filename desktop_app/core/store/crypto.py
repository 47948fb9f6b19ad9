"""The crypto suite behind profiles and packages, kept behind one small interface.

Today's suite: Ed25519 signatures; HPKE (X25519, HKDF-SHA256, AES-256-GCM) seals
a random content key to the destination, bound to the package id, source and
destination; the payload is encrypted in chunks with AES-256-GCM under that
key (so memory stays bounded and any tampered chunk is caught); SHA-256 hashes.
An SM2/SM3/SM4 suite would be one more class with the same methods, registered
in :data:`SUITES` (cryptography has SM3 and SM4; SM2 needs another library)::

    >>> suite = SUITES[DEFAULT_SUITE]
    >>> keys = suite.new_keys()
    >>> sig = suite.sign(keys.sign_private, b"manifest")
    >>> suite.verify(keys.sign_public, sig, b"manifest")
    True
    >>> dek = suite.new_content_key()
    >>> sealed = suite.seal_key(dek, keys.enc_public, b"pkg|a|b")
    >>> suite.open_key(sealed, keys.enc_private, b"pkg|a|b") == dek
    True
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import UserError

CHUNK_BYTES = 1 << 20


class CryptoError(UserError):
    """A signature, key or ciphertext did not check out."""


@dataclass(frozen=True)
class Keys:
    sign_private: bytes
    sign_public: bytes
    enc_private: bytes
    enc_public: bytes


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError, AttributeError) as exc:
        raise CryptoError("密钥或签名不是有效的 Base64") from exc


def fingerprint(public_key: bytes) -> str:
    """A fingerprint to read over the phone: 8 groups of 4 hex digits (SHA-256, 16 bytes),
    in the one grouping shown everywhere (:func:`spaced_fingerprint`).

    >>> fingerprint(bytes(32))
    '6668 7AAD F862 BD77   6C8F C18B 8E9F 8E20'
    """
    return spaced_fingerprint(hashlib.sha256(public_key).hexdigest()[:32])


def spaced_fingerprint(text: str) -> str:
    """A fingerprint in two halves of four groups of 4 hex digits, as a person reads it
    aloud; any spaces or dashes in ``text`` are dropped first (fingerprints stored by
    earlier versions are dashed).

    >>> spaced_fingerprint("6668-7aad-F862-BD77-6C8F-C18B-8E9F-8E20")
    '6668 7AAD F862 BD77   6C8F C18B 8E9F 8E20'
    """
    digits = re.sub(r"[\s\-‐‑‒–—―－]", "", text or "").upper()
    groups = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    half = (len(groups) + 1) // 2
    return " ".join(groups[:half]) + "   " + " ".join(groups[half:]) if len(groups) > 1 else digits


class X25519Suite:
    name = "X25519-HKDF-SHA256-AES256GCM/Ed25519/SHA256"
    _hpke = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    _raw = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)
    _raw_private = dict(encoding=serialization.Encoding.Raw, format=serialization.PrivateFormat.Raw,
                        encryption_algorithm=serialization.NoEncryption())

    def new_keys(self) -> Keys:
        sign, enc = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
        return Keys(sign.private_bytes(**self._raw_private), sign.public_key().public_bytes(**self._raw),
                    enc.private_bytes(**self._raw_private), enc.public_key().public_bytes(**self._raw))

    def sign(self, sign_private: bytes, data: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(sign_private).sign(data)

    def verify(self, sign_public: bytes, signature: bytes, data: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(sign_public).verify(signature, data)
            return True
        except (InvalidSignature, ValueError):
            return False

    def new_content_key(self) -> bytes:
        return AESGCM.generate_key(bit_length=256)

    def seal_key(self, content_key: bytes, enc_public: bytes, info: bytes) -> bytes:
        return self._hpke.encrypt(content_key, X25519PublicKey.from_public_bytes(enc_public), info=info)

    def open_key(self, sealed: bytes, enc_private: bytes, info: bytes) -> bytes:
        try:
            return self._hpke.decrypt(sealed, X25519PrivateKey.from_private_bytes(enc_private), info=info)
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("数据包不是发给本机的，或已被篡改（无法解开内容密钥）") from exc

    @staticmethod
    def _nonce(index: int) -> bytes:
        return b"\0\0\0\0" + index.to_bytes(8, "big")

    def encrypt_chunk(self, content_key: bytes, index: int, data: bytes, aad: bytes) -> bytes:
        return AESGCM(content_key).encrypt(self._nonce(index), data, aad)

    def decrypt_chunk(self, content_key: bytes, index: int, data: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(content_key).decrypt(self._nonce(index), data, aad)
        except InvalidTag as exc:
            raise CryptoError(f"数据包内容第 {index + 1} 块校验失败（文件已损坏或被篡改）") from exc

    def hasher(self):
        return hashlib.sha256()


DEFAULT_SUITE = X25519Suite.name
SUITES = {X25519Suite.name: X25519Suite()}
