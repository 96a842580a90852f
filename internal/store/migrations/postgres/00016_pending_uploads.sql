-- +goose Up
-- An upload's ciphertext is written to the blob store before its document
-- row can be inserted (the image must be checked first). A row here is
-- written before the blob, and removed with the document's insert, so a
-- crash in between leaves a row the retention sweep finds: after
-- --upload-abandon-after it deletes the blob, then the row. abandoned_at
-- is set by the sweep first, so an upload that commits meanwhile sees its
-- row gone and fails instead of recording a deleted blob. The data key of
-- such a blob was never stored: only the process that died held it.
CREATE TABLE pending_uploads (
    blob_key         TEXT PRIMARY KEY,
    document_id      TEXT NOT NULL,
    verification_id  TEXT,             -- the link the upload came through, when known
    member_id        TEXT,
    epoch            TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    abandoned_at     BIGINT
);
CREATE INDEX pending_uploads_started ON pending_uploads (started_at);

-- When the blob store's listing under an epoch's prefix was last compared
-- with the records: a day's prefix takes no new blob once the day is over,
-- so one check after it closes finds whatever an older version left.
ALTER TABLE epochs ADD COLUMN orphans_checked_at BIGINT;

-- +goose Down
ALTER TABLE epochs DROP COLUMN orphans_checked_at;
DROP TABLE pending_uploads;
