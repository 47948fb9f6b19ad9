"""The one masking policy: what the logged-in user sees of personal data, and of which units.

Every output — the ledger table, the record form, JSON, command-line text, conflict text,
import previews and dry runs, error workbooks, exports, reports, duplicates, the person
page — asks the session's policy (:func:`policy_for`) instead of deciding for itself:

- **role**: a sensitive value (ID number, phone, address, screening result …) is masked
  unless revealed; a 录入员 may never reveal; a 审核员 or 管理员 reveals with a stated
  purpose, audited (:meth:`Policy.revealed_by`). ``person_id`` (derived from the ID
  number, so it can be guessed back) is shown only where the ID number is;
- **unit**: a user bound to a unit (``users.unit``: a name or code) sees and writes only
  that unit and the units under it — a town user the town and its villages.

A window holds what the role may see (:meth:`Policy.for_screen`): full values for a role
that may reveal (the screen masks them until an audited reveal), masked ones for a role
that may not. A store without users (a script) is not restricted, as before::

    >>> from desktop_app.core.catalog import load_catalog
    >>> led = load_catalog().ledger("two_cancer")
    >>> clerk = Policy("录入员", unit="430971121001", unit_name="示例村一")
    >>> clerk.may_reveal, clerk.within("430971121001"), clerk.within("430971121002")
    (False, True, False)
    >>> clerk.value(led, "phone", "13812341234"), clerk.value(led, "name", "示例一")
    ('138****1234', '示例一')
    >>> clerk.for_screen().value(led, "id_number", "43090219710916154X")
    '430***********154X'
    >>> Policy("审核员").for_screen().value(led, "phone", "13812341234")
    '13812341234'
    >>> clerk.row(led, {"uuid": "u1", "org": "430971121001", "phone": "13812341234",
    ...                 "person_id": "9a…"})
    {'uuid': 'u1', 'org': '430971121001', 'phone': '138****1234'}
    >>> clerk.number_search("1548"), Policy("审核员").number_search("1548")
    ('whole', 'suffix')
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..catalog.fieldtypes import display
from ..catalog.model import Ledger
from ..catalog.orgs import Org, OrgError
from ..errors import INPUT_PROBLEMS, UserError
from .masking import audit_reveal, mask_value
from .schema import PERSON_FIELDS
from .users import PermissionDenied, allowed

if TYPE_CHECKING:
    from .database import Store

PERSON_FIELD = {f.id: f for f in PERSON_FIELDS}
MIN_SUFFIX = 4   # digits a suffix search needs
NO_UNIT = "-"    # the unit of a user whose unit is not in the org tree: nothing is within it
PURPOSE_NEEDED = "查看或导出完整的个人信息须写明用途（记入审计日志）"


@dataclass(frozen=True)
class Policy:
    """What one session may see: its role, its unit (an org code, None: the whole install)
    and whether sensitive values are shown in full (``revealed``, after an audited reveal)."""

    role: str | None = None           # None: a store without users (a script, the tests)
    unit: str | None = None
    unit_name: str | None = None
    revealed: bool = False

    # ------------------------------------------------------------ role
    def may(self, permission: str) -> bool:
        return self.role is None or allowed(self.role, permission)

    @property
    def may_reveal(self) -> bool:
        return self.may("reveal")

    def for_screen(self) -> Policy:
        """What a window may hold: values in full for a role that may reveal (the screen
        masks them until an audited reveal), masked for a role that may not."""
        return replace(self, revealed=self.may_reveal)

    def revealed_by(self, store: Store, *, purpose: str | None, source: str, table: str | None = None,
                    rows: int | None = None) -> Policy:
        """The same policy showing values in full, after the role check and one audit entry
        with the purpose.

        :raises PermissionDenied: a role that may not reveal.
        :raises UserError: no purpose given.
        """
        if not self.may_reveal:
            store.require("reveal")
        if not (purpose or "").strip():
            raise UserError(PURPOSE_NEEDED, INPUT_PROBLEMS)
        audit_reveal(store, table=table, source=source, purpose=purpose.strip(), rows=rows)
        return replace(self, revealed=True)

    # ------------------------------------------------------------ values
    def shows(self, ledger: Ledger | None, field_id: str) -> bool:
        """Whether a field's values are shown in full (``ledger`` None: the person master)."""
        if self.revealed:
            return True
        if ledger is None:
            if field_id == "birth_date":
                # digits 7–14 of the ID number: beside a masked number (3 first and 4 last
                # digits shown) it would leave only the few area codes of the district to guess
                return self.shows(None, "id_number")
            f = PERSON_FIELD.get(field_id)
            return f is None or not f.sensitive
        return not (ledger.has_field(field_id) and ledger.is_sensitive(field_id))

    def value(self, ledger: Ledger | None, field_id: str, value):
        """A stored value as this policy shows it (masked where it may not be seen)::

            >>> Policy("录入员").value(None, "birth_date", "1971-09-16")
            '***'
        """
        if self.shows(ledger, field_id):
            return value
        f = PERSON_FIELD[field_id] if ledger is None else ledger.field(field_id)
        return mask_value(f.type, value)

    def text(self, ledger: Ledger | None, field_id: str, value) -> str:
        """A stored value as a person reads it (是/否, trimmed decimals), masked as above;
        for messages and conflict text."""
        f = PERSON_FIELD.get(field_id) if ledger is None else (
            ledger.field(field_id) if ledger.has_field(field_id) else None)
        if f is None:
            return "" if value is None else str(value)
        shown = display(f, value)
        if self.shows(ledger, field_id) or not shown:
            return shown
        return str(mask_value(f.type, shown))

    def scrub(self, message: str, ledger: Ledger, values: dict) -> str:
        """``message`` with every stored value of ``values`` (field → value) that this
        policy does not show replaced by its masked text — for a message about a row
        whose values the user did not type (a rule naming a kept screening result)::

            >>> from desktop_app.core.catalog import load_catalog
            >>> led = load_catalog().ledger("two_cancer")
            >>> Policy("录入员").scrub("宫颈初筛结果为“异常”时应填写", led, {"cervical_result": "异常"})
            '宫颈初筛结果为“***”时应填写'
        """
        for fid, value in values.items():
            if value in (None, "") or self.shows(ledger, fid) or not ledger.has_field(fid):
                continue
            shown = display(ledger.field(fid), value)
            if shown:
                message = message.replace(shown, str(mask_value(ledger.field(fid).type, shown)))
        return message

    def masker(self, ledger: Ledger, field_ids):
        """A function masking, in place, the cells of a list laid out as ``field_ids``
        (None: a column that is no field) where this policy does not show them — for
        exports and workbooks that write many rows::

            >>> from desktop_app.core.catalog import load_catalog
            >>> led = load_catalog().ledger("two_cancer")
            >>> Policy("录入员").masker(led, ["name", "phone", None])(["示例一", "13812341234", "x"])
            ['示例一', '138****1234', 'x']
        """
        masked = [(i, ledger.field(fid).type) for i, fid in enumerate(field_ids)
                  if fid is not None and ledger.has_field(fid) and not self.shows(ledger, fid)]

        def mask(cells: list) -> list:
            for i, ftype in masked:
                if cells[i] not in (None, ""):
                    cells[i] = mask_value(ftype, cells[i])
            return cells
        return mask

    def exporting(self, store: Store, reveal: bool) -> Policy:
        """The policy a file is written with: values in full only when ``reveal`` is asked
        and the role may reveal (the file's own audit entry records it).

        :raises PermissionDenied: ``reveal`` for a role that may not.
        """
        if reveal and not self.may_reveal:
            store.require("reveal")
        return replace(self, revealed=reveal)

    def row(self, ledger: Ledger, row: dict, *, links: bool = False) -> dict:
        """A copy of a ledger row as this policy shows it: sensitive fields masked, and the
        person links (ids derived from the ID number) left out unless revealed (``links``:
        kept for a window's own navigation, never shown)."""
        out = dict(row)
        for f in ledger.fields:
            if f.id in out and not self.shows(ledger, f.id):
                out[f.id] = mask_value(f.type, out[f.id])
        if not (self.revealed or links):
            for link in ledger.persons:
                out.pop(link.column, None)
        return out

    def person(self, person: dict, *, links: bool = False) -> dict:
        """A person of the person master as this policy shows it (its ``uuid`` is derived
        from the ID number: left out unless revealed or kept for navigation)."""
        out = {k: (self.value(None, k, v) if k in PERSON_FIELD else v) for k, v in person.items()}
        if not (self.revealed or links):
            out.pop("uuid", None)
        return out

    def shows_person_ids(self) -> bool:
        """person_id (UUIDv5 of the ID number) only where the ID number itself is shown."""
        return self.revealed

    # ------------------------------------------------------------ search
    def searches_phones(self) -> bool:
        """Whether a search looks at phone numbers: only for a role that may reveal. A
        masked phone leaves 4 digits unknown, so whole-number searches would find it in a
        few thousand tries; ID numbers (11 digits masked) are searched whole by every role."""
        return self.may_reveal

    def search_prompt(self) -> str:
        """What a search box finds, for its placeholder::

            >>> Policy("录入员").search_prompt()
            '姓名（可输入一部分）或身份证号（完整号码）'
        """
        if self.may_reveal:
            return "姓名（可输入一部分）、身份证号或电话（完整号码或最后几位）"
        return "姓名（可输入一部分）或身份证号（完整号码）"

    def search_miss(self, text: str) -> str:
        """Why a search with digits found no one (empty for a search without digits)."""
        if not any(c.isdigit() for c in text):
            return ""
        if self.number_search(text) == "suffix":
            return "按身份证号或电话查找请输入完整号码，或号码的最后几位（至少 4 位）"
        if self.may_reveal:
            return "按身份证号或电话查找请输入完整号码"
        return "按身份证号查找请输入完整号码（不能按电话查找）"

    def number_search(self, digits: str) -> str:
        """How a search matches ID-number or phone digits: ``whole`` (the whole number:
        every role) or ``suffix`` (the whole number or its last digits, four or more: a role
        that may reveal). Never a middle part, which would let a masked number be guessed
        digit by digit."""
        digits = re.sub(r"[\s\-]", "", digits)
        return "suffix" if self.may_reveal and len(digits) >= MIN_SUFFIX else "whole"

    # ------------------------------------------------------------ units
    def within(self, org: str | None) -> bool:
        """Whether a row of ``org`` (a code) is in this user's unit (codes are hierarchical:
        a unit's rows carry its code as a prefix)."""
        if self.unit is None:
            return True
        return bool(org) and self.unit != NO_UNIT and str(org).startswith(self.unit)

    def check_org(self, org: str | None, what: str = "录入或修改") -> None:
        """:raises PermissionDenied: a row of ``org`` is outside this user's unit."""
        if not self.within(org):
            raise PermissionDenied(f"当前用户只负责{self.unit_name or self.unit}（及其下属单位），"
                                   f"不能{what}其他单位的记录")

    def scope(self, org: str | None = None) -> str | None:
        """The unit a read is limited to: ``org`` (a code) when given — it must lie in
        this user's unit — otherwise the user's unit (None: the whole install)."""
        if org:
            self.check_org(org, "查看")
            return org
        return self.unit

    def unit_for(self, store: Store, name_or_code: str | None = None, what: str = "查看", *,
                 level: str | None = None) -> str | None:
        """The unit an export, a template or a report is for: the one named (a name or code
        at or below the install, within the user's unit), else the user's own (None: the
        install's). ``level``: the user's own unit only if it is of that level.

        :raises StoreError: an unknown unit. :raises PermissionDenied: outside the user's unit.
        """
        if name_or_code:
            code = store.resolve_row_org(name_or_code)
            self.check_org(code, what)
            return code
        if self.unit and level:
            org = store.orgs.get(self.unit)
            return self.unit if org is not None and org.level == level else None
        return self.unit

    def default_org(self, node_org: str) -> str:
        """The unit a new row belongs to when none is named."""
        return self.unit if self.unit and not node_org.startswith(self.unit) else node_org

    def orgs(self, store: Store) -> list[Org]:
        """The units this user may choose for a row or a filter: their own (or the
        install's) and every unit under it, within the install."""
        tree, own = store.orgs, store.node.org
        top = self.default_org(own)
        first = tree.get(top)
        return ([first] if first else []) + [o for o in tree.below(top) if self.within(o.code)]


def policy_for(store: Store) -> Policy:
    """The policy of the store's session (a store without users: not restricted).

    A user's unit (a name or code) that the install's org tree does not know, or names
    twice, shuts everything: the user sees no row and may write none until an
    administrator corrects it (the refusal says so).
    """
    session = getattr(store, "session", None)
    if session is None:
        return Policy()
    if not session.unit:
        return Policy(session.role)
    tree, own = store.orgs, store.node.org
    try:
        org = tree.resolve(session.unit, within=own)
    except OrgError:
        try:
            org = tree.resolve(session.unit)
        except OrgError:
            return Policy(session.role, NO_UNIT, f"“{session.unit}”（本机的单位名录中没有这个单位，"
                                                 "请管理员在用户管理中改正）")
    if tree.is_within(own, org.code):
        return Policy(session.role)   # the install itself or a unit above it: the whole install
    return Policy(session.role, org.code, org.name)
