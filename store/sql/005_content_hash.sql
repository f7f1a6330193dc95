-- The content hash tells a re-delivery of the same message (a duplicate)
-- from a different message that reuses its Message-ID (scanners, broken
-- clients): only the first is dropped as a duplicate.
ALTER TABLE messages ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
