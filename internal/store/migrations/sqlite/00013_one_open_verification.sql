-- +goose Up
-- One open verification per member: at most one upload link that can still
-- take an image. A host that asks again gets the open one back
-- (verification.Service.OpenOrCreate); this index holds the rule when
-- requests race, on every replica.
--
-- Before the index, every open verification but each member's newest is
-- ended as expired (its link would have expired within the link TTL
-- anyway). No webhook is sent for these: the host already holds the newer
-- one for the same member.
UPDATE verifications SET status = 'expired'
WHERE status = 'awaiting_upload' AND EXISTS (
    SELECT 1 FROM verifications n
    WHERE n.member_id = verifications.member_id AND n.status = 'awaiting_upload'
      AND (n.created_at > verifications.created_at
           OR (n.created_at = verifications.created_at AND n.id > verifications.id)));

CREATE UNIQUE INDEX verifications_one_open ON verifications (member_id) WHERE status = 'awaiting_upload';

-- +goose Down
DROP INDEX verifications_one_open;
