package mailout

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
	"github.com/tikkit/tikkit/templates"
)

// RenderOptions say how queued mail becomes bytes.
type RenderOptions struct {
	Templates *templates.Set
	Signer    *rules.Signer // reply tokens and status page keys
	From      Address       // our address and display name
	PublicURL string        // base of the status page links ("" = no links)
	SMTPUTF8  bool
	DKIM      *DKIMOptions // nil: no signature
}

// Renderer turns an outbox row into the message to send: the template
// with the row's data, a status link and a reply token for its recipient.
// The same row renders to the same message (retries send the same bytes,
// but for the Date).
func Renderer(o RenderOptions) func(store.OutboxRow) ([]byte, error) {
	return func(row store.OutboxRow) ([]byte, error) {
		var d templates.Data
		if err := json.Unmarshal([]byte(row.Data), &d); err != nil {
			return nil, fmt.Errorf("mailout: outbox row %d: data: %w", row.ID, err)
		}
		if d.RequestNumber != 0 && row.PersonID.Valid && o.PublicURL != "" && o.Signer != nil {
			d.StatusURL = strings.TrimRight(o.PublicURL, "/") + "/r/" + fmt.Sprint(d.RequestNumber) + "/" +
				url.PathEscape(o.Signer.PageKey(d.RequestNumber, row.PersonID.Int64))
		}
		r, err := o.Templates.Render(templates.Kind(row.Kind), d)
		if err != nil {
			return nil, fmt.Errorf("mailout: outbox row %d: %w", row.ID, err)
		}
		m := Mail{
			Kind: row.Kind, MessageID: row.OutMessageID,
			To:            Address{Email: row.ToEmail, Name: row.ToName},
			RequestNumber: d.RequestNumber, PersonID: row.PersonID.Int64,
			InReplyTo: row.InReplyTo, References: strings.Fields(row.Refs),
			Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		}
		if d.RequestNumber != 0 && o.Signer != nil {
			// RFC 2369: a mail to this address (signed for this recipient)
			// stops the updates of this request.
			local, domain, _ := strings.Cut(o.From.Email, "@")
			if t := o.Signer.ReplyToken(d.RequestNumber, row.ToEmail); t != "" {
				m.ListUnsubscribe = "mailto:" + local + "+" + rules.UnfollowPrefix + t + "@" + domain + "?subject=unfollow"
			}
		}
		opt := Options{From: o.From, SMTPUTF8: o.SMTPUTF8}
		if o.Signer != nil {
			opt.ReplyTo = TokenReplyTo(o.From.Email, o.Signer)
		}
		msg, err := Compose(m, opt)
		if err != nil {
			return nil, err
		}
		if o.DKIM != nil {
			return Sign(msg, *o.DKIM)
		}
		return msg, nil
	}
}
