"""Printing with Qt: the monthly report as an A4 PDF.

Kept outside ``desktop_app.core`` because it needs Qt; the CLI calls it with an
offscreen QGuiApplication when there is no display.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

from .core.district import STATUS_WORDS, MonthlyReport
from .core.excel import atomic_output

CSS = """
body { font-family: 'Microsoft YaHei', 'WenQuanYi Micro Hei', 'Noto Sans CJK SC', sans-serif; font-size: 9pt; }
h1 { font-size: 15pt; text-align: center; margin: 0 0 4pt 0; }
h2 { font-size: 11pt; margin: 10pt 0 3pt 0; }
p.meta { text-align: center; color: #444; margin: 0 0 6pt 0; }
table { border-collapse: collapse; width: 100%; }
th { background: #d9e1f2; }
th, td { border: 1px solid #999; padding: 2pt 3pt; }
td.num { text-align: right; }
.lag { color: #c62828; font-weight: bold; }
.red { color: #c62828; } .amber { color: #b26a00; } .green { color: #2e7d32; }
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _num(value, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}".strip()


def report_html(report: MonthlyReport) -> str:
    p = report.progress
    parts = [f"<html><head><style>{CSS}</style></head><body>",
             f"<h1>{_e(report.title)}</h1>",
             f"<p class='meta'>统计日期 {p.as_of:%Y年%m月%d日}　序时进度 {p.expected_rate:.1f}%　"
             f"滞后指标 {len(report.lagging)} 项</p>",
             f"<p class='meta'>{_e(report.rule_note)}</p>",
             "<h2>一、各指标进展</h2><table><tr><th>项目</th><th>指标</th><th>责任单位</th><th>目标</th>"
             "<th>完成</th><th>完成率</th><th>序时进度</th><th>状态</th></tr>"]
    shown = set()
    for item in p.indicators:
        ind = item.indicator
        pid = ind.projects[0]
        project = "" if pid in shown else report.projects.get(pid, pid)
        shown.add(pid)
        state = ("定性" if ind.kind == "qualitative" else "滞后" if item.lagging else
                 "已完成" if item.met else "无数据" if item.lagging is None else "正常")
        cls = " class='lag'" if item.lagging else ""
        parts.append(
            f"<tr><td>{_e(project)}</td><td{cls}>{_e(ind.name)}</td><td>{_e('、'.join(ind.units))}</td>"
            f"<td class='num'>{_e(_num(item.target, ind.unit))}</td>"
            f"<td class='num'>{_e(_num(item.achieved, ind.unit))}</td>"
            f"<td class='num'>{'—' if item.rate is None else f'{item.rate:.1f}%'}</td>"
            f"<td class='num'>{'—' if item.expected_rate is None else f'{item.expected_rate:.1f}%'}</td>"
            f"<td{cls}>{state}</td></tr>")
    parts.append("</table><h2>二、滞后指标及责任单位</h2>")
    if report.lagging:
        parts.append("<table><tr><th>指标</th><th>责任单位</th><th>完成率</th><th>序时进度</th></tr>")
        for item in report.lagging:
            parts.append(f"<tr><td>{_e(item.indicator.name)}</td><td>{_e('、'.join(item.indicator.units))}</td>"
                         f"<td class='num'>{'—' if item.rate is None else f'{item.rate:.1f}%'}</td>"
                         f"<td class='num'>{'—' if item.expected_rate is None else f'{item.expected_rate:.1f}%'}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>无滞后指标。</p>")
    if report.board:
        parts.append("<h2>三、数据包报送情况</h2><table><tr><th>单位</th><th>状态</th><th>最近收到</th>"
                     "<th>已收包数</th><th>缺包</th><th>逾期</th><th>待审冲突</th></tr>")
        for b in report.board:
            parts.append(f"<tr><td>{_e(b.name)}</td><td class='{b.status}'>{STATUS_WORDS[b.status]}</td>"
                         f"<td>{_e((b.last_received or '—').replace('T', ' '))}</td>"
                         f"<td class='num'>{b.packages}</td><td>{_e('；'.join(b.gaps) or '—')}</td>"
                         f"<td>{_e('、'.join(b.overdue) or '—')}</td><td class='num'>{b.conflicts}</td></tr>")
        parts.append("</table>")
    parts.append(f"<h2>{'四' if report.board else '三'}、待办问题</h2><ol>")
    parts += [f"<li>{_e(text)}</li>" for text in report.issues] or ["<li>无</li>"]
    parts.append(f"</ol><h2>{'五' if report.board else '四'}、计数规则</h2><table><tr><th>指标</th><th>计数规则</th></tr>")
    changed = {c.indicator for c in report.rule_changes}
    for item in p.indicators:
        mark = "（已变更）" if item.indicator.id in changed else ""
        parts.append(f"<tr><td>{_e(item.indicator.name + mark)}</td><td>{_e(item.counting)}</td></tr>")
    parts.append("</table></body></html>")
    return "".join(parts)


def ensure_gui_app():
    """A Qt application for printing from the command line (offscreen if there is no display).

    A QApplication, not just a QGuiApplication, so windows can still be made later in the
    same process (tests print a report and then open the main window).
    """
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and os.name != "nt":
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(["minsheng"])
    return app


def monthly_pdf(report: MonthlyReport, out: Path | str) -> Path:
    """Print the report to an A4 landscape PDF at ``out``."""
    from PySide6.QtCore import QMarginsF, QSizeF
    from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
    ensure_gui_app()
    out = Path(out)
    text = report_html(report)
    with atomic_output(out) as tmp:     # private (0600) from the start, renamed into place
        writer = QPdfWriter(str(tmp))
        writer.setPageLayout(QPageLayout(QPageSize(QPageSize.A4), QPageLayout.Landscape,
                                         QMarginsF(12, 12, 12, 12), QPageLayout.Millimeter))
        writer.setResolution(150)
        writer.setTitle(report.title)
        doc = QTextDocument()
        doc.documentLayout().setPaintDevice(writer)  # point sizes in the printer's resolution
        doc.setHtml(text)
        rect = writer.pageLayout().paintRectPixels(writer.resolution())
        doc.setPageSize(QSizeF(rect.width(), rect.height()))
        doc.print_(writer)
        del writer
    return out
