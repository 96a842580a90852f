-- +goose Up
-- Issue 17's hardening of keys, audit and the review image.

-- A reviewer's image is served once, at a URL made for one read: the task
-- page gets a random token, stored here by its SHA-256 only, bound to the
-- console session that asked for it, consumed by the first fetch and
-- useless after a short while. No cache key can then match for anyone
-- else (invariant 7).
CREATE TABLE image_grants (
    token_hash    BYTEA PRIMARY KEY,
    session_hash  BYTEA NOT NULL,   -- staff_sessions.token_hash of the session it was made for
    staff_id      TEXT NOT NULL REFERENCES staff (id),
    document_id   TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX image_grants_expires ON image_grants (expires_at);

-- Staff e-mail addresses are sealed like members' (vault purposes
-- staff-email/v1 and staff-email-index/v1): email_sealed holds the address
-- under the record key, email_index a keyed blind index for sign-in.
-- SQL cannot seal, so kakunin seals the rows of an existing install when it
-- starts (store.SealStaffEmails) and then overwrites the old plaintext
-- column with the account's ID: email stays NOT NULL UNIQUE, and holds no
-- address any more.
ALTER TABLE staff ADD COLUMN email_sealed BYTEA;
ALTER TABLE staff ADD COLUMN email_index BYTEA;
CREATE UNIQUE INDEX staff_email_index ON staff (email_index);

-- The installation's identity, written once: the audit checkpoint origin
-- (kakunin/<host>/<install id>) names it, so checkpoints of two installs
-- can never be taken for each other.
CREATE TABLE installation (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    id          TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE installation;
DROP INDEX staff_email_index;
ALTER TABLE staff DROP COLUMN email_index;
ALTER TABLE staff DROP COLUMN email_sealed;
DROP TABLE image_grants;
