-- +goose Up
-- Public notices the breach desk writes in Japanese and English. They hold
-- no personal data: a notice is published for anyone to read.
CREATE TABLE notices (
    id            TEXT PRIMARY KEY,     -- ntc_…
    title_ja      TEXT NOT NULL,
    title_en      TEXT NOT NULL,
    body_ja       TEXT NOT NULL,        -- plain text, paragraphs split by blank lines
    body_en       TEXT NOT NULL,
    created_by    TEXT NOT NULL,        -- the audit actor who wrote it
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    published_at  BIGINT                -- NULL: a draft
);
CREATE INDEX notices_published ON notices (published_at, updated_at);

-- +goose Down
DROP TABLE notices;
