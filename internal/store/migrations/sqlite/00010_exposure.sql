-- +goose Up
-- Rate limits of the exposure check ("am I affected?"), kept in the
-- database so every replica counts the same hits. Keys are keyed hashes
-- (a client's origin hash, an address's blind index): no address, no IP.
--
-- exposure_limits has one row per limited key; a writer upserts it first,
-- which locks it until the transaction ends, so two replicas counting the
-- same key take turns and neither admits a hit past the limit.
CREATE TABLE exposure_limits (
    scope    TEXT NOT NULL,          -- client | address | no_account
    key_hash BLOB NOT NULL,
    last_at  BIGINT NOT NULL,        -- newest hit: rows idle past the longest window are pruned
    PRIMARY KEY (scope, key_hash)
);
CREATE INDEX exposure_limits_last ON exposure_limits (last_at);

-- One row per admitted hit; counted over a sliding window.
CREATE TABLE exposure_hits (
    scope     TEXT NOT NULL,
    key_hash  BLOB NOT NULL,
    at        BIGINT NOT NULL,
    check_id  TEXT NOT NULL          -- the check that spent it ('' for none): a retried job spends it once
);
CREATE INDEX exposure_hits_key ON exposure_hits (scope, key_hash, at);
CREATE INDEX exposure_hits_at ON exposure_hits (at);

-- +goose Down
DROP TABLE exposure_hits;
DROP TABLE exposure_limits;
