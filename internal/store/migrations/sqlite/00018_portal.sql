-- +goose Up
-- The members' portal (internal/portal): one-time sign-in links and the
-- member sessions they open. Both hold only the SHA-256 of their token, so
-- a database copy signs nobody in. Rows name the member by kakunin's ID
-- only; erasing a member deletes their rows here by member_id.
CREATE TABLE member_signin_links (
    token_hash BLOB PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES members (id),
    via        TEXT NOT NULL,        -- mail | handoff
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT                -- set when it opened a session: a link works once
);
-- A new link revokes the member's older unused ones: found by member.
CREATE INDEX member_signin_links_member ON member_signin_links (member_id);
CREATE INDEX member_signin_links_expires ON member_signin_links (expires_at);

-- Member sessions are apart from staff_sessions: a member's cookie can
-- never be taken for a staff session, and the two time out differently.
CREATE TABLE member_sessions (
    token_hash   BLOB PRIMARY KEY,
    member_id    TEXT NOT NULL REFERENCES members (id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX member_sessions_member ON member_sessions (member_id);

-- +goose Down
DROP TABLE member_sessions;
DROP TABLE member_signin_links;
