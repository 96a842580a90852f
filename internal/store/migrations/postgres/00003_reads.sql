-- +goose Up
-- Every time a reviewer opened a document's image: the read quota counts
-- these per reviewer, and incident scoping lists them per window. The audit
-- log holds the same reads, hash-chained; this table is their index.
CREATE TABLE document_reads (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id  TEXT NOT NULL,
    staff_id     TEXT NOT NULL REFERENCES staff (id),
    member_id    TEXT NOT NULL,
    document_type TEXT NOT NULL,
    origin       TEXT NOT NULL,     -- keyed hash of the client address
    at           BIGINT NOT NULL
);
CREATE INDEX document_reads_staff ON document_reads (staff_id, at);
CREATE INDEX document_reads_at ON document_reads (at);

-- When the session last proved the second factor: sensitive actions ask
-- for it again after --reauth-window.
ALTER TABLE staff_sessions ADD COLUMN reauth_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE staff_sessions DROP COLUMN reauth_at;
DROP TABLE document_reads;
