// Package catalogue holds every word kakunin shows a member, a staff
// member or a regulator, in Japanese and English: pages, mail, alerts,
// deadline reasons, timeline entries, audit action labels, document
// names. Code decides what to say as a Message (an ID and its arguments);
// the catalogue writes it in the reader's language. Operators' CLI output
// is not here.
//
// The messages are plain JSON files in locales/, one flat object per
// language and area (ja.json, incident.en.json…), embedded in the binary.
// Load refuses a set of files in which one language lacks a message
// another has, naming it, so a third language is a matter of adding its
// files. Messages are go-i18n templates: {{.Name}} is an argument, and
// date, datetime, month, count and t (another message) are at hand.
// docs/catalogue.md says how to edit wording or add a language.
package catalogue
