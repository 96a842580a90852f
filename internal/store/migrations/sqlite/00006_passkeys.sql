-- +goose Up
-- Passkeys (WebAuthn credentials) staff registered as a second factor beside
-- TOTP. Only public keys are stored: a copy of the database signs nothing.
CREATE TABLE staff_passkeys (
    id                  TEXT PRIMARY KEY,          -- pk_…: names the passkey in URLs and the audit log
    staff_id            TEXT NOT NULL REFERENCES staff (id),
    credential_id       BLOB NOT NULL UNIQUE,      -- as the authenticator chose it
    public_key          BLOB NOT NULL,             -- COSE_Key
    sign_count          BIGINT NOT NULL DEFAULT 0,
    transports          TEXT NOT NULL DEFAULT '',  -- comma-separated hints for the browser
    aaguid              BLOB,                      -- the authenticator model, if it said
    attestation_type    TEXT NOT NULL DEFAULT '',
    attestation_format  TEXT NOT NULL DEFAULT '',
    user_verified       BOOLEAN NOT NULL,
    backup_eligible     BOOLEAN NOT NULL,          -- fixed at registration; an assertion must agree
    backup_state        BOOLEAN NOT NULL,
    name                TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT
);
CREATE INDEX staff_passkeys_staff ON staff_passkeys (staff_id, created_at);

-- The challenge of a WebAuthn ceremony between its two requests, held here
-- rather than in memory so any replica can finish what another began. One
-- ceremony per session at a time; taking it deletes it (single use).
CREATE TABLE staff_webauthn_challenges (
    token_hash    BLOB PRIMARY KEY,   -- the session's, as in staff_sessions
    purpose       TEXT NOT NULL,      -- 'register', 'login' or 'reauth'
    staff_id      TEXT NOT NULL REFERENCES staff (id),
    session_data  BLOB NOT NULL,      -- go-webauthn's SessionData, JSON
    expires_at    BIGINT NOT NULL
);
CREATE INDEX staff_webauthn_challenges_expiry ON staff_webauthn_challenges (expires_at);

-- +goose Down
DROP TABLE staff_webauthn_challenges;
DROP TABLE staff_passkeys;
