"""What our own workbooks carry so the importer recognises them later.

Templates and data exports have a hidden sheet :data:`META_SHEET` of key/value
rows (ledger id, catalog version, org unit …). Data exports also carry two
hidden columns before the data: :data:`ID_HEADER` (the row's uuid) and
:data:`BASE_HEADER` (the values as exported, JSON), so a sheet sent to a village
and returned updates rows instead of duplicating them, and a row changed on
both sides since the export is reported as a conflict instead of overwritten::

    >>> base = encode_base({"name": "示例一", "phone": "138****1234"})
    >>> decode_base(base)
    {'name': '示例一', 'phone': '138****1234'}
"""
from __future__ import annotations

import json
from typing import Iterable, Mapping

META_SHEET = "_台账信息"
OPTIONS_SHEET = "_选项"
ID_HEADER = "记录编号（请勿修改）"
BASE_HEADER = "导出时的值（请勿修改）"
ORG_HEADER = "村（社区）"
ROW_NO_HEADER = "原表行号"     # the error workbook's own columns, never imported
REASON_HEADER = "错误原因"
META_KEYS = ("kind", "ledger", "ledger_label", "catalog_id", "catalog_version", "org",
             "org_name", "created", "masked")


def encode_base(values: Mapping | Iterable[tuple[str, object]]) -> str:
    """The values as exported (field → value, or (field, value) pairs), empty ones left out."""
    pairs = values.items() if isinstance(values, Mapping) else values
    return _JSON.encode({k: v for k, v in pairs if v is not None and v != ""})


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)   # one for 100,000 rows


def decode_base(text: object) -> dict:
    if not isinstance(text, str) or not text.startswith("{"):
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def safe_sheet_title(title: str) -> str:
    """Excel sheet names: at most 31 characters, none of ``[]:*?/\\``.

    >>> safe_sheet_title("困难重度残疾人家庭无障碍改造台账：2024年[第一批]/河坝镇示例村一至示例村五")
    '困难重度残疾人家庭无障碍改造台账 2024年 第一批  河坝镇'
    """
    for ch in '[]:*?/\\：':
        title = title.replace(ch, " ")
    return title.strip("'")[:31] or "Sheet1"
