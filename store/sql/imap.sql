-- name: imap-state
SELECT * FROM imap_state WHERE account = ? AND mailbox = ?;

-- name: imap-states
SELECT * FROM imap_state WHERE account = ? ORDER BY mailbox;

-- name: put-imap-state
INSERT INTO imap_state (account, mailbox, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (account, mailbox) DO UPDATE
SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, updated_at = excluded.updated_at;
