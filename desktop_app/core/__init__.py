"""Qt-free core, laid out by what it holds; each package's ``__all__`` is its front door.

- :mod:`.catalog` — the plan as data: indicators, ledgers, fields, org tree, value checks
- :mod:`.store` — one SQLite file: rows, persons, versions, users, masking, backups
- :mod:`.excel` — workbooks in and out: import plans, error workbooks, templates, exports
- :mod:`.sync` — profiles, signed and encrypted packages, merging, conflicts
- :mod:`.district` — progress, the submission board, reports, duplicates, 核实意见
- :mod:`.batch` — importing several workbooks or packages as one batch: one backup, one summary
- :mod:`.errors` — :class:`~.errors.UserError`, the one base of every expected failure
- :mod:`.logs` — rotating log files of unexpected errors, with ID and phone numbers redacted
- :mod:`.paths` — where the shipped ``resources/`` and ``db/`` are; :mod:`.demo` — the demo store

Dependencies point one way: errors, paths, logs ← catalog ← store ← excel, sync ← district, batch ← demo.
Never imports PySide6 (a test enforces this).
"""
