-- Locations, groups, grants and who sees which request.

-- name: insert-location
INSERT INTO locations (parent_id, name, path, path_key, common, aliases, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: location-by-path-key
SELECT * FROM locations WHERE path_key = ?;

-- name: location-by-id
SELECT * FROM locations WHERE id = ?;

-- name: list-locations
SELECT * FROM locations ORDER BY path_key;

-- name: insert-group
INSERT INTO groups (name, created_at) VALUES (?, ?);

-- name: group-by-name
SELECT * FROM groups WHERE LOWER(name) = LOWER(?);

-- name: group-by-id
SELECT * FROM groups WHERE id = ?;

-- name: list-groups
SELECT * FROM groups ORDER BY LOWER(name);

-- name: insert-group-member
INSERT INTO group_members (group_id, person_id, created_at) VALUES (?, ?, ?)
ON CONFLICT DO NOTHING;

-- name: group-members
SELECT p.* FROM group_members m JOIN people p ON p.id = m.person_id
WHERE m.group_id = ? ORDER BY p.email;

-- name: person-groups
SELECT g.* FROM group_members m JOIN groups g ON g.id = m.group_id
WHERE m.person_id = ? ORDER BY LOWER(g.name);

-- name: insert-grant
INSERT INTO grants (person_id, group_id, location_id, all_locations, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING;

-- name: person-grants
SELECT * FROM grants WHERE person_id = ? ORDER BY id;

-- name: group-grants
SELECT * FROM grants WHERE group_id = ? ORDER BY id;

-- name: person-access
SELECT location_id, all_locations FROM grants WHERE person_id = ?
UNION
SELECT g.location_id, g.all_locations FROM grants g JOIN group_members m ON m.group_id = g.group_id
WHERE m.person_id = ?;

-- name: requests-visible-to
SELECT * FROM requests
WHERE requester_id = ?
   OR id IN (SELECT request_id FROM followers WHERE person_id = ?)
   OR requester_id IN (SELECT o.person_id FROM group_members mine
                       JOIN group_members o ON o.group_id = mine.group_id
                       WHERE mine.person_id = ?)
ORDER BY number;
