-- +goose Up
-- The EXIF Orientation (1–8) intake read before stripping the EXIF, so the
-- reviewer sees the photo upright. 1 = as stored, also for older rows.
ALTER TABLE documents ADD COLUMN orientation INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE documents DROP COLUMN orientation;
