"""Every indicator's counting rule in plain Chinese, generated from its catalog definition
(ledger, conditions, method, period, calendar, standard series, rotation, lists) and the
district's choices — so a new rule or a new ledger is described without new code::

    >>> from desktop_app.core.catalog import load_catalog
    >>> cat = load_catalog()
    >>> print(counting_text(cat, cat.indicator("child_rehab")))
    统计残疾儿童康复救助台账中开始日期在 2024 年内（截至统计日）、信息完整的记录中的人数（按残疾儿童计），同一人只计一次。跨镇重复并经核实为同一人的记录只计一次。

The same sentence is shown in the dashboard's tooltip, the drill-down, the monthly report and
``catalog --json`` (``counting``).
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .choices import Choices
from .orgs import OrgTree

if TYPE_CHECKING:
    from .model import Catalog, Indicator, Ledger

PERIOD_WORDS = {"day": "日", "month": "月", "quarter": "季度", "year": "年"}
_NOUNS = {"人": "人数", "户": "户数", "件": "件数", "个": "个数", "场": "场数", "家": "家数",
          "所": "所数", "名": "人数"}


def _values(values) -> str:
    return "、".join(values)


def _month_words(month: str, plan_year: int) -> str:
    y, m = month.split("-")
    return f"{int(m)}月" if int(y) == plan_year else f"{int(y)}年{int(m)}月"


def month_field(led: Ledger):
    """The field naming the month a row belongs to (所属月份), if the ledger keeps one."""
    return next((f for f in led.fields if f.label == "所属月份" or f.id in {"pay_month", "belong_month"}),
                None)


def conditions(catalog: Catalog, ind: Indicator) -> list[str]:
    """The conditions a row meets to be counted, each in words."""
    led = catalog.ledger(ind.measure.ledger)
    out = []
    ifield = led.indicator_field()
    if ifield is not None:
        out.append(f"{ifield.label}为{ind.name}" if "“" in ind.name else f"{ifield.label}为“{ind.name}”")
    for fid, values in ind.measure.where.items():
        label = "状态" if fid == "status" else led.field(fid).label
        out.append(f"{label}为{_values(values)}")
    date = led.field(led.date_field).label
    if ind.measure.span == "state":   # a state that holds, whatever the year it began in
        out.append(f"{date}不晚于统计日（不限年份）")
        if ind.measure.until:   # the state ended (停业) on that date
            out.append(f"{led.field(ind.measure.until).label}未填或晚于统计日")
    else:
        out.append(f"{date}在 {catalog.plan_year} 年内（截至统计日）")
    out.append("信息完整")
    return out


def counting_text(catalog: Catalog, ind: Indicator, choices=None) -> str:
    """One plain-Chinese sentence (or a few) saying what the indicator counts."""
    choices = choices or Choices()
    m = ind.measure
    led = catalog.ledger(m.ledger)
    where = "、".join(conditions(catalog, ind))
    rows = f"{led.label}中{where}的记录"
    head = f"统计{rows}"
    extra = []
    if m.method == "count":
        text = f"{head}条数"
    elif m.method == "distinct":
        if m.field and led.has_field(m.field):
            label = led.field(m.field).label
            text = f"{head}中不同{label}的{_NOUNS.get(ind.unit, '个数')}，同一{label}只计一次"
            items = choices.item_list(catalog, ind)
            if items:   # a fixed list: say how long it is, and when it is shorter than the target
                text += f"；{label}从清单中选择（{len(items)} 项"
                text += (f"，其中区里补入 {len(choices.items[ind.id])} 项）" if choices.items.get(ind.id) else "）")
                if ind.target is not None and len(items) < ind.target:
                    text += (f"。清单只有 {len(items)} 项，少于目标 {ind.target:g}{ind.unit}，"
                             f"即使全部落实也达不到目标：请区里补入其余事项（命令行 rules --items）")
        else:
            who = led.persons[0].role if led.persons else "对象"
            noun = _NOUNS.get(ind.unit, "人数")
            text = f"{head}中的{noun}（按{who}计），同一人只计一次"
    elif m.method == "households":
        head = next(p.role for p in led.persons if p.column == m.field)
        who = led.persons[0].role
        text = f"统计{rows}的户数：一户以{head}计（按人员主档），同一{head}的多行只计 1 户；" \
               f"{head}未填写的行暂按{who}本人计为一户"
    elif m.method == "sum":
        text = f"{head}的{led.field(m.field).label}之和"
    elif m.method == "standard":
        label = led.field(m.field).label
        mf = month_field(led)
        by = f"{mf.label}" if mf else f"{led.field(led.date_field).label}所在月份"
        series = choices.schedule(ind)
        cmp = {">=": "不低于", ">": "高于", "=": "等于", "<=": "不高于"}[ind.comparator]
        if len(series) == 1:
            std = f"{cmp} {series[0][1]:g}{ind.unit}"
        else:
            std = "；".join(f"{_month_words(start, catalog.plan_year)}起{cmp} {v:g}{ind.unit}"
                           for start, v in series)
        if m.per:   # 发放金额 ÷ 保障人数: the standard is per person
            label = f"人均{label}（{label} ÷ {led.field(m.per).label}）"
        text = (f"逐行核对{rows}的{label}，每笔按{by}执行的标准判断（{std}）；"
                f"目标为统计日执行的标准，完成值为按该标准核对的行和低于本月标准的行中最低的{label}，"
                f"完成率为达标行数占比，未达标的行逐条列出")
        if choices.standards.get(ind.id):
            extra.append("执行时间由区里设定")
    elif m.method == "latest":
        text = f"取{rows}中截至统计日最近一次填报的{led.field(m.field).label}"
    elif m.method == "periods":
        unit = PERIOD_WORDS[m.period]
        n = catalog.periods_in_year(m.period, m.calendar)
        if m.period == "day" and m.calendar == "working_days":
            cal = catalog.calendar
            due = (f"应开展的期数为 {catalog.plan_year} 年的 {n} 个工作日"
                   f"（按{cal.source or '国家节假日安排'}，不含法定节假日、含调休上班的周末）")
            unit = "工作日"
        elif m.period == "day":
            due = f"应开展的期数为 {catalog.plan_year} 年的 {n} 个自然日"
        else:
            due = f"应开展的期数为 {catalog.plan_year} 年的 {n} {'' if unit in ('月', '年') else '个'}{unit}"
        one = {"日": "一天", "工作日": "一个工作日", "月": "一个月", "季度": "一个季度", "年": "当年"}[unit]
        text = f"{head}覆盖的{unit}数（{one}有记录即计一期，同一期多条只计一次）；{due}，" \
               f"序时进度为截至统计日已到期的期数 ÷ 全年期数"
        rotation = choices.rotation(catalog, ind)
        if rotation:
            names = "、".join(f"{mo}月{_org_name(catalog, code)}" for mo, code in enumerate(rotation, 1))
            text += f"；每月须由轮到的单位完成才计入（{names}）"
            extra.append("轮流顺序由区里设定" if ind.id in choices.rotations else
                         "轮流顺序为目录默认（方案未规定，区里可修改）")
        if m.each_of:
            members = choices.member_list(ind)
            label = led.field(m.each_of).label
            if members:
                text += f"；{one}内名单中的每一家（{_values(members)}）都有记录（按{label}）才计入该{unit}"
            else:
                text += f"；名单尚未设定，暂按任一{label}有记录计入（请区里列出名单）"
    elif m.method == "orgs_with":
        names = "、".join(_org_name(catalog, c) for c in m.orgs)
        text = f"{names}中，{rows}不少于 {m.min} 条的单位个数"
    elif m.method == "notes":
        text = f"按日期列出{rows}的进展说明（定性任务，不计数）"
    else:   # a method added to the catalog later: say at least what it reads
        text = f"按“{m.method}”方法统计{rows}"
    if led.persons and m.method in {"count", "distinct", "households", "sum", "standard"}:
        extra.append("跨镇重复并经核实为同一人的记录只计一次")
    elif not led.persons and m.method != "notes" and led.key_is_national:
        extra.append(f"两个镇报了{led.key_label()}相同的同一项时只计一次（计先录入的一条，"
                     f"或经核实保留的一条）")
    elif not led.persons and m.method != "notes":
        extra.append(f"两个镇报了{led.key_label()}相同、经核实为同一项的只计一次")
    if ind.derived:
        extra.append(f"标准来源：{ind.derived}")
    return text + "。" + "".join(f"{e}。" for e in extra)


def _org_name(catalog: Catalog, code: str) -> str:
    org = _shipped_tree().get(code)
    return org.name if org else code


@functools.lru_cache(maxsize=1)
def _shipped_tree():
    return OrgTree.shipped()
