-- +goose Up
-- The host API's own records (issue 13).
--
-- Idempotency keys: the first answer to a POST sent with an
-- Idempotency-Key, per API key, replayed to a retry of the same request for
-- 24 hours. The answer is sealed (it may hold an address or an upload
-- link); the request is kept only as a SHA-256, to tell a retry from
-- another request reusing the key. status 0: the first request is still
-- being answered.
CREATE TABLE idempotency_keys (
    api_key_id      TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    BLOB NOT NULL,
    status          INTEGER NOT NULL,
    response_sealed BLOB,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Every event kakunin sent or tried to send, in order (seq), with its
-- delivery state, for GET /api/v1/events; kept --event-retention.
-- body_sealed holds the exact wire body as it is (the name is older than
-- that choice): the verification record's fields, which the verifications
-- table holds as they are, and never an address.
CREATE TABLE webhook_events (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,  -- evt_…, the webhook-id on the wire
    target          TEXT NOT NULL,         -- host | alerts
    type            TEXT NOT NULL,
    body_sealed     BLOB NOT NULL,
    state           TEXT NOT NULL,         -- pending | delivered | failed | unsent
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,               -- the receiver's last HTTP status, if it answered
    created_at      BIGINT NOT NULL,
    last_attempt_at BIGINT,
    delivered_at    BIGINT
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- Signing secrets added by kakunin webhook-secret rotate, sealed; every
-- active one signs each delivery of its target until retired.
CREATE TABLE webhook_secrets (
    id            TEXT PRIMARY KEY,        -- whs_…
    target        TEXT NOT NULL,           -- host | alerts
    secret_sealed BLOB NOT NULL,
    created_at    BIGINT NOT NULL
);

-- What the host attaches to a verification and gets back in every answer
-- and webhook: metadata a JSON object of strings, and its own reference.
ALTER TABLE verifications ADD COLUMN metadata TEXT;
ALTER TABLE verifications ADD COLUMN client_reference_id TEXT;
CREATE INDEX verifications_created ON verifications (created_at, id);

-- +goose Down
DROP INDEX verifications_created;
ALTER TABLE verifications DROP COLUMN client_reference_id;
ALTER TABLE verifications DROP COLUMN metadata;
DROP TABLE webhook_secrets;
DROP TABLE webhook_events;
DROP TABLE idempotency_keys;
