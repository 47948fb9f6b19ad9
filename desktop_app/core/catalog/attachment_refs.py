"""The value of an attachment field: references to files kept beside the store.

A field of type ``attachment`` holds a JSON list of references; the files themselves
live in the store's attachment folder (:mod:`desktop_app.core.store.attachments`)::

    >>> ref = {"sha256": "a" * 64, "name": "改造前.jpg", "size": 2048, "type": "jpeg"}
    >>> names(dump_refs([ref]))
    '改造前.jpg'
    >>> parse_refs('[{"sha256": "x"}]')
    Traceback (most recent call last):
    ...
    ValueError: 附件引用的格式不对
"""
from __future__ import annotations

import json
import re

KINDS = {"jpeg": "JPEG 图片", "png": "PNG 图片", "pdf": "PDF 文件"}
MAX_NAME = 120
_SHA = re.compile(r"^[0-9a-f]{64}$")


def is_sha256(text: object) -> bool:
    """A file's name in the attachment folder: 64 lower-case hex digits."""
    return isinstance(text, str) and _SHA.match(text) is not None


def parse_refs(value) -> list[dict]:
    """The references held in an attachment field (a JSON list), validated.

    :raises ValueError: for anything that is not a list of well-formed references.
    """
    if value in (None, ""):
        return []
    if isinstance(value, str):
        if len(value) > 1_000_000:
            raise ValueError("附件列表过长")
        try:
            refs = json.loads(value)
        except RecursionError:   # a hostile, deeply nested value
            raise ValueError("附件列表的格式不对") from None
    else:
        refs = value
    if not isinstance(refs, list) or len(refs) > 1000:
        raise ValueError("附件应为列表")
    out = []
    for ref in refs:
        if not isinstance(ref, dict) or set(ref) != {"sha256", "name", "size", "type"}:
            raise ValueError("附件引用的格式不对")
        if not is_sha256(ref["sha256"]):
            raise ValueError("附件的校验值不对")
        if not isinstance(ref["name"], str) or not 0 < len(ref["name"]) <= MAX_NAME or \
                any(c in ref["name"] for c in "/\\\x00"):
            raise ValueError("附件文件名不对")
        if type(ref["size"]) is not int or ref["size"] <= 0 or ref["type"] not in KINDS:
            raise ValueError("附件的大小或类型不对")
        out.append(ref)
    return out


def dump_refs(refs: list[dict]) -> str | None:
    """The stored form: compact JSON in a stable key order, None for no files."""
    if not refs:
        return None
    return json.dumps([{k: r[k] for k in ("sha256", "name", "size", "type")} for r in refs],
                      ensure_ascii=False, separators=(",", ":"))


def names(value) -> str:
    """What Excel and the screen show: the file names, separated by 、."""
    try:
        return "、".join(r["name"] for r in parse_refs(value))
    except ValueError:
        return ""
