package mailin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// fileName returns the decoded file name of a part: Content-Disposition
// filename (RFC 2183, RFC 2231), else Content-Type name; encoded words
// (RFC 2047, as Outlook writes them) are decoded too.
func (p *parser) fileName(params, dparams map[string]string) string {
	name := dparams["filename"]
	if strings.TrimSpace(name) == "" {
		name = params["name"]
	}
	return cleanFileName(DecodeHeaderValue(name))
}

// cleanFileName keeps the last path element, without control characters,
// at most 200 bytes (keeping the extension).
func cleanFileName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "." || s == ".." {
		return ""
	}
	if len(s) > 200 {
		ext := path.Ext(s)
		if len(ext) > 20 {
			ext = ""
		}
		s = strings.ToValidUTF8(s[:200-len(ext)], "") + ext
	}
	return s
}

// derivedName names a part that has no file name: from its Content-ID
// when that looks like a file name (image001.png@01DB…), else
// attachment-N.ext after the media type.
func (p *parser) derivedName(a Attachment) string {
	if a.ContentID != "" {
		local, _, _ := strings.Cut(a.ContentID, "@")
		if ext := path.Ext(local); len(ext) >= 2 && len(ext) <= 6 && isAlnum(ext[1:]) {
			if n := cleanFileName(local); n != "" {
				return n
			}
		}
	}
	return fmt.Sprintf("attachment-%d%s", len(p.out.Attachments)+1, extFor(a.ContentType))
}

func isAlnum(s string) bool {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

var typeExt = [][2]string{
	{"image/png", ".png"}, {"image/jpeg", ".jpg"}, {"image/gif", ".gif"}, {"image/webp", ".webp"},
	{"image/heic", ".heic"}, {"image/bmp", ".bmp"}, {"image/tiff", ".tif"}, {"image/svg+xml", ".svg"},
	{"application/pdf", ".pdf"}, {"text/plain", ".txt"}, {"text/html", ".html"}, {"text/csv", ".csv"},
	{"text/calendar", ".ics"}, {"application/ics", ".ics"}, {"message/rfc822", ".eml"},
	{"message/global", ".eml"}, {"application/ms-tnef", ".dat"}, {"application/zip", ".zip"},
	{"application/msword", ".doc"}, {"application/vnd.ms-excel", ".xls"},
	{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"},
	{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
	{"audio/mpeg", ".mp3"}, {"video/mp4", ".mp4"}, {"text/vcard", ".vcf"}, {"text/x-vcard", ".vcf"},
	{"application/json", ".json"}, {"application/xml", ".xml"}, {"text/xml", ".xml"},
}

func extFor(ct string) string {
	for _, te := range typeExt {
		if te[0] == ct {
			return te[1]
		}
	}
	return ".bin"
}

func typeFor(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == ".jpeg" {
		return "image/jpeg"
	}
	for _, te := range typeExt {
		if te[1] == ext && ext != "" {
			return te[0]
		}
	}
	return "application/octet-stream"
}

// isTNEF: application/ms-tnef, or Outlook's winmail.dat sent under another type.
func isTNEF(ct, name string) bool {
	return ct == "application/ms-tnef" || ct == "application/vnd.ms-tnef" || strings.EqualFold(name, "winmail.dat")
}

// tnef keeps the winmail.dat and adds every file inside it as an
// attachment with FromTNEF set. Parts over maxTNEFBytes are kept only.
func (p *parser) tnef(r io.Reader, a Attachment, base64ed bool, label string) {
	buf := p.readUpTo(r, maxTNEFBytes)
	if len(buf) > maxTNEFBytes {
		p.problem("%s: TNEF part over %d MiB not unpacked", label, maxTNEFBytes>>20)
		p.attach(io.MultiReader(bytes.NewReader(buf), r), a, base64ed)
		return
	}
	p.attach(bytes.NewReader(buf), a, base64ed)
	files, ok, prob := readTNEF(buf)
	if !ok {
		p.problem("%s: not TNEF data, kept as is", label)
		return
	}
	if prob != "" {
		p.problem("%s: %s", label, prob)
	}
	for _, f := range files {
		fa := Attachment{Name: cleanFileName(f.Name), ContentType: f.ContentType, ContentID: f.ContentID, FromTNEF: true}
		if fa.ContentType == "" || !strings.Contains(fa.ContentType, "/") {
			fa.ContentType = typeFor(fa.Name)
		}
		p.attach(bytes.NewReader(f.Data), fa, true)
	}
}

// discardSink hashes and drops; it serves attached messages, whose parts
// are stored as part of the whole message.
type discardSink struct{}

func (discardSink) Put(r io.Reader, limit int64) (string, int64, bool, error) {
	h := sha256.New()
	n, _ := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n, false, nil
}

type putResult struct {
	sha    string
	size   int64
	stored bool
	err    error
}

// message handles a message/rfc822 part: the exact bytes go to the sink
// as one attachment while the same stream is parsed (depth-bounded) for
// Forwarded, or, inside a report, for ReturnedHeaders.
func (p *parser) message(body io.Reader, a Attachment, base64ed bool, label string, ctx walkCtx) {
	pr, pw := io.Pipe()
	done := make(chan putResult, 1)
	sink, limit := p.sink, p.opt.MaxAttachmentBytes
	go func() {
		var res putResult
		defer func() {
			if v := recover(); v != nil {
				res.err = fmt.Errorf("sink panic: %v", v)
			}
			if res.err != nil {
				pr.CloseWithError(res.err)
			} else {
				pr.CloseWithError(io.ErrClosedPipe)
			}
			done <- res
		}()
		res.sha, res.size, res.stored, res.err = sink.Put(pr, limit)
	}()
	kh := sha256.New()
	tee := io.TeeReader(body, io.MultiWriter(pw, crStripWriter{kh}))
	ip := &parser{opt: p.opt, sink: discardSink{}, m: newMimeReader(tee), out: &Parsed{}, depth: p.depth + 1}
	defer ip.m.release()
	if ip.depth <= maxMessageDeep {
		_ = ip.run(false) // a discardSink never fails
	} else {
		p.problem("%s: attached messages nested deeper than %d, not parsed", label, maxMessageDeep)
	}
	drain(tee)
	pw.Close()
	res := <-done
	drain(body)
	if res.err != nil {
		panic(sinkFailure{res.err})
	}
	in := ip.out
	for _, s := range in.Problems {
		p.problem("%s (attached message): %s", label, s)
	}
	a.SHA256, a.Size, a.Stored = res.sha, res.size, res.stored
	if a.Name == "" {
		if s := cleanFileName(in.Subject); s != "" {
			a.Name = s + ".eml"
		} else {
			a.Name = "forwarded-message.eml"
		}
	}
	p.record(a, "n:"+hex.EncodeToString(kh.Sum(nil)))
	if ip.depth > maxMessageDeep {
		return
	}
	if ctx.inReport {
		if p.out.ReturnedHeaders == "" {
			var b bytes.Buffer
			_ = textproto.WriteHeader(&b, in.Header)
			p.out.ReturnedHeaders, _ = cleanText(b.String())
		}
		return
	}
	fw := Forwarded{From: in.From, Subject: in.Subject, Date: in.Date, Text: in.Text}
	if !in.SyntheticID {
		fw.MessageID = in.MessageID
	}
	p.out.Forwarded = append(p.out.Forwarded, fw)
}
