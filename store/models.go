package store

import (
	"database/sql"
	"time"
)

// Person is one address: staff or occupant.
type Person struct {
	ID            int64     `db:"id"`
	Email         string    `db:"email"`
	Name          string    `db:"name"`
	Kind          string    `db:"kind"`        // staff | occupant
	Status        string    `db:"status"`      // pending | active | denied | blocked
	CreatedVia    string    `db:"created_via"` // signup | staff | follower | email | import
	IsAdmin       bool      `db:"is_admin"`
	Undeliverable bool      `db:"undeliverable"`
	CreatedAt     time.Time `db:"created_at"`
}

// Request is one maintenance request.
type Request struct {
	ID          int64         `db:"id"`
	Number      int64         `db:"number"`
	Subject     string        `db:"subject"`
	NormSubject string        `db:"norm_subject"`
	State       string        `db:"state"` // open | closed
	Priority    string        `db:"priority"`
	LocationID  sql.NullInt64 `db:"location_id"`
	RequesterID int64         `db:"requester_id"`
	CreatorID   int64         `db:"creator_id"`
	ThreadKey   string        `db:"thread_key"` // Outlook conversation header (Thread-Index, first 22 bytes, base64)
	CreatedAt   time.Time     `db:"created_at"`
	UpdatedAt   time.Time     `db:"updated_at"`
}

// Follower is a person following a request, with the reason.
type Follower struct {
	PersonID int64  `db:"id"`
	Email    string `db:"email"`
	Name     string `db:"name"`
	Kind     string `db:"kind"`
	Status   string `db:"status"`
	Reason   string `db:"reason"` // requester | cc | forwarded | staff-added | commented

	Undeliverable bool `db:"undeliverable"`
}

// Message is one stored mail, in or out.
type Message struct {
	ID          int64         `db:"id"`
	MessageID   string        `db:"message_id"`
	SyntheticID bool          `db:"synthetic_id"`
	RequestID   sql.NullInt64 `db:"request_id"`
	Direction   string        `db:"direction"`
	AuthorID    sql.NullInt64 `db:"author_id"`
	FromEmail   string        `db:"from_email"`
	FromName    string        `db:"from_name"`
	Subject     string        `db:"subject"`
	SentAt      sql.NullTime  `db:"sent_at"`
	BodyText    string        `db:"body_text"`
	TextFrom    string        `db:"text_from"`
	VisibleText string        `db:"visible_text"`
	HTML        string        `db:"html"`
	Internal    bool          `db:"internal"`
	Auto        bool          `db:"auto"`
	Class       string        `db:"class"`
	Outcome     string        `db:"outcome"`
	Reason      string        `db:"reason"`
	Problems    string        `db:"problems"`
	ThreadIndex string        `db:"thread_index"`
	RawSHA256   string        `db:"raw_sha256"`
	Source      string        `db:"source"`
	ReceivedAt  time.Time     `db:"received_at"`
	ContentHash string        `db:"content_hash"`
}

// MessageRef is the little that dedupe and threading need of a message.
type MessageRef struct {
	ID          int64         `db:"id"`
	MessageID   string        `db:"message_id"`
	RequestID   sql.NullInt64 `db:"request_id"`
	Outcome     string        `db:"outcome"`
	ContentHash string        `db:"content_hash"`
}

// Attachment is one attachment row; contents are in Blobs by SHA256.
type Attachment struct {
	ID          int64  `db:"id"`
	MessageID   int64  `db:"message_id"`
	Name        string `db:"name"`
	ContentType string `db:"content_type"`
	Size        int64  `db:"size"`
	SHA256      string `db:"sha256"`
	ContentID   string `db:"content_id"`
	Inline      bool   `db:"inline"`
	Stored      bool   `db:"stored"`
	FromTNEF    bool   `db:"from_tnef"`
}

// Delivery is one accepted delivery, duplicates included.
type Delivery struct {
	RawSHA256    string
	MessageID    string
	Source       string
	EnvelopeFrom string
	EnvelopeTo   string
	Outcome      string
}

// Event is something that happened to a request or person.
type Event struct {
	ID        int64         `db:"id"`
	RequestID sql.NullInt64 `db:"request_id"`
	PersonID  sql.NullInt64 `db:"person_id"`
	MessageID sql.NullInt64 `db:"message_id"`
	Kind      string        `db:"kind"`
	Detail    string        `db:"detail"`
	CreatedAt time.Time     `db:"created_at"`
}

// Stats are the aggregate numbers of the status page.
type Stats struct {
	OpenRequests, ClosedRequests int64
	MessagesToday, HeldMessages  int64
	TotalMessages                int64
	LastMessageAt                time.Time
}
