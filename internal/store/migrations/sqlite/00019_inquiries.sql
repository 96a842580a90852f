-- +goose Up
-- The inquiry desk (internal/inquiry): threads opened from /contact or by
-- the host for a member, their messages (the person's, the desk's replies,
-- internal notes), the private links that open a thread, and its SLA
-- timers. The person's address and every message body are sealed by the
-- vault like members' addresses; address_index is a blind index of the
-- address (its own purpose, not joinable with members.email_index).
-- member_id is set when the thread is known to be a member's; erasing a
-- member deletes their threads (store.DeleteInquiriesOfMember).
CREATE TABLE inquiry_threads (
    id             TEXT PRIMARY KEY,      -- inq_…
    category       TEXT NOT NULL,         -- incident | verification | my_data | other
    status         TEXT NOT NULL,         -- open | waiting | closed
    locale         TEXT NOT NULL,
    address_sealed BLOB NOT NULL,
    address_index  BLOB NOT NULL,
    member_id      TEXT REFERENCES members (id),
    assignee       TEXT,                  -- stf_… who took it
    merged_into    TEXT,                  -- inq_… it was merged into (then closed)
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    first_reply_at BIGINT,                -- the desk's first reply
    closed_at      BIGINT,
    -- SLA: the targets in force (micros, NULL when none), the moment the
    -- clock was paused (waiting for the person) and which targets were
    -- already warned of / escalated (once each).
    due_first      BIGINT,
    due_next       BIGINT,
    due_solution   BIGINT,
    paused_at      BIGINT,
    warned         TEXT NOT NULL DEFAULT '',
    escalated      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX inquiry_threads_status ON inquiry_threads (status, category);
CREATE INDEX inquiry_threads_member ON inquiry_threads (member_id);
CREATE INDEX inquiry_threads_address ON inquiry_threads (address_index);

CREATE TABLE inquiry_messages (
    id          TEXT PRIMARY KEY,         -- msg_…
    thread_id   TEXT NOT NULL REFERENCES inquiry_threads (id),
    kind        TEXT NOT NULL,            -- person | reply | note
    author      TEXT NOT NULL,            -- "person" or stf_…
    body_sealed BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX inquiry_messages_thread ON inquiry_messages (thread_id, created_at);

-- A thread's private links: only the SHA-256 of the token is kept.
CREATE TABLE inquiry_links (
    token_hash BLOB PRIMARY KEY,
    thread_id  TEXT NOT NULL REFERENCES inquiry_threads (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX inquiry_links_thread ON inquiry_links (thread_id);

-- +goose Down
DROP TABLE inquiry_links;
DROP TABLE inquiry_messages;
DROP TABLE inquiry_threads;
