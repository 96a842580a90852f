-- +goose Up
-- The notification throttle's budget, shared by every replica: one row per
-- throttle, holding the window (the database clock's seconds divided by the
-- window's length) and how many sends it has granted in it. Kept in the
-- database so that --notify-rate N is N in total, not N per replica.
CREATE TABLE send_rates (
    name       TEXT PRIMARY KEY,
    window_no  BIGINT NOT NULL,
    used       BIGINT NOT NULL
);

-- +goose Down
DROP TABLE send_rates;
