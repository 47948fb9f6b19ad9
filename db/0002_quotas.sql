-- 目标分解: per-org targets the district sets; they travel in its profile.
CREATE TABLE quotas (
    indicator TEXT NOT NULL,
    org       TEXT NOT NULL,
    target    REAL NOT NULL,
    PRIMARY KEY (indicator, org)
);
