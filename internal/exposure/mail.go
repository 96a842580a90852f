package exposure

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/mail"
)

// mailText is what the mails say in one language.
type mailText struct {
	subject, noAccountSubject string
	intro                     string // %s: the check form's URL
	resultHeading             string
	incident                  string // %s discovered, %s window from, %s window to
	affected, notAffected     string
	document                  string // %s type, %s month
	readable, sealedOnly      string
	noIncident                string
	readableAdvice            string
	adviceHeading             string
	advice                    []string // the last one: %s the notices URL
	linkHeading               string
	link                      string // %s expiry
	footer                    string
	noAccount                 string // %s: the check form's URL
}

var mailTexts = map[kakunin.Locale]mailText{
	kakunin.LocaleJA: {
		subject:          "【kakunin】情報漏えいの影響確認の結果",
		noAccountSubject: "【kakunin】影響確認のご依頼について",
		intro: "影響確認フォーム（%s）で、このメールアドレスについて確認のご依頼がありました。" +
			"結果は、アカウントにご登録のこのアドレスにだけお送りしています。ご依頼に心当たりがない場合も、下記をご確認ください。",
		resultHeading:  "■ 確認の結果",
		incident:       "・%sに判明した事案（対象期間: %s ～ %s）",
		affected:       "  影響あり: 次の書類が含まれていました。",
		notAffected:    "  影響なし: お客様の書類は含まれていませんでした。",
		document:       "    - %s（%sに提出）",
		readable:       "      画像が読み取られた可能性があります。",
		sealedOnly:     "      暗号化された状態のデータのみで、画像は読み取れない状態でした。",
		noIncident:     "現在、お客様の書類に影響した事案は確認されていません。",
		readableAdvice: "画像が読み取られた可能性のある書類については、氏名・住所・生年月日・顔写真などが第三者に知られた可能性があります。なりすましによる契約や申し込みにご注意ください。",
		adviceHeading:  "■ お願い",
		advice: []string{
			"・漏えいした情報を使った詐欺メール・電話・SMS（フィッシング）にご注意ください。",
			"・私たちが本人確認書類の画像をメールで求めることはありません。そのようなメールのリンクは開かず、削除してください。",
			"・ご不明な点は、ご利用中のサービスのサポート窓口にお問い合わせください。",
			"・最新のお知らせ: %s",
		},
		linkHeading: "■ サイトで結果を見る",
		link:        "次のリンクから、この結果をサイトでも確認できます（%sまで有効）。このリンクは他の人に転送しないでください。",
		footer:      "このメールは送信専用です。返信いただいてもお答えできません。",
		noAccount: "影響確認フォーム（%s）で、このメールアドレスについて確認のご依頼がありましたが、このアドレスを登録しているアカウントはありません。\n\n" +
			"ご依頼に心当たりがない場合は、このメールを破棄してください。別のアドレスでご登録の場合は、そのアドレスで改めてご確認ください。",
	},
	kakunin.LocaleEN: {
		subject:          "[kakunin] The result of your exposure check",
		noAccountSubject: "[kakunin] About your exposure check",
		intro: "Someone asked, on the exposure-check form (%s), whether this e-mail address was affected. " +
			"We send the answer only to the address registered on the account, which is this one. " +
			"Please read on even if you did not ask.",
		resultHeading:  "== The result",
		incident:       "* The incident discovered on %s (period: %s to %s)",
		affected:       "  Affected: it included these documents of yours.",
		notAffected:    "  Not affected: none of your documents were included.",
		document:       "    - %s (submitted in %s)",
		readable:       "      The image may have been seen.",
		sealedOnly:     "      Only its encrypted form was reached; the image could not be read.",
		noIncident:     "We know of no incident that affected your documents.",
		readableAdvice: "Where an image may have been seen, your name, address, date of birth and photo may be known to others. Watch for contracts or applications made in your name.",
		adviceHeading:  "== What to do",
		advice: []string{
			"* Be wary of e-mails, calls and text messages that use the leaked data (phishing).",
			"* We will never ask you by e-mail for your identity document again. Do not open links in such a message; delete it.",
			"* For questions, contact the support desk of the service you use.",
			"* Our latest notices: %s",
		},
		linkHeading: "== See the result on the site",
		link:        "This link shows the same result on the site until %s. Please do not forward it.",
		footer:      "This mailbox is not monitored; replies cannot be answered.",
		noAccount: "Someone asked, on the exposure-check form (%s), whether this e-mail address was affected. No account uses this address.\n\n" +
			"If you did not ask, please ignore this message. If you registered with another address, please check with that one.",
	},
}

func textOf(lang kakunin.Locale) mailText {
	if t, ok := mailTexts[lang]; ok {
		return t
	}
	return mailTexts[kakunin.LocaleJA]
}

func base(publicURL string) string { return strings.TrimSuffix(publicURL, "/") }

// answerMessage is the answer mail of one member. id makes its Message-ID
// stable, so a mail sent again after a retry shows as one.
func answerMessage(lang kakunin.Locale, to string, answers []Answer, link Link, publicURL, id string) mail.Message {
	t := textOf(lang)
	var b strings.Builder
	fmt.Fprintf(&b, t.intro+"\n\n", base(publicURL)+"/check")
	b.WriteString(t.resultHeading + "\n")
	anyReadable := false
	if len(answers) == 0 {
		b.WriteString(t.noIncident + "\n")
	}
	for _, a := range answers {
		in := a.Incident
		fmt.Fprintf(&b, t.incident+"\n", incident.FormatDate(lang, in.DiscoveredAt), incident.FormatDateTime(lang, in.WindowFrom), incident.FormatDateTime(lang, in.WindowTo))
		if !a.Exposure.Affected {
			b.WriteString(t.notAffected + "\n\n")
			continue
		}
		b.WriteString(t.affected + "\n")
		for _, d := range a.Exposure.Documents {
			fmt.Fprintf(&b, t.document+"\n", sentenceCase(d.Type.Name(lang)), incident.FormatMonth(lang, d.Month))
			if d.Readable {
				anyReadable = true
				b.WriteString(t.readable + "\n")
			} else {
				b.WriteString(t.sealedOnly + "\n")
			}
		}
		b.WriteString("\n")
	}
	if anyReadable {
		b.WriteString(t.readableAdvice + "\n")
	}
	b.WriteString("\n" + t.adviceHeading + "\n")
	for i, line := range t.advice {
		if i == len(t.advice)-1 {
			line = fmt.Sprintf(line, base(publicURL)+"/notices")
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("\n" + t.linkHeading + "\n")
	fmt.Fprintf(&b, t.link+"\n", incident.FormatDateTime(lang, link.ExpiresAt))
	b.WriteString(link.URL + "\n\n")
	b.WriteString("-- \n" + t.footer + "\n")
	return mail.Message{To: []string{to}, Subject: t.subject, Text: b.String(), ID: id,
		Headers: map[string]string{"Auto-Submitted": "auto-generated"}}
}

// noAccountMessage tells the typed address that no account uses it.
func noAccountMessage(lang kakunin.Locale, to, publicURL, id string) mail.Message {
	t := textOf(lang)
	text := fmt.Sprintf(t.noAccount, base(publicURL)+"/check") + "\n\n-- \n" + t.footer + "\n"
	return mail.Message{To: []string{to}, Subject: t.noAccountSubject, Text: text, ID: id,
		Headers: map[string]string{"Auto-Submitted": "auto-generated"}}
}

// sentenceCase capitalises a document's name where it starts a line.
func sentenceCase(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
