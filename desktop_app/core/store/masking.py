"""Masking of sensitive values, the same on screen, in exports and in reports.

    >>> mask_value("id_card", "43090219710916154X")
    '430***********154X'
    >>> mask_value("phone", "13812341234")
    '138****1234'
    >>> mask_value("text", "肢体残疾")
    '***'
"""
from __future__ import annotations

from ..catalog.fieldtypes import HIDDEN
from .writes import Writer

__all__ = ["HIDDEN", "audit_reveal", "audit_use", "mask_value"]


def mask_value(field_type: str, value: object) -> object:
    if value is None or value == "":
        return value
    text = str(value)
    if field_type in ("id_card", "disability_cert") and len(text) >= 8:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if field_type == "phone":
        if "-" in text:
            area, local = text.split("-", 1)
            return f"{area}-{'*' * max(len(local) - 4, 0)}{local[-4:]}"
        if len(text) >= 8:
            return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return HIDDEN


def audit_reveal(store, *, table: str | None, source: str, purpose: str | None = None,
                 rows: int | None = None) -> None:
    """Record that sensitive values were shown in full (审核员/管理员 only)."""
    store.require("reveal")
    audit_use(store, "reveal", table=table, source=source, purpose=purpose, rows=rows)


def audit_use(store, action: str, *, source: str, table: str | None = None,
              purpose: str | None = None, **detail) -> None:
    """One audit entry for a use of the data that changes no row (reveal, print …)."""
    with store.transaction():
        Writer(store, source=source).note(action, tbl=table, detail={"purpose": purpose, **detail})
