package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/synth"
)

const devAbout = `
Fills the configured database with a synthetic history, for trying and
measuring incident scoping at scale: members (some of whom left), one
verification per document, documents over --days days with realistic
lifecycles (most destroyed right after review, a few waiting, a legacy slice
never destroyed), the epochs of those days, reviewer accounts (who cannot
sign in) and their reads of document images. No image exists and nothing is
readable. It refuses a database that already holds members unless --force:
it is for throw-away databases.`

func defineDevSeed(fs *flag.FlagSet) action {
	var opt synth.Options
	fs.IntVar(&opt.Documents, "documents", 0, "`N` documents to make (required)")
	fs.IntVar(&opt.Members, "members", 0, "members to make, at most --documents (default 4/5 of --documents)")
	fs.IntVar(&opt.Reviewers, "reviewers", 20, "reviewer accounts to make")
	fs.IntVar(&opt.Days, "days", 730, "days of history, ending now")
	fs.Uint64Var(&opt.Seed, "seed", 0, "random seed, to make the same rows again (default: a new one, printed)")
	fs.BoolVar(&opt.Force, "force", false, "seed even if the database already holds members")
	return func(ctx context.Context, c *call) error { return devSeed(ctx, c, opt) }
}

func devSeed(ctx context.Context, c *call, opt synth.Options) error {
	if opt.Documents < 1 {
		return usagef("dev seed: --documents N is required (at least 1)")
	}
	db, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	opt.Progress = c.stderr
	res, err := synth.Seed(ctx, db, opt)
	switch kakunin.ErrorCode(err) {
	case "":
	case kakunin.EINVALID, kakunin.ECONFLICT:
		return usagef("dev seed: %s", kakunin.ErrorMessage(err))
	default:
		return fmt.Errorf("dev seed: %w", err)
	}
	fmt.Fprintf(c.stdout, `Seeded the %s database in %.1f s (seed %d; history %s to %s):
  %d documents: %d waiting for review, %d kept after review, %d legacy never destroyed, %d destroyed (%d of them with the blob deletion unrecorded)
  %d members (%d left), %d verifications
  %d reviewer accounts (they cannot sign in), %d reads of document images
  %d epochs (%d destroyed)
No image exists: every wrapped key is random bytes and nothing is readable.
`, db.Dialect(), res.Took.Seconds(), res.Seed, res.Start.Format(time.RFC3339), res.End.Format(time.RFC3339),
		res.Documents, res.Waiting, res.Live, res.Retained, res.Destroyed, res.OrphanBlobs,
		res.Members, res.MembersLeft, res.Verifications, res.Staff, res.Reads, res.Epochs, res.EpochsDestroyed)
	return nil
}
