-- +goose Up
-- The breach desk's incident records. No personal data: the affected
-- members are computed from the window (internal/incident.Scope).
CREATE TABLE incidents (
    id                      TEXT PRIMARY KEY,   -- inc_…
    title                   TEXT NOT NULL,
    summary                 TEXT NOT NULL,
    discovered_at           BIGINT NOT NULL,
    window_from             BIGINT,             -- NULL until known
    window_to               BIGINT,
    held_database           BOOLEAN NOT NULL,
    held_blobs              BOOLEAN NOT NULL,
    held_keys               BOOLEAN NOT NULL,
    held_staff_account      BOOLEAN NOT NULL,
    malicious               BOOLEAN NOT NULL,
    status                  TEXT NOT NULL,
    preliminary_reported_at BIGINT,
    final_reported_at       BIGINT,
    individuals_notified_at BIGINT,
    created_by              TEXT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE INDEX incidents_status ON incidents (status, discovered_at);

CREATE TABLE incident_updates (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    status       TEXT NOT NULL,
    text         TEXT NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, at);

CREATE TABLE certifier_items (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    text         TEXT NOT NULL,
    due_at       BIGINT NOT NULL,
    done_at      BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX certifier_items_incident ON certifier_items (incident_id, due_at);

-- A public notice may be about an incident: the incident's "last public
-- update" is its notices' newest published change.
ALTER TABLE notices ADD COLUMN incident_id TEXT REFERENCES incidents (id);
CREATE INDEX notices_incident ON notices (incident_id, updated_at);

-- The exposure check asks, per document, whether staff opened it in a window.
CREATE INDEX document_reads_document ON document_reads (document_id, at);

-- +goose Down
DROP INDEX document_reads_document;
DROP INDEX notices_incident;
ALTER TABLE notices DROP COLUMN incident_id;
DROP TABLE certifier_items;
DROP TABLE incident_updates;
DROP TABLE incidents;
