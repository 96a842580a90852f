-- +goose Up
-- Age checks without an image (internal/jpki): how a verification was
-- decided (photo | jpki_app) and which methods the host offered the member
-- (a comma-separated list; NULL: every method the operator configured).
ALTER TABLE verifications ADD COLUMN method TEXT;
ALTER TABLE verifications ADD COLUMN methods TEXT;
-- Every decision before this was a reviewer's, on a photo.
UPDATE verifications SET method = 'photo' WHERE checked_at IS NOT NULL;

-- One row per OpenID Connect authorization request a member's browser was
-- sent on. Only the SHA-256 of the state and of the browser's cookie are
-- kept; the row is spent by the first callback that names its state
-- (used_at), so a code or state replayed finds nothing to continue. The
-- PKCE verifier and the nonce are useless without the code, which only the
-- member's browser sees. Nothing about the member's card is ever stored
-- here: the birth date is read, turned into adult yes/no, and dropped.
CREATE TABLE oidc_flows (
    state_hash      BLOB PRIMARY KEY,
    browser_hash    BLOB NOT NULL,
    verification_id TEXT NOT NULL REFERENCES verifications (id),
    nonce           TEXT NOT NULL,
    pkce_verifier   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX oidc_flows_expires ON oidc_flows (expires_at);
CREATE INDEX oidc_flows_verification ON oidc_flows (verification_id);

-- +goose Down
DROP TABLE oidc_flows;
ALTER TABLE verifications DROP COLUMN methods;
ALTER TABLE verifications DROP COLUMN method;
