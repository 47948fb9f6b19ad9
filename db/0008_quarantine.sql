-- What a package from a member may not write (issue 15), kept for a person to look at.

-- Records refused for their content, never applied: a row breaking a field rule of the
-- catalog, an attached file whose content is not what it claims, an audit entry claiming
-- another install's origin or colliding with a different entry already here.
-- direction 'held': refused here (the record as received is kept, and the sender is told
-- in the next package to it: ``reported`` names that package); 'reported': a receiver
-- told us it refused one of ours.
CREATE TABLE quarantine (
    id         INTEGER PRIMARY KEY,
    direction  TEXT NOT NULL CHECK (direction IN ('held', 'reported')),
    package_id TEXT NOT NULL,
    source     TEXT NOT NULL,   -- held: the install that sent it; reported: the one that refused it
    kind       TEXT NOT NULL,   -- row / file / audit
    tbl        TEXT NOT NULL,
    uuid       TEXT NOT NULL,   -- a row's uuid, a file's sha256, an audit entry's origin:id
    rule       TEXT NOT NULL,   -- the rule broken, in Chinese (no sensitive value)
    record     TEXT,            -- held: the record as received (JSON)
    detected   TEXT NOT NULL,
    reported   TEXT,
    UNIQUE (direction, package_id, kind, tbl, uuid)
);
CREATE INDEX quarantine_source ON quarantine (direction, source, reported);

-- Which unit an install's audit entries and new rows may claim as their origin: a direct
-- peer's from its profile (the peers table), a relayed origin's from the first package
-- that carried it (the sender's unit); an origin bound to another unit is refused.
CREATE TABLE origin_scope (
    origin  TEXT PRIMARY KEY,
    org     TEXT NOT NULL,
    learned TEXT NOT NULL       -- the package it was learned from
);
