-- +goose Up
-- The incident desk's alerts: one row per incident and obligation
-- ("ppc_preliminary", "ppc_final", "individuals", "certifier:cit_…",
-- "notice_stale") that was overdue and mailed to the responders. The watch
-- job alerts again only once alerted_at is a day old, and writes the row in
-- the transaction that enqueues the alert, so an alert is raised once per
-- item per day however often the job runs.
CREATE TABLE incident_alerts (
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    obligation   TEXT NOT NULL,
    alerted_at   BIGINT NOT NULL,
    PRIMARY KEY (incident_id, obligation)
);

-- +goose Down
DROP TABLE incident_alerts;
