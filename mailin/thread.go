package mailin

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/tikkit/tikkit/store"
)

// Evidence names how a message was threaded.
const (
	ByToken       = "reply-token"
	ByReferences  = "references"
	ByTag         = "tag"
	ByThreadIndex = "thread-index"
	BySubject     = "subject"
)

// findThread returns the request a message continues, strongest evidence
// first (DESIGN §3 step 4), or a zero Request. sender may be zero (unknown).
func (in *Ingester) findThread(ctx context.Context, tx *store.Tx, p *Parsed, sender store.Person, tokens []string) (store.Request, string, error) {
	// (a) A signed reply token in the address the mail was sent to, valid
	// for this sender: they got our mail about that request.
	if in.opt.Tokens != nil && sender.ID != 0 {
		for _, t := range tokens {
			if n, ok := in.opt.Tokens.ParseReplyToken(t, sender.Email); ok {
				r, err := tx.RequestByNumber(ctx, n)
				if err == nil {
					return r, ByToken, nil
				} else if !errors.Is(err, store.ErrNotFound) {
					return r, "", err
				}
			}
			// A token that does not match the sender proves nothing: the
			// References and tag rules below decide.
		}
	}
	// (b) References / In-Reply-To against every Message-ID we stored or sent.
	refs := append(append([]string{}, p.References...), p.InReplyTo...)
	if id, err := tx.RequestForMessageIDs(ctx, refs); err == nil {
		r, err := tx.RequestByID(ctx, id)
		return r, ByReferences, err
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Request{}, "", err
	}
	if sender.ID == 0 {
		return store.Request{}, "", nil
	}
	// (c) The subject tag, honoured only for the requester, a follower or staff.
	for _, n := range SubjectTags(p.Subject, in.opt.SubjectTagPrefix) {
		r, err := tx.RequestByNumber(ctx, n)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return r, "", err
		}
		ok, err := isParticipant(ctx, tx, r, sender)
		if err != nil {
			return r, "", err
		}
		if ok {
			return r, ByTag, nil
		}
	}
	// Outlook's Thread-Index: the first 22 bytes name the conversation.
	if key := threadKey(p.ThreadIndex); key != "" {
		rs, err := tx.RequestsByThreadKey(ctx, key)
		if err != nil {
			return store.Request{}, "", err
		}
		for _, r := range rs {
			ok, err := isParticipant(ctx, tx, r, sender)
			if err != nil {
				return r, "", err
			}
			if ok {
				return r, ByThreadIndex, nil
			}
		}
	}
	// Last: a reply-prefixed subject equal to an open request of the same
	// requester, active recently.
	stripped := StripSubjectTags(p.Subject, in.opt.SubjectTagPrefix)
	norm := NormalizeSubject(stripped)
	if norm != "" && norm != strings.Join(strings.Fields(stripped), " ") {
		rs, err := tx.OpenRequestsBySubject(ctx, sender.ID, strings.ToLower(norm), time.Now().Add(-in.opt.SubjectWindow))
		if err != nil {
			return store.Request{}, "", err
		}
		if len(rs) > 0 {
			return rs[0], BySubject, nil
		}
	}
	return store.Request{}, "", nil
}

// isParticipant: the requester, a follower, or staff.
func isParticipant(ctx context.Context, tx *store.Tx, r store.Request, p store.Person) (bool, error) {
	if p.ID == 0 {
		return false, nil
	}
	if r.RequesterID == p.ID || p.Kind == "staff" {
		return true, nil
	}
	_, err := tx.FollowerReason(ctx, r.ID, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// threadKey returns the conversation part of an Outlook Thread-Index: its
// first 22 bytes (a 6-byte FILETIME and a 16-byte GUID), base64.
func threadKey(ti string) string {
	ti = strings.TrimSpace(ti)
	if ti == "" {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(ti)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(ti, "="))
		if err != nil {
			return ""
		}
	}
	if len(b) < 22 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b[:22])
}

// replyTokens are the sub-address tags of our addresses the mail was sent
// to (envelope first, then headers): where reply tokens come back.
func (in *Ingester) replyTokens(j *job) []string {
	var out []string
	seen := map[string]bool{}
	add := func(addr string) {
		if t := in.opt.Identity.PlusTag(addr); t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, a := range j.d.EnvelopeTo {
		add(a)
	}
	for _, a := range j.p.DeliveredTo {
		add(a)
	}
	for _, a := range append(append([]Address{}, j.p.To...), j.p.Cc...) {
		add(a.Email)
	}
	return out
}
