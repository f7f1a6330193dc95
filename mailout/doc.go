// Package mailout composes and delivers tikkit's outbound mail: per-recipient
// messages, signed reply tokens, the durable outbox worker, the SMTP relay
// client and the local maildir sink. (Built with the outbound issue.)
package mailout
