"""What a member's package may write, beyond a valid signature (issue 15: an insider).

Every member holds a signing key, so a compromised or broken one can sign anything.
A package is applied only within its sender's scope (the sender's unit and those below):

* **Orgs** — a new unit goes under a unit of the sender's scope, with a code of its
  level's length that starts with its parent's code (:func:`~..catalog.orgs.code_problem`),
  and a name no unit under the same parent has.
* **Rows** — of a unit in scope; a new row's ``o`` (creating install) may not claim an
  install bound to another unit (:class:`Origins`).
* **Persons** — one master across towns: a sender may edit a person who has a row in its
  scope (after the package's own rows); any other edit becomes a ``_scope:`` conflict for
  a reviewer (:data:`~..store.merge.SCOPE`), never an overwrite and never a delete.
  A row linked to another person than its ID number names is held (:func:`link_check`).
* **Reviews** (核实意见) — the level above owns status, note, reviewer (and the review
  itself); a sender from below only the reply (:data:`SENDER_REVIEW_COLUMNS`).
* **Audit entries** — append-only, keyed by (origin, origin id) — see :meth:`Origins.may_claim`.
* **Content** — a row is checked with the field rules local input gets, and its values are
  stored as the same values typed here would be (``" 4309…x"`` as ``4309…X``: counting,
  duplicates and person matching see them alike); then (unless it is a tombstone) with the
  ledger's rules relating its fields (:func:`rule_problems`: an empty identity field, a
  date before the one it follows, a man in the 两癌 ledger, a 残疾证号 of another ID number …);
  one that breaks a rule is *held* (quarantined, never stored in the ledger) and the sender
  is told in the next package to it (``{"k": "refused"}`` lines, :func:`notice_lines`).
  A row that came valid but breaks such a rule once merged field by field with the row
  here is kept, 待补充 (see ``incoming._Applier._judge_combined``).

    >>> content_problem([], {"a": 1}) is None
    True
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING

from ..catalog.fieldtypes import is_blank, normalize_many
from ..catalog.validation import checker_of
from ..store.persons import person_id
from ..store.versions import now_iso

if TYPE_CHECKING:
    from ..store.database import Store

SENDER_REVIEW_COLUMNS = ("reply",)   # what the unit below writes in a review; the rest is the reviewer's
MAX_RULE = 200                        # characters of a reported rule
MAX_NOTICES = 10_000                  # refusal notices one package may carry (the rest follow later);
                                      # a package with more: the rest are ignored


class Origins:
    """Which unit each install writes for: direct peers from their profile (authoritative),
    our own node, and relayed origins learned from the first package that carried them.

    An audit entry or a new row claiming origin X is accepted from a sender only when X is
    bound to a unit in the sender's scope. For a direct peer this does not depend on arrival
    order. A relayed origin (a village behind a town) is bound to the first sender that
    carries it: a member that forges a relayed origin before the real one is seen wins that
    binding, and the real entries are then held (quarantined, reported) rather than lost —
    the receiver cannot tell the two apart, since it never saw that install's key.
    """

    def __init__(self, store: Store):
        self.conn = store.conn
        self.bound = dict(self.conn.execute("SELECT origin, org FROM origin_scope"))
        self.bound.update(self.conn.execute("SELECT node, org FROM peers"))
        self.bound[store.node.id] = store.node.org

    def org_of(self, origin: str) -> str | None:
        return self.bound.get(origin)

    def learn(self, origin: str, org: str, package_id: str) -> None:
        if origin not in self.bound:
            self.bound[origin] = org
            self.conn.execute("INSERT OR IGNORE INTO origin_scope (origin, org, learned) VALUES (?, ?, ?)",
                              (origin, org, package_id))


def content_problem(fields, values: dict, *, today: dt.date | None = None, ledger=None) -> str | None:
    """The first field rule ``values`` break (Chinese, no sensitive value), or None: the
    same normalisation local input gets (:func:`~..catalog.fieldtypes.normalize`). A date
    a day or two ahead of this computer's is not "in the future" (clocks differ). With the
    row's ``ledger``, a row breaking no field rule is judged by the rules relating its
    fields too (:meth:`~..catalog.validation.Checker.broken`: an empty identity field, a
    date before the one it follows …), unless it is deleted."""
    return content_check(fields, values, today=today, ledger=ledger)[0]


def content_check(fields, values: dict, *, today: dt.date | None = None, ledger=None) -> tuple[str | None, dict]:
    """:func:`content_problem` and, for a row breaking none, its values as they are stored
    (field id → the value normalised as one typed or imported is); else ``{}``.

        >>> from desktop_app.core.catalog import Field
        >>> content_check([Field("p", "联系电话", "phone")], {"p": " 138-0000-1234"})
        (None, {'p': '13800001234'})
    """
    latest = rule_day(today)
    normalised = {}
    for f in fields:
        (problem,), normalised[f.id] = column_check(f, [values.get(f.id)], latest)
        if problem:
            return problem, {}
    problem = rule_problems(ledger, normalised, [values], [0])[0] if ledger is not None else None
    return problem, {} if problem else {k: column[0] for k, column in normalised.items()}


def rule_problems(ledger, normalised: dict[str, list], rows: list[dict], judged: list[int]) -> list[str | None]:
    """For each of ``rows`` (a package's), the first rule relating its fields it breaks, or
    None: judged on the ``normalised`` values (field id → column) of the rows ``judged``
    (rows breaking no field rule), unless deleted (a tombstone is how a bad row goes)."""
    out: list[str | None] = [None] * len(rows)
    checker = checker_of(ledger)
    judged = [i for i in judged if not rows[i].get("_deleted")]
    if not judged or not checker.rule_reads:
        return out
    columns = {k: [normalised[k][i] for i in judged] for k in checker.rule_reads}
    for k, problem in checker.broken(columns, len(judged)).items():
        out[judged[k]] = problem.message[:MAX_RULE]
    return out


def link_check(ledger, rows: list[dict], changes: dict[str, dict[int, object]], namespace: str,
               problems: list) -> None:
    """The person links of ``rows`` (a package's, deleted ones too; ``changes``: the values
    stored otherwise, see :meth:`~.rows.RowReader.check`), in place: a row breaking no rule
    yet is linked, as the app links it, to the person its stored ID number names — a link
    made from the number as sent (``…x``) moves there (in ``changes``); a link naming
    anyone else breaks a rule (in ``problems``): a link alone would let a sender edit the
    person master's record of anyone (see *Persons* above).

        >>> from desktop_app.core.catalog import load_catalog
        >>> led, ns = load_catalog().ledger("two_cancer"), "6f1c3a52-3f0e-5b8e-9d0a-2f4b7c9e1a43"
        >>> wx, man = "43090219710916154X", "430902197109161531"
        >>> rows = [{"id_number": wx, "person_id": person_id(ns, wx)},
        ...         {"id_number": wx.lower(), "person_id": person_id(ns, wx.lower())},
        ...         {"id_number": wx, "person_id": person_id(ns, man)}]
        >>> found, changes = [None] * 3, {"id_number": {1: wx}}
        >>> link_check(led, rows, changes, ns, found)
        >>> found[2], changes["person_id"] == {1: person_id(ns, wx)}
        ('身份证号：与这条记录关联的人员（受检妇女）不符，请在本机重新保存这条记录后再发送', True)
    """
    for link in ledger.persons:
        id_field, column = link.fields.get("id_number"), link.column
        if id_field is None:
            continue
        stored = changes.get(id_field, {})
        for i, row in enumerate(rows):
            sent, linked = row.get(id_field), row.get(column)
            number = stored.get(i, sent)
            if problems[i] is not None or not (number and linked):
                continue
            wanted = person_id(namespace, number)
            if linked == wanted:
                continue
            if type(sent) is str and linked == person_id(namespace, sent):
                changes.setdefault(column, {})[i] = wanted
            else:
                problems[i] = (f"{ledger.field(id_field).label}：与这条记录关联的人员（{link.role}）不符，"
                               "请在本机重新保存这条记录后再发送")


def rule_day(today: dt.date | None = None) -> dt.date:
    """The "today" field rules are checked against: two days ahead of this computer's."""
    return (today or dt.date.today()) + dt.timedelta(days=2)


def column_check(f, values: list, latest: dt.date) -> tuple[list[str | None], list]:
    """The rule of field ``f`` each of ``values`` (one column's) breaks, or None, and the
    normalised values (None for an empty or refused one), normalised in one call
    (``latest``: :func:`rule_day`).

        >>> from desktop_app.core.catalog import Field
        >>> column_check(Field("p", "联系电话", "phone"), ["13800000000", None, [1], "12"], dt.date(2024, 1, 1))[0]
        [None, None, '联系电话：值的类型不对', '联系电话：号码格式不对：手机号 11 位、以 13–19 开头；固话写作 0737-1234567']
        >>> column_check(Field("d", "检查日期", "date"), ["2024.3.5", "明天"], dt.date(2024, 6, 30))[1]
        ['2024-03-05', None]
    """
    problems: list[str | None] = [None] * len(values)
    typed = []
    for i, v in enumerate(values):
        if v.__class__ not in (str, int, float) and not is_blank(v):
            problems[i] = f"{f.label}：值的类型不对"
        else:
            typed.append(i)
    if len(typed) == len(values):
        normalised, issues = normalize_many(f, values, today=latest)
    else:
        found, issues = normalize_many(f, [values[i] for i in typed], today=latest)
        normalised = [None] * len(values)
        for k, value in zip(typed, found):
            normalised[k] = value
    for k, checked in issues.items():
        if checked.error:
            problems[typed[k]] = checked.error[:MAX_RULE]
    return problems, normalised


def _version_tuple(text: object) -> tuple[int, ...] | None:
    if type(text) is not str or not re.fullmatch(r"\d{1,9}(\.\d{1,9}){0,5}", text):
        return None
    return tuple(int(p) for p in text.split("."))


def catalog_problem(store: Store, catalog: object, file_name: str) -> str | None:
    """Why a package made with ``catalog`` (its manifest's ``{"id", "version"}``) cannot be
    checked here, or None: it must name this install's plan, in a version not newer than
    ours (our catalog then holds every rule and field the sender's had; a field a newer
    catalog requires makes a row 待补充, not refused)."""
    ours = store.catalog
    if not isinstance(catalog, dict) or not catalog.get("id") or not catalog.get("version"):
        return f"{file_name} 没有写明生成它的计划目录版本，无法按目录核对内容，已拒绝；请发送单位使用本程序的正式版本重发"
    if catalog["id"] != ours.id:
        return (f"{file_name} 按另一份计划目录（{str(catalog['id'])[:60]}）生成，本机使用的是 {ours.id}，"
                "无法核对，已拒绝；请确认双方使用同一年度的计划")
    theirs, mine = _version_tuple(catalog["version"]), _version_tuple(ours.version)
    if catalog["version"] != ours.version and (theirs is None or mine is None or theirs > mine):
        return (f"{file_name} 按更新的计划目录（{str(catalog['version'])[:20]} 版）生成，本机是 {ours.version} 版；"
                "请先导入上级单位的新配置文件（更新计划目录）后再导入这个数据包")
    return None


def hold(conn, *, package_id: str, source: str, kind: str, tbl: str, uid: str, rule: str,
         record: dict | None) -> None:
    """Quarantine one record of a package (kept, not applied; reported to the sender later)."""
    conn.execute(
        "INSERT OR REPLACE INTO quarantine (direction, package_id, source, kind, tbl, uuid, rule, record, "
        "detected) VALUES ('held', ?, ?, ?, ?, ?, ?, ?, ?)",
        (package_id, source, kind, tbl, uid, rule[:MAX_RULE],
         None if record is None else json.dumps(record, ensure_ascii=False), now_iso()))


def notice_lines(conn, dest_node: str, *, again: bool) -> tuple[list[bytes], list[int]]:
    """``{"k": "refused"}`` lines telling ``dest_node`` which of its records were held here
    (not yet told, or all of them when ``again``), and the quarantine ids they cover."""
    sql = ("SELECT id, package_id, kind, tbl, uuid, rule FROM quarantine WHERE direction = 'held' "
           "AND source = ?" + ("" if again else " AND reported IS NULL") + " ORDER BY id LIMIT ?")
    lines, ids = [], []
    for qid, pid, kind, tbl, uid, rule in conn.execute(sql, (dest_node, MAX_NOTICES)):
        lines.append(json.dumps({"k": "refused", "p": pid, "kind": kind, "t": tbl, "u": uid, "r": rule},
                                ensure_ascii=False, separators=(",", ":")).encode())
        ids.append(qid)
    return lines, ids


def mark_reported(conn, ids: list[int], package_id: str) -> None:
    conn.executemany("UPDATE quarantine SET reported = ? WHERE id = ? AND reported IS NULL",
                     [(package_id, i) for i in ids])


NOTICE_TEXTS = {"row": "记录不符合对方的填报规则", "file": "附件未通过对方的内容检查（不是它声称的照片或 PDF）",
                "audit": "审计记录与对方已有的记录不一致"}


def notice_shape_ok(rec: dict) -> bool:
    """Whether a ``{"k": "refused"}`` line has the shape :func:`notice_lines` writes."""
    pid, kind, tbl, uid, rule = (rec.get(k) for k in ("p", "kind", "t", "u", "r"))
    return (all(type(v) is str and 0 < len(v) <= 200 for v in (pid, kind, tbl, uid, rule))
            and kind in NOTICE_TEXTS and set(rec) == {"k", "p", "kind", "t", "u", "r"})


def read_notice(conn, rec: dict, source: str, fields_of) -> str | None:
    """Record a notice that ``source`` refused one of our records; returns the reason in
    this install's own words, or None when the notice is about nothing this install sent
    to ``source`` (ignored: a forged or confused notice). The sender's own text (``r``) is
    never shown or kept: a row's reason is found again by checking our own row with our
    rules (``fields_of(tbl)`` → its fields and ledger — None for persons — or None for a
    table we do not have: ignored);
    when our rules find nothing, and for files and audit entries, it is :data:`NOTICE_TEXTS`."""
    pid, kind, tbl, uid = rec["p"], rec["kind"], rec["t"], rec["u"]
    if kind == "file":
        sent = conn.execute("SELECT 1 FROM sent_attachments WHERE dest = ? AND sha256 = ?", (source, uid)).fetchone()
    else:
        sent = conn.execute("SELECT 1 FROM packages WHERE package_id = ? AND direction = 'out' AND dest = ?",
                            (pid, source)).fetchone()
    if sent is None:
        return None
    reason = NOTICE_TEXTS[kind]
    if kind == "row":
        known = fields_of(tbl)
        if known is None:
            return None
        fields, ledger = known
        cursor = conn.execute(f"SELECT * FROM [{tbl}] WHERE uuid = ?", (uid,))
        row = cursor.fetchone()
        ours = row is not None and content_problem(fields, dict(zip([d[0] for d in cursor.description], row)),
                                                   ledger=ledger)
        if ours:
            reason = ours
    conn.execute(
        "INSERT OR IGNORE INTO quarantine (direction, package_id, source, kind, tbl, uuid, rule, detected) "
        "VALUES ('reported', ?, ?, ?, ?, ?, ?, ?)", (pid, source, kind, tbl, uid, reason, now_iso()))
    return reason
