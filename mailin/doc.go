// Package mailin receives mail (SMTP/LMTP listener, IMAP poller, `tikkitd ingest`)
// and turns every message into a stored, classified, threaded request change.
// It parses leniently, never panics on input, and never sends mail.
package mailin
