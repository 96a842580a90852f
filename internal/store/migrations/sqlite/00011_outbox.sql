-- +goose Up
-- Mass notification of the members an incident affected (internal/outbox).
-- A campaign holds the letter's templates, one per incident; the outbox
-- holds one row per affected member and campaign, keyed by both, so that
-- starting twice cannot send twice. Rows name members by ID only: the
-- address is unsealed from members.email_sealed when the mail is sent, and
-- an SMTP failure keeps its reply code, never the server's text.
CREATE TABLE notification_campaigns (
    id            TEXT PRIMARY KEY,        -- ncp_…
    incident_id   TEXT NOT NULL UNIQUE REFERENCES incidents (id),
    subject_ja    TEXT NOT NULL,           -- text/template sources
    body_ja       TEXT NOT NULL,
    subject_en    TEXT NOT NULL,
    body_en       TEXT NOT NULL,
    state         TEXT NOT NULL,           -- draft | sending | paused | done
    target        BIGINT NOT NULL DEFAULT 0, -- affected members found when enqueuing began
    enqueued      BIGINT NOT NULL DEFAULT 0, -- outbox rows inserted so far
    sent          BIGINT NOT NULL DEFAULT 0, -- counters, moved with the rows they count
    failed        BIGINT NOT NULL DEFAULT 0,
    bounced       BIGINT NOT NULL DEFAULT 0,
    skipped       BIGINT NOT NULL DEFAULT 0,
    enqueue_lease BIGINT,                  -- a sender enqueuing holds the campaign until then
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,         -- the templates' last change
    previewed_at  BIGINT,                  -- the last preview; starting needs one after updated_at
    started_at    BIGINT,
    enqueued_at   BIGINT,                  -- every affected member has a row
    finished_at   BIGINT
);

CREATE TABLE notification_outbox (
    id              INTEGER PRIMARY KEY,
    campaign_id     TEXT NOT NULL REFERENCES notification_campaigns (id),
    member_id       TEXT NOT NULL REFERENCES members (id),
    state           TEXT NOT NULL,         -- pending | sent | failed | bounced | skipped
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When a pending row is next due. Claiming a row moves it to the end
    -- of the sender's lease, so a row whose sender died is due again then.
    next_attempt_at BIGINT NOT NULL,
    last_code       INTEGER,               -- SMTP reply code of the last failure
    last_enhanced   TEXT,                  -- its enhanced status code, e.g. 5.1.1
    done_at         BIGINT,
    UNIQUE (campaign_id, member_id)
);
CREATE INDEX notification_outbox_due ON notification_outbox (campaign_id, next_attempt_at) WHERE state = 'pending';

-- Outcomes per campaign and minute, for the progress chart: a few thousand
-- rows however many messages.
CREATE TABLE notification_minutes (
    campaign_id TEXT NOT NULL REFERENCES notification_campaigns (id),
    minute      BIGINT NOT NULL,           -- start of the minute, Unix microseconds
    sent        BIGINT NOT NULL DEFAULT 0,
    failed      BIGINT NOT NULL DEFAULT 0,
    bounced     BIGINT NOT NULL DEFAULT 0,
    skipped     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, minute)
);

-- +goose Down
DROP TABLE notification_minutes;
DROP TABLE notification_outbox;
DROP TABLE notification_campaigns;
