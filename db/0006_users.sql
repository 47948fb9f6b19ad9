-- Local users of this install (not replicated): who may do what, and their log-in.
CREATE TABLE users (
    name         TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('录入员', '审核员', '管理员')),
    unit         TEXT,                -- a district user's responsible unit (区民政人社局 …)
    salt         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    kdf          TEXT NOT NULL,       -- e.g. scrypt:16384:8:1
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    active       INTEGER NOT NULL DEFAULT 1,
    created      TEXT NOT NULL
);
