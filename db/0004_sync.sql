-- Incremental packages: who we know, what we sent and received, conflicts to review.

-- Other installs, from their profile files (public keys only).
CREATE TABLE peers (
    node            TEXT PRIMARY KEY,
    org             TEXT NOT NULL,
    level           TEXT NOT NULL,
    suite           TEXT NOT NULL,
    sign_key        TEXT NOT NULL,
    enc_key         TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    profile_created TEXT NOT NULL,
    added           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active'   -- active / replaced
);
CREATE INDEX peers_org ON peers (org);

-- Per destination: the last package sent and how far the change log and audit went.
CREATE TABLE outbox (
    dest         TEXT PRIMARY KEY,
    last_seq     INTEGER NOT NULL DEFAULT 0,
    last_change  INTEGER NOT NULL DEFAULT 0,
    last_audit   INTEGER NOT NULL DEFAULT 0,
    last_package TEXT
);

-- Every package made here or offered to this install.
CREATE TABLE packages (
    package_id  TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,
    dest        TEXT NOT NULL,
    seq_from    INTEGER,
    seq_to      INTEGER,
    change_from INTEGER,
    change_to   INTEGER,
    audit_to    INTEGER,
    prev        TEXT,
    sha256      TEXT NOT NULL,
    created     TEXT NOT NULL,
    handled     TEXT NOT NULL,
    file        TEXT,
    status      TEXT NOT NULL,
    summary     TEXT,
    PRIMARY KEY (package_id, direction)
);

-- Package sequence numbers received from each source (gaps are reported).
CREATE TABLE received (
    source     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    package_id TEXT NOT NULL,
    PRIMARY KEY (source, seq)
);

-- Losing values of concurrent edits, kept for a reviewer (never dropped silently).
-- field = '_deleted' marks an edit made concurrently with a delete of the row.
CREATE TABLE conflicts (
    id       INTEGER PRIMARY KEY,
    tbl      TEXT NOT NULL,
    uuid     TEXT NOT NULL,
    field    TEXT NOT NULL,
    stamp    INTEGER NOT NULL,
    origin   TEXT NOT NULL,
    version  TEXT NOT NULL,
    value    TEXT,
    detected TEXT NOT NULL,
    UNIQUE (tbl, uuid, field, stamp, origin)
);
CREATE INDEX conflicts_row ON conflicts (tbl, uuid);
