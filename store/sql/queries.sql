-- name: person-by-email
SELECT * FROM people WHERE email = ?;

-- name: person-by-id
SELECT * FROM people WHERE id = ?;

-- name: insert-person
INSERT INTO people (email, name, kind, status, created_via, is_admin, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: set-person-name
UPDATE people SET name = ? WHERE id = ? AND name = '';

-- name: set-person-undeliverable
UPDATE people SET undeliverable = ? WHERE id = ?;

-- name: list-people
SELECT * FROM people ORDER BY id;

-- name: request-by-number
SELECT * FROM requests WHERE number = ?;

-- name: request-by-id
SELECT * FROM requests WHERE id = ?;

-- name: insert-request
-- The next number (at least the configured first one) is taken in the same
-- statement, inside the write transaction: no two requests share a number.
INSERT INTO requests (number, subject, norm_subject, state, priority, requester_id, creator_id, thread_key, created_at, updated_at)
SELECT CASE WHEN COALESCE(MAX(number), 0) + 1 < ? THEN ? ELSE COALESCE(MAX(number), 0) + 1 END,
    ?, ?, 'open', ?, ?, ?, ?, ?, ?
FROM requests
RETURNING id, number;

-- name: touch-request
UPDATE requests SET updated_at = ? WHERE id = ?;

-- name: set-request-thread-key
UPDATE requests SET thread_key = ? WHERE id = ? AND thread_key = '';

-- name: requests-by-thread-key
SELECT * FROM requests WHERE thread_key = ? ORDER BY id DESC;

-- name: open-requests-by-subject
SELECT * FROM requests WHERE requester_id = ? AND norm_subject = ? AND state = 'open' AND updated_at >= ? ORDER BY id DESC LIMIT 1;

-- name: list-requests
SELECT * FROM requests ORDER BY number;

-- name: follower
SELECT reason FROM followers WHERE request_id = ? AND person_id = ?;

-- name: insert-follower
INSERT INTO followers (request_id, person_id, reason, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (request_id, person_id) DO NOTHING;

-- name: request-followers
SELECT p.id, p.email, p.name, p.kind, p.status, p.undeliverable, f.reason
FROM followers f JOIN people p ON p.id = f.person_id
WHERE f.request_id = ? ORDER BY f.created_at, p.id;

-- name: insert-raw
INSERT INTO raw_messages (sha256, size, data, in_blobs, received_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (sha256) DO NOTHING;

-- name: raw-by-sha
SELECT sha256, size, data, in_blobs FROM raw_messages WHERE sha256 = ?;

-- name: message-by-message-id
SELECT id, message_id, request_id, outcome, content_hash FROM messages WHERE message_id = ?;

-- name: insert-message
INSERT INTO messages (message_id, synthetic_id, request_id, direction, author_id, from_email, from_name, subject,
    sent_at, body_text, text_from, visible_text, html, internal, auto, class, outcome, reason, problems,
    thread_index, raw_sha256, source, received_at, content_hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: request-messages
SELECT * FROM messages WHERE request_id = ? ORDER BY id;

-- name: message-by-id
SELECT * FROM messages WHERE id = ?;

-- name: held-messages
SELECT * FROM messages WHERE outcome IN ('held', 'refused') AND request_id IS NULL ORDER BY id;

-- name: delete-message-attachments
DELETE FROM attachments WHERE message_id = ?;

-- name: delete-message-events
DELETE FROM events WHERE message_id = ?;

-- name: delete-message
DELETE FROM messages WHERE id = ?;

-- name: insert-attachment
INSERT INTO attachments (message_id, name, content_type, size, sha256, content_id, inline, stored, from_tnef)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: message-attachments
SELECT * FROM attachments WHERE message_id = ? ORDER BY id;

-- name: insert-delivery
INSERT INTO deliveries (raw_sha256, message_id, source, envelope_from, envelope_to, outcome, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: insert-event
INSERT INTO events (request_id, person_id, message_id, kind, detail, created_at) VALUES (?, ?, ?, ?, ?, ?);

-- name: request-events
SELECT * FROM events WHERE request_id = ? ORDER BY id;

-- name: count-requests-by-state
SELECT state, COUNT(*) AS n FROM requests GROUP BY state;

-- name: count-deliveries-since
SELECT COUNT(*) FROM deliveries WHERE received_at >= ? AND outcome <> 'duplicate';

-- name: count-held
SELECT COUNT(*) FROM messages WHERE outcome IN ('held', 'refused') AND request_id IS NULL;

-- name: count-messages
SELECT COUNT(*) FROM messages;

-- name: last-delivery
SELECT received_at FROM deliveries ORDER BY id DESC LIMIT 1;

-- name: first-envelope
SELECT envelope_from FROM deliveries WHERE message_id = ? ORDER BY id LIMIT 1;

-- name: request-root-message-id
SELECT message_id FROM messages WHERE request_id = ? ORDER BY id LIMIT 1;

-- name: set-follower-reason
UPDATE followers SET reason = ? WHERE request_id = ? AND person_id = ?;

-- name: delete-follower
DELETE FROM followers WHERE request_id = ? AND person_id = ?;

-- name: staff-emails
SELECT email FROM people WHERE kind = 'staff';
