-- +goose Up
-- Issue 17's hardening: one open verification per member, and sign-in
-- throttling kept where every replica sees it.

-- One open verification per member: at most one upload link that can still
-- take an image. A host that asks again gets the open one back
-- (verification.Service.OpenOrCreate); this index holds the rule when
-- requests race, on every replica.
--
-- Before the index, every open verification but each member's newest is
-- ended as expired (its link would have expired within the link TTL
-- anyway). No webhook is sent for these: the host already holds the newer
-- one for the same member.
UPDATE verifications SET status = 'expired'
WHERE status = 'awaiting_upload' AND EXISTS (
    SELECT 1 FROM verifications n
    WHERE n.member_id = verifications.member_id AND n.status = 'awaiting_upload'
      AND (n.created_at > verifications.created_at
           OR (n.created_at = verifications.created_at AND n.id > verifications.id)));

CREATE UNIQUE INDEX verifications_one_open ON verifications (member_id) WHERE status = 'awaiting_upload';

-- Sign-in throttling (internal/auth, throttle.go). Each row of
-- login_attempts is one sign-in step that counts against a key: scope
-- 'client' is a client address's keyed hash (the audit origin), scope
-- 'account' the keyed hash of the address typed in. A step is written
-- before its password or code is checked and deleted when it succeeds, so
-- replicas racing on one key cannot let more through than the limit.
-- login_throttles has one row per key, upserted first to make the steps
-- of one key take turns.
CREATE TABLE login_throttles (
    scope    TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    last_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, key_hash)
);

CREATE TABLE login_attempts (
    id       TEXT PRIMARY KEY,
    scope    TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    at       BIGINT NOT NULL
);

CREATE INDEX login_attempts_key ON login_attempts (scope, key_hash, at);
CREATE INDEX login_attempts_at ON login_attempts (at);
CREATE INDEX login_throttles_last ON login_throttles (last_at);

-- +goose Down
DROP TABLE login_attempts;
DROP TABLE login_throttles;
DROP INDEX verifications_one_open;
