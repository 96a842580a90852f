-- +goose Up
-- Incident scoping (internal/incident) asks which documents still had their
-- ciphertext at some moment of a window [T1, T2]: received_at <= T2 and the
-- blob not deleted before T1. Led by blob_deleted_at, this index finds them
-- in two ranges (blob_deleted_at IS NULL, and blob_deleted_at >= T1) and
-- carries every column the scope reads, so the table itself is never
-- visited; documents whose blob was gone before T1, most of a long
-- history, are skipped as one block.
CREATE INDEX documents_scope ON documents (blob_deleted_at, received_at, destroyed_at, epoch, type, member_id);

-- Scoping counts the members of those documents, splitting out those who
-- had left, and lists their external IDs: this index answers each look-up
-- by member ID without visiting the table.
CREATE INDEX members_scope ON members (id, deleted_at, external_id);

-- +goose Down
DROP INDEX members_scope;
DROP INDEX documents_scope;
