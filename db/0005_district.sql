-- The district's review work.

-- A reviewer's decision on two rows of one person counted in two places.
CREATE TABLE duplicate_reviews (
    ledger   TEXT NOT NULL,
    uuid_a   TEXT NOT NULL,          -- the pair, smaller uuid first
    uuid_b   TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('same', 'different')),
    keep     TEXT,                   -- for 'same': the row that counts
    reviewer TEXT NOT NULL,
    decided  TEXT NOT NULL,
    PRIMARY KEY (ledger, uuid_a, uuid_b)
);
CREATE INDEX duplicate_reviews_drop ON duplicate_reviews (ledger, decision);
