-- Grants and group names are unique, so adding one twice is a no-op
-- (INSERT … ON CONFLICT DO NOTHING) on SQLite and PostgreSQL alike.
DELETE FROM grants WHERE id NOT IN (
    SELECT MIN(id) FROM grants GROUP BY person_id, group_id, location_id, all_locations);
CREATE UNIQUE INDEX grants_unique ON grants (
    COALESCE(person_id, 0), COALESCE(group_id, 0), COALESCE(location_id, 0), all_locations);

-- Group names are compared case-insensitively ("Office Managers" = "office managers").
CREATE UNIQUE INDEX groups_name_key ON groups (LOWER(name));

CREATE INDEX events_person ON events(person_id);
