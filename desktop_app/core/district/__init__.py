"""Progress against every target of the plan, and the district's work on it: the
submission board, the monthly 调度 report, duplicates across towns and 核实意见.

    >>> import datetime as dt
    >>> from desktop_app.core.district import clamp_as_of, expected_rate
    >>> expected_rate(dt.date(2024, 7, 1), 2024), clamp_as_of(dt.date(2025, 3, 1), 2024)
    (50.0, datetime.date(2024, 12, 31))
"""
from .board import BoardLine, VillageLine, due_dates, schedule, set_schedule, submission_board
from .duplicates import KIND_TIPS, KIND_WORDS, DuplicatePair, decide, find_duplicates
from .explain import REASONS as EXPLAIN_REASONS
from .explain import Explanation, explain
from .monthly import STATUS_WORDS, MonthlyReport, month_end, monthly_report, monthly_workbook, parse_month
from .progress import UNSPLIT, IndicatorProgress, OrgFigure, ProgressReport, clamp_as_of, compute, expected_rate
from .reports import progress_workbook
from .reviews import STATUSES as REVIEW_STATUSES
from .reviews import flag, list_reviews, reply
from .rules import RuleChange, changed_since_last_report, rules_snapshot

__all__ = [
    "EXPLAIN_REASONS", "Explanation", "RuleChange", "changed_since_last_report", "explain", "rules_snapshot",
    "REVIEW_STATUSES", "STATUS_WORDS", "BoardLine", "DuplicatePair", "IndicatorProgress",
    "MonthlyReport", "OrgFigure", "ProgressReport", "VillageLine", "clamp_as_of", "compute",
    "decide", "due_dates", "expected_rate", "find_duplicates", "flag", "list_reviews",
    "month_end", "monthly_report", "monthly_workbook", "parse_month", "progress_workbook", "reply",
    "KIND_TIPS", "KIND_WORDS", "UNSPLIT", "schedule", "set_schedule", "submission_board",
]
