"""The org tree: the district (区), its towns (镇) and their villages (村/社区).

The district and towns ship in ``resources/orgs.toml`` with their 统计用区划代码.
A village gets its town's code plus three digits, assigned by the town once
and never reused::

    >>> tree = OrgTree.shipped()
    >>> tree.resolve("南湾湖办事处").code
    '430971405'
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field

from ..errors import INPUT_PROBLEMS, UserError
from ..paths import resources_dir
from .idnumbers import fold

LEVEL_NAMES = {"district": "区", "town": "镇", "village": "村（社区）"}
# 统计用区划代码: the district 6 digits, a town 9 (district + 3), a village 12 (town + 3)
CODE_LENGTHS = {"district": 6, "town": 9, "village": 12}
PARENT_LEVEL = {"town": "district", "village": "town"}


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a unit, or None. A name goes into titles and cells of every
    workbook, so it may not start like a formula (=, +, -, @) or hold control characters::

        >>> name_problem("示例村一"), name_problem("=HYPERLINK(1)")
        (None, '单位名称不能以 =、+、-、@ 开头')
    """
    if type(name) is not str or not name.strip():
        return "单位名称不能为空"
    if len(name) > 60:
        return "单位名称最多 60 个字"
    if name[0] in "=+-@":
        return "单位名称不能以 =、+、-、@ 开头"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "单位名称不能含有控制字符"
    if any(c in name for c in '/\\:*?"<>|'):
        return '单位名称不能含有 / \\ : * ? " < > | 这些符号'
    return None


def code_problem(code: str, level: str, parent: Org | None) -> str | None:
    """Why ``code`` cannot be the code of a new ``level`` unit under ``parent``, or None.
    A code has its level's length and starts with its parent's code (the parent one level
    up), so a unit lands in the scope of the unit it is placed under::

        >>> town = Org("430971121", "河坝镇", "town", "430971")
        >>> code_problem("430971121001", "village", town) is None
        True
        >>> code_problem("430971123777", "village", town)
        '代码 430971123777 不以上级单位（河坝镇）的代码 430971121 开头'
    """
    if not (type(code) is str and code.isascii() and code.isdigit()):
        return f"单位代码应为数字（{str(code)[:20]}）"
    want = CODE_LENGTHS.get(level)
    if want is None or len(code) != want:
        return f"{LEVEL_NAMES.get(level, level)}级单位的代码应为 {want} 位数字，{code} 是 {len(code)} 位"
    if level == "district":
        return None if parent is None else "区级单位不能有上级单位"
    if parent is None or parent.level != PARENT_LEVEL[level]:
        return f"{LEVEL_NAMES[level]}级单位的上级应为{LEVEL_NAMES[PARENT_LEVEL[level]]}级单位"
    if not code.startswith(parent.code):
        return f"代码 {code} 不以上级单位（{parent.name}）的代码 {parent.code} 开头"
    return None


def file_label(org: Org | None, code: str = "") -> str:
    """A unit's name as a part of a file name: only letters, digits, CJK and ``-_()（）``
    (a name can never make a path), its code when nothing is left::

        >>> file_label(Org("430971121999", "evil/../../../escaped", "village"))
        'evilescaped'
        >>> file_label(None, "430971121")
        '430971121'
    """
    name = org.name if org is not None else ""
    clean = "".join(c for c in name if c.isalnum() or c in "-_()（）")[:40].lstrip("-")
    return clean or (org.code if org is not None else code) or "单位"


class OrgError(UserError, ValueError):
    """A unit name or code that does not resolve to one unit (exit 1)."""

    exit_code = INPUT_PROBLEMS


@dataclass(frozen=True)
class Org:
    code: str
    name: str
    level: str
    parent: str | None = None
    aliases: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        return {"code": self.code, "name": self.name, "level": self.level,
                "parent": self.parent, "aliases": list(self.aliases)}


class OrgTree:
    """An in-memory view of the org tree with lookups by code, name or alias."""

    def __init__(self, orgs: list[Org]):
        self.by_code = {o.code: o for o in orgs}

    @classmethod
    def shipped(cls) -> "OrgTree":
        data = tomllib.loads((resources_dir() / "orgs.toml").read_text(encoding="utf-8"))
        d = data["district"]
        orgs = [Org(d["code"], d["name"], "district")]
        orgs += [Org(t["code"], t["name"], "town", d["code"], tuple(t.get("aliases", ())))
                 for t in data["towns"]]
        return cls(orgs)

    @staticmethod
    def person_namespace() -> str:
        data = tomllib.loads((resources_dir() / "orgs.toml").read_text(encoding="utf-8"))
        return data["district"]["person_namespace"]

    def __iter__(self):
        return iter(self.by_code.values())

    def get(self, code: str) -> Org | None:
        return self.by_code.get(code)

    def resolve(self, name_or_code: str, *, within: str | None = None) -> Org:
        """Find an org by code, name or alias (optionally below ``within``).

        :raises OrgError: with a Chinese message listing what is known.
        """
        key = fold(str(name_or_code))
        if key in self.by_code and (within is None or self.is_within(key, within)):
            return self.by_code[key]
        hits = [o for o in self.by_code.values()
                if key in (fold(o.name), *map(fold, o.aliases))
                and (within is None or self.is_within(o.code, within))]
        if len(hits) == 1:
            return hits[0]
        scope = self.by_code[within].name if within else "本区"
        if len(hits) > 1:
            raise OrgError(f"“{name_or_code}”在{scope}有 {len(hits)} 个同名单位，请改用代码："
                           + "、".join(f"{o.code}（{self._place(o)}）" for o in hits))
        known = self._known(within) if within else ""
        raise OrgError(f"{scope}没有名为“{name_or_code}”的单位" + (f"（已有：{known}）" if known else ""))

    def _known(self, code: str) -> str:
        """The units under ``code``, each with those under it (villages with their town,
        since every town may have a 示例村一): ``河坝镇（示例村一、示例村二）、金盆镇``."""
        def named(org: Org) -> str:
            under = self.children(org.code)
            return f"{org.name}（{'、'.join(named(o) for o in under)}）" if under else org.name
        return "、".join(named(o) for o in self.children(code))

    def _place(self, org: Org) -> str:
        """Where an org is, for a person to tell same-name units apart: 河坝镇示例村一."""
        parent = self.by_code.get(org.parent) if org.parent else None
        return f"{parent.name}{org.name}" if parent and parent.level != "district" else org.name

    def is_within(self, code: str, ancestor: str) -> bool:
        while code is not None:
            if code == ancestor:
                return True
            org = self.by_code.get(code)
            code = org.parent if org else None
        return False

    def children(self, code: str) -> list[Org]:
        return sorted((o for o in self.by_code.values() if o.parent == code), key=lambda o: o.code)

    def below(self, code: str) -> list[Org]:
        """Every org under ``code`` (not including it)."""
        out = []
        for child in self.children(code):
            out.append(child)
            out.extend(self.below(child.code))
        return out

    def town_of(self, code: str) -> Org | None:
        org = self.by_code.get(code)
        while org is not None and org.level != "town":
            org = self.by_code.get(org.parent) if org.parent else None
        return org

    def path(self, code: str) -> str:
        """``河坝镇 / 示例村一``."""
        names = []
        org = self.by_code.get(code)
        while org is not None and org.level != "district":
            names.append(org.name)
            org = self.by_code.get(org.parent) if org.parent else None
        return " / ".join(reversed(names)) or (self.by_code[code].name if code in self.by_code else code)


def load_tree(conn) -> OrgTree:
    rows = conn.execute("SELECT code, name, level, parent, aliases FROM orgs").fetchall()
    return OrgTree([Org(c, n, lv, p, tuple(json.loads(a))) for c, n, lv, p, a in rows])


def next_village_code(conn, town_code: str) -> str:
    """Town code + the next unused 3-digit number (never reused, even after removal)."""
    key = f"village_seq:{town_code}"
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    used = [int(c[len(town_code):]) for (c,) in conn.execute(
        "SELECT code FROM orgs WHERE parent = ?", (town_code,)) if re.fullmatch(r"\d{3}", c[len(town_code):])]
    n = max([int(row[0]) if row else 0] + used) + 1
    if n > 999:
        raise OrgError(f"{town_code} 的村（社区）代码已用完（001–999）")
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, str(n)))
    return f"{town_code}{n:03d}"
