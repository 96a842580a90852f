package audit

import (
	"testing"

	"github.com/kakunin/kakunin/internal/catalogue"
)

// The audit console names every action from the catalogue.
func TestEveryActionIsNamedInEveryLanguage(t *testing.T) {
	cat := catalogue.Default()
	for _, a := range Actions {
		for _, lang := range cat.Languages() {
			if _, err := cat.Localize(lang, catalogue.M("audit.action."+a)); err != nil {
				t.Error(err)
			}
		}
	}
}
