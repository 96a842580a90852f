-- +goose Up
-- Erasure requests (internal/erasure). A request names the member by
-- kakunin's ID only; its history is in erasure_request_steps. A member has
-- at most one open request: the partial unique index refuses a second.
CREATE TABLE erasure_requests (
    id              TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL REFERENCES members (id),
    state           TEXT NOT NULL,      -- received | verified | in_progress | completed | refused
    via             TEXT NOT NULL,      -- portal | support
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,    -- the deadline the console counts down to
    confirm_hash    BLOB,              -- SHA-256 of the mailed confirmation link's token
    confirm_expires BIGINT,
    refusal_reason  TEXT,               -- a catalogue code (erasure.refusal.*)
    receipt         TEXT                -- the signed receipt, once completed
);
CREATE UNIQUE INDEX erasure_requests_open ON erasure_requests (member_id) WHERE state IN ('received', 'verified', 'in_progress');
CREATE INDEX erasure_requests_state ON erasure_requests (state, due_at);
CREATE INDEX erasure_requests_member ON erasure_requests (member_id);

-- Each step of a request: who moved it to which state, and the note (for a
-- request support made on the member's behalf, how identity was checked).
CREATE TABLE erasure_request_steps (
    request_id TEXT NOT NULL REFERENCES erasure_requests (id),
    step       INTEGER NOT NULL,
    at         BIGINT NOT NULL,
    state      TEXT NOT NULL,
    actor      TEXT NOT NULL,           -- member | staff:stf_… | system
    note       TEXT NOT NULL,
    PRIMARY KEY (request_id, step)
);

-- +goose Down
DROP TABLE erasure_request_steps;
DROP TABLE erasure_requests;
