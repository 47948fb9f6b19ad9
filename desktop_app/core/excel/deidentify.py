"""De-identified export: a ledger's rows for sharing statistics, without names or IDs.

Every field that identifies a person is left out (:func:`identifying_fields`) and
each linked person gets a stable pseudonym instead: the same person has the same
code in every de-identified export from this install, so rows can still be counted
per person, but the code cannot be turned back into a name or ID number without
this install's secret key. Other sensitive fields stay masked unless revealed.
Dates keep only their month (``2024-03``) unless ``exact_dates`` is asked for
(``export-excel --deidentify --exact-dates``; the audit entry says which): a
screening day together with a village is often enough to single a woman out::

    >>> import tempfile, pathlib, datetime as dt
    >>> from desktop_app.core.store.database import Store
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.create(folder / "t.sqlite3", level="town", org="河坝镇", operator="示例")
    >>> _ = store.add_villages(["示例村一"])
    >>> _ = store.ledger("two_cancer").add({"name": "示例一", "id_number": "43090219710916154X"},
    ...                                    org="示例村一", today=dt.date(2024, 6, 30))
    >>> result = export_deidentified(store, "two_cancer", folder / "两癌.csv", purpose="统计分析")
    >>> header, row = (folder / "两癌.csv").read_text(encoding="utf-8-sig").splitlines()[:2]
    >>> header.split(",")[:3], row.split(",")[1].startswith("P")
    (['村（社区）', '受检妇女代码', '人群类别'], True)
    >>> "示例一" in row or "154X" in row
    False
    >>> month_only("2024-06-30"), month_only("已隐藏"), month_only("")
    ('2024-06', '已隐藏', '')
    >>> store.close()
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import xlsxwriter

from ..catalog.fieldtypes import display
from ..catalog.model import Ledger
from ..errors import StoreError
from ..store.policy import policy_for
from ..store.schema import LIVE, within_sql
from ..store.writes import Writer
from .export import _csv_safe
from .template import atomic_output, org_labels, resolve_unit, title_text

if TYPE_CHECKING:
    from ..store.database import Store

IDENTIFYING_TYPES = {"id_card", "phone", "disability_cert", "attachment"}  # photos show people
FREE_TEXT = {"note", "contact"}   # may hold anyone's name
NUMERIC = {"integer", "decimal"}
_ISO_DATE = re.compile(r"(\d{4}-\d{2})-\d{2}")


def month_only(value: str) -> str:
    """``YYYY-MM`` of a stored ``YYYY-MM-DD`` date; anything else (empty, masked) as it is."""
    match = _ISO_DATE.fullmatch(value)
    return match.group(1) if match else value


def identifying_fields(ledger: Ledger) -> set[str]:
    """Fields left out of a de-identified export: what links a row to a person (name, ID,
    phone, address, birth date …), ID-like types, sensitive free text, and notes."""
    out = {f.id for f in ledger.fields if f.type in IDENTIFYING_TYPES or f.id in FREE_TEXT
           or (f.type == "text" and ledger.is_sensitive(f.id))}
    for link in ledger.persons:
        out |= {fid for fid in link.fields.values()
                if ledger.has_field(fid) and ledger.field(fid).type not in ("choice",)}
    return out


def _secret(store: Store) -> bytes:
    key = store.setting("pseudonym_key")
    if key is None:
        key = os.urandom(32).hex()
        store.set_setting("pseudonym_key", key)
    return bytes.fromhex(key)


def pseudonym(secret: bytes, person: str | None) -> str:
    """``P`` + 12 hex digits of an HMAC of the person id; empty for no person.

    >>> pseudonym(b"k", "6f1c3a52-3f0e-5b8e-9d0a-2f4b7c9e1a43")
    'P538AB3E72644'
    """
    if not person:
        return ""
    return "P" + hmac.new(secret, person.encode(), hashlib.sha256).hexdigest()[:12].upper()


def export_deidentified(store: Store, ledger_id: str, out_path: Path | str, *,
                        village: str | None = None, purpose: str | None = None,
                        reveal: bool = False, exact_dates: bool = False) -> Path:
    """Write the de-identified rows to ``out_path`` (.xlsx or .csv); audited as an export.

    Dates are given to the month (``YYYY-MM``) unless ``exact_dates``; the audit
    entry's detail records ``exact_dates`` either way.

    :raises StoreError: (exit 1) for an unknown ledger or org, no ``purpose``, or an
        unsupported extension.
    """
    ledger = store.ledger(ledger_id).ledger
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise StoreError(f"{out_path.name}：只能导出为 .xlsx 或 .csv 文件，请改文件扩展名", 1)
    purpose = (purpose or "").strip()
    if not purpose:
        raise StoreError("去标识化导出须写明用途（将记入审计日志）", 1)
    policy = policy_for(store).exporting(store, reveal)
    unit = resolve_unit(store, village)
    drop = identifying_fields(ledger)
    kept = [f for f in ledger.fields if f.id not in drop]
    links = [p for p in ledger.persons]
    headers = ["村（社区）"] + [f"{p.role}代码" for p in links] + [f.label for f in kept]
    mask = policy.masker(ledger, [f.id for f in kept])
    dates = [] if exact_dates else [i for i, f in enumerate(kept) if f.type == "date"]
    secret = _secret(store)
    labels = org_labels(store)
    cols = ", ".join([f"[{p.column}]" for p in links] + [f"[{f.id}]" for f in kept])
    where, params = LIVE, []
    if unit.code != store.node.org:   # a unit named, or the user's own: its range of the org index
        cond, params = within_sql(unit.code)
        where += f" AND {cond}"

    def rows():
        for org, *values in store.conn.execute(
                f"SELECT org, {cols} FROM [{ledger.table}] WHERE {where} ORDER BY _created, rowid",
                params):
            people, cells = values[:len(links)], mask(values[len(links):])
            for i in dates:
                if cells[i].__class__ is str:
                    cells[i] = month_only(cells[i])
            yield [labels.get(org, org)] + [pseudonym(secret, p) for p in people] + [
                "" if v is None else v if v.__class__ is str or f.type in NUMERIC else display(f, v)
                for f, v in zip(kept, cells)]

    count = 0
    with store.transaction():
        with atomic_output(out_path) as tmp:
            if suffix == ".csv":
                with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
                    out = csv.writer(fh)
                    out.writerow(headers)
                    for row in rows():
                        out.writerow([_csv_safe(c) if c.__class__ is str else c for c in row])
                        count += 1
            else:
                count = _write_xlsx(tmp, title_text(unit.name, ledger, store.catalog.plan_year),
                                    headers, rows(), exact_dates=exact_dates)
        Writer(store, source=f"export:{out_path.name}").note(
            "export", tbl=ledger.table, detail={"rows": count, "purpose": purpose, "revealed": reveal,
                                                "deidentified": True, "org": unit.code,
                                                "exact_dates": exact_dates})
    return out_path


def _write_xlsx(path: Path, title: str, headers: list[str], rows, *, exact_dates: bool) -> int:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("去标识化数据")
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    ws.write_string(0, 0, f"{title}（去标识化，不含姓名、证件号和联系方式"
                          f"{'' if exact_dates else '；日期只到月'}）")
    for c, h in enumerate(headers):
        ws.write_string(1, c, h, bold)
        ws.set_column(c, c, max(10, len(h) * 2))
    n = 0
    for n, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if v.__class__ is str:
                if v:
                    ws.write_string(1 + n, c, v)
            else:
                ws.write_number(1 + n, c, v)
    wb.close()
    return n
