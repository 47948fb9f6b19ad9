-- Evidence attachments: the files are stored by content beside the store
-- (attachments/<store>/<sha256[:2]>/<sha256>); this table lists what is here.
CREATE TABLE attachments (
    sha256 TEXT PRIMARY KEY,
    kind   TEXT NOT NULL,
    size   INTEGER NOT NULL,
    added  TEXT NOT NULL
);

-- Which attachments each destination has already been sent (an incremental
-- package never carries one twice; a full package or a resend may).
CREATE TABLE sent_attachments (
    dest       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    package_id TEXT NOT NULL,
    PRIMARY KEY (dest, sha256)
);
