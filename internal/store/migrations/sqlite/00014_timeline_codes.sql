-- +goose Up
-- Timeline entries the desk writes itself become catalogue codes with
-- arguments (internal/incident/timeline.go), written in the reader's
-- language when shown: the Japanese report draft for the PPC had English
-- lines in it. args is a JSON object of strings. The English sentences
-- written before are turned into their codes; text a person typed stays
-- text (code '').
ALTER TABLE incident_updates ADD COLUMN code TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_updates ADD COLUMN args TEXT NOT NULL DEFAULT '{}';

UPDATE incident_updates SET code = 'incident.timeline.opened', text = ''
WHERE code = '' AND text = 'Incident opened.';

-- "Status: identified → notifying.", when both are statuses kakunin has.
-- (Every SET expression reads the row as it was, so text is still there.)
WITH s (name) AS (VALUES ('investigating'), ('identified'), ('notifying'), ('monitoring'), ('closed'))
UPDATE incident_updates SET code = 'incident.timeline.status',
    args = (SELECT '{"From":"' || f.name || '","To":"' || t.name || '"}' FROM s f, s t
            WHERE incident_updates.text = 'Status: ' || f.name || ' → ' || t.name || '.'),
    text = ''
WHERE code = '' AND text IN (SELECT 'Status: ' || f.name || ' → ' || t.name || '.' FROM s f, s t);

-- "Preliminary report to the PPC made on 2026-11-25 14:05 JST." and the
-- like: the minute, in Japan time, becomes the argument At (RFC 3339).
UPDATE incident_updates SET code = 'incident.timeline.preliminary_reported',
    args = '{"At":"' || replace(substr(text, 39, 16), ' ', 'T') || ':00+09:00"}', text = ''
WHERE code = '' AND text GLOB 'Preliminary report to the PPC made on [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9] JST.';
UPDATE incident_updates SET code = 'incident.timeline.final_reported',
    args = '{"At":"' || replace(substr(text, 33, 16), ' ', 'T') || ':00+09:00"}', text = ''
WHERE code = '' AND text GLOB 'Final report to the PPC made on [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9] JST.';
UPDATE incident_updates SET code = 'incident.timeline.individuals_notified',
    args = '{"At":"' || replace(substr(text, 34, 16), ' ', 'T') || ':00+09:00"}', text = ''
WHERE code = '' AND text GLOB 'Affected individuals notified on [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9] JST.';

-- +goose Down
-- Back to the English sentences, as the desk wrote them before.
UPDATE incident_updates SET text = 'Incident opened.' WHERE code = 'incident.timeline.opened';
UPDATE incident_updates SET text = 'Status: ' || json_extract(args, '$.From') || ' → ' || json_extract(args, '$.To') || '.'
WHERE code = 'incident.timeline.status';
UPDATE incident_updates SET text = 'Preliminary report to the PPC made on ' || strftime('%Y-%m-%d %H:%M', json_extract(args, '$.At'), '+9 hours') || ' JST.'
WHERE code = 'incident.timeline.preliminary_reported';
UPDATE incident_updates SET text = 'Final report to the PPC made on ' || strftime('%Y-%m-%d %H:%M', json_extract(args, '$.At'), '+9 hours') || ' JST.'
WHERE code = 'incident.timeline.final_reported';
UPDATE incident_updates SET text = 'Affected individuals notified on ' || strftime('%Y-%m-%d %H:%M', json_extract(args, '$.At'), '+9 hours') || ' JST.'
WHERE code = 'incident.timeline.individuals_notified';
ALTER TABLE incident_updates DROP COLUMN args;
ALTER TABLE incident_updates DROP COLUMN code;
