package mailin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quoteCase is one VisibleText table case: body in, visible text out.
type quoteCase struct {
	name, in, want string
}

func runQuoteCases(t *testing.T, cases []quoteCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := VisibleText(c.in); got != c.want {
				t.Errorf("VisibleText:\n--- got ---\n%s\n--- want ---\n%s", got, c.want)
			}
		})
	}
}

// TestVisibleTextGolden runs testdata/quote/<quirk>.in.txt against
// <quirk>.want.txt (bodies of cases 01-b, 33-b, 33-c and friends).
func TestVisibleTextGolden(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join("testdata", "quote", "*.in.txt"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.txt")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(in, ".in.txt") + ".want.txt")
			if err != nil {
				t.Fatal(err)
			}
			// The golden files may be stored with CRLF; VisibleText gets LF.
			b := strings.ReplaceAll(string(body), "\r\n", "\n")
			w := strings.TrimRight(strings.ReplaceAll(string(want), "\r\n", "\n"), "\n")
			if got := VisibleText(b); got != w {
				t.Errorf("VisibleText:\n--- got ---\n%s\n--- want ---\n%s", got, w)
			}
		})
	}
}

const quoteOrig = "\n\nHello,\n\nThe radiator in room 204 is leaking.\n\nJane"

func TestVisibleTextAttributions(t *testing.T) {
	q := "\n\n> Hello,\n>\n> The radiator in room 204 is leaking.\n"
	cases := []quoteCase{
		{"en-gmail", "Coming today.\n\nOn Mon, Nov 16, 2026 at 8:12 AM Jane Doe <jane@example.org> wrote:" + q, "Coming today."},
		{"en-gmail-wrapped-3-lines", "Coming today.\n\nOn Mon, Nov 16, 2026 at 8:12 AM Facilities Maintenance Department of\nthe North Campus <\nmaintenance@example.com> wrote:" + q, "Coming today."},
		{"en-gmail-wrapped-before-verb", "Coming today.\n\nOn Mon, Nov 16, 2026 at 8:12 AM Jane Doe <jane@example.org>\nwrote:" + q, "Coming today."},
		{"en-outlook-mailto", "Coming today.\n\nOn 16/11/2026, 08:12, \"Jane Doe\" <jane@example.org<mailto:jane@example.org>> wrote:" + q, "Coming today."},
		{"en-wrapped-before-verb-unquoted", "Thanks!\n\nOn 16 Nov 2026, at 08:12, Jane via Helpdesk <desk@example.org>\nwrote:\n\n   Jane posted:\n\nThe radiator leaks.", "Thanks!"},
		{"nl-het-volgende-unquoted", "Dit is mijn antwoord.\n\nOp 16 november 2026 08:12 schreef Jane Doe het volgende:\n\nDe radiator lekt.", "Dit is mijn antwoord."},
		{"de-folgendes", "Wir kommen.\n\nAm 16.11.2026 schrieb Jane Doe folgendes:\n> Leck", "Wir kommen."},
		{"en-apple", "Coming today.\n\nOn 16 Nov 2026, at 08:12, Jane Doe <jane@example.org> wrote:" + q, "Coming today."},
		{"en-writes", "Coming today.\n\nJane Doe <jane@example.org> writes:" + q, "Coming today."},
		{"en-thunderbird-no-addr", "Coming today.\n\nOn 11/16/2026 8:12 AM, Jane Doe wrote:" + q, "Coming today."},
		{"en-bare-name", "Coming today.\n\nbob wrote:" + q, "Coming today."},
		{"de-gmail-wrapped", "Wir kommen heute.\n\nAm Mo., 16. Nov. 2026 um 08:12 Uhr schrieb Jane Doe <\njane@example.org>:" + q, "Wir kommen heute."},
		{"de-thunderbird", "Wir kommen heute.\n\nAm 16.11.2026 um 08:12 schrieb Jane Doe:" + q, "Wir kommen heute."},
		{"de-outlook-mac", "Wir kommen heute.\n\nJane Doe <jane@example.org> hat am 16.11.2026 08:12 geschrieben:" + q, "Wir kommen heute."},
		{"fr-gmail", "Nous venons aujourd'hui.\n\nLe lun. 16 nov. 2026 à 08:12, Jane Doe <jane@example.org> a écrit :" + q, "Nous venons aujourd'hui."},
		{"es-gmail", "Vamos hoy.\n\nEl lun, 16 nov 2026 a las 8:12, Jane Doe (<jane@example.org>) escribió:" + q, "Vamos hoy."},
		{"pt-gmail", "Vamos hoje.\n\nEm seg., 16 de nov. de 2026 às 08:12, Jane Doe <jane@example.org> escreveu:" + q, "Vamos hoje."},
		{"it-gmail", "Veniamo oggi.\n\nIl giorno lun 16 nov 2026 alle ore 08:12 Jane Doe <jane@example.org> ha scritto:" + q, "Veniamo oggi."},
		{"nl-gmail", "We komen vandaag.\n\nOp ma 16 nov. 2026 om 08:12 schreef Jane Doe <jane@example.org>:" + q, "We komen vandaag."},
		{"sv-gmail", "Vi kommer idag.\n\nDen mån 16 nov. 2026 kl 08:12 skrev Jane Doe <jane@example.org>:" + q, "Vi kommer idag."},
		{"da-gmail", "Vi kommer i dag.\n\nDen man. 16. nov. 2026 kl. 08.12 skrev Jane Doe <jane@example.org>:" + q, "Vi kommer i dag."},
		{"no-gmail", "Vi kommer i dag.\n\nman. 16. nov. 2026 kl. 08:12 skrev Jane Doe <jane@example.org>:" + q, "Vi kommer i dag."},
		{"fi-gmail", "Tulemme tänään.\n\nma 16. marrask. 2026 klo 8.12 Jane Doe (jane@example.org) kirjoitti:" + q, "Tulemme tänään."},
		{"pl-gmail", "Przyjdziemy dziś.\n\nW dniu pon., 16.11.2026 o 08:12 Jane Doe <jane@example.org> napisał(a):" + q, "Przyjdziemy dziś."},
		{"cs-gmail", "Přijdeme dnes.\n\npo 16. 11. 2026 v 8:12 odesílatel Jane Doe <jane@example.org> napsal:" + q, "Přijdeme dnes."},
		{"ru-old", "Придём сегодня.\n\n16 ноября 2026 г., 8:12 пользователь Jane Doe <jane@example.org> написал:" + q, "Придём сегодня."},
		{"ru-gmail-no-verb", "Придём сегодня.\n\nпн, 16 нояб. 2026 г. в 08:12, Jane Doe <jane@example.org>:" + q, "Придём сегодня."},
		{"ru-android-wrapped", "Hello\n02.04.2012 14:20 пользователь \"bob@xxx.mailgun.org\" <\nbob@xxx.mailgun.org> написал:\n\n> Hi", "Hello"},
		{"tr-gmail", "Bugün geliyoruz.\n\nJane Doe <jane@example.org>, 16 Kas 2026 Pzt, 08:12 tarihinde şunu yazdı:" + q, "Bugün geliyoruz."},
		{"ja-gmail", "本日伺います。\n\n2026年11月16日(月) 8:12 Jane Doe <jane@example.org>:" + q, "本日伺います。"},
		{"ja-outlook", "本日伺います。\n\n2026/11/16 8:12、Jane Doe <jane@example.org> のメッセージ:" + q, "本日伺います。"},
		{"ja-thunderbird", "本日伺います。\n\nJane Doe wrote on 2026/11/16 8:12:\n" + q, "本日伺います。"},
		{"ja-kakimashita", "本日伺います。\n\n2026/11/16 8:12 Jane Doe さんは書きました:" + q, "本日伺います。"},
		{"zh-gmail", "今天过来。\n\nJane Doe <jane@example.org> 于2026年11月16日周一 08:12写道：" + q, "今天过来。"},
		{"ko-gmail", "오늘 갑니다.\n\n2026년 11월 16일 (월) 오전 8:12, Jane Doe <jane@example.org>님이 작성:" + q, "오늘 갑니다."},
		{"he-gmail-bidi", "מגיעים היום.\n\n\u202bבתאריך יום ב׳, 16 בנוב׳ 2026 ב-8:12 מאת Jane Doe <\u202ajane@example.org\u202c>:\u202c" + q, "מגיעים היום."},
		{"hu-gmail", "Ma jövünk.\n\nJane Doe <jane@example.org> ezt írta (időpont: 2026. nov. 16., H, 8:12):" + q, "Ma jövünk."},
		{"el-gmail", "Ερχόμαστε σήμερα.\n\nΣτις Δευ 16 Νοε 2026 στις 8:12 π.μ., ο/η Jane Doe <jane@example.org> έγραψε:" + q, "Ερχόμαστε σήμερα."},
		{"yahoo-dashes-unquoted", "Coming today.\n\n--- On Mon, 11/16/26, jane@example.org <jane@example.org> wrote:\n\nFrom: jane@example.org <jane@example.org>\nSubject: Leak\nTo: maintenance@example.com\nDate: Monday, November 16, 2026, 8:12 AM" + quoteOrig, "Coming today."},
		{"zoho-dashes", "Coming today.\n\n---- On Mon, 16 Nov 2026 08:12:00 +0100 Jane Doe <jane@example.org> wrote ----" + q, "Coming today."},
		{"unquoted-history-after-strong-attribution", "Coming today.\n\nOn Mon, Nov 16, 2026 at 8:12 AM Jane Doe <jane@example.org> wrote:" + quoteOrig, "Coming today."},
		{"horde-quoting", "Coming today.\n\nQuoting Jane Doe <jane@example.org>:" + q, "Coming today."},
	}
	runQuoteCases(t, cases)
}

func TestVisibleTextSeparators(t *testing.T) {
	var cases []quoteCase
	for _, sep := range []string{
		"-----Original Message-----", "----- Original Message -----", "-----Ursprüngliche Nachricht-----",
		"-------- Original-Nachricht --------", "-----Message d'origine-----", "-----Mensaje original-----",
		"-----Mensagem original-----", "-----Messaggio originale-----", "-----Oorspronkelijk bericht-----",
		"-----Ursprungligt meddelande-----", "-----Originalbesked-----", "-----Oprindelig meddelelse-----",
		"-----Opprinnelig melding-----", "-----Alkuperäinen viesti-----", "-----Wiadomość oryginalna-----",
		"-----Původní zpráva-----", "-----Исходное сообщение-----", "-----Orijinal Mesaj-----",
		"------------------ 原始邮件 ------------------", "-----原始郵件-----", "-----元のメッセージ-----",
		"-----원본 메시지-----", "-----Αρχικό μήνυμα-----", "-----Eredeti üzenet-----",
	} {
		cases = append(cases, quoteCase{sep, "We will come today.\n\nBob\n\n" + sep + "\nFrom: Jane\nSent: today" + quoteOrig, "We will come today.\n\nBob"})
	}
	runQuoteCases(t, cases)
}

// quoteBlock builds an Outlook header block from labels (From, Sent, To, Subject).
func quoteBlock(from, sent, to, subj string) string {
	return from + ": Jane Doe <jane.doe@example.org>\n" + sent + ": 16.11.2026 08:12\n" +
		to + ": Facilities Maintenance <maintenance@example.com>\n" + subj + ": Radiator leaking in room 204"
}

func TestVisibleTextOutlookBlocks(t *testing.T) {
	langs := []struct{ name, from, sent, to, subj string }{
		{"en", "From", "Sent", "To", "Subject"}, {"de", "Von", "Gesendet", "An", "Betreff"},
		{"fr", "De", "Envoyé", "À", "Objet"}, {"fr-space-colon", "De ", "Envoyé ", "À ", "Objet "},
		{"es", "De", "Enviado", "Para", "Asunto"}, {"pt", "De", "Enviada", "Para", "Assunto"},
		{"it", "Da", "Inviato", "A", "Oggetto"}, {"nl", "Van", "Verzonden", "Aan", "Onderwerp"},
		{"da", "Fra", "Sendt", "Til", "Emne"}, {"sv", "Från", "Skickat", "Till", "Ämne"},
		{"fi", "Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe"}, {"pl", "Od", "Wysłano", "Do", "Temat"},
		{"ru", "От", "Отправлено", "Кому", "Тема"}, {"ja", "差出人", "送信日時", "宛先", "件名"},
		{"zh", "发件人", "发送时间", "收件人", "主题"}, {"zh-tw", "寄件者", "寄件日期", "收件者", "主旨"},
		{"ko", "보낸 사람", "보낸 날짜", "받는 사람", "제목"}, {"tr", "Kimden", "Gönderildi", "Kime", "Konu"},
		{"cs", "Od", "Odesláno", "Komu", "Předmět"}, {"hu", "Feladó", "Küldve", "Címzett", "Tárgy"},
		{"bold", "*From:*", "*Sent:*", "*To:*", "*Subject:*"},
	}
	var cases []quoteCase
	for _, l := range langs {
		from, sent, to, subj := l.from, l.sent, l.to, l.subj
		if strings.HasSuffix(from, ":*") { // bold: labels carry their own colon
			from, sent, to, subj = "*From", "*Sent", "*To", "*Subject"
		}
		blk := quoteBlock(from, sent, to, subj)
		if l.name == "bold" {
			blk = strings.NewReplacer("*From:", "*From:*", "*Sent:", "*Sent:*", "*To:", "*To:*", "*Subject:", "*Subject:*").Replace(blk)
		}
		cases = append(cases,
			quoteCase{l.name + "/no-rule", "We come today.\n\nBob\n\n" + blk + quoteOrig, "We come today.\n\nBob"},
			quoteCase{l.name + "/rule", "We come today.\n\nBob\n\n________________________________\n" + blk + quoteOrig, "We come today.\n\nBob"},
		)
	}
	cases = append(cases,
		quoteCase{"ja-fullwidth-colons", "本日伺います。\n\n差出人： Jane Doe <jane@example.org>\n送信日時： 2026年11月16日 8:12\n宛先： Maintenance\n件名： 漏水" + quoteOrig, "本日伺います。"},
		quoteCase{"fr-nbsp-colons", "Nous venons.\n\nDe\u00a0: Jane Doe <jane@example.org>\nEnvoyé\u00a0: lundi 16 novembre 2026 08:12\nÀ\u00a0: Maintenance\nObjet\u00a0: Fuite" + quoteOrig, "Nous venons."},
		quoteCase{"qq-nbsp-separator", "今天过来。\n\n------------------\u00a0原始邮件\u00a0------------------\n发件人: Jane\n发送时间: 2026年11月16日\n收件人: Maintenance\n主题: 漏水" + quoteOrig, "今天过来。"},
		quoteCase{"lotus-notes", "We come today.\n\n-----Jane Doe/ACME wrote: -----\nTo: Maintenance/ACME\nFrom: Jane Doe/ACME\nDate: 16.11.2026 08:12\nSubject: Leak" + quoteOrig, "We come today."},
		quoteCase{"one-line-mac", "We come today.\n\nFrom: Jane Doe <jane@example.org> Sent: Monday, 16 November 2026 08:12 To: Maintenance <maintenance@example.com> Subject: Leak" + quoteOrig, "We come today."},
		quoteCase{"one-line-bold", "We come today.\n\n*From:* Jane Doe <jane@example.org> *Sent:* Monday, 16 November 2026 08:12 *To:* Maintenance *Subject:* Leak" + quoteOrig, "We come today."},
		quoteCase{"rule-two-lines", "We come today.\n\n________________________________\nFrom: Jane Doe\nSubject: Leak" + quoteOrig, "We come today."},
		quoteCase{"from-sent-only", "We come today.\n\nFrom: Jane Doe <jane@example.org>\nSent: Monday, 16 November 2026 08:12" + quoteOrig, "We come today."},
		quoteCase{"wrapped-to-list", "We come today.\n\nFrom: Jane Doe <jane@example.org>\nSent: Monday, 16 November 2026 08:12\nTo: a@example.org; b@example.org;\n c@example.org\nCc: d@example.org\nSubject: Leak" + quoteOrig, "We come today."},
		quoteCase{"gmail-forward-style-date", "We come today.\n\nFrom: Jane Doe <jane@example.org>\nDate: Mon, Nov 16, 2026 at 8:12 AM\nSubject: Leak\nTo: <maintenance@example.com>" + quoteOrig, "We come today."},
	)
	runQuoteCases(t, cases)
}

func TestVisibleTextQuotesAndSignatures(t *testing.T) {
	cases := []quoteCase{
		{"trailing-quote-no-attribution", "Fixed.\n\n> Subject: Test\n> From: bob@example.org\n>\n> Hi", "Fixed."},
		{"nested-quotes", "Fixed.\n\nOn Mon, Nov 16, 2026 at 8:12 AM Jane <j@example.org> wrote:\n> Still?\n>\n> On Sun, Nov 15, 2026 at 9:00 AM Bob <b@example.org> wrote:\n> > Leak.", "Fixed."},
		{"signature-delimiter", "Fixed.\n\n-- \nBob Builder\nFacilities, ext. 42", "Fixed."},
		{"signature-then-history", "Hello\n\n-- \nxxx\nSent with Sparrow (http://www.sparrowmailapp.com/?sig)\n\n\nOn Tuesday, April 3, 2012 at 4:55 PM, xxx wrote:\n\n> Hello", "Hello"},
		{"iphone-footer", "Here is a photo of the blind.\n\nSent from my iPhone", "Here is a photo of the blind."},
		{"iphone-footer-before-attribution", "Hello\n\nSent from my iPhone\n\nOn Apr 3, 2012, at 4:19 PM, bob <bob@example.com> wrote:\n\n> Hi", "Hello"},
		{"footer-de", "Danke.\n\nVon meinem iPhone gesendet", "Danke."},
		{"footer-fr", "Merci.\n\nEnvoyé de mon iPhone", "Merci."},
		{"footer-es", "Gracias.\n\nEnviado desde mi Samsung Galaxy", "Gracias."},
		{"footer-outlook-android", "Thanks.\n\nSent from Outlook for Android", "Thanks."},
		{"footer-get-outlook", "Thanks.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>", "Thanks."},
		{"footer-galaxy", "Thanks.\n\n\nSent from my Galaxy", "Thanks."},
		{"footer-yahoo", "Thanks.\n\nSent from Yahoo Mail on Android", "Thanks."},
		{"footer-windows", "Thanks.\n\nSent from Mail for Windows", "Thanks."},
		{"whitespace-trimmed", "\n\n  Indented first line.  \nSecond line.\t\n\n\n", "  Indented first line.\nSecond line."},
		{"crlf", "Fixed.\r\n\r\n> old\r\n", "Fixed."},
	}
	runQuoteCases(t, cases)
}

// Negative cases: nothing of the occupant's own text may be lost.
func TestVisibleTextKeeps(t *testing.T) {
	interleaved := "On Mon, Nov 16, 2026 at 8:12 AM Jane Doe <jane@example.org> wrote:\n> Which room?\n\nRoom 204.\n\n> Since when?\n\nSince Monday."
	bottom := "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello"
	cases := []quoteCase{
		{"interleaved-answers", interleaved, interleaved},
		{"interleaved-without-attribution", "> Which room?\nRoom 204.\n> Since when?\nSince Monday.\n", "> Which room?\nRoom 204.\n> Since when?\nSince Monday."},
		{"interleaved-then-outlook-history", "> Which room?\nRoom 204.\n\n________________________________\nFrom: Jane\nSent: today\nTo: us\nSubject: Leak" + quoteOrig, "> Which room?\nRoom 204."},
		{"bottom-post-kept", bottom, bottom},
		{"prose-from", "From: the 3rd floor\nTo: the basement, water runs down the wall.\nPlease hurry.", "From: the 3rd floor\nTo: the basement, water runs down the wall.\nPlease hurry."},
		{"prose-from-alone", "The smell comes\nFrom: the kitchen, I think.", "The smell comes\nFrom: the kitchen, I think."},
		{"only-quote", "> Hello\n> there\n", "> Hello\n> there"},
		{"only-attribution-and-quote", "On Mon, Nov 16, 2026 at 8:12 AM Jane <j@example.org> wrote:\n> Hello", "On Mon, Nov 16, 2026 at 8:12 AM Jane <j@example.org> wrote:\n> Hello"},
		{"only-outlook-block", "From: Jane <j@example.org>\nSent: Monday\nTo: us\nSubject: x\n\nbody", "From: Jane <j@example.org>\nSent: Monday\nTo: us\nSubject: x\n\nbody"},
		{"only-signature", "-- \nBob", "--\nBob"},
		{"only-footer", "Sent from my iPhone", "Sent from my iPhone"},
		{"footer-only-before-history", "Sent from my iPhone\n\nOn Mon, Nov 16, 2026 at 8:12 AM Jane <j@example.org> wrote:\n> Hello", "Sent from my iPhone"},
		{"forward-apple", "FYI, see below.\n\nBegin forwarded message:\n\n> From: Jane <j@example.org>\n> Date: 16 November 2026\n> Subject: Leak\n>\n> It leaks.", "FYI, see below.\n\nBegin forwarded message:\n\n> From: Jane <j@example.org>\n> Date: 16 November 2026\n> Subject: Leak\n>\n> It leaks."},
		{"forward-gmail", "FYI\n\n---------- Forwarded message ---------\nFrom: Jane <j@example.org>\nDate: Mon, Nov 16, 2026 at 8:12 AM\nSubject: Leak\nTo: <b@example.org>\n\nIt leaks.", "FYI\n\n---------- Forwarded message ---------\nFrom: Jane <j@example.org>\nDate: Mon, Nov 16, 2026 at 8:12 AM\nSubject: Leak\nTo: <b@example.org>\n\nIt leaks."},
		{"forward-de-signature-kept", "Zur Info\n-- \nBob\n\n-------- Weitergeleitete Nachricht --------\nBetreff: Leck\nDatum: 16.11.2026\nVon: Jane", "Zur Info\n--\nBob\n\n-------- Weitergeleitete Nachricht --------\nBetreff: Leck\nDatum: 16.11.2026\nVon: Jane"},
		{"colon-line-before-own-list", "Here is what I need:\n- a ladder\n- a bucket", "Here is what I need:\n- a ladder\n- a bucket"},
		{"wrote-in-prose", "The janitor wrote: it was fixed on 16.11.2026.\nIt was not.", "The janitor wrote: it was fixed on 16.11.2026.\nIt was not."},
		{"prose-sentence-before-weak-attribution", "On Monday we talked.\nbob wrote:\n> Hi", "On Monday we talked."},
		{"dashes-in-prose", "Before:\n----------\nAfter: fixed", "Before:\n----------\nAfter: fixed"},
		{"sent-from-in-prose", "Thanks.\n\nSent from the 3rd floor by the night guard, who saw the leak.", "Thanks.\n\nSent from the 3rd floor by the night guard, who saw the leak."},
		{"empty", "", ""},
		{"blank", "\n \n\t\n", ""},
	}
	runQuoteCases(t, cases)
}
