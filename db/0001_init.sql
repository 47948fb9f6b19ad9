-- Fixed tables of a store. Ledger tables and the person master are made from
-- the catalog (desktop_app/core/schema.py), never here.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The org tree: the district, its towns and the villages the towns add.
CREATE TABLE orgs (
    code    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    level   TEXT NOT NULL CHECK (level IN ('district', 'town', 'village')),
    parent  TEXT REFERENCES orgs (code),
    aliases TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL
);
CREATE INDEX orgs_parent ON orgs (parent);

-- One entry per row written here (locally or from a package): the local sequence
-- that incremental packages are cut from.
CREATE TABLE change_log (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl   TEXT NOT NULL,
    uuid  TEXT NOT NULL,
    stamp INTEGER NOT NULL
);

-- Who changed what, when, from where: one entry per row changed. Entries made
-- elsewhere arrive in packages and keep their origin and number there.
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    origin    TEXT NOT NULL,
    origin_id INTEGER,
    ts        TEXT NOT NULL,
    stamp     INTEGER NOT NULL,
    user      TEXT NOT NULL,
    unit      TEXT,
    action    TEXT NOT NULL,
    tbl       TEXT,
    uuid      TEXT,
    before    TEXT,
    after     TEXT,
    source    TEXT NOT NULL,
    batch     TEXT
);
CREATE INDEX audit_row ON audit (uuid);
CREATE INDEX audit_batch ON audit (batch) WHERE batch IS NOT NULL;
CREATE UNIQUE INDEX audit_origin ON audit (origin, origin_id) WHERE origin_id IS NOT NULL;
