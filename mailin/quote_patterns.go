package mailin

import (
	"regexp"
	"strings"
)

// Marker vocabularies for VisibleText. Each list is a kind, not a client:
// add a language's words here and every rule that uses the kind learns it.

// quoteHeaderKind is the role of a header-like line in a quoted header block
// ("From:", "Von:", "差出人:" ...).
type quoteHeaderKind int

const (
	qhNone quoteHeaderKind = iota
	qhFrom
	qhDate
	qhTo
	qhCc
	qhSubject
	qhOther
)

// quoteHeaderKeys maps lower-case header labels, as mail clients print them
// above quoted history in many languages, to their role.
var quoteHeaderKeys = map[string]quoteHeaderKind{}

func init() {
	add := func(k quoteHeaderKind, words string) {
		for _, w := range strings.Split(words, "|") {
			quoteHeaderKeys[strings.ToLower(w)] = k
		}
	}
	add(qhFrom, "from|von|de|da|van|fra|från|lähettäjä|od|от|差出人|发件人|寄件者|寄件人|보낸 사람|kimden|feladó|από|מאת|من|"+
		"afzender|odesílatel|remitente|expéditeur|mittente|avsändare|afsender|отправитель|gönderen|nadawca|lähettäja")
	add(qhDate, "sent|date|gesendet|datum|envoyé|envoyé le|enviado|enviada|enviado el|inviato|verzonden|verstuurd|"+
		"sendt|skickat|skickades|lähetetty|päivämäärä|wysłano|wysłane|data|отправлено|дата|送信日時|日付|发送时间|日期|"+
		"時間|傳送時間|寄件日期|보낸 날짜|날짜|tarih|gönderildi|gönderilme tarihi|odesláno|fecha|dátum|küldve|"+
		"ημερομηνία|στάλθηκε|תאריך|נשלח|التاريخ|أرسل|sent at|sent on")
	add(qhTo, "to|an|à|a|para|aan|til|till|vastaanottaja|do|кому|宛先|收件人|收件者|받는 사람|kime|komu|címzett|"+
		"προς|אל|إلى|destinataire|destinatario|destinatário|mottagare|modtager|adresat")
	add(qhCc, "cc|bcc|kopie|kopia|копия|抄送|副本|참조|bilgi|kopio|kopi|copie|copia|cc an|kopie an|kópia|κοιν")
	add(qhSubject, "subject|betreff|objet|asunto|assunto|oggetto|onderwerp|emne|ämne|aihe|temat|тема|件名|主题|"+
		"主旨|제목|konu|předmět|tárgy|θέμα|נושא|الموضوع|sujet|tema|ärende")
	add(qhOther, "reply-to|antwort an|répondre à|responder a|importance|wichtigkeit|priorität|priority|"+
		"attachments|anlagen|anhänge|pièces jointes|adjuntos|anexos|allegati|bijlagen|bilagor|vedhæftede filer")

}

// quoteRuleRe is the rule Outlook (and HTML-to-text of <hr>) draws above the
// header block of quoted history.
var quoteRuleRe = regexp.MustCompile(`^[ \t]*(?:_{8,}|-{8,}|─{8,}|—{8,})[ \t]*$`)

// quoteSeparatorRe matches "-----Original Message-----" and its translations.
var quoteSeparatorRe = regexp.MustCompile(`(?i)^[\s\x{00A0}\x{3000}\-_=*]*(?:original message|original-nachricht|` +
	`ursprüngliche nachricht|ursprüngliche mitteilung|message d['’]origine|message original|mensaje original|` +
	`mensagem original|messaggio originale|oorspronkelijk bericht|origineel bericht|oorspronkelijk e-mailbericht|` +
	`ursprungligt meddelande|originalmeddelande|originalbesked|oprindelig meddelelse|opprinnelig melding|` +
	`alkuperäinen viesti|wiadomość oryginalna|oryginalna wiadomość|původní zpráva|pôvodná správa|` +
	`исходное сообщение|оригинальное сообщение|исходное письмо|orijinal mesaj|orijinal ileti|özgün ileti|` +
	`原始邮件|原始郵件|原始消息|原始信息|元のメッセージ|オリジナル メッセージ|オリジナルメッセージ|원본 메시지|원래 메시지|` +
	`αρχικό μήνυμα|eredeti üzenet|mesaj original|mesajul original|izvorno sporočilo|izvorna poruka|` +
	`reply message|original message follows)[\s\x{00A0}\x{3000}\-_=*:：]*$`)

// quoteForwardRe matches the start of a forwarded message. A forward is
// content (the forwarding logic reads it), so nothing below it is folded.
var quoteForwardRe = regexp.MustCompile(`(?i)^[\s\x{00A0}\x{3000}\-_=*>]*(?:begin forwarded message|forwarded message|` +
	`forwarded by .{1,80}|weitergeleitete nachricht|anfang der weitergeleiteten nachricht|` +
	`début du message (?:réexpédié|transféré)|message (?:transféré|réexpédié)|mensaje reenviado|` +
	`inicio del mensaje reenviado|mensagem (?:encaminhada|reencaminhada)|início da mensagem reencaminhada|` +
	`messaggio inoltrato|inizio messaggio inoltrato|(?:begin )?doorgestuurd bericht|` +
	`vidarebefordrat (?:mejl|meddelande)|videresendt (?:meddelelse|melding|besked)|välitetty viesti(?: alkaa)?|` +
	`przekazana wiadomość|wiadomość przekazana|początek przekazywanej wiadomości|přeposlaná zpráva|` +
	`пересланное сообщение|начало переадресованного сообщения|iletilen mesaj|转发的邮件|轉寄的郵件|` +
	`已转发邮件|転送されたメッセージ|転送メッセージ|전달된 메시지|προωθημένο μήνυμα)[\s\x{00A0}\x{3000}\-_=*:：]*$`)

// quoteVerbs are the verbs of attribution lines ("wrote", "schrieb" ...).
const quoteVerbs = `wrote|writes|has written|schrieb|hat geschrieben|a écrit|a ecrit|escribió|escribio|ha escrito|` +
	`escreveu|ha scritto|schreef|heeft geschreven|skrev|kirjoitti|napisał\(a\)|napisała|napisał|napisal|` +
	`napsal\(a\)|napsala|napsal|napísal|napisao|написал\(а\)|написала|написал|пишет|yazdı|έγραψε|írta|a scris|` +
	`rašė|rakstīja|kirjutas|viết|menulis|写道|寫道|写了|のメッセージ|のメール|書きました|書き込みました|작성|` +
	`כתב|כתבה|كتب|بواسطة|het volgende|folgendes|the following`

var (
	// quoteVerbEndRe: the attribution ends with its verb and a colon.
	quoteVerbEndRe = regexp.MustCompile(`(?i)(?:` + quoteVerbs + `)\s*[:：]$`)
	// quoteVerbAnyRe: the verb stands elsewhere (German "Am … schrieb X <a>:").
	quoteVerbAnyRe = regexp.MustCompile(`(?i)(?:` + quoteVerbs + `)`)
	// quoteAddrEndRe: the attribution ends with the author's address and a colon.
	quoteAddrEndRe = regexp.MustCompile(`(?:<[^<>\s]+@[^<>\s]+>|\([^()\s]+@[^()\s]+\)|\[mailto:[^\]\s]+\]|` +
		`[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>():]+)\)?\s*[:：]$`)
	quoteAddrRe = regexp.MustCompile(`[^\s@<>()]+@[^\s@<>()]+\.[\p{L}\d]`)
	// quoteDateRe: a time (4:12, 16.12), a numeric date or a year.
	quoteDateRe = regexp.MustCompile(`\d{1,2}[:.]\d{2}|\d{1,4}[./\-年]\d{1,2}|(?:^|\D)(?:19|20)\d{2}(?:\D|$)`)
	// quoteLeaderRe: how a (possibly wrapped) attribution begins.
	quoteLeaderRe = regexp.MustCompile(`(?i)^[\s\-—>*]*(?:on|am|le|el|em|il|il giorno|op|den|på|w dniu|dne|dnia|` +
		`в|στις|في|בתאריך|quoting|zitat von|citando|cytując|citation de|\d|\p{L}{2,4}\.?,?\s+\d)(?:\s|$|,)`)
	// quoteQuotingRe: Horde/IMP style "Quoting X <a>:" attributions.
	quoteQuotingRe = regexp.MustCompile(`(?i)^(?:quoting|zitat von|citando|cytując|citation de|цитата)\s.*[:：]$`)
	// quoteBidiRe: bidi controls Gmail puts around Hebrew/Arabic attributions.
	quoteBidiRe = regexp.MustCompile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
)

// quoteFooterRe matches a mobile or webmail footer line ("Sent from my iPhone").
var quoteFooterRe = regexp.MustCompile(`(?i)^(?:` +
	`sent from (?:my|outlook|mail|yahoo|samsung|proton|aol|gmail|the \S+ app|windows mail|bluemail|spark|` +
	`blackberry|huawei|xiaomi|android|ios|ipad|iphone|nine|typeapp|zoho|fastmail|tutanota|mobile)\b.*|` +
	`sent (?:with|via|using) (?:my )?\S+(?: \S+){0,5}|get outlook for (?:ios|android).*|` +
	`von meinem .{1,40} gesendet|gesendet von (?:meinem )?.{1,40}|gesendet mit .{1,40}|` +
	`von outlook für (?:ios|android) gesendet|outlook für (?:ios|android) herunterladen|` +
	`envoyé (?:de|depuis|à partir de|avec) .{1,60}|` +
	`enviado (?:desde|do|de|com) .{1,60}|enviada (?:do|desde) .{1,60}|` +
	`inviato (?:da|dal mio|con) .{1,40}|verzonden (?:vanaf|met|van) .{1,40}|verstuurd (?:vanaf|met) .{1,40}|` +
	`skickat från .{1,40}|sendt fra .{1,40}|lähetetty .{1,40}|wysłane z .{1,40}|wysłano z .{1,40}|` +
	`отправлено (?:с|из) .{1,40}|odesláno z .{1,40}|.{1,30}(?:umdan|imden|dan|den|ten|tan) gönderildi|` +
	`.{1,30}から送信|发自我的.{1,30}|从我的.{1,30}发送|來自我的.{1,30}|나의 .{1,30}에서 보냄|.{1,30}에서 보냄)$`)
