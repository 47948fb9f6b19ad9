"""Finding the header of a real-world sheet and mapping its columns to a ledger.

Towns' sheets have title rows, a 填报单位 line, two-row headers with merged group
cells (宫颈癌检查 → 检查日期 / 初筛结果), a 序号 column and labels that vary
(公民身份号码 = 身份证号码 = 身份证号; 联系方式 = 电话 = 手机号)::

    >>> from desktop_app.core.catalog.model import load_catalog
    >>> m = Matcher(load_catalog().ledger("two_cancer"))
    >>> m.match("公民身份号码"), m.match("* 联系方式"), m.match("宫颈癌检查/检查日期"), m.match("序号")
    ('id_number', 'phone', 'cervical_date', '_ignore')
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..catalog.model import Ledger
from .sheetmeta import BASE_HEADER, ID_HEADER, ORG_HEADER, REASON_HEADER, ROW_NO_HEADER
from .workbook import SheetData, cell_text, is_blank

HEADER_SCAN_ROWS = 30
ORG = "org"
IGNORE = "_ignore"
ROW_ID = "_uuid"
BASE = "_base"
ORG_LABELS = (ORG_HEADER, "村(社区)", "村/社区", "村", "社区", "村居", "所属村", "所属社区",
              "村（居）", "村(居)", "所在村", "所属村（社区）", "村（社区）名称", "所属单位")
IGNORED_LABELS = ("序号", "编号", "年龄", "周岁", "行号", "No", "NO.", "序", ROW_NO_HEADER, REASON_HEADER)
GENERIC = {
    "id_card": ("身份证号", "身份证号码", "公民身份号码", "公民身份证号", "公民身份证号码", "身份证",
                "证件号码", "身份证件号码"),
    "phone": ("电话", "联系电话", "手机", "手机号", "手机号码", "联系方式", "联系号码", "电话号码"),
    "name": ("姓名", "名字"),
}
_TOTALS = re.compile(r"^(合\s*计|总\s*计|小\s*计|共计)")
_FOOTER = re.compile(r"^(填表人|填报人|审核人|负责人|制表人|联系人|注[:：]|说明[:：]|备注[:：])")


def is_own_hidden(target: str) -> bool:
    """True for the hidden columns this program's exports carry (row id, values as exported):
    they are always used as they are, never mapped by hand."""
    return target in (ROW_ID, BASE)


def norm(text: object) -> str:
    """A label reduced for matching: NFKC, no spaces, no required marks, lower case."""
    t = unicodedata.normalize("NFKC", cell_text(text)).lower()
    t = re.sub(r"\s+", "", t)
    t = t.strip("*※★")
    t = re.sub(r"[(（]必填[)）]$", "", t)
    return t


def _without_note(text: str) -> str:
    """``执行保障标准(城市元/月、农村元/年)`` → ``执行保障标准``."""
    return re.sub(r"[(（][^()（）]*[)）]$", "", text)


class Matcher:
    """Header label → field id (or ORG, IGNORE, ROW_ID, BASE) for one ledger."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        table: dict[str, str] = {}
        for label in IGNORED_LABELS:
            table[norm(label)] = IGNORE
        for label in ORG_LABELS:
            table[norm(label)] = ORG
        table[norm(ID_HEADER)] = ROW_ID
        table[norm(BASE_HEADER)] = BASE
        primary = {}
        for ftype in ("id_card", "phone"):
            candidates = [f.id for f in ledger.fields if f.type == ftype]
            preferred = [f for f in ledger.identity if f in candidates]
            if candidates:
                primary[ftype] = (preferred or candidates)[0]
        if ledger.title_field:
            primary["name"] = ledger.title_field
        for kind, fid in primary.items():
            for label in GENERIC[kind]:
                table[norm(label)] = fid
        for f in ledger.fields:
            target = IGNORE if f.type == "attachment" else f.id  # files are added in the app
            for label in (f.label, *f.synonyms):
                table[norm(label)] = target
                table.setdefault(_without_note(norm(label)), target)
        self.table = table

    def match(self, label: object) -> str | None:
        key = norm(label)
        if not key:
            return None
        return self.table.get(key) or self.table.get(_without_note(key))


@dataclass
class Layout:
    """Where the header is and which column holds what."""

    header_rows: list[int]
    labels: dict[int, str]              # column → header text as written
    mapping: dict[int, str]             # column → field id / ORG / ROW_ID / BASE
    unmapped: dict[int, str] = field(default_factory=dict)

    @property
    def data_start(self) -> int:
        return self.header_rows[-1] + 1

    def field_columns(self) -> list[int]:
        """The columns mapped to the ledger's fields (not 村（社区）, ignored or our own)."""
        return [c for c, t in self.mapping.items() if t not in (IGNORE, ORG, ROW_ID, BASE)]

    @property
    def score(self) -> int:
        return sum(1 for t in self.mapping.values() if t not in (IGNORE,))


def _merged_label(sheet: SheetData, r: int, c: int) -> str:
    """The text shown in a cell, following merged ranges to their top-left cell."""
    for (r0, c0), (r1, c1) in sheet.merged:
        if r0 <= r <= r1 and c0 <= c <= c1:
            return cell_text(sheet.cell(r0, c0))
    return cell_text(sheet.cell(r, c))


def _layout(sheet: SheetData, rows: list[int], matcher: Matcher) -> Layout:
    width = max((len(sheet.head[r]) for r in rows), default=0)
    labels, mapping, unmapped, used = {}, {}, {}, set()
    for c in range(width):
        parts = []
        for r in rows:
            text = _merged_label(sheet, r, c)
            if text and text not in parts:
                parts.append(text)
        if not parts:
            continue
        label = "/".join(parts)
        labels[c] = label
        candidates = ["/".join(parts)] + list(reversed(parts))
        target = next((t for t in map(matcher.match, candidates) if t), None)
        if target is None:
            unmapped[c] = label
        elif target in used and target != IGNORE:
            unmapped[c] = label + "（与前面的列重复，未使用）"
        else:
            mapping[c] = target
            used.add(target)
    return Layout(list(rows), labels, mapping, unmapped)


def find_layout(sheet: SheetData, matcher: Matcher) -> Layout | None:
    """The best one- or two-row header in the first rows, or None if nothing matches."""
    best: Layout | None = None
    limit = min(len(sheet.head), HEADER_SCAN_ROWS)
    for r in range(limit):
        if all(is_blank(v) for v in sheet.head[r]):
            continue
        for rows in ([r], [r, r + 1]):
            if rows[-1] >= len(sheet.head):
                continue
            layout = _layout(sheet, rows, matcher)
            if best is None or layout.score > best.score or (
                    # the same header without the merged line above it (a 填报单位 note)
                    layout.score == best.score and layout.header_rows[-1] == best.header_rows[-1]):
                best = layout
    if best is None or best.score < 2:
        return None
    return best


class RowKinds:
    """What each data row of a sheet is: 'data', 'blank' (nothing in the ``meaningful``
    columns: those of fields, see :meth:`Layout.field_columns`) or 'total' (合计, 填表人 …
    lines). Called once a row; a first cell seen before is not read again::

        >>> kind = RowKinds([1, 2])
        >>> kind(["示例村一", "示例一"]), kind(["合计", 12]), kind([None, " ", ""]), kind(["示例村一"])
        ('data', 'total', 'blank', 'blank')
    """

    def __init__(self, meaningful: list[int]):
        self.meaningful = meaningful
        self._said: dict[str, bool] = {}      # a first cell's text → whether it starts a total line

    def __call__(self, row: list) -> str:
        for first in row:
            if first is None or first == "" or isinstance(first, str) and not first.strip():
                continue
            if isinstance(first, str):        # a number or a date never reads 合计 or 填表人
                total = self._said.get(first)
                if total is None:
                    text = cell_text(first)
                    total = self._said[first] = bool(_TOTALS.match(text) or _FOOTER.match(text))
                    if len(self._said) > 10_000:
                        self._said.clear()
                if total:
                    return "total"
            break
        width = len(row)
        for c in self.meaningful:
            if c < width and not is_blank(row[c]):
                return "data"
        return "blank"
