-- +goose Up
-- The tamper-evident audit log (DESIGN.md invariant 5; internal/audit/doc.go
-- documents the hash). One row per event; hash chains each row to the one
-- before. seq is INTEGER PRIMARY KEY so that it is SQLite's rowid (a 64-bit
-- integer): appends and seq-order walks need no second index.
CREATE TABLE audit_events (
    seq     INTEGER PRIMARY KEY,
    at      BIGINT NOT NULL,        -- unix microseconds, UTC
    action  TEXT NOT NULL,
    actor   TEXT NOT NULL,
    subject TEXT NOT NULL,
    origin  TEXT NOT NULL,          -- keyed hash of the client address, '' when none
    detail  TEXT NOT NULL,          -- JSON object of strings
    hash    BLOB NOT NULL           -- SHA-256 chain hash
);
-- The auditor's page and exports filter by time, by who acted and by what
-- was acted on.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_actor ON audit_events (actor, at);
CREATE INDEX audit_events_subject ON audit_events (subject, at);

-- The chain's head: every append locks this one row, reads it, inserts its
-- events and moves it, in one transaction, so appends from every process
-- and replica form one chain. It starts at the genesis: seq 0, 32 zero bytes.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Signed checkpoints (C2SP signed notes) of the chain's head; the same notes
-- are published outside the database.
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,        -- the seq the checkpoint covers
    at   BIGINT NOT NULL,           -- when it was signed, unix microseconds
    note TEXT NOT NULL
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_head;
DROP TABLE audit_events;
