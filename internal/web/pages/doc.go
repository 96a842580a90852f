// Package pages renders kakunin's server-side HTML: the member's upload and
// status pages, the staff console and the error pages, in Japanese and
// English. Templates and the stylesheet are embedded here, the words in
// internal/catalogue, so the binary carries everything it shows.
//
// It guards two promises. Pages work with no JavaScript under a strict CSP
// (no inline style or script, no external resource), and every page is whole:
// Render executes into a buffer and writes nothing when a template fails.
//
// # Adding a message
//
//  1. Pick an ID named for where it appears: "upload.tips.glare",
//     "task.error.conflict". Codes chosen by the server are spliced into the
//     ID ("upload.error.<code>", "reason.<code>"), so a new code needs a new
//     message in the same family.
//  2. Add it to BOTH internal/catalogue/locales/ja.json and en.json (or the
//     area's incident.ja.json and incident.en.json…). Japanese is polite
//     (です・ます) and reads as if written by a person, not translated.
//  3. Use it in a template as {{t "upload.tips.glare"}}. Values go in as
//     name/value pairs and are referred to as {{.Name}} in the message:
//     {{t "upload.file.hint" "MaxMB" .MaxMB}} with "…{{.MaxMB}} MB".
//     Messages are plain text; html/template escapes them.
//  4. Run go test ./internal/catalogue/ ./internal/web/pages/: they fail if
//     the catalogues differ in keys, if a template names an ID neither has,
//     or if a page renders a code whose message is missing.
package pages
