-- +goose Up
-- Times are Unix microseconds (UTC) in BIGINT columns, the same in both
-- engines, so one set of queries serves SQLite and PostgreSQL.
CREATE TABLE members (
    id            TEXT PRIMARY KEY,
    external_id   TEXT NOT NULL UNIQUE,
    email_sealed  BLOB,            -- sealed by the vault; NULL once the member left
    email_index   BLOB,            -- keyed blind index for look-up
    locale        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE INDEX members_email_index ON members (email_index);

CREATE TABLE verifications (
    id                TEXT PRIMARY KEY,
    member_id         TEXT NOT NULL REFERENCES members (id),
    status            TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    adult             BOOLEAN,
    document_type     TEXT,
    document_name     TEXT,
    issuer            TEXT,
    birth_date        TEXT,
    reject_reason     TEXT,
    checked_at        BIGINT,
    checked_by        TEXT
);
CREATE INDEX verifications_member ON verifications (member_id);
CREATE INDEX verifications_status_expiry ON verifications (status, expires_at);

CREATE TABLE documents (
    id               TEXT PRIMARY KEY,
    verification_id  TEXT NOT NULL UNIQUE REFERENCES verifications (id),
    member_id        TEXT NOT NULL REFERENCES members (id),
    type             TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    size             BIGINT NOT NULL,
    width            INTEGER NOT NULL,
    height           INTEGER NOT NULL,
    epoch            TEXT NOT NULL,
    blob_key         TEXT NOT NULL,
    wrapped_key      BLOB,          -- NULL once destroyed
    received_at      BIGINT NOT NULL,
    decided_at       BIGINT,
    destroy_after    BIGINT NOT NULL,
    destroyed_at     BIGINT,
    blob_deleted_at  BIGINT,
    reviewer_id      TEXT,
    assigned_at      BIGINT
);
CREATE INDEX documents_member ON documents (member_id);
CREATE INDEX documents_epoch ON documents (epoch, destroyed_at);
CREATE INDEX documents_due ON documents (destroyed_at, destroy_after);
CREATE INDEX documents_queue ON documents (decided_at, reviewer_id, received_at);

-- Which epoch keys were created and when they were destroyed: the keys live
-- outside the database; this is their history, for scoping incidents.
CREATE TABLE epochs (
    epoch         TEXT PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    destroyed_at  BIGINT
);

CREATE TABLE staff (
    id                    TEXT PRIMARY KEY,
    email                 TEXT NOT NULL UNIQUE,
    role                  TEXT NOT NULL,
    password_hash         TEXT NOT NULL,
    totp_sealed           BLOB NOT NULL,
    totp_last_step        BIGINT NOT NULL DEFAULT 0,
    must_change_password  BOOLEAN NOT NULL,
    failed_logins         INTEGER NOT NULL DEFAULT 0,
    locked_at             BIGINT,
    created_at            BIGINT NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash    BLOB PRIMARY KEY,
    staff_id      TEXT NOT NULL REFERENCES staff (id),
    stage         TEXT NOT NULL,    -- 'password' (awaiting TOTP) or 'full'
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   BLOB NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE staff_sessions;
DROP TABLE staff;
DROP TABLE epochs;
DROP TABLE documents;
DROP TABLE verifications;
DROP TABLE members;
