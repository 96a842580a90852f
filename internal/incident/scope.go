package incident

import (
	"context"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
)

// Query names the window an intruder had access in and what they held.
type Query struct {
	From time.Time `json:"from"` // start of the window, included
	To   time.Time `json:"to"`   // end of the window, included
	// KeysExposed says the key-encryption keyset and the epoch key files
	// were taken too, not only the database and the blob store.
	KeysExposed bool `json:"keys_exposed"`
	// MaxReads bounds how many staff reads Report.Reads lists, oldest
	// first; 0 lists them all. Reads lists every one, unbounded.
	MaxReads int `json:"max_reads"`
}

// normalize checks q and returns it in UTC at microsecond precision, the
// precision times are stored at.
func (q Query) normalize() (Query, error) {
	if q.From.IsZero() || q.To.IsZero() {
		return q, kakunin.Errorf(kakunin.EINVALID, "give both ends of the window (from and to)")
	}
	if !q.From.Before(q.To) {
		return q, kakunin.Errorf(kakunin.EINVALID, "the window must start before it ends (from %s is not before to %s)",
			q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	}
	if q.MaxReads < 0 {
		return q, kakunin.Errorf(kakunin.EINVALID, "max reads must be 0 (all) or more")
	}
	q.From, q.To = q.From.UTC().Truncate(time.Microsecond), q.To.UTC().Truncate(time.Microsecond)
	return q, nil
}

// Report answers a Query. Its JSON form is stable: fields are added, never
// renamed or removed (doc.go lists them).
type Report struct {
	Query      Query     `json:"query"`
	ComputedAt time.Time `json:"computed_at"`
	TookMS     int64     `json:"took_ms"`
	// Verdict is the answer in one line, e.g. "keys not exposed: ciphertext only".
	Verdict string `json:"verdict"`
	// Reasoning says in plain sentences how the numbers were reached.
	Reasoning []string `json:"reasoning"`

	Documents Documents `json:"documents"`
	// Members had at least one document whose ciphertext existed in the
	// window: AffectedMembers lists them.
	Members MemberCount `json:"members"`
	// ReadableMembers had at least one readable document (none unless
	// KeysExposed): ReadableMembers lists them.
	ReadableMembers MemberCount `json:"readable_members"`

	// Staff sums the reads of document images in the window per staff
	// account, most reads first.
	Staff []StaffReads `json:"staff"`
	// ReadsTotal counts every read in the window; Reads lists the first
	// Query.MaxReads of them (all when 0), oldest first.
	ReadsTotal int64  `json:"reads_total"`
	Reads      []Read `json:"reads"`

	// Unclaimed is ciphertext with no document record: uploads a crash
	// interrupted between the blob and its record, and blobs no record
	// claims. None of it is readable (its data key was never stored), so
	// it is counted apart from Documents.
	Unclaimed Unclaimed `json:"unclaimed"`

	// ImageFreeMembers were verified without any image (the My Number
	// card check) by the end of the window: nothing of theirs to expose.
	ImageFreeMembers int64 `json:"image_free_members"`
}

// Unclaimed counts ciphertext in the blob store that no document record
// holds. Its data keys were never stored anywhere (only the process that
// died held them), so no key the intruder took opens it.
type Unclaimed struct {
	// PendingUploads had begun by the end of the window and still have
	// their pending row: uploads in progress, or left by a crash until
	// the sweep deletes them. Rows go with their blobs, so for a window
	// long past this counts only what is still there.
	PendingUploads int64 `json:"pending_uploads"`
	// PendingMembers counts the distinct members the pending uploads came
	// from; PendingMemberUnknown the uploads that named none.
	PendingMembers       int64 `json:"pending_members"`
	PendingMemberUnknown int64 `json:"pending_member_unknown"`
	// BlobsListed says the blob store was listed; OrphanBlobs is then the
	// blobs written by the end of the window that neither a document nor a
	// pending upload claims. Whose they were is not known: a blob holds
	// only ciphertext under a document ID nothing records.
	BlobsListed bool  `json:"blobs_listed"`
	OrphanBlobs int64 `json:"orphan_blobs"`
}

// OrphanCounter counts the blobs written by a time that no record claims
// (document.Service does, by listing the blob store page by page).
type OrphanCounter interface {
	CountOrphans(ctx context.Context, writtenBy time.Time) (int64, error)
}

// Documents counts documents in the window, in all and per type.
type Documents struct {
	Count
	// ByType has a row for every type of kakunin.DocumentTypes, in that
	// order, then any other type found in the database.
	ByType []TypeCount `json:"by_type"`
}

// Count is the documents of one kind in the window.
type Count struct {
	// Existing documents had their ciphertext (the encrypted image) at some
	// moment of the window.
	Existing int64 `json:"existing"`
	// Readable ones could be decrypted by the intruder: 0 unless KeysExposed.
	Readable int64 `json:"readable"`
	// ReadableIfKeysExposed is what Readable would be had the keys been
	// taken too (equal to Readable when they were).
	ReadableIfKeysExposed int64 `json:"readable_if_keys_exposed"`
}

// TypeCount is Count for one document type.
type TypeCount struct {
	Type kakunin.DocumentType `json:"type"`
	Count
}

// MemberCount counts distinct members, and those of them who had left the
// platform: a leaver's documents are as exposed as a member's.
type MemberCount struct {
	Total         int64 `json:"total"`
	LeftBeforeEnd int64 `json:"left_before_end"` // left at or before the end of the window
	LeftSince     int64 `json:"left_since"`      // left after the end of the window
}

// StaffReads sums one staff account's reads of document images.
type StaffReads struct {
	StaffID   string       `json:"staff_id"`
	Email     string       `json:"email"`
	Role      kakunin.Role `json:"role"`
	Reads     int64        `json:"reads"` // images opened
	FirstRead time.Time    `json:"first_read"`
	LastRead  time.Time    `json:"last_read"`
}

// Read is one opening of a document image by a staff member.
type Read struct {
	At           time.Time            `json:"at"`
	StaffID      string               `json:"staff_id"`
	Email        string               `json:"email"`
	Role         kakunin.Role         `json:"role"`
	DocumentID   string               `json:"document_id"`
	DocumentType kakunin.DocumentType `json:"document_type"`
	Origin       string               `json:"origin"` // keyed hash of the client address
}

// Scope answers q from db: which documents existed in the window as
// ciphertext, which of them were readable given what the intruder held, the
// members they belong to, and which staff read which documents. It does
// not list the blob store: ScopeWithBlobs does.
func Scope(ctx context.Context, db *store.DB, q Query) (*Report, error) {
	return ScopeWithBlobs(ctx, db, nil, q)
}

// ScopeWithBlobs is Scope that also lists the blob store through orphans
// (when not nil) for ciphertext no record claims.
func ScopeWithBlobs(ctx context.Context, db *store.DB, orphans OrphanCounter, q Query) (*Report, error) {
	q, err := q.normalize()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r := &Report{Query: q, ComputedAt: start.UTC().Truncate(time.Microsecond), Staff: []StaffReads{}, Reads: []Read{}}

	byType, err := db.ScopeDocumentsByType(ctx, q.From, q.To, kakunin.DocumentTypes)
	if err != nil {
		return nil, fmt.Errorf("scope %s: %w", q, err)
	}
	r.Documents = documentCounts(byType, q.KeysExposed)

	existing, readable, err := db.ScopeMemberCounts(ctx, q.From, q.To)
	if err != nil {
		return nil, fmt.Errorf("scope %s: %w", q, err)
	}
	r.Members = MemberCount(existing)
	if q.KeysExposed {
		r.ReadableMembers = MemberCount(readable)
	}

	staff, err := db.ScopeReadsByStaff(ctx, q.From, q.To)
	if err != nil {
		return nil, fmt.Errorf("scope %s: %w", q, err)
	}
	for _, s := range staff {
		r.Staff = append(r.Staff, StaffReads{StaffID: s.StaffID, Email: s.Email, Role: s.Role,
			Reads: s.Reads, FirstRead: s.First, LastRead: s.Last})
		r.ReadsTotal += s.Reads
	}
	if r.ReadsTotal > 0 {
		err = db.ScopeReads(ctx, q.From, q.To, q.MaxReads, func(sr store.ScopedRead) error {
			r.Reads = append(r.Reads, read(sr))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scope %s: %w", q, err)
		}
	}

	pending, err := db.ScopePending(ctx, q.To)
	if err != nil {
		return nil, fmt.Errorf("scope %s: %w", q, err)
	}
	r.Unclaimed.PendingUploads, r.Unclaimed.PendingMembers, r.Unclaimed.PendingMemberUnknown = pending.Uploads, pending.Members, pending.Unnamed
	if orphans != nil {
		n, err := orphans.CountOrphans(ctx, q.To)
		if err != nil {
			return nil, fmt.Errorf("scope %s: %w", q, err)
		}
		r.Unclaimed.BlobsListed, r.Unclaimed.OrphanBlobs = true, n
	}

	if r.ImageFreeMembers, err = db.ScopeImageFree(ctx, q.To); err != nil {
		return nil, fmt.Errorf("scope %s: %w", q, err)
	}
	r.Verdict, r.Reasoning = explain(r)
	if r.ImageFreeMembers > 0 {
		r.Reasoning = append(r.Reasoning, fmt.Sprintf("%s verified without an image: nothing of theirs to expose.",
			plural(r.ImageFreeMembers, "member", "members")))
	}
	r.TookMS = time.Since(start).Milliseconds()
	return r, nil
}

// String names the query in logs and errors.
func (q Query) String() string {
	return fmt.Sprintf("%s..%s keys_exposed=%t", q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano), q.KeysExposed)
}

func documentCounts(byType []store.ScopeTypeCount, keysExposed bool) Documents {
	d := Documents{ByType: []TypeCount{}}
	for _, c := range byType {
		tc := TypeCount{Type: c.Type, Count: Count{Existing: c.Existing, ReadableIfKeysExposed: c.ReadableWithKeys}}
		if keysExposed {
			tc.Readable = c.ReadableWithKeys
		}
		d.ByType = append(d.ByType, tc)
		d.Existing += tc.Existing
		d.Readable += tc.Readable
		d.ReadableIfKeysExposed += tc.ReadableIfKeysExposed
	}
	return d
}

func read(sr store.ScopedRead) Read {
	return Read{At: sr.At, StaffID: sr.StaffID, Email: sr.Email, Role: sr.Role,
		DocumentID: sr.DocumentID, DocumentType: sr.DocumentType, Origin: sr.Origin}
}

// explain puts the report's numbers into a verdict and plain sentences.
func explain(r *Report) (string, []string) {
	q, d := r.Query, r.Documents
	var verdict string
	switch {
	case !q.KeysExposed:
		verdict = "keys not exposed: ciphertext only"
	case d.Readable == 0:
		verdict = "keys exposed, but no document had all its keys in the window: none readable"
	default:
		verdict = fmt.Sprintf("keys exposed: %s of %s documents readable", kakunin.FormatCount(d.Readable), kakunin.FormatCount(d.Existing))
	}
	why := []string{
		fmt.Sprintf("The window runs from %s to %s; both ends are included.", q.From.Format(time.RFC3339Nano), q.To.Format(time.RFC3339Nano)),
		fmt.Sprintf("%s existed in the window as ciphertext: received by its end, with the encrypted image not yet deleted at its start.",
			plural(d.Existing, "document", "documents")),
	}
	if !q.KeysExposed {
		why = append(why, fmt.Sprintf("Keys not exposed: ciphertext only. Each image's data key is wrapped by its day's epoch key, "+
			"and epoch keys are sealed by the key-encryption keyset, which is kept outside the database and the blob store; "+
			"whoever held only those two could read none of them (0 readable). "+
			"Had the keyset and the epoch key files been taken too, %s would have been readable.", kakunin.FormatCount(d.ReadableIfKeysExposed)))
	} else {
		why = append(why, fmt.Sprintf("Keys exposed: with the key-encryption keyset and the epoch key files, a document was readable "+
			"if its wrapped data key, its encrypted image and its day's epoch key all still existed at some moment in the window: "+
			"%s of %s. The other %s had already lost their wrapped data key or their epoch key when the window began.",
			kakunin.FormatCount(d.Readable), kakunin.FormatCount(d.Existing), kakunin.FormatCount(d.Existing-d.Readable)))
	}
	m := r.Members
	why = append(why, fmt.Sprintf("%s had a document in the window; %s of them had left the platform by the end of the window "+
		"and %s left after it. Leavers count as affected: their documents were there all the same.",
		plural(m.Total, "member", "distinct members"), kakunin.FormatCount(m.LeftBeforeEnd), kakunin.FormatCount(m.LeftSince)))
	if q.KeysExposed {
		rm := r.ReadableMembers
		why = append(why, fmt.Sprintf("%s had a readable document (%s of them had left by the end of the window, %s after it).",
			plural(rm.Total, "member", "members"), kakunin.FormatCount(rm.LeftBeforeEnd), kakunin.FormatCount(rm.LeftSince)))
	}
	if r.ReadsTotal == 0 {
		why = append(why, "No staff account opened a document image in the window (read log).")
	} else {
		why = append(why, fmt.Sprintf("Staff opened document images %s in the window, from %s (read log; the audit chain holds the same reads).",
			plural(r.ReadsTotal, "time", "times"), plural(int64(len(r.Staff)), "account", "accounts")))
	}
	why = append(why, explainUnclaimed(r.Unclaimed))
	if q.To.After(r.ComputedAt) {
		why = append(why, "The window ends after this report was computed: documents received since then are not counted.")
	}
	return verdict, why
}

// explainUnclaimed says what ciphertext without a record there is, and
// why none of it is readable.
func explainUnclaimed(u Unclaimed) string {
	s := "No upload begun by the end of the window is still without its record."
	if u.PendingUploads > 0 {
		s = fmt.Sprintf("Besides the documents, %s begun by the end of the window still had ciphertext and no record "+
			"(in progress, or interrupted by a crash until the retention sweep deletes it): from %s, and %s that named none.",
			plural(u.PendingUploads, "upload", "uploads"), plural(u.PendingMembers, "member", "members"), kakunin.FormatCount(u.PendingMemberUnknown))
	}
	if u.BlobsListed {
		s += fmt.Sprintf(" The blob store holds %s written by then that no record claims; whose they were is unknown.",
			plural(u.OrphanBlobs, "orphan blob", "orphan blobs"))
	} else {
		s += " The blob store was not listed, so blobs no record claims are not counted here (kakunin incident scope lists it)."
	}
	return s + " None of this is readable, with or without the keys: the data key of such ciphertext was never stored."
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return kakunin.FormatCount(n) + " " + many
}

// AffectedMembers calls fn with the external ID of every member with at
// least one document whose ciphertext existed in q's window (the members
// Report.Members counts), once each, sorted bytewise: the same set in the
// same order every time, for notices. For a window that has ended, later
// retention work does not change the set.
//
// fn runs while the query's rows are open: on SQLite it must not use db.
func AffectedMembers(ctx context.Context, db *store.DB, q Query, fn func(externalID string) error) error {
	q, err := q.normalize()
	if err != nil {
		return err
	}
	return db.ScopeMembers(ctx, q.From, q.To, false, fn)
}

// ReadableMembers is AffectedMembers restricted to members with a readable
// document (Report.ReadableMembers): none unless q.KeysExposed.
func ReadableMembers(ctx context.Context, db *store.DB, q Query, fn func(externalID string) error) error {
	q, err := q.normalize()
	if err != nil || !q.KeysExposed {
		return err
	}
	return db.ScopeMembers(ctx, q.From, q.To, true, fn)
}

// Reads calls fn with every staff read of a document image in q's window,
// oldest first, ignoring q.MaxReads. On SQLite fn must not use db.
func Reads(ctx context.Context, db *store.DB, q Query, fn func(Read) error) error {
	q, err := q.normalize()
	if err != nil {
		return err
	}
	return db.ScopeReads(ctx, q.From, q.To, 0, func(sr store.ScopedRead) error { return fn(read(sr)) })
}

// NewestReads calls fn for the n latest reads in the window, newest first.
func NewestReads(ctx context.Context, db *store.DB, q Query, n int, fn func(Read) error) error {
	q, err := q.normalize()
	if err != nil {
		return err
	}
	if n <= 0 {
		return kakunin.Errorf(kakunin.EINVALID, "ask for at least one read")
	}
	return db.ScopeReadsNewest(ctx, q.From, q.To, n, func(sr store.ScopedRead) error { return fn(read(sr)) })
}
