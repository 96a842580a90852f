package audit

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/kakunin/kakunin/internal/store"
)

// VerifyOptions says what to check the chain against.
type VerifyOptions struct {
	// Verifiers are the keys checkpoints may be signed with (LoadVerifiers).
	Verifiers note.Verifiers
	// CheckpointFile, when set, is a published checkpoint file (written by
	// Checkpointer.File) whose checkpoints are checked like stored ones.
	// It is what catches a truncated tail whose stored checkpoints were
	// deleted with it.
	CheckpointFile string
	// Progress, when set, is called every ProgressEvery events (default
	// 100000) with how many were checked out of how many.
	Progress      func(checked, total int64)
	ProgressEvery int64
}

// ProblemKind says what is wrong.
type ProblemKind string

const (
	// Edited: an event's fields no longer give its stored hash, while the
	// next event still chains from that hash.
	Edited ProblemKind = "edited"
	// Missing: seq jumps; the events in between were deleted.
	Missing ProblemKind = "missing"
	// ChainBroken: an event does not chain from the one before it: one was
	// inserted, moved or renumbered here (or edited along with its hash).
	ChainBroken ProblemKind = "chain broken"
	// Malformed: a detail column that is not a JSON object of strings.
	Malformed ProblemKind = "malformed"
	// Rewritten: the chain is consistent by itself but a signed checkpoint
	// disagrees with it: events were edited and every later hash
	// recomputed. Seq..Through is where: after the last checkpoint that
	// matched, up to the first that does not.
	Rewritten ProblemKind = "rewritten"
	// Truncated: a checkpoint or the head names more events than the chain
	// has; Seq..Through were removed from its end.
	Truncated ProblemKind = "truncated"
	// HeadMismatch: the head row disagrees with the last event.
	HeadMismatch ProblemKind = "head mismatch"
	// BadCheckpoint: a checkpoint whose signature fails, that no known key
	// signed, or that does not parse. Seq is the size it claims.
	BadCheckpoint ProblemKind = "bad checkpoint"
)

// Problem is one thing Verify found wrong.
type Problem struct {
	Kind    ProblemKind
	Seq     int64  // the first bad event
	Through int64  // the last event of the affected range, when it is a range
	Source  string // the checkpoint involved: "stored" or FILE:LINE; "" for none
	Message string
}

func (p Problem) String() string {
	where := fmt.Sprintf("event %d", p.Seq)
	if p.Through > p.Seq {
		where = fmt.Sprintf("events %d..%d", p.Seq, p.Through)
	}
	if p.Kind == BadCheckpoint {
		where = fmt.Sprintf("checkpoint at size %d", p.Seq)
	}
	return fmt.Sprintf("%s: %s: %s", where, p.Kind, p.Message)
}

// Report is what Verify found.
type Report struct {
	Events         int64 // the chain's size (its head) when Verify started; all checked when OK
	Checkpoints    int   // stored checkpoints whose signature verified
	Published      int   // checkpoints of the CheckpointFile whose signature verified
	LastCheckpoint int64 // the largest checkpoint size that matched the chain; 0 if none
	// Problems, by Seq. The chain walk stops at its first problem, since
	// everything after it is suspect; checkpoint problems are all listed.
	Problems []Problem
}

// OK reports whether nothing is wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// First returns the problem with the lowest seq, or nil.
func (r *Report) First() *Problem {
	if len(r.Problems) == 0 {
		return nil
	}
	return &r.Problems[0]
}

type expected struct {
	cp     Checkpoint
	source string
}

// Verify walks the whole chain in seq order, recomputing every hash, and
// checks it against the head row, the stored checkpoints and, if given, a
// published checkpoint file (doc.go says what this can and cannot detect).
// Events appended while it runs are not checked. The error is for failing
// to read; what is wrong with the chain is in the Report.
func Verify(ctx context.Context, db *store.DB, opt VerifyOptions) (*Report, error) {
	if opt.Verifiers == nil {
		return nil, errors.New("verify audit chain: no verifier key")
	}
	rep := &Report{}
	var cps []expected
	// Checkpoints first, the head after: every checkpoint read was signed
	// over a head that committed before it, so an honest chain covers them.
	stored, err := db.AuditCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	for _, rec := range stored {
		cp, err := OpenCheckpoint(rec.Note, opt.Verifiers)
		if err == nil && cp.Size != rec.Size {
			err = fmt.Errorf("stored as size %d but signed for size %d", rec.Size, cp.Size)
		}
		if err != nil {
			rep.Problems = append(rep.Problems, checkpointProblem(rec.Size, "stored", err))
			continue
		}
		rep.Checkpoints++
		cps = append(cps, expected{cp, "stored"})
	}
	if opt.CheckpointFile != "" {
		notes, err := ReadCheckpointFile(opt.CheckpointFile)
		if err != nil {
			return nil, err
		}
		for _, fn := range notes {
			src := fmt.Sprintf("%s:%d", opt.CheckpointFile, fn.Line)
			cp, err := OpenCheckpoint(fn.Note, opt.Verifiers)
			if err != nil {
				rep.Problems = append(rep.Problems, checkpointProblem(claimedSize(fn.Note), src, err))
				continue
			}
			rep.Published++
			cps = append(cps, expected{cp, src})
		}
	}
	slices.SortStableFunc(cps, func(a, b expected) int { return cmp.Compare(a.cp.Size, b.cp.Size) })

	head, headHash, err := db.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	rep.Events = head
	w := chainWalk{rep: rep, cps: cps, prev: Genesis(), want: 1}
	every := opt.ProgressEvery
	if every <= 0 {
		every = 100_000
	}
	// One row is held back: judging a bad hash needs the row after it.
	var pending *row
	err = walk(ctx, db, 0, head, func(r store.AuditRecord, ev Event, derr error) error {
		if pending != nil && !w.check(*pending, &r) {
			return errStop
		}
		pending = &row{r, ev, derr}
		if opt.Progress != nil && r.Seq%every == 0 {
			opt.Progress(r.Seq, head)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	if err == nil && (pending == nil || w.check(*pending, nil)) {
		w.finish(head, headHash)
	}
	slices.SortStableFunc(rep.Problems, func(a, b Problem) int { return cmp.Compare(a.Seq, b.Seq) })
	return rep, nil
}

var errStop = errors.New("stop")

// row is a stored event with what its detail decoded to.
type row struct {
	rec  store.AuditRecord
	ev   Event
	derr error
}

// chainWalk is Verify's state along the chain.
type chainWalk struct {
	rep      *Report
	cps      []expected // by size
	next     int        // the first of cps not yet reached
	prev     []byte     // recomputed hash of the last good event
	want     int64      // the seq the next row must have
	lastGood int64      // size of the last checkpoint that matched
}

func (w *chainWalk) fail(p Problem) bool {
	w.rep.Problems = append(w.rep.Problems, p)
	return false
}

// check judges row r, given the row after it (nil at the end), and
// reports whether the walk may go on.
func (w *chainWalk) check(cur row, next *store.AuditRecord) bool {
	r := cur.rec
	if r.Seq != w.want {
		return w.fail(Problem{Kind: Missing, Seq: w.want, Through: r.Seq - 1,
			Message: fmt.Sprintf("no event with seq %d..%d: deleted from the chain", w.want, r.Seq-1)})
	}
	if cur.derr != nil {
		return w.fail(Problem{Kind: Malformed, Seq: r.Seq, Message: cur.derr.Error() + ": the row was not written by kakunin"})
	}
	h := ChainHash(w.prev, cur.ev)
	if !bytes.Equal(h, r.Hash) {
		return w.fail(w.judgeMismatch(r, next))
	}
	w.prev, w.want = h, w.want+1
	for ; w.next < len(w.cps) && w.cps[w.next].cp.Size == r.Seq; w.next++ {
		e := w.cps[w.next]
		if !bytes.Equal(e.cp.Hash, h) {
			return w.fail(Problem{Kind: Rewritten, Seq: w.lastGood + 1, Through: r.Seq, Source: e.source,
				Message: fmt.Sprintf("the chain is consistent but its hash at %d differs from the signed checkpoint (%s); "+
					"the last checkpoint that matched is at %d, so events from %d on were edited and their hashes recomputed",
					r.Seq, e.source, w.lastGood, w.lastGood+1)})
		}
		w.lastGood, w.rep.LastCheckpoint = r.Seq, r.Seq
	}
	return true
}

// judgeMismatch tells an edited event (the next row still chains from its
// stored hash, so only its fields changed) from a break in the chain (an
// event inserted, removed with renumbering, or moved).
func (w *chainWalk) judgeMismatch(r store.AuditRecord, next *store.AuditRecord) Problem {
	if next != nil && next.Seq == r.Seq+1 {
		if nev, err := eventOf(*next); err == nil && bytes.Equal(ChainHash(r.Hash, nev), next.Hash) {
			return Problem{Kind: Edited, Seq: r.Seq,
				Message: "its fields no longer give its stored hash (the next event still chains from that hash): the event was edited"}
		}
		return Problem{Kind: ChainBroken, Seq: r.Seq,
			Message: fmt.Sprintf("it does not chain from event %d, nor does event %d chain from it: "+
				"an event was inserted, moved or renumbered here, or edited together with its hash", r.Seq-1, r.Seq+1)}
	}
	return Problem{Kind: Edited, Seq: r.Seq,
		Message: "its fields and position no longer give its stored hash: the last event was edited, or moved"}
}

// finish checks the end of the chain against the head and against
// checkpoints beyond it.
func (w *chainWalk) finish(head int64, headHash []byte) {
	last := w.want - 1
	if last < head {
		w.fail(Problem{Kind: Truncated, Seq: last + 1, Through: head,
			Message: fmt.Sprintf("the head says the chain has %d events but it ends at %d: its tail was removed", head, last)})
		return
	}
	if !bytes.Equal(w.prev, headHash) {
		w.fail(Problem{Kind: HeadMismatch, Seq: head, Message: "the head row's hash is not the last event's"})
		return
	}
	if w.next < len(w.cps) {
		// Every checkpoint left names a size beyond the chain; the largest
		// shows how much is gone.
		top := w.cps[len(w.cps)-1]
		w.fail(Problem{Kind: Truncated, Seq: last + 1, Through: top.cp.Size, Source: top.source,
			Message: fmt.Sprintf("a signed checkpoint (%s) covers %d events but the chain has only %d: events %d..%d were removed",
				top.source, top.cp.Size, last, last+1, top.cp.Size)})
	}
}

func checkpointProblem(size int64, source string, err error) Problem {
	var unknown *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	msg := err.Error()
	switch {
	case errors.As(err, &unknown):
		msg = "not signed by any known verifier key (signed by another key, or forged)"
	case errors.As(err, &invalid):
		msg = "its signature does not verify: the note was altered or forged"
	}
	return Problem{Kind: BadCheckpoint, Seq: size, Source: source, Message: source + ": " + msg}
}

// claimedSize reads the size an unverified checkpoint claims, for naming it.
func claimedSize(msg string) int64 {
	text, _, _ := strings.Cut(msg, "\n\n")
	cp, err := parseCheckpointText(text + "\n")
	if err != nil {
		return 0
	}
	return cp.Size
}
