-- The per-address daily limit counts recent automatic mail that went (or
-- goes) out; suppressed and failed rows are not in this index, so a flood
-- of suppressed mail to one address does not slow the count.
CREATE INDEX outbox_recent_auto ON outbox(to_email, created_at)
    WHERE automatic = 1 AND status IN ('queued', 'sending', 'sent');

-- Every index costs each queued mail a b-tree insert in the transaction
-- that answers SMTP. The claim query finds expired leases through
-- outbox_due (status first); nothing else reads these.
DROP INDEX outbox_lease;
DROP INDEX outbox_to_created;
DROP INDEX outbox_created;
DROP INDEX outbox_request;
