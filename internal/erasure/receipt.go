package erasure

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kakunin/kakunin/internal/audit"
)

// ReceiptHeader is the first line of every receipt (docs/receipts.md).
const ReceiptHeader = "kakunin erasure receipt v1"

const timeLayout = "2006-01-02T15:04:05.000000Z"

// Count is how many things of one kind were erased or kept.
type Count struct {
	Kind   string // e.g. document_image
	N      int64
	Reason string // kept only: why (a catalogue code, erasure.kept.<reason>)
}

// Step is one step of the request's timeline.
type Step struct {
	At    time.Time
	State string
	Actor string // member | support | admin | system: a role, never a name
}

// Receipt is what a signed erasure receipt states.
type Receipt struct {
	Origin   string // the installation (the signing key's name)
	Request  string // era_…
	Member   string // mem_… (kakunin's own ID, not the host's)
	ErasedAt time.Time
	Erased   []Count
	Kept     []Count
	Timeline []Step
	// FirstEvent..LastEvent are the audit events that record the erasure;
	// Checkpoint is the signed audit checkpoint that covers them.
	FirstEvent, LastEvent int64
	Checkpoint            string // the checkpoint's signed note, as the audit log stores it
}

var (
	wordRE  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	idRE    = regexp.MustCompile(`^[a-z]{3}_[A-Za-z0-9]{1,64}$`)
	actorRE = regexp.MustCompile(`^(member|support|admin|system)$`)
)

// Text is the receipt's signed text.
func (r *Receipt) Text() string {
	var b strings.Builder
	b.WriteString(ReceiptHeader + "\n")
	fmt.Fprintf(&b, "origin %s\n", r.Origin)
	fmt.Fprintf(&b, "request %s\n", r.Request)
	fmt.Fprintf(&b, "member %s\n", r.Member)
	fmt.Fprintf(&b, "erased-at %s\n", r.ErasedAt.UTC().Format(timeLayout))
	for _, c := range r.Erased {
		fmt.Fprintf(&b, "erased %s %d\n", c.Kind, c.N)
	}
	for _, c := range r.Kept {
		fmt.Fprintf(&b, "kept %s %d %s\n", c.Kind, c.N, c.Reason)
	}
	for _, s := range r.Timeline {
		fmt.Fprintf(&b, "step %s %s %s\n", s.At.UTC().Format(timeLayout), s.State, s.Actor)
	}
	fmt.Fprintf(&b, "events %d %d\n", r.FirstEvent, r.LastEvent)
	fmt.Fprintf(&b, "checkpoint %s\n", base64.StdEncoding.EncodeToString([]byte(r.Checkpoint)))
	return b.String()
}

// Sign signs the receipt with the audit log's checkpoint key: the receipt
// is a signed note (the same format as the checkpoints) whose text is Text.
func Sign(r *Receipt, s note.Signer) ([]byte, error) {
	r.Origin = s.Name()
	if _, err := parseText(r.Text()); err != nil {
		return nil, fmt.Errorf("erasure receipt: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: r.Text()}, s)
	if err != nil {
		return nil, fmt.Errorf("sign erasure receipt: %w", err)
	}
	return msg, nil
}

// Open checks a receipt against the verifier keys and returns what it
// states. Each failure names the part that failed: the signature, a line
// of the text (by number and what it should be), the audit checkpoint, or
// the checkpoint's coverage of the erasure events.
func Open(msg []byte, known note.Verifiers) (*Receipt, *audit.Checkpoint, error) {
	n, err := note.Open(msg, known)
	var unknown *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &invalid):
		return nil, nil, fmt.Errorf("the receipt's signature by %s does not verify: its text or its signature was changed after signing", invalid.Name)
	case errors.As(err, &unknown):
		return nil, nil, errors.New("the receipt is signed by no key given (check --verifier-key), or its signature line was changed")
	case err != nil:
		return nil, nil, fmt.Errorf("the receipt is not a signed note: %w", err)
	}
	// One signature line, in its one spelling: base64 that decodes the
	// same with other padding bits, or a second signature, is not accepted.
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
		return nil, nil, errors.New("the receipt's signature block has other lines than its one signature")
	}
	sig, err := base64.StdEncoding.DecodeString(n.Sigs[0].Base64)
	if err != nil || string(msg) != n.Text+"\n— "+n.Sigs[0].Name+" "+base64.StdEncoding.EncodeToString(sig)+"\n" {
		return nil, nil, errors.New("the receipt's signature line was changed: it is not written as signed")
	}
	r, err := parseText(n.Text)
	if err != nil {
		return nil, nil, err
	}
	if n.Sigs[0].Name != r.Origin {
		return nil, nil, fmt.Errorf("the receipt's origin %q is not the name of the key that signed it (%s)", r.Origin, n.Sigs[0].Name)
	}
	cp, err := audit.OpenCheckpoint(r.Checkpoint, known)
	if err != nil {
		return nil, nil, fmt.Errorf("the audit checkpoint inside the receipt does not verify: %w", err)
	}
	if cp.Origin != r.Origin {
		return nil, nil, fmt.Errorf("the audit checkpoint is of log %q, not of the receipt's %q", cp.Origin, r.Origin)
	}
	if cp.Size < r.LastEvent {
		return nil, nil, fmt.Errorf("the audit checkpoint (size %d) does not cover the erasure events (through %d)", cp.Size, r.LastEvent)
	}
	if cp.Time.Before(r.ErasedAt) {
		return nil, nil, fmt.Errorf("the audit checkpoint (%s) is older than the erasure (%s)", cp.Time.Format(timeLayout), r.ErasedAt.Format(timeLayout))
	}
	return r, &cp, nil
}

// parseText reads exactly the lines Text writes, in its order.
func parseText(text string) (*Receipt, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("the receipt's text does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	r := &Receipt{}
	i := 0
	bad := func(what string) error {
		if i >= len(lines) {
			return fmt.Errorf("the receipt ends early: line %d should be %s", i+1, what)
		}
		return fmt.Errorf("line %d %q: want %s", i+1, lines[i], what)
	}
	field := func(key string) (string, bool) {
		if i >= len(lines) {
			return "", false
		}
		v, ok := strings.CutPrefix(lines[i], key+" ")
		return v, ok
	}
	if i >= len(lines) || lines[i] != ReceiptHeader {
		return nil, bad(strconv.Quote(ReceiptHeader))
	}
	i++
	v, ok := field("origin")
	if !ok || !strings.HasPrefix(v, "kakunin") || strings.ContainsAny(v, " +") {
		return nil, bad(`"origin <the installation's audit log name>"`)
	}
	r.Origin = v
	i++
	if r.Request, ok = field("request"); !ok || !idRE.MatchString(r.Request) {
		return nil, bad(`"request <era_…>"`)
	}
	i++
	if r.Member, ok = field("member"); !ok || !idRE.MatchString(r.Member) {
		return nil, bad(`"member <mem_…>"`)
	}
	i++
	if v, ok = field("erased-at"); !ok {
		return nil, bad(`"erased-at <time>"`)
	}
	var err error
	if r.ErasedAt, err = parseTime(v); err != nil {
		return nil, bad(`"erased-at <time>"`)
	}
	i++
	count := func(v string, kept bool) (Count, bool) {
		f := strings.Split(v, " ")
		if (kept && len(f) != 3) || (!kept && len(f) != 2) || !wordRE.MatchString(f[0]) {
			return Count{}, false
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != f[1] {
			return Count{}, false
		}
		c := Count{Kind: f[0], N: n}
		if kept {
			if !wordRE.MatchString(f[2]) {
				return Count{}, false
			}
			c.Reason = f[2]
		}
		return c, true
	}
	for v, ok = field("erased"); ok; v, ok = field("erased") {
		c, good := count(v, false)
		if !good {
			return nil, bad(`"erased <kind> <count>"`)
		}
		r.Erased = append(r.Erased, c)
		i++
	}
	for v, ok = field("kept"); ok; v, ok = field("kept") {
		c, good := count(v, true)
		if !good {
			return nil, bad(`"kept <kind> <count> <reason>"`)
		}
		r.Kept = append(r.Kept, c)
		i++
	}
	for v, ok = field("step"); ok; v, ok = field("step") {
		f := strings.Split(v, " ")
		if len(f) != 3 || !wordRE.MatchString(f[1]) || !actorRE.MatchString(f[2]) {
			return nil, bad(`"step <time> <state> <role>"`)
		}
		at, err := parseTime(f[0])
		if err != nil || (len(r.Timeline) > 0 && at.Before(r.Timeline[len(r.Timeline)-1].At)) {
			return nil, bad(`"step <time> <state> <role>", no earlier than the step before`)
		}
		r.Timeline = append(r.Timeline, Step{At: at, State: f[1], Actor: f[2]})
		i++
	}
	if len(r.Timeline) == 0 || r.Timeline[len(r.Timeline)-1].State != "completed" || !r.Timeline[len(r.Timeline)-1].At.Equal(r.ErasedAt) {
		return nil, bad(`a "step" line, the last one "completed" at erased-at`)
	}
	if v, ok = field("events"); !ok {
		return nil, bad(`"events <first> <last>"`)
	}
	f := strings.Split(v, " ")
	if len(f) != 2 {
		return nil, bad(`"events <first> <last>"`)
	}
	r.FirstEvent, err = strconv.ParseInt(f[0], 10, 64)
	if err != nil || r.FirstEvent < 1 || strconv.FormatInt(r.FirstEvent, 10) != f[0] {
		return nil, bad(`"events <first> <last>", positive decimals`)
	}
	r.LastEvent, err = strconv.ParseInt(f[1], 10, 64)
	if err != nil || r.LastEvent < r.FirstEvent || strconv.FormatInt(r.LastEvent, 10) != f[1] {
		return nil, bad(`"events <first> <last>", last no smaller than first`)
	}
	i++
	if v, ok = field("checkpoint"); !ok {
		return nil, bad(`"checkpoint <base64 of the signed audit checkpoint>"`)
	}
	cp, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || base64.StdEncoding.EncodeToString(cp) != v || strings.ContainsAny(v, "\r\n") {
		return nil, bad(`"checkpoint <base64 of the signed audit checkpoint>"`)
	}
	r.Checkpoint = string(cp)
	i++
	if i != len(lines) {
		return nil, bad("the end of the receipt")
	}
	return r, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil || t.Format(timeLayout) != s {
		return time.Time{}, errors.New("not a time in the receipt's format")
	}
	return t.UTC(), nil
}
