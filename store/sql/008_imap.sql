-- Where the IMAP poller stands in each mailbox it reads: the UIDVALIDITY
-- the UIDs belong to and the highest UID whose message is committed and
-- flagged or moved. A different UIDVALIDITY on the server means a resync
-- from UID 1 (dedupe by Message-ID keeps that exactly-once).
CREATE TABLE imap_state (
    account     TEXT NOT NULL,
    mailbox     TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (account, mailbox)
);
