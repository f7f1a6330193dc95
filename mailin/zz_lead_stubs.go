package mailin

// Temporary stand-ins for functions being written in parallel; deleted at merge.

import (
	"io"
	"strings"
)

func Parse(r io.Reader, sink BlobSink, opt ParseOptions) (*Parsed, error) { panic("stub") }

type ParseOptions struct {
	MaxAttachmentBytes int64
	MaxTextBytes       int64
}

func VisibleText(body string) string           { return body }
func NormalizeSubject(s string) string         { return strings.TrimSpace(s) }
func SubjectTags(s, prefix string) []int64     { return nil }
func StripSubjectTags(s, prefix string) string { return s }
func NormalizeEmail(s string) string           { return strings.ToLower(s) }
