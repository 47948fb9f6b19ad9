"""Which unit a sheet comes from: named at import, or read from the sheet itself.

A town's sheet names its town in the file name (``河坝镇_两癌检查台账.xlsx``), in
the title row (``河坝镇2024年…台账``) and in the 填报单位 row (``填报单位：河坝镇人民政府``);
this program's own templates, exports and error workbooks also carry the unit's code
on their hidden information sheet. :func:`guess_unit` reads these clues against the
units the logged-in user may import for. Village names repeat from town to town
(every town has its 示例村一), so a village name counts only where the clues also
name its town, or where it is the only unit of that name.

The unit is the deepest of the units named when they lie on one line (大通湖区 ⊃
河坝镇 ⊃ 示例村一 → 示例村一), or the one that holds all the others when it is named
itself (河坝镇, 示例村一, 示例村二 → 河坝镇); clues that disagree (文件名 河坝镇, 标题
金盆镇) give no unit, only the candidates, and the person chooses::

    >>> from desktop_app.core.catalog.orgs import Org, OrgTree
    >>> tree = OrgTree([Org("430971", "大通湖区", "district"),
    ...                 Org("430971121", "河坝镇", "town", "430971"),
    ...                 Org("430971123", "金盆镇", "town", "430971"),
    ...                 Org("430971121001", "示例村一", "village", "430971121"),
    ...                 Org("430971123001", "示例村一", "village", "430971123")])
    >>> found = unit_from_clues(tree, list(tree), [("文件名", "河坝镇_两癌检查台账"),
    ...                                            ("填报单位", "河坝镇人民政府（盖章）")])
    >>> found.code, found.how(tree)
    ('430971121', '按文件名、填报单位识别')
    >>> unit_from_clues(tree, list(tree), [("标题", "示例村一两癌台账")]).code is None  # which 示例村一?
    True
    >>> unit_from_clues(tree, list(tree), [("文件名", "河坝镇示例村一")]).code
    '430971121001'
    >>> odd = unit_from_clues(tree, list(tree), [("文件名", "河坝镇"), ("标题", "金盆镇台账")])
    >>> odd.code, odd.how(tree)
    (None, '文件名写着河坝镇，标题写着金盆镇，不一致')
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..catalog.idnumbers import fold
from ..catalog.orgs import Org, OrgTree
from ..errors import INPUT_PROBLEMS, StoreError
from ..store.policy import policy_for
from .workbook import cell_text, is_blank

if TYPE_CHECKING:
    from ..store.database import Store
    from .workbook import SheetData

# "填报单位：河坝镇人民政府（盖章）", "导出单位：河坝镇": the unit, up to the next gap
_UNIT_LINE = re.compile(r"(填报单位|报送单位|导出单位|单位名称)\s*(?:[(（]盖章[)）])?\s*[:：]\s*([^\s\u3000]*)")
OWN_FILE = "本程序生成的表"


@dataclass(frozen=True)
class Clue:
    """One place that names a unit: where (文件名, 标题, 填报单位 …), its text, the unit's code."""

    where: str
    text: str
    code: str


@dataclass(frozen=True)
class SourceUnit:
    """The unit a sheet comes from (``code``; None when not known), whether the person named
    it (``given``: ``--org`` or the wizard's choice) or the clues did, and — when the clues
    disagree — the units they name (``candidates``)."""

    code: str | None
    given: bool = False
    clues: tuple[Clue, ...] = ()
    candidates: tuple[str, ...] = ()

    def how(self, tree: OrgTree) -> str:
        """How the unit was found, for a person: ``导入时指定``, ``按文件名、标题识别`` …"""
        if self.given:
            return "导入时指定"
        if self.code is not None:
            wheres = list(dict.fromkeys(c.where for c in self.clues))
            return "按" + "、".join(wheres) + "识别"
        if self.candidates:
            said = {}
            for c in self.clues:
                said.setdefault(c.where, []).append(tree.path(c.code).replace(" / ", ""))
            return "，".join(f"{w}写着{'、'.join(dict.fromkeys(n))}" for w, n in said.items()) + "，不一致"
        return "表中没有写明单位"

    def to_json(self, tree: OrgTree) -> dict:
        return {"org": self.code, "org_name": tree.path(self.code) if self.code else None,
                "org_how": self.how(tree)}


def sheet_clues(path_stem: str, sheet: SheetData, header_start: int, meta: dict) -> list[tuple[str, str]]:
    """(where, text) of every place of a sheet that may name its unit: the information sheet
    of our own files, the file name, the title rows and the 填报单位 line above the header."""
    clues = []
    if meta.get("org"):
        clues.append((OWN_FILE, meta["org"]))
    clues.append(("文件名", path_stem))
    for r in range(min(header_start, len(sheet.head))):
        for value in sheet.head[r]:
            if is_blank(value):
                continue
            text = cell_text(value)
            line = _UNIT_LINE.search(text)
            if line:
                clues.append(("填报单位", line.group(2)))
            else:
                clues.append(("标题", text))
    return clues


def guess_unit(store: Store, clues: list[tuple[str, str]]) -> SourceUnit:
    """The unit the clues name, among the units the logged-in user may import for."""
    return unit_from_clues(store.orgs, policy_for(store).orgs(store), clues)


def has_villages(tree: OrgTree, code: str) -> bool:
    """Whether villages are registered under ``code`` (rows never go to such a unit by
    default, and ``--village`` may not name one: whose village would they be?)."""
    return any(o.level == "village" for o in tree.below(code))


def row_units(store: Store, within: str | None = None) -> list[Org]:
    """The units the rows of a sheet without 村（社区） may be put in: the user's units
    (``within`` the sheet's unit, when known) that have no villages under them."""
    tree = store.orgs
    return [o for o in policy_for(store).orgs(store)
            if (within is None or tree.is_within(o.code, within)) and not has_villages(tree, o.code)]


def check_scope(store: Store, clues: list[tuple[str, str]]) -> None:
    """Refuse a sheet whose clues name a unit outside the logged-in user's (or, for a
    user of the whole install, outside the install's): 河坝镇's sheet is not 金盆镇's to
    import, even though both towns have a 示例村一 (see :func:`units_outside`).

    :raises StoreError: (exit 1) naming the unit the sheet names and the user's own.
    """
    tree = store.orgs
    own = policy_for(store).default_org(store.node.org)
    outside = units_outside(tree, own, clues)
    if outside:
        names = "、".join(dict.fromkeys(tree.path(c.code).replace(" / ", "") for c in outside))
        wheres = "、".join(dict.fromkeys(c.where for c in outside))
        raise StoreError(f"本表写着{names}，不在你负责的单位内（你负责{tree.path(own)}；见本表的{wheres}）。"
                         f"没有导入任何内容；请确认选对了文件，{names}的表由{names}导入", INPUT_PROBLEMS)


def units_outside(tree: OrgTree, own: str, clues: list[tuple[str, str]]) -> list[Clue]:
    """The clues that name a unit neither within ``own`` nor above it, read against every
    unit of the tree (a village name several towns share counts only under a town named
    too)::

        >>> from desktop_app.core.catalog.orgs import Org, OrgTree
        >>> tree = OrgTree([Org("430971", "大通湖区", "district"),
        ...                 Org("430971121", "河坝镇", "town", "430971"),
        ...                 Org("430971123", "金盆镇", "town", "430971"),
        ...                 Org("430971121001", "示例村一", "village", "430971121"),
        ...                 Org("430971123001", "示例村一", "village", "430971123")])
        >>> units_outside(tree, "430971123", [("文件名", "河坝镇_两癌"), ("标题", "大通湖区台账")])
        [Clue(where='文件名', text='河坝镇_两癌', code='430971121')]
        >>> units_outside(tree, "430971123", [("文件名", "金盆镇"), ("标题", "示例村一")])
        []
    """
    named = unit_from_clues(tree, list(tree), clues).clues
    return [c for c in named if not tree.is_within(c.code, own) and not tree.is_within(own, c.code)]


def unit_from_clues(tree: OrgTree, units: list[Org], clues: list[tuple[str, str]]) -> SourceUnit:
    """See the module's notes. ``units``: the units that may be named (the user's)."""
    by_name: dict[str, list[str]] = {}
    codes = {o.code for o in units}
    for o in units:
        for name in (o.name, *o.aliases):
            key = fold(name)
            if len(key) >= 2:
                by_name.setdefault(key, []).append(o.code)
    found: list[tuple[str, str, list[str]]] = []
    for where, text in clues:
        if where == OWN_FILE:
            if text in codes:
                found.append((where, tree.path(text), [text]))
            continue
        for hit in _names_in(fold(text), by_name):
            found.append((where, text[:40], hit))
    anchors = {hit[0] for _, _, hit in found if len(hit) == 1}
    named: list[Clue] = []
    for where, text, hit in found:
        if len(hit) > 1:    # a name several units share: the one under a unit named elsewhere
            hit = [c for c in hit if any(a != c and tree.is_within(c, a) for a in anchors)] or hit
        if len(hit) == 1:
            named.append(Clue(where, text, hit[0]))
    if not named:
        return SourceUnit(None)
    units_named = list(dict.fromkeys(c.code for c in named))
    deepest = max(units_named, key=lambda c: len(_line(tree, c)))
    if all(u in _line(tree, deepest) for u in units_named):
        return SourceUnit(deepest, clues=tuple(named))
    holder = next((u for u in units_named if all(tree.is_within(x, u) for x in units_named)), None)
    if holder is not None:
        return SourceUnit(holder, clues=tuple(named))
    return SourceUnit(None, clues=tuple(named), candidates=tuple(units_named))


def _line(tree: OrgTree, code: str) -> list[str]:
    """``code`` and every unit above it."""
    out = []
    while code is not None and code in tree.by_code:
        out.append(code)
        code = tree.by_code[code].parent
    return out


def _names_in(text: str, by_name: dict[str, list[str]]) -> list[list[str]]:
    """The units named in ``text``, longest names first; a name inside a longer one found
    there (河坝 in 河坝镇) does not count again."""
    taken = [False] * len(text)
    hits = []
    for name in sorted(by_name, key=len, reverse=True):
        start = text.find(name)
        while start >= 0:
            span = range(start, start + len(name))
            if not any(taken[i] for i in span):
                for i in span:
                    taken[i] = True
                hits.append(by_name[name])
            start = text.find(name, start + 1)
    return hits
