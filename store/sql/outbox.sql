-- name: insert-outbox
INSERT INTO outbox (kind, request_id, person_id, cause_id, to_email, to_name, subject, out_message_id,
    in_reply_to, refs, data, automatic, status, attempts, next_attempt_at, last_error, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '', ?);

-- name: outbox-by-message-id
SELECT * FROM outbox WHERE out_message_id = ?;

-- name: outbox-by-id
SELECT * FROM outbox WHERE id = ?;

-- name: outbox-due
-- Candidates for a claim. On PostgreSQL this gets FOR UPDATE SKIP LOCKED;
-- claim-outbox re-checks the same condition, so it is safe without.
SELECT id FROM outbox
WHERE (status = 'queued' AND next_attempt_at <= ?)
   OR (status = 'sending' AND claimed_until <= ?)
ORDER BY next_attempt_at, id
LIMIT ?;

-- name: claim-outbox
UPDATE outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1
WHERE id = ?
  AND ((status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_until <= ?))
RETURNING *;

-- name: unclaim-outbox
UPDATE outbox SET status = 'queued', claimed_until = NULL, attempts = attempts - 1
WHERE id = ? AND status = 'sending';

-- name: outbox-sent
UPDATE outbox SET status = 'sent', sent_at = ?, claimed_until = NULL, last_error = ''
WHERE id = ?;

-- name: outbox-retry
UPDATE outbox SET status = 'queued', next_attempt_at = ?, claimed_until = NULL, last_error = ?
WHERE id = ? AND status <> 'sent';

-- name: outbox-failed
UPDATE outbox SET status = 'failed', claimed_until = NULL, last_error = ?
WHERE id = ? AND status <> 'sent';

-- name: outbox-next-queued
SELECT next_attempt_at FROM outbox WHERE status = 'queued' ORDER BY next_attempt_at LIMIT 1;

-- name: outbox-next-lease
SELECT claimed_until FROM outbox WHERE status = 'sending' ORDER BY claimed_until LIMIT 1;

-- name: count-outbox-automatic-since
-- Bounded: the caller only needs to know whether the limit is reached, so a
-- flood of mail to one address costs no more than the limit.
SELECT COUNT(*) FROM (SELECT 1 FROM outbox
    WHERE to_email = ? AND created_at >= ? AND automatic = 1 AND status IN ('queued', 'sending', 'sent')
    LIMIT ?) AS recent;

-- name: count-outbox-since
SELECT COUNT(*) FROM outbox
WHERE created_at >= ? AND status IN ('queued', 'sending', 'sent');

-- name: list-outbox
SELECT * FROM outbox ORDER BY id DESC LIMIT ?;

-- name: count-outbox-by-status
SELECT status, COUNT(*) AS n FROM outbox GROUP BY status;

-- name: outbox-count-kind-since
SELECT COUNT(*) FROM outbox WHERE to_email = ? AND created_at >= ? AND kind = ?
    AND automatic = 1 AND status IN ('queued', 'sending', 'sent');

-- name: release-outbox-claims
UPDATE outbox SET status = 'queued', claimed_until = NULL, next_attempt_at = ?
WHERE status = 'sending';
