package exposure

import (
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
)

// The answer mail sends questions to the inquiry desk, incident preset.
func TestTheAnswerMailLinksToTheContactFormWithTheIncidentCategory(t *testing.T) {
	for _, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
		msg := answerMessage(lang, "a@example.jp", nil, Link{}, "https://k.example.jp/", "chk_1")
		if !strings.Contains(msg.Text, "https://k.example.jp/contact?category=incident") {
			t.Errorf("%s: no contact link in %q", lang, msg.Text)
		}
	}
}
