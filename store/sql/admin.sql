-- Changes staff make to people and requests (admin CLI, commands in mail).

-- name: update-person
UPDATE people SET name = ?, kind = ?, status = ?, is_admin = ? WHERE id = ?;

-- name: person-events
SELECT * FROM events WHERE person_id = ? AND request_id IS NULL ORDER BY id;

-- name: set-request-location
UPDATE requests SET location_id = ?, updated_at = ? WHERE id = ?;

-- name: set-request-state
UPDATE requests SET state = ?, updated_at = ? WHERE id = ?;

-- name: set-request-priority
UPDATE requests SET priority = ?, updated_at = ? WHERE id = ?;

-- name: set-requester
UPDATE requests SET requester_id = ?, updated_at = ? WHERE id = ?;

-- name: insert-label
INSERT INTO labels (request_id, name) VALUES (?, ?)
ON CONFLICT DO NOTHING;

-- name: request-labels
SELECT name FROM labels WHERE request_id = ? ORDER BY name;
