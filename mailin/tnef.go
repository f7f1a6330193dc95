package mailin

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"
)

// A small reader for Microsoft TNEF (winmail.dat, [MS-OXTNEF]). It extracts
// the attached files only; the message body inside TNEF (often compressed
// RTF) is not read. It never panics on malformed input: it returns what it
// could read before the damage.

const (
	tnefSignature = 0x223E9F78

	tnefLvlMessage    = 0x01
	tnefLvlAttachment = 0x02

	attAttachRendData = 0x00069002 // starts a new attachment
	attAttachTitle    = 0x00018010 // file name (8.3 or short)
	attAttachData     = 0x0006800F // file contents
	attAttachment     = 0x00069005 // MAPI properties of the attachment
	attOemCodepage    = 0x00069007

	prAttachLongFilename = 0x3707
	prAttachFilename     = 0x3704
	prAttachMimeTag      = 0x370E
	prAttachDataBin      = 0x3701
	prAttachContentID    = 0x3712

	tnefMaxAttachments = 1000
)

// tnefFile is one file found inside a TNEF stream.
type tnefFile struct {
	Name        string
	ContentType string
	ContentID   string
	Data        []byte
}

// readTNEF returns the files in a TNEF stream. ok is false when data is not
// TNEF at all; problem describes damage found on the way.
func readTNEF(data []byte) (files []tnefFile, ok bool, problem string) {
	if len(data) < 6 || binary.LittleEndian.Uint32(data) != tnefSignature {
		return nil, false, ""
	}
	codepage := "windows-1252"
	var cur *tnefFile
	var longName string
	finish := func() {
		if cur == nil {
			return
		}
		if longName != "" {
			cur.Name = longName
		}
		if cur.Data != nil || cur.Name != "" {
			files = append(files, *cur)
		}
		cur, longName = nil, ""
	}
	p := data[6:]
	for len(p) > 0 {
		if len(p) < 9 {
			problem = "truncated TNEF attribute"
			break
		}
		level := p[0]
		id := binary.LittleEndian.Uint32(p[1:])
		n := binary.LittleEndian.Uint32(p[5:])
		if uint64(n) > uint64(len(p)-9) {
			problem = "TNEF attribute longer than the data"
			break
		}
		val := p[9 : 9+n]
		p = p[9+n:]
		if len(p) >= 2 {
			p = p[2:] // checksum, not verified
		}
		switch {
		case level == tnefLvlMessage && id == attOemCodepage && len(val) >= 4:
			if cp := binary.LittleEndian.Uint32(val); cp != 0 {
				codepage = "windows-" + uitoa(cp)
				if cp == 65001 {
					codepage = "utf-8"
				}
			}
		case level != tnefLvlAttachment:
		case id == attAttachRendData:
			finish()
			if len(files) >= tnefMaxAttachments {
				return files, true, "too many files in TNEF"
			}
			cur = &tnefFile{}
		default:
			if cur == nil {
				cur = &tnefFile{}
			}
			switch id {
			case attAttachTitle:
				cur.Name = DecodeCharset(codepage, trimNUL(val))
			case attAttachData:
				cur.Data = val
			case attAttachment:
				props, bad := readMAPIProps(val)
				if bad && problem == "" {
					problem = "damaged MAPI properties in TNEF"
				}
				for _, pr := range props {
					switch pr.id {
					case prAttachLongFilename:
						if s := pr.str(codepage); s != "" {
							longName = s
						}
					case prAttachFilename:
						if s := pr.str(codepage); s != "" && cur.Name == "" {
							cur.Name = s
						}
					case prAttachMimeTag:
						cur.ContentType = strings.ToLower(pr.str(codepage))
					case prAttachContentID:
						cur.ContentID = strings.Trim(pr.str(codepage), "<> ")
					case prAttachDataBin:
						if cur.Data == nil && pr.typ == ptBinary {
							cur.Data = pr.val
						}
					}
				}
			}
		}
	}
	finish()
	return files, true, problem
}

func uitoa(u uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

const (
	ptString8 = 0x001E
	ptUnicode = 0x001F
	ptBinary  = 0x0102
	ptObject  = 0x000D
	ptMVFlag  = 0x1000
)

type mapiProp struct {
	typ uint16
	id  uint16
	val []byte // first value of a variable-length property
}

func (pr mapiProp) str(codepage string) string {
	switch pr.typ {
	case ptUnicode:
		b := pr.val
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			u = append(u, binary.LittleEndian.Uint16(b[i:]))
		}
		for len(u) > 0 && u[len(u)-1] == 0 {
			u = u[:len(u)-1]
		}
		return string(utf16.Decode(u))
	case ptString8:
		return DecodeCharset(codepage, trimNUL(pr.val))
	}
	return ""
}

// fixedSize returns the size of one value of a fixed-length MAPI type, or 0
// for a variable-length one ([MS-OXTNEF] §2.1.3.4).
func fixedSize(t uint16) int {
	switch t &^ ptMVFlag {
	case 0x0002, 0x0003, 0x0004, 0x000A, 0x000B: // short, long, float, error, boolean (padded to 4)
		return 4
	case 0x0005, 0x0006, 0x0007, 0x0014, 0x0040: // double, currency, apptime, int64, systime
		return 8
	case 0x0048: // clsid
		return 16
	case 0x0001: // null
		return 0
	}
	return -1
}

// readMAPIProps decodes an attMAPIProps/attAttachment value. bad is true
// when it stopped early on damaged data.
func readMAPIProps(b []byte) (props []mapiProp, bad bool) {
	r := tnefBuf{b: b}
	count, ok := r.u32()
	if !ok {
		return nil, true
	}
	for i := uint32(0); i < count; i++ {
		typ, ok1 := r.u16()
		id, ok2 := r.u16()
		if !ok1 || !ok2 {
			return props, true
		}
		if id >= 0x8000 { // named property: GUID, kind, id or name
			if !r.skip(16) {
				return props, true
			}
			kind, ok := r.u32()
			if !ok {
				return props, true
			}
			if kind == 0 {
				if !r.skip(4) {
					return props, true
				}
			} else {
				n, ok := r.u32()
				if !ok || !r.skip(pad4(n)) {
					return props, true
				}
			}
		}
		pr := mapiProp{typ: typ &^ ptMVFlag, id: id}
		if sz := fixedSize(typ); sz >= 0 {
			nv := uint32(1)
			if typ&ptMVFlag != 0 {
				if nv, ok = r.u32(); !ok {
					return props, true
				}
			}
			if uint64(nv)*uint64(sz) > uint64(len(r.b)) || !r.skip(int(nv)*sz) {
				return props, true
			}
			props = append(props, pr)
			continue
		}
		// Variable length: a count of values, each a length, data, padding.
		nv, ok := r.u32()
		if !ok || nv > uint32(len(r.b)) {
			return props, true
		}
		for j := uint32(0); j < nv; j++ {
			n, ok := r.u32()
			if !ok || uint64(n) > uint64(len(r.b)) {
				return props, true
			}
			v := r.b[:n]
			if !r.skip(pad4(n)) {
				r.b = nil
			}
			if j == 0 {
				if pr.typ == ptObject && len(v) >= 16 {
					v = v[16:] // interface GUID
					pr.typ = ptBinary
				}
				pr.val = v
			}
		}
		props = append(props, pr)
	}
	return props, false
}

func pad4(n uint32) int {
	return int((uint64(n) + 3) &^ 3)
}

type tnefBuf struct{ b []byte }

func (r *tnefBuf) u32() (uint32, bool) {
	if len(r.b) < 4 {
		return 0, false
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, true
}

func (r *tnefBuf) u16() (uint16, bool) {
	if len(r.b) < 2 {
		return 0, false
	}
	v := binary.LittleEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v, true
}

func (r *tnefBuf) skip(n int) bool {
	if n < 0 || n > len(r.b) {
		return false
	}
	r.b = r.b[n:]
	return true
}
