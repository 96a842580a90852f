package synth

import (
	"context"
	crand "crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
)

// Options shapes a synthetic history (see Seed).
type Options struct {
	Documents int       // documents to make; at least 1
	Members   int       // members to make, 1..Documents; 0: 4/5 of Documents (the others are second attempts)
	Reviewers int       // reviewer accounts; 0: 20
	Days      int       // days of history; 0: 730
	End       time.Time // the history ends here, its "now"; zero: the current time
	Seed      uint64    // the same seed, options and End make the same rows; 0: a random seed (Result.Seed tells)
	// Force seeds a database that already holds members (with a seed of its
	// own: the same seed would repeat every ID). Without it Seed refuses:
	// it is meant for throw-away databases only.
	Force bool
	// Progress receives a progress line, rewritten in place; nil: none.
	Progress io.Writer
}

// Result says what Seed made.
type Result struct {
	Seed            uint64    // the seed used
	Start, End      time.Time // the span of the history
	Members         int
	MembersLeft     int // members.deleted_at set
	Verifications   int
	Documents       int
	Waiting         int // received, not yet decided
	Live            int // decided, image kept (retention not yet due)
	Retained        int // the legacy slice: decided long ago and never destroyed
	Destroyed       int // wrapped key destroyed
	OrphanBlobs     int // destroyed, but the blob deletion never recorded
	Epochs          int
	EpochsDestroyed int
	Staff           int
	Reads           int
	Took            time.Duration
}

// The synthetic history's shape. Fractions are of documents unless said.
const (
	legacyEra        = 0.15  // the first part of the history, before retention was enforced
	legacyKept       = 0.40  // of the legacy era's documents: never destroyed (the Omiai case)
	neverReviewed    = 0.03  // never reviewed; destroyed after retainUnreviewed
	slowReview       = 0.05  // decided after one to three days
	rejected         = 0.12  // of decisions
	secondRead       = 0.10  // of reviewed documents: the reviewer opened the image twice
	legacyReread     = 0.02  // of kept legacy documents: opened again later (an insider browsing)
	orphanBlob       = 0.002 // destroyed, blob deletion never recorded (a crash between)
	leavers          = 0.20  // of members: left the platform at some point
	retainUnreviewed = 7 * 24 * time.Hour
	epochGrace       = time.Hour   // as internal/document: a day's key outlives the day by an hour
	sweepEvery       = time.Minute // the retention sweep's default interval
	linkTTL          = 7 * 24 * time.Hour
	seedBatch        = 5000    // documents per flush (their members, verifications and reads go with them)
	seedTxDocuments  = 500_000 // documents per transaction
	recentMembers    = 2000    // a second attempt usually follows the first within hours
)

// Seed fills db with a synthetic history: members (some of whom left),
// one verification per document, documents over opt.Days days with
// realistic lifecycles, the epochs of those days, reviewer accounts and the
// reads of document images. No image exists: wrapped keys are a few random
// bytes and blob keys name nothing, so nothing is readable. It exists to
// measure and try incident scoping at scale.
//
// Most documents are decided within hours and destroyed at once; a few wait
// for review at the end; the first 15% of the history is a legacy era of
// which 40% was never destroyed; a day's epoch key is destroyed once all its
// documents are. Rows go in as multi-row INSERTs in large transactions; a
// seed that fails or is interrupted leaves the transactions it committed.
func Seed(ctx context.Context, db *store.DB, opt Options) (*Result, error) {
	began := time.Now()
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	if exist, err := db.MembersExist(ctx); err != nil {
		return nil, err
	} else if exist && !opt.Force {
		return nil, kakunin.Errorf(kakunin.ECONFLICT, "the database already holds members: seed only a throw-away database, or force it (kakunin dev seed --force)")
	}
	g := newGenerator(opt)
	g.plan()
	if err := db.WithBulkTx(ctx, func(tx *store.BulkTx) error { return g.insertStaff(ctx, tx) }); err != nil {
		return nil, fmt.Errorf("seed staff: %w", err)
	}
	for g.next < opt.Documents {
		err := db.WithBulkTx(ctx, func(tx *store.BulkTx) error {
			for end := min(g.next+seedTxDocuments, opt.Documents); g.next < end; {
				if err := g.flush(ctx, tx, min(g.next+seedBatch, end)); err != nil {
					return err
				}
				g.progress(began)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("seed documents: %w", err)
		}
	}
	if err := db.WithBulkTx(ctx, func(tx *store.BulkTx) error { return g.insertEpochs(ctx, tx) }); err != nil {
		return nil, fmt.Errorf("seed epochs: %w", err)
	}
	if opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "\nseed: finishing up\n")
	}
	if err := db.FinishBulkLoad(ctx); err != nil {
		return nil, err
	}
	g.res.Took = time.Since(began)
	return &g.res, nil
}

func (o *Options) defaults() error {
	if o.Documents < 1 {
		return kakunin.Errorf(kakunin.EINVALID, "make at least one document")
	}
	if o.Members == 0 {
		o.Members = max(1, o.Documents*4/5)
	}
	if o.Members < 1 || o.Members > o.Documents {
		return kakunin.Errorf(kakunin.EINVALID, "members must be between 1 and the number of documents (%d): every member sends at least one", o.Documents)
	}
	if o.Reviewers == 0 {
		o.Reviewers = 20
	}
	if o.Days == 0 {
		o.Days = 730
	}
	if o.Reviewers < 1 || o.Days < 1 {
		return kakunin.Errorf(kakunin.EINVALID, "reviewers and days must be at least 1")
	}
	if o.End.IsZero() {
		o.End = time.Now()
	}
	o.End = o.End.UTC().Truncate(time.Microsecond)
	for o.Seed == 0 {
		var b [8]byte
		crand.Read(b[:])
		o.Seed = binary.LittleEndian.Uint64(b[:])
	}
	return nil
}

// generator makes the history in order of receipt, a batch at a time.
type generator struct {
	opt        Options
	rng        *rand.Rand
	start, end time.Time
	legacyEnd  time.Time // end of the legacy era
	cleanup    time.Time // when the legacy era's backlog was purged

	// The plan, made before any row: each document's receipt time and
	// member, and each member's first and last receipt, so that a member
	// is inserted before its documents and leaves only after its last one.
	received []int64 // unix micros, ascending
	memberOf []int32
	members  []member
	next     int // the next document to generate
	created  int // members inserted so far

	reviewers []string
	origins   [][]string // per reviewer: the keyed hashes of the addresses they work from
	epochs    map[string]*epochState
	days      []string // epochs in order

	res Result
}

type member struct {
	id    string // "" until inserted with its first document
	first int64  // receipt of its first and last documents
	last  int64
	left  *time.Time
}

type epochState struct {
	created       int64
	lastDestroyed int64
	alive         bool
}

func newGenerator(opt Options) *generator {
	g := &generator{opt: opt, rng: rand.New(rand.NewPCG(opt.Seed, 0x6b616b756e696e)), epochs: map[string]*epochState{}}
	g.end = opt.End
	g.start = g.end.AddDate(0, 0, -opt.Days)
	span := g.end.Sub(g.start)
	g.legacyEnd = g.start.Add(time.Duration(float64(span) * legacyEra))
	g.cleanup = g.legacyEnd.Add(14 * 24 * time.Hour)
	g.res.Seed, g.res.Start, g.res.End = opt.Seed, g.start, g.end
	return g
}

// plan spreads the documents evenly over the history and gives each its
// member: member k arrives with document k*N/M; the documents in between
// are second attempts, mostly by someone who just tried.
func (g *generator) plan() {
	n, m := g.opt.Documents, g.opt.Members
	g.received = make([]int64, n)
	g.memberOf = make([]int32, n)
	g.members = make([]member, m)
	start, span := g.start.UnixMicro(), float64(g.end.Sub(g.start).Microseconds())
	k := 0
	for j := range n {
		g.received[j] = start + int64(span*(float64(j)+g.rng.Float64())/float64(n))
		var who int
		switch {
		case k < m && j == int(int64(k)*int64(n)/int64(m)):
			who = k
			g.members[k].first = g.received[j]
			k++
		case g.rng.Float64() < 0.7:
			who = k - 1 - g.rng.IntN(min(k, recentMembers))
		default:
			who = g.rng.IntN(k)
		}
		g.memberOf[j] = int32(who)
		g.members[who].last = g.received[j]
	}
	for i := range g.members {
		if g.rng.Float64() < leavers {
			// Left a day to a whole history after the last attempt: the
			// later ones have not left yet.
			at := time.UnixMicro(g.members[i].last).UTC().Add(24*time.Hour + time.Duration(g.rng.Int64N(int64(g.end.Sub(g.start)))))
			if !at.After(g.end) {
				g.members[i].left = &at
			}
		}
	}
}

func (g *generator) insertStaff(ctx context.Context, tx *store.BulkTx) error {
	for i := range g.opt.Reviewers {
		s := &store.StaffRecord{ID: g.id("stf"), Email: fmt.Sprintf("reviewer-%03d.%d@seed.kakunin.invalid", i+1, g.opt.Seed), Role: kakunin.RoleReviewer,
			// Not a valid hash of any password: seeded accounts cannot sign in.
			PasswordHash: "!seed", TOTPSealed: g.bytes(48), CreatedAt: g.start.Add(-24 * time.Hour)}
		// Sealed like the members' addresses: random bytes no key opens.
		if err := tx.InsertStaffSealed(ctx, s, g.bytes(80), g.bytes(32)); err != nil {
			return err
		}
		g.reviewers = append(g.reviewers, s.ID)
		g.origins = append(g.origins, []string{g.hexBytes(16), g.hexBytes(16)})
	}
	g.res.Staff = len(g.reviewers)
	return nil
}

// flush generates documents g.next..upTo-1 with their new members,
// verifications and reads, and inserts them in that order.
func (g *generator) flush(ctx context.Context, tx *store.BulkTx, upTo int) error {
	var ms []*store.MemberRecord
	var vs []*kakunin.Verification
	var ds []*store.DocumentLifecycle
	var rs []*store.DocumentRead
	for ; g.next < upTo; g.next++ {
		who := &g.members[g.memberOf[g.next]]
		if who.id == "" {
			mr := g.member(who)
			ms = append(ms, mr)
		}
		v, d, reads := g.document(g.next, who)
		vs, ds, rs = append(vs, v), append(ds, d), append(rs, reads...)
	}
	if err := tx.InsertMembers(ctx, ms); err != nil {
		return err
	}
	if err := tx.InsertVerifications(ctx, vs); err != nil {
		return err
	}
	if err := tx.InsertDocuments(ctx, ds); err != nil {
		return err
	}
	return tx.InsertDocumentReads(ctx, rs)
}

func (g *generator) member(m *member) *store.MemberRecord {
	m.id = g.id("mem")
	created := time.UnixMicro(m.first - 60_000_000 - g.rng.Int64N(2*3600_000_000)).UTC()
	r := &store.MemberRecord{ID: m.id, ExternalID: g.id("usr"), Locale: kakunin.LocaleJA, CreatedAt: created, UpdatedAt: created, DeletedAt: m.left}
	if g.rng.Float64() < 0.1 {
		r.Locale = kakunin.LocaleEN
	}
	if m.left == nil {
		r.EmailSealed, r.EmailIndex = g.bytes(80), g.bytes(32)
	} else {
		r.UpdatedAt = *m.left
		g.res.MembersLeft++
	}
	g.res.Members++
	return r
}

// document makes document j of member m, its verification and its reads.
func (g *generator) document(j int, m *member) (*kakunin.Verification, *store.DocumentLifecycle, []*store.DocumentRead) {
	end := g.end.UnixMicro()
	received := g.received[j]
	at := func(us int64) *time.Time {
		if us > end {
			return nil // has not happened yet
		}
		t := time.UnixMicro(us).UTC()
		return &t
	}
	sec := func(lo, hi float64) int64 { return int64((lo + g.rng.Float64()*(hi-lo)) * 1e6) }

	d := &store.DocumentLifecycle{}
	d.ID, d.MemberID = g.id("doc"), m.id
	d.Type = kakunin.DocumentTypes[pick(g.rng.Float64(), 0.55, 0.15, 0.2)]
	d.ContentType, d.Width, d.Height, d.Orientation = "image/jpeg", 2400, 1512, 1
	if g.rng.Float64() < 0.1 {
		d.Orientation = 6
	}
	if g.rng.Float64() < 0.05 {
		d.ContentType = "image/png"
	}
	d.Size = 300_000 + g.rng.Int64N(1_500_000)
	d.ReceivedAt = time.UnixMicro(received).UTC()
	d.Epoch = d.ReceivedAt.Format(time.DateOnly)
	d.BlobKey = "documents/" + d.Epoch + "/" + d.ID

	// The lifecycle, as times that may lie after the end (not happened yet).
	var assigned, decided, destroyed int64 = -1, -1, -1
	destroyAfter := received + retainUnreviewed.Microseconds()
	legacy := received < g.legacyEnd.UnixMicro()
	kept := legacy && g.rng.Float64() < legacyKept
	reviewer := g.rng.IntN(len(g.reviewers))
	if g.rng.Float64() < neverReviewed && !kept {
		destroyed = destroyAfter + sec(0, sweepEvery.Seconds())
	} else {
		assigned = received + sec(60, 6*3600)
		if g.rng.Float64() < slowReview {
			assigned += sec(24*3600, 3*24*3600)
		}
		decided = assigned + sec(30, 300)
		switch {
		case kept:
			destroyAfter = g.end.AddDate(10, 0, 0).UnixMicro() // an old policy: keep
		case legacy:
			destroyAfter = g.cleanup.UnixMicro() + sec(0, 30*24*3600) // purged when retention came
			destroyed = destroyAfter
		default:
			destroyAfter = decided // retain-after-decision 0: destroyed at once
			destroyed = destroyAfter + sec(0, sweepEvery.Seconds())
		}
	}
	// A member who leaves takes their documents along, except the legacy
	// slice, which nobody remembered.
	if m.left != nil && !kept && (destroyed < 0 || destroyed > m.left.UnixMicro()) {
		destroyed = m.left.UnixMicro() + sec(0, 1)
	}
	if assigned >= 0 && assigned <= end {
		d.AssignedAt, d.ReviewerID = at(assigned), g.reviewers[reviewer]
	}
	if decided >= 0 {
		d.DecidedAt = at(decided)
	}
	d.DestroyAfter = time.UnixMicro(destroyAfter).UTC()
	if destroyed >= 0 {
		d.DestroyedAt = at(destroyed)
	}
	if d.DestroyedAt != nil {
		d.ReviewerID = "" // as DestroyDocumentKey does
		if g.rng.Float64() < orphanBlob {
			g.res.OrphanBlobs++
		} else {
			d.BlobDeletedAt = at(destroyed + sec(0, 2))
		}
		g.res.Destroyed++
	} else {
		d.WrappedKey = g.bytes(8 + g.rng.IntN(8))
		switch {
		case d.DecidedAt == nil:
			g.res.Waiting++
		case kept:
			g.res.Retained++
		default:
			g.res.Live++
		}
	}
	if d.DecidedAt != nil {
		d.ReviewerID = "" // decided documents leave the queue
	}
	g.noteEpoch(d)

	v := &kakunin.Verification{ID: g.id("ver"), MemberID: m.id, Status: kakunin.StatusSubmitted}
	v.CreatedAt = time.UnixMicro(received - sec(30, 3600)).UTC()
	v.ExpiresAt, v.UpdatedAt = v.CreatedAt.Add(linkTTL), d.ReceivedAt
	d.VerificationID = v.ID
	switch {
	case d.DecidedAt != nil:
		v.Status, v.UpdatedAt = kakunin.StatusApproved, *d.DecidedAt
		res := &kakunin.Result{Adult: kakunin.Bool(true), DocumentType: d.Type, CheckedAt: *d.DecidedAt, CheckedBy: g.reviewers[reviewer]}
		if g.rng.Float64() < rejected {
			v.Status, res.Adult, res.RejectReason = kakunin.StatusRejected, nil, "unreadable"
		}
		v.Result = res
	case d.DestroyedAt != nil:
		v.Status, v.UpdatedAt = kakunin.StatusExpired, *d.DestroyedAt
	}
	g.res.Documents++
	g.res.Verifications++

	var reads []*store.DocumentRead
	read := func(us int64, who int) {
		if us > end {
			return
		}
		o := g.origins[who]
		reads = append(reads, &store.DocumentRead{DocumentID: d.ID, StaffID: g.reviewers[who], MemberID: m.id,
			DocumentType: string(d.Type), Origin: o[g.rng.IntN(len(o))], At: time.UnixMicro(us).UTC()})
	}
	if assigned >= 0 {
		first := assigned + sec(2, 30)
		read(first, reviewer)
		if g.rng.Float64() < secondRead {
			read(first+sec(5, 25), reviewer)
		}
	}
	if kept && g.rng.Float64() < legacyReread {
		from := max(decided, g.cleanup.UnixMicro())
		if from < end {
			read(from+g.rng.Int64N(end-from), g.rng.IntN(len(g.reviewers)))
		}
	}
	g.res.Reads += len(reads)
	return v, d, reads
}

// pick returns the index of the interval of p in cumulative weights ws
// (the last index takes the rest).
func pick(p float64, ws ...float64) int {
	for i, w := range ws {
		if p < w {
			return i
		}
		p -= w
	}
	return len(ws)
}

func (g *generator) noteEpoch(d *store.DocumentLifecycle) {
	e := g.epochs[d.Epoch]
	if e == nil {
		e = &epochState{created: d.ReceivedAt.UnixMicro()}
		g.epochs[d.Epoch] = e
		g.days = append(g.days, d.Epoch)
	}
	if d.DestroyedAt == nil {
		e.alive = true
	} else {
		e.lastDestroyed = max(e.lastDestroyed, d.DestroyedAt.UnixMicro())
	}
}

// insertEpochs writes each day's epoch; a day whose documents are all
// destroyed had its key destroyed by the first sweep after both its last
// document went and the day (plus grace) ended, as internal/document does.
func (g *generator) insertEpochs(ctx context.Context, tx *store.BulkTx) error {
	var es []store.EpochHistory
	for _, day := range g.days {
		st := g.epochs[day]
		e := store.EpochHistory{Epoch: day, CreatedAt: time.UnixMicro(st.created).UTC()}
		if !st.alive {
			dayEnd, _ := time.Parse(time.DateOnly, day)
			at := time.UnixMicro(max(st.lastDestroyed, dayEnd.Add(24*time.Hour+epochGrace).UnixMicro())).UTC()
			at = at.Add(time.Duration(g.rng.Int64N(int64(sweepEvery))))
			if !at.After(g.end) {
				e.DestroyedAt = &at
				g.res.EpochsDestroyed++
			}
		}
		es = append(es, e)
	}
	g.res.Epochs = len(es)
	return tx.InsertEpochs(ctx, es)
}

func (g *generator) progress(began time.Time) {
	if g.opt.Progress == nil {
		return
	}
	n := g.opt.Documents
	fmt.Fprintf(g.opt.Progress, "\rseed: %s / %s documents (%d%%), %.1f s", kakunin.FormatCount(int64(g.next)), kakunin.FormatCount(int64(n)), g.next*100/n, time.Since(began).Seconds())
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// id makes an identifier shaped like kakunin.NewID's (a prefix and 128
// bits), from the seeded generator so that a seed repeats its rows.
func (g *generator) id(prefix string) string {
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(g.bytes(16)))
}

func (g *generator) bytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := g.rng.Uint64()
		for k := i; k < min(i+8, n); k++ {
			b[k] = byte(v)
			v >>= 8
		}
	}
	return b
}

func (g *generator) hexBytes(n int) string { return hex.EncodeToString(g.bytes(n)) }
