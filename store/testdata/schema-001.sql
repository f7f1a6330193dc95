-- Frozen: the schema of a database created by migration 001 (001_init.sql),
-- schema_migrations included. Never edit; TestMigrateFrom001 migrates it forward.

CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '001_init.sql', '2026-01-05 09:00:00');

CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL DEFAULT 'occupant',
    status      TEXT NOT NULL DEFAULT 'active',
    created_via TEXT NOT NULL,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    undeliverable INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE requests (
    id           INTEGER PRIMARY KEY,
    number       INTEGER NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    norm_subject TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'open',
    priority     TEXT NOT NULL DEFAULT 'normal',
    location_id  INTEGER,
    requester_id INTEGER NOT NULL REFERENCES people(id),
    creator_id   INTEGER NOT NULL REFERENCES people(id),
    thread_key   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX requests_thread_key ON requests(thread_key);
CREATE INDEX requests_requester ON requests(requester_id, norm_subject);

CREATE TABLE followers (
    request_id INTEGER NOT NULL REFERENCES requests(id),
    person_id  INTEGER NOT NULL REFERENCES people(id),
    reason     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (request_id, person_id)
);

-- Every inbound message byte-for-byte, content-addressed. Small ones inline,
-- large ones as a file in the blob store (path relative to the data dir).
CREATE TABLE raw_messages (
    sha256      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    data        BLOB,
    in_blobs    INTEGER NOT NULL DEFAULT 0,
    received_at TIMESTAMP NOT NULL
);

-- One row per unique message (deduplicated by Message-ID).
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    message_id   TEXT NOT NULL UNIQUE,
    synthetic_id INTEGER NOT NULL DEFAULT 0,
    request_id   INTEGER REFERENCES requests(id),
    direction    TEXT NOT NULL DEFAULT 'in',
    author_id    INTEGER REFERENCES people(id),
    from_email   TEXT NOT NULL DEFAULT '',
    from_name    TEXT NOT NULL DEFAULT '',
    subject      TEXT NOT NULL DEFAULT '',
    sent_at      TIMESTAMP,
    body_text    TEXT NOT NULL DEFAULT '',
    text_from    TEXT NOT NULL DEFAULT '',
    visible_text TEXT NOT NULL DEFAULT '',
    html         TEXT NOT NULL DEFAULT '',
    internal     INTEGER NOT NULL DEFAULT 0,
    auto         INTEGER NOT NULL DEFAULT 0,
    class        TEXT NOT NULL DEFAULT '',
    outcome      TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    problems     TEXT NOT NULL DEFAULT '',
    thread_index TEXT NOT NULL DEFAULT '',
    raw_sha256   TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT '',
    received_at  TIMESTAMP NOT NULL
);
CREATE INDEX messages_request ON messages(request_id, id);
CREATE INDEX messages_held ON messages(id) WHERE outcome = 'held';

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id),
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    content_id   TEXT NOT NULL DEFAULT '',
    inline       INTEGER NOT NULL DEFAULT 0,
    stored       INTEGER NOT NULL DEFAULT 1,
    from_tnef    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attachments_message ON attachments(message_id);

-- Every delivery attempt that was accepted, duplicates included: the intake log.
CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY,
    raw_sha256    TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    source        TEXT NOT NULL,
    envelope_from TEXT NOT NULL DEFAULT '',
    envelope_to   TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL,
    received_at   TIMESTAMP NOT NULL
);
CREATE INDEX deliveries_received ON deliveries(received_at);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    request_id INTEGER REFERENCES requests(id),
    person_id  INTEGER REFERENCES people(id),
    message_id INTEGER REFERENCES messages(id),
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX events_request ON events(request_id);
