package mailin

import (
	"os"
	"testing"
)

// One account per address: upper case and IDN spellings of the same
// mailbox are one person, stored lower-case with the domain in punycode;
// no-reply addresses and group names get no account.
func TestPeopleNormalisation(t *testing.T) {
	b, err := os.ReadFile("testdata/ingest/idn-uppercase-addresses.eml")
	if err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"ingest", "smtp"} {
		t.Run(via, func(t *testing.T) {
			h := newHarness(t, via, nil)
			res := h.feedBytes("idn", b)
			if res.Outcome != OutcomeCreated {
				t.Fatalf("outcome %+v", res)
			}
			wantRequester(t, h, res.Request, "joerg.mueller@xn--bcher-kva.example", "Jörg Müller")
			want(t, "subject", h.request(res.Request).Subject, "Heizung im Büro 3")
			fs := h.followers(res.Request)
			want(t, "followers", len(fs), 2)
			want(t, "anna", fs["anna@xn--strae-oqa.example"], "Weiß, Anna")
			if _, ok := fs["bob@example.org"]; !ok {
				t.Errorf("group member bob not a follower: %v", fs)
			}
			want(t, "people", len(h.people()), 3)
			wantNoPerson(t, h, "noreply@example.org", "maintenance@example.com")
		})
	}
}
