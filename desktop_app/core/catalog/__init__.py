"""The plan as data: projects, indicators and ledgers with their fields, the org tree,
and the checks every typed or imported value passes (field types, ID numbers, rules).

    >>> from desktop_app.core.catalog import load_catalog, validate_row
    >>> catalog = load_catalog()
    >>> catalog.indicator("two_cancer_screening").target
    3000
    >>> validate_row(catalog.ledger("two_cancer"), {"name": "示例一"}, plan_year=2024).ok
    False

Many rows are checked a column at a time (Excel rows, package rows alike)::

    >>> rows = Checker(catalog.ledger("two_cancer"), plan_year=2024).check_rows([{"name": "示例一"}] * 3)
    >>> rows.n, rows.ok(2)
    (3, False)
"""
from .attachment_refs import KINDS as ATTACHMENT_KINDS
from .attachment_refs import parse_refs
from .fieldtypes import display, is_blank, normalize, normalize_many, parse_date
from .idnumbers import age_on, birth_from_id, fold, sex_from_id
from .choices import Choices, load_choices, save_choices
from .counting import counting_text
from .model import Catalog, CatalogError, Field, Indicator, Ledger, WorkCalendar, load_catalog
from .orgs import LEVEL_NAMES, PARENT_LEVEL, Org, OrgError, OrgTree, file_label
from .validation import Checker, CheckedRows, Problem, RowCheck, validate_row

__all__ = [
    "ATTACHMENT_KINDS", "LEVEL_NAMES", "Catalog", "CatalogError", "CheckedRows", "Checker", "Choices", "Field",
    "Indicator", "Ledger",
    "WorkCalendar", "counting_text", "load_choices", "save_choices",
    "Org", "OrgError", "OrgTree", "PARENT_LEVEL", "Problem", "RowCheck", "age_on", "birth_from_id", "display",
    "file_label", "fold", "is_blank", "load_catalog", "normalize", "normalize_many", "parse_date", "parse_refs", "sex_from_id",
    "validate_row",
]
