"""Excel in and out: reading the sheets people send (.xlsx, .xls, .ods, towns' own
layouts), planning and applying an import, the error workbook, templates, data and
de-identified exports.

    >>> import tempfile, pathlib
    >>> from desktop_app.core.store import Store
    >>> from desktop_app.core.excel import plan_import, write_template
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.create(folder / "t.sqlite3", level="town", org="河坝镇", operator="示例")
    >>> path = write_template(store, "two_cancer", folder / "两癌.xlsx")
    >>> plan_import(store, path).counts()["new"]
    0
    >>> store.close()
"""
from .columns import IGNORE as NOT_IMPORTED
from .columns import ORG as UNIT_COLUMN
from .columns import is_own_hidden
from .deidentify import export_deidentified
from .error_book import write_error_workbook
from .export import ExportResult, export_ledger
from .importer import (COUNT_NAMES, ImportPlan, ImportResult, RowPlan, UndoRefused, apply_plan,
                       import_history, plan_import, refused_history, undo_import)
from .source_unit import row_units
from .template import atomic_output, write_template
from .workbook import Book, WorkbookError, read_book

__all__ = [
    "COUNT_NAMES", "NOT_IMPORTED", "UNIT_COLUMN", "Book", "ExportResult", "ImportPlan",
    "ImportResult", "RowPlan", "UndoRefused", "WorkbookError", "apply_plan", "atomic_output", "export_deidentified",
    "export_ledger", "import_history", "is_own_hidden", "plan_import", "read_book",
    "refused_history", "row_units", "undo_import", "write_error_workbook", "write_template",
]
