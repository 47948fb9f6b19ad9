-- Every Excel file offered for import: what happened to it. A refused file is
-- recorded here and nowhere else (DESIGN.md, "Unchanged after refused input").
CREATE TABLE import_history (
    batch     TEXT PRIMARY KEY,
    file      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    sheet     TEXT,
    ledger    TEXT,
    ts        TEXT NOT NULL,
    user      TEXT NOT NULL,
    status    TEXT NOT NULL,
    counts    TEXT NOT NULL,
    undone_at TEXT
);
CREATE INDEX import_history_sha ON import_history (sha256);
