package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
)

const incidentAbout = `
What was exposed between --from and --to (RFC 3339 times, both included):
the documents whose encrypted images existed then, how many of them were
readable given what the intruder held, the members they belong to (and
those of them who had left), and which staff opened which images. --json
prints the report as one JSON object (fields: internal/incident/doc.go);
--members prints only the affected members' external IDs, the list to
notify. It also lists the blob store for ciphertext no record claims
(uploads a crash interrupted, orphan blobs) and counts it apart: none of
it is readable, since its data key was never stored.

If the intruder reached backups, move --from back to the oldest backup they
could read. Every scope is recorded in the audit log.`

type scopeFlags struct {
	from, to                          string
	keys, json, members, readableOnly bool
	maxReads                          int
}

func defineIncidentScope(fs *flag.FlagSet) action {
	var f scopeFlags
	fs.StringVar(&f.from, "from", "", "start of the window, RFC 3339 (e.g. 2026-11-01T00:00:00+09:00), included")
	fs.StringVar(&f.to, "to", "", "end of the window, RFC 3339, included")
	fs.BoolVar(&f.keys, "keys-exposed", false, "the key-encryption keyset and the epoch key files were taken too, not only the database and the blob store")
	fs.BoolVar(&f.json, "json", false, "print the report as one JSON object")
	fs.BoolVar(&f.members, "members", false, "print only the affected members' external IDs, one a line, sorted bytewise")
	fs.BoolVar(&f.readableOnly, "readable-only", false, "with --members: only members with a readable document")
	fs.IntVar(&f.maxReads, "max-reads", 200, "list at most this many staff reads (0: all)")
	return func(ctx context.Context, c *call) error { return incidentScope(ctx, c, f) }
}

func incidentScope(ctx context.Context, c *call, f scopeFlags) error {
	q, msg := scopeQuery(f.from, f.to, f.keys, f.maxReads)
	switch {
	case msg == "" && f.json && f.members:
		msg = "--json and --members print different things: choose one"
	case msg == "" && f.readableOnly && !f.members:
		msg = "--readable-only goes with --members"
	}
	if msg != "" {
		return usagef("incident scope: %s", msg)
	}

	db, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := blobstore.Open(ctx, c.cfg.Blobs)
	if err != nil {
		return err
	}
	defer blobs.Close()
	// The report names the staff who read by address when the keys are
	// here; without them (a copy, a broken host) it still answers, by ID.
	if err := useStaffEmailsIfKeys(ctx, c.cfg, db); err != nil {
		return err
	}
	// Only the blob listing and the records are used: no keys, no logs.
	orphans := &document.Service{DB: db, Blobs: blobs, Log: slog.New(slog.DiscardHandler)}
	rep, err := incident.ScopeWithBlobs(ctx, db, orphans, q)
	if kakunin.ErrorCode(err) == kakunin.EINVALID {
		return usagef("incident scope: %s", kakunin.ErrorMessage(err))
	}
	if err != nil {
		return fmt.Errorf("incident scope: %w", err)
	}
	// Recorded before anything is shown: a scope names members and staff,
	// and nobody reads one that the audit log does not know of.
	detail := map[string]string{
		"from": q.From.UTC().Format(time.RFC3339Nano), "to": q.To.UTC().Format(time.RFC3339Nano),
		"keys_exposed": strconv.FormatBool(q.KeysExposed), "documents": strconv.FormatInt(rep.Documents.Existing, 10),
		"readable": strconv.FormatInt(rep.Documents.Readable, 10), "members": strconv.FormatInt(rep.Members.Total, 10), "via": "cli",
	}
	if f.members {
		detail["members_listed"] = "affected"
		if f.readableOnly {
			detail["members_listed"] = "readable"
		}
	}
	if err := cliAudit(db).Append(ctx, audit.Event{Action: audit.IncidentScoped, Actor: "cli", Subject: "scope", Detail: detail}); err != nil {
		return fmt.Errorf("record the scope in the audit log: %w", err)
	}

	switch {
	case f.members:
		return printMembers(ctx, db, q, f.readableOnly, c.stdout, c.stderr)
	case f.json:
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	default:
		if err := rep.WriteText(c.stdout); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// scopeQuery reads the flags into a query, or says what is wrong with them.
func scopeQuery(from, to string, keys bool, maxReads int) (incident.Query, string) {
	q := incident.Query{KeysExposed: keys, MaxReads: maxReads}
	var err error
	if from == "" || to == "" {
		return q, "--from and --to are both required (RFC 3339 times such as 2026-11-01T00:00:00Z)"
	}
	if q.From, err = time.Parse(time.RFC3339Nano, from); err != nil {
		return q, fmt.Sprintf("--from %q is not an RFC 3339 time (such as 2026-11-01T00:00:00Z or 2026-11-01T09:00:00+09:00)", from)
	}
	if q.To, err = time.Parse(time.RFC3339Nano, to); err != nil {
		return q, fmt.Sprintf("--to %q is not an RFC 3339 time (such as 2026-11-08T00:00:00Z or 2026-11-08T09:00:00+09:00)", to)
	}
	if !q.From.Before(q.To) {
		return q, fmt.Sprintf("--from (%s) must be before --to (%s)", q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	}
	if maxReads < 0 {
		return q, "--max-reads must be 0 (all) or more"
	}
	return q, ""
}

// printMembers writes the members' external IDs to stdout, one a line, and
// how many to stderr, so that stdout can go straight to a file.
func printMembers(ctx context.Context, db *store.DB, q incident.Query, readableOnly bool, stdout, stderr io.Writer) error {
	w := bufio.NewWriter(stdout)
	n := 0
	list := incident.AffectedMembers
	if readableOnly {
		list = incident.ReadableMembers
	}
	err := list(ctx, db, q, func(ext string) error {
		n++
		_, err := fmt.Fprintln(w, ext)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	what := "affected"
	if readableOnly {
		what = "with a readable document"
	}
	fmt.Fprintf(stderr, "%d member(s) %s, %s to %s\n", n, what, q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	return nil
}
