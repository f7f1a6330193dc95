package mailin

import (
	"regexp"
	"regexp/syntax"
	"testing"
)

// Every branch of quoteFooterRe has a sample here, and every sample gets
// past quoteMayBeFooter: a branch added without a word in
// quoteFooterWords fails this test instead of never matching.
func TestQuoteFooterWords(t *testing.T) {
	samples := []string{
		"Sent from my iPhone", "Sent with Proton Mail secure email", "Get Outlook for iOS",
		"Von meinem iPhone gesendet", "Gesendet von meinem Samsung", "Gesendet mit der GMX Mail App",
		"Von Outlook für Android gesendet", "Outlook für iOS herunterladen",
		"Envoyé de mon iPhone", "Enviado desde mi iPhone", "Enviada do meu iPhone", "Inviato da iPhone",
		"Verzonden vanaf mijn iPhone", "Verstuurd vanaf mijn iPad", "Skickat från min iPhone",
		"Sendt fra min iPhone", "Lähetetty iPhonesta", "Wysłane z iPhone'a", "Wysłano z iPhone",
		"Отправлено с iPhone", "Odesláno z iPhonu", "iPhone'umdan gönderildi",
		"iPhoneから送信", "发自我的iPhone", "从我的 iPhone 发送", "來自我的 iPhone", "나의 iPhone에서 보냄", "iPhone에서 보냄",
	}
	re, err := syntax.Parse(quoteFooterRe.String(), syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	// (?i)^(?:a|b|…)$: find the alternation.
	var alt *syntax.Regexp
	var find func(r *syntax.Regexp)
	find = func(r *syntax.Regexp) {
		if alt == nil && r.Op == syntax.OpAlternate {
			alt = r
		}
		for _, s := range r.Sub {
			find(s)
		}
	}
	find(re)
	if alt == nil || len(alt.Sub) < 10 {
		t.Fatalf("no alternation found in quoteFooterRe")
	}
	for _, branch := range alt.Sub {
		b := regexp.MustCompile(`(?i)^(?:` + branch.String() + `)$`)
		matched := false
		for _, s := range samples {
			if b.MatchString(s) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("no sample for footer branch %s", branch)
		}
	}
	for _, s := range samples {
		if !quoteFooterRe.MatchString(s) {
			t.Errorf("sample %q does not match quoteFooterRe", s)
		}
		if !quoteIsFooter(s) {
			t.Errorf("sample %q is not a footer: quoteFooterWords lacks its word", s)
		}
	}
}
