package catalogue

import "github.com/kakunin/kakunin"

// DocumentName is a document type's name in lang as it reads inside a
// sentence of a mail ("doc.<type>.in_text": "driver's licence"); an
// unknown type is named by its code.
func DocumentName(lang kakunin.Locale, t kakunin.DocumentType) string {
	s, err := Default().Localize(lang, Message{ID: "doc." + string(t) + ".in_text"})
	if err != nil {
		return string(t)
	}
	return s
}
