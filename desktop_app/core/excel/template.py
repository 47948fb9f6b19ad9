"""Excel templates for filling a ledger by hand, and the sheet layout they share
with data exports (:mod:`.export`) so the importer recognises both::

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store.database import Store
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.create(folder / "t.sqlite3", level="town", org="河坝镇", operator="示例")
    >>> _ = store.add_villages(["示例村一", "示例村二"])
    >>> write_template(store, "two_cancer", folder / "两癌.xlsx", village="示例村一").name
    '两癌.xlsx'
    >>> header_text(store.catalog.ledger("two_cancer").field("name"))
    '*姓名'
    >>> store.close()

Layout of the data sheet (rows are 1-based, as Excel shows them):

* row :data:`TITLE_ROW`: the merged title ``<单位> <台账名称>（<年度>年）``;
* row :data:`NOTE_ROW`: 填报单位 / 填报日期 blanks and how to fill in;
* row :data:`HEADER_ROW`: ``村（社区）`` then each field's label, ``*`` before a
  required one; each header cell has a comment with the field's rule;
* data from :data:`FIRST_DATA_ROW` on.

A hidden sheet :data:`~.sheetmeta.META_SHEET` holds one key/value row per
:data:`~.sheetmeta.META_KEYS` (key in column A, value in B as text, a Chinese
explanation in C). Dropdown lists longer than Excel's 255 characters live on
the hidden sheet :data:`~.sheetmeta.OPTIONS_SHEET`, one list per column (its
name in row 1, the options below).
"""
from __future__ import annotations

import contextlib
import math
import os
import secrets
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from xlsxwriter.exceptions import FileCreateError

from ..catalog.model import Field, Ledger
from ..catalog.orgs import Org
from ..errors import StoreError, describe
from ..store.policy import policy_for
from ..store.versions import now_iso
from .sheetmeta import META_KEYS, META_SHEET, OPTIONS_SHEET, ORG_HEADER, safe_sheet_title

if TYPE_CHECKING:
    from ..store.database import Store

TITLE_ROW, NOTE_ROW, HEADER_ROW, FIRST_DATA_ROW = 1, 2, 3, 4
TEMPLATE_ROWS = 500        # empty rows formatted (text / date) and given dropdowns
PREFILL_ROWS = 200         # rows whose 村（社区） is pre-filled for one village
LIST_LIMIT = 255           # Excel: an inline dropdown list is at most 255 characters
TEXT_TYPES = frozenset({"id_card", "phone", "credit_code", "disability_cert", "month"})
TEXT_FORMAT = "@"
DATE_FORMAT = "yyyy-mm-dd"

TYPE_WORDS = {
    "text": "文字",
    "integer": "整数",
    "decimal": "数字（可带小数）",
    "date": "日期，写作 2024-03-05 或 2024年3月5日",
    "month": "月份，写作 2024-03 或 2024年3月",
    "choice": "单选，从下拉列表中选择",
    "multichoice": "多选，多个选项用“、”分隔",
    "yesno": "是 / 否",
    "id_card": "18 位公民身份号码（本列为文本格式，请勿改成数字）",
    "phone": "手机号 11 位，或固定电话如 0737-1234567",
    "credit_code": "18 位统一社会信用代码",
    "disability_cert": "20 位残疾人证号（身份证号 + 类别码 + 等级码）",
    "attachment": "附件（照片、扫描件）：只能在程序里添加；本列只列出文件名，导入时不读取",
}
META_LABELS = {
    "kind": "文件类别（template 模板 / export 导出 / errors 未导入的行）", "ledger": "台账代码",
    "ledger_label": "台账名称", "catalog_id": "计划目录", "catalog_version": "目录版本",
    "org": "单位代码", "org_name": "单位名称", "created": "生成时间",
    "masked": "敏感信息是否打码（yes / no）",
}
_MIN_WIDTH = {"id_card": 21, "disability_cert": 23, "credit_code": 21, "phone": 14,
              "date": 12, "integer": 8, "decimal": 10, "yesno": 8}


# ------------------------------------------------------------ shared pieces

def text_width(text: str) -> int:
    """Display width in Excel character units (a Chinese character counts 2).

    >>> text_width("姓名"), text_width("ID 18")
    (4, 5)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def header_text(field: Field) -> str:
    """The header cell's text: the label, with ``*`` in front when required."""
    return f"*{field.label}" if field.required else field.label


def dropdown_options(field: Field) -> tuple[str, ...]:
    """The options of a single-choice dropdown (none for free or multi-choice fields).

    >>> dropdown_options(Field("x", "是否签约", "yesno"))
    ('是', '否')
    """
    if field.type == "yesno":
        return ("是", "否")
    if field.type == "choice":
        return field.choices
    return ()


def needs_options_sheet(options: tuple[str, ...] | list[str]) -> bool:
    """True when a list cannot be written inline: over 255 characters, or an
    option holding a comma or a double quote (the inline list's separators).

    >>> needs_options_sheet(["正常", "可疑", "异常"]), needs_options_sheet(["选项"] * 100)
    (False, True)
    """
    return len(",".join(options)) > LIST_LIMIT or any("," in o or '"' in o for o in options)


def field_rule(ledger: Ledger, field: Field) -> str:
    """The rule of one field in words, for the header comment.

    >>> households = Field("n", "户数", "integer", required=True, min=0, unit="户")
    >>> print(field_rule(Ledger("l", "台账", "p", (households,), (), "d", (), ()), households))
    户数
    类型：整数
    必填
    范围：不小于 0
    单位：户
    """
    lines = [field.label, f"类型：{TYPE_WORDS[field.type]}",
             "必填" if field.required else "可不填"]
    if field.derive_from:
        source = ledger.field(field.derive_from).label
        lines.append(f"可不填：由{source}自动推出")
    if field.choices:
        lines.append("可选：" + "、".join(field.choices))
    bounds = [f"不小于 {field.min:g}" if field.min is not None else "",
              f"不大于 {field.max:g}" if field.max is not None else ""]
    if any(bounds):
        lines.append("范围：" + "，".join(b for b in bounds if b))
    if field.unit:
        lines.append(f"单位：{field.unit}")
    if field.max_length:
        lines.append(f"最多 {field.max_length} 个字")
    if field.type == "date" and field.not_future:
        lines.append("不能晚于填报当天")
    if ledger.is_sensitive(field.id):
        lines.append("敏感信息：注意保密，导出时打码")
    if field.help:
        lines.append(f"说明：{field.help}")
    return "\n".join(lines)


def org_rule(villages: list[str]) -> str:
    """The rule of the 村（社区） column, for its header comment."""
    text = f"{ORG_HEADER}\n本行所属的村（社区）"
    if villages:
        text += "，从下拉列表中选择"
        if not needs_options_sheet(villages):
            text += "\n可选：" + "、".join(villages)
    return text + "\n留空则记为本表的单位（标题中的单位）"


def comment_size(text: str, width_chars: int = 36) -> tuple[int, int]:
    """(width, height) in pixels for a comment box that shows ``text`` without scrolling."""
    lines = sum(max(1, math.ceil(text_width(line) / width_chars)) for line in text.split("\n"))
    return width_chars * 6 + 24, lines * 16 + 12


def column_width(field: Field) -> float:
    """A column width (Excel character units) that fits the header and typical values."""
    width = max(text_width(header_text(field)) + 2, _MIN_WIDTH.get(field.type, 8))
    if field.type in {"choice", "multichoice"} and field.choices:
        width = max(width, min(max(text_width(c) for c in field.choices) + 3, 24))
    if field.type == "text":
        width = max(width, min(field.max_length or 20, 30))
    return min(width, 40)


def org_labels(store: Store) -> dict[str, str]:
    """code → what the 村（社区） column shows for every org of the install (itself
    and everything below): the name, or the code where two orgs share the name."""
    tree = store.orgs
    own = tree.get(store.node.org)
    orgs = ([own] if own else []) + tree.below(store.node.org)
    counts: dict[str, int] = {}
    for o in orgs:
        counts[o.name] = counts.get(o.name, 0) + 1
    return {o.code: o.name if counts[o.name] == 1 else o.code for o in orgs}


def village_options(store: Store) -> list[str]:
    """The 村（社区） dropdown: the install's villages (the install itself for a village)."""
    labels = org_labels(store)
    tree = store.orgs
    return [labels[o.code] for o in [tree.get(store.node.org), *tree.below(store.node.org)]
            if o is not None and o.level == "village"]


def resolve_unit(store: Store, name_or_code: str | None, what: str = "导出", *,
                 level: str | None = None) -> Org:
    """The org a template or an export is for: the one named (name or code, at or below the
    install and within the logged-in user's unit), else the user's own unit (for a user
    bound to a unit: of ``level``, if given), else the install's.

    :raises StoreError: (exit code 1) naming the org and what is known.
    :raises PermissionDenied: a unit outside the user's.
    """
    code = policy_for(store).unit_for(store, name_or_code, what, level=level)
    return store.orgs.get(code or store.node.org)


def title_text(unit_name: str, ledger: Ledger, plan_year: int) -> str:
    """``河坝镇 两癌检查台账（2024年）``."""
    return f"{unit_name} {ledger.label}（{plan_year}年）"


def meta_values(store: Store, ledger: Ledger, *, kind: str, org: Org,
                masked: bool) -> dict[str, str]:
    """The :data:`~.sheetmeta.META_KEYS` values of a template or export, all text."""
    catalog = store.catalog
    values = {"kind": kind, "ledger": ledger.id, "ledger_label": ledger.label,
              "catalog_id": catalog.id, "catalog_version": catalog.version,
              "org": org.code, "org_name": org.name, "created": now_iso(),
              "masked": "yes" if masked else "no"}
    return {k: values[k] for k in META_KEYS}


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    On any failure the temporary file is removed and ``path`` is untouched, so
    a crash never leaves half a workbook under the name the user chose.

    The temporary file is made here, empty and readable by its owner only (0600
    on POSIX), before any content goes in; writers open it again, which keeps
    that mode, and the rename keeps it too. Every file the program writes for
    the user — exports, error workbooks, reports — can hold personal data, so
    none is left readable by other accounts on a shared PC::

        >>> import tempfile, pathlib, stat
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "导出.csv"
        >>> with atomic_output(target) as tmp:
        ...     _ = tmp.write_text("村（社区）", encoding="utf-8")
        >>> os.name == "nt" or stat.S_IMODE(target.stat().st_mode) == 0o600
        True

    :raises StoreError: (exit code 2) if the file cannot be written — the folder is
        read-only or missing, the disk is full, or Excel or WPS has the file open —
        naming the file the user chose (never the temporary one).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o600))
        yield tmp
        try:
            os.replace(tmp, path)
        except PermissionError:
            raise StoreError(f"无法写入 {path}：文件可能正被 Excel 或 WPS 打开，"
                             "请关闭后重试，或换一个文件名") from None
    except (OSError, FileCreateError) as exc:
        cause = exc.args[0] if isinstance(exc, FileCreateError) and exc.args else exc
        number = cause.errno if isinstance(cause, OSError) else None
        raise StoreError(describe(OSError(number, "", str(path)))) from None
    finally:
        tmp.unlink(missing_ok=True)


# ------------------------------------------------------------ the template

_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_EXTRA_FILL = PatternFill("solid", fgColor="D9D9D9")
_WRAP_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
TEMPLATE_NOTE = ("填报单位：＿＿＿＿＿＿＿＿（盖章）　　　填报日期：　　　年　　月　　日　　　"
                 "说明：带“*”的为必填项；鼠标移到表头上可查看填写要求")


def write_template(store: Store, ledger_id: str, out_path: Path | str, *,
                   village: str | None = None) -> Path:
    """Write an empty Excel template of one ledger for filling by hand.

    ``village`` (name or code of a village under the install) pre-fills the
    村（社区） column of the first 200 rows and names that village as the
    template's org; otherwise the org is the install's.

    :raises StoreError: (exit code 1) for an unknown ledger or village.
    """
    ledger = store.ledger(ledger_id).ledger
    unit = resolve_unit(store, village, "生成模板", level="village")
    if village and unit.level != "village":
        raise StoreError(f"“{village}”是{unit.name}，不是村（社区）；请填写本单位下的村（社区）", 1)
    wb, ws = template_book(store, ledger, unit)
    if village:
        label = org_labels(store)[unit.code]
        for row in range(FIRST_DATA_ROW, FIRST_DATA_ROW + PREFILL_ROWS):
            ws.cell(row, 1, label)
    out_path = Path(out_path)
    with atomic_output(out_path) as tmp:
        wb.save(tmp)
    return out_path


def template_fields(ledger: Ledger) -> list[Field]:
    """The fields a template has a column for, in order (files are added in the app)."""
    return [f for f in ledger.fields if f.type != "attachment"]


def template_book(store: Store, ledger: Ledger, unit: Org, *, kind: str = "template",
                  rows: int = TEMPLATE_ROWS, note: str = TEMPLATE_NOTE,
                  extra: tuple[tuple[str, str, float], ...] = ()) -> tuple[Workbook, object]:
    """The workbook of a template and its data sheet, not saved: the title naming ``unit``,
    ``note``, the header (村（社区） then :func:`template_fields`, each with its rule),
    ``rows`` data rows formatted and given dropdowns, and the hidden information sheet
    (``kind``). ``extra`` columns (header, comment, width) follow the fields, grey: the
    error workbook's 原表行号 and 错误原因, which the importer does not import.

        >>> import tempfile, pathlib
        >>> from desktop_app.core.store.database import Store
        >>> store = Store.create(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite3", level="town",
        ...                      org="河坝镇", operator="示例")
        >>> led = store.catalog.ledger("two_cancer")
        >>> wb, ws = template_book(store, led, store.orgs.get(store.node.org), rows=1,
        ...                        extra=(("错误原因", "不导入", 40),))
        >>> ws.cell(HEADER_ROW, 1).value, ws.cell(HEADER_ROW, ws.max_column).value
        ('村（社区）', '错误原因')
        >>> store.close()
    """
    villages = village_options(store)
    fields = template_fields(ledger)
    ncols = len(fields) + 1 + len(extra)
    last = get_column_letter(ncols)

    wb = Workbook()
    ws = wb.active
    ws.title = safe_sheet_title(ledger.label)

    ws.merge_cells(f"A{TITLE_ROW}:{last}{TITLE_ROW}")
    title = ws.cell(TITLE_ROW, 1, title_text(unit.name, ledger, store.catalog.plan_year))
    title.font = Font(size=16, bold=True)
    title.alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[TITLE_ROW].height = 32
    ws.merge_cells(f"A{NOTE_ROW}:{last}{NOTE_ROW}")
    cell = ws.cell(NOTE_ROW, 1, note)
    long_note = text_width(note) > 160
    cell.alignment = Alignment(vertical="center", wrap_text=long_note)
    ws.row_dimensions[NOTE_ROW].height = 40 if long_note else 22

    headers = [(ORG_HEADER, org_rule(villages), 14.0)] + [
        (header_text(f), field_rule(ledger, f), column_width(f)) for f in fields]
    for col, (text, rule, width) in enumerate(headers + list(extra), start=1):
        cell = ws.cell(HEADER_ROW, col)
        if text.startswith("*"):
            cell.value = CellRichText(TextBlock(InlineFont(color="FFFF0000", b=True), "*"),
                                      TextBlock(InlineFont(b=True), text[1:]))
        else:
            cell.value = text
        cell.font = Font(bold=True)
        cell.fill = _EXTRA_FILL if col > len(headers) else _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = _WRAP_CENTER
        w, h = comment_size(rule)
        cell.comment = Comment(rule, "民生实事台账", width=w, height=h)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.row_dimensions[HEADER_ROW].height = 36

    last_row = FIRST_DATA_ROW + rows - 1
    for col, f in enumerate(fields, start=2):
        fmt = TEXT_FORMAT if f.type in TEXT_TYPES else DATE_FORMAT if f.type == "date" else None
        if fmt:
            letter = get_column_letter(col)
            ws.column_dimensions[letter].number_format = fmt  # rows beyond the formatted ones
            for row in range(FIRST_DATA_ROW, last_row + 1):
                ws.cell(row, col).number_format = fmt

    _template_dropdowns(wb, ws, fields, villages, last_row)

    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 2)
    print_setup(ws, f"{TITLE_ROW}:{HEADER_ROW}")
    ws.print_options.gridLines = True

    meta = wb.create_sheet(META_SHEET)
    meta.sheet_state = "hidden"
    for key, value in meta_values(store, ledger, kind=kind, org=unit, masked=False).items():
        meta.append([key, value, META_LABELS[key]])
    meta.column_dimensions["B"].width = 36
    return wb, ws


def _template_dropdowns(wb, ws, fields, villages: list[str], last_row: int) -> None:
    """A dropdown on 村（社区） and on each single-choice and yes/no column; a list
    too long for Excel's inline limit goes to the hidden options sheet."""
    lists = [(1, ORG_HEADER, villages)] + [
        (col, f.label, dropdown_options(f)) for col, f in enumerate(fields, start=2)]
    options_ws = None
    for col, name, options in lists:
        if not options:
            continue
        if needs_options_sheet(options):
            if options_ws is None:
                options_ws = wb.create_sheet(OPTIONS_SHEET)
                options_ws.sheet_state = "hidden"
            formula = _options_range(options_ws, name, options)
        else:
            formula = '"' + ",".join(options) + '"'
        dv = DataValidation(type="list", formula1=formula, allow_blank=True,
                            showErrorMessage=True, errorStyle="stop",
                            errorTitle="不是可选项", error=choice_error(options))
        letter = get_column_letter(col)
        dv.add(f"{letter}{FIRST_DATA_ROW}:{letter}{last_row}")
        ws.add_data_validation(dv)


def _options_range(ws, name: str, options) -> str:
    """Append a list as a new column of the options sheet; its absolute range."""
    col = 1 if ws.max_column == 1 and ws["A1"].value is None else ws.max_column + 1
    ws.cell(1, col, name)
    for i, option in enumerate(options, start=2):
        ws.cell(i, col, option)
    letter = get_column_letter(col)
    return f"'{ws.title}'!${letter}$2:${letter}${len(options) + 1}"


def choice_error(options) -> str:
    """The message of a dropdown's error box (at most Excel's 255 characters)."""
    text = "请从下拉列表中选择：" + "、".join(options)
    return text if len(text) <= LIST_LIMIT else text[:LIST_LIMIT - 1] + "…"


def print_setup(ws, title_rows: str) -> None:
    """A4 landscape, one page wide, ``title_rows`` repeated on every page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = title_rows
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"

