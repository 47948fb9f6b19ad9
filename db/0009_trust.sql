-- Trust and held packages (issue 15): a new or changed peer waits for a fingerprint
-- check; a package that cannot be applied yet is kept, not applied.

-- Profiles waiting for a 管理员 to confirm the fingerprint read over the phone (one per org).
CREATE TABLE pending_peers (
    org             TEXT PRIMARY KEY,
    node            TEXT NOT NULL,
    org_name        TEXT NOT NULL,      -- as the profile names it
    level           TEXT NOT NULL,
    suite           TEXT NOT NULL,
    sign_key        TEXT NOT NULL,      -- held packages are checked against it
    fingerprint     TEXT NOT NULL,
    profile         TEXT NOT NULL,      -- the signed profile file's JSON, applied on confirmation
    since           TEXT NOT NULL
);

-- A peer replaced by another install of the same org (a new office PC): its chain ends.
ALTER TABLE peers ADD COLUMN replaced_by TEXT;      -- the node that replaced it
ALTER TABLE peers ADD COLUMN chain_end INTEGER;     -- the last of its numbers received then

-- Packages kept (copied beside the store, named by package id) until they can be applied.
CREATE TABLE held_packages (
    package_id  TEXT PRIMARY KEY,
    source_node TEXT NOT NULL,
    source_org  TEXT NOT NULL,
    seq_from    INTEGER,
    seq_to      INTEGER,
    reason      TEXT NOT NULL CHECK (reason IN ('pending_peer', 'clock_skew')),
    message     TEXT NOT NULL,
    file        TEXT NOT NULL,      -- the name it arrived under (shown)
    sha256      TEXT NOT NULL,      -- its content id
    held        TEXT NOT NULL
);
