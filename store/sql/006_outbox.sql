-- The durable outbox: one row per outbound message, written in the same
-- transaction as the change that caused it, delivered by mailout's worker.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,              -- ack | update | reply | closed | reopened | refusal | welcome | pending | approved | denied
    request_id      INTEGER REFERENCES requests(id),
    person_id       INTEGER REFERENCES people(id),
    cause_id        INTEGER REFERENCES messages(id), -- the inbound message that caused it, if any
    to_email        TEXT NOT NULL,
    to_name         TEXT NOT NULL DEFAULT '',
    subject         TEXT NOT NULL,
    out_message_id  TEXT NOT NULL UNIQUE,       -- stable Message-ID, without brackets
    in_reply_to     TEXT NOT NULL DEFAULT '',
    refs            TEXT NOT NULL DEFAULT '',   -- space-separated
    data            TEXT NOT NULL,              -- JSON of the template data (rendered at delivery)
    automatic       INTEGER NOT NULL DEFAULT 1, -- counts toward the per-address daily limit
    status          TEXT NOT NULL DEFAULT 'queued', -- queued | sending | sent | failed | suppressed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
-- Due rows: queued by next attempt, sending by lease expiry.
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_lease ON outbox(status, claimed_until);
-- Daily counts per address (RFC 3834 §2 rate limit) and globally.
CREATE INDEX outbox_to_created ON outbox(to_email, created_at);
CREATE INDEX outbox_created ON outbox(created_at);
CREATE INDEX outbox_request ON outbox(request_id);
