package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
)

const incidentUsage = `usage: kakunin incident scope --from T1 --to T2 [--keys-exposed] [--json | --members [--readable-only]] [--max-reads N]

What was exposed between T1 and T2 (RFC 3339 times, both included): the
documents whose encrypted images existed then, how many of them were
readable given what the intruder held, the members they belong to (and
those of them who had left), and which staff opened which images.

  --keys-exposed   the key-encryption keyset and the epoch key files were taken
                   too, not only the database and the blob store
  --json           print the report as one JSON object (fields: internal/incident/doc.go)
  --members        print only the affected members' external IDs, one a line,
                   sorted bytewise: the list to notify
  --readable-only  with --members: only members with a readable document
  --max-reads N    list at most N staff reads in the report (0: all; default 200)

If the intruder reached backups, move --from back to the oldest backup they
could read. Every scope is recorded in the audit log.
`

func cmdIncident(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f struct {
		from, to                          string
		keys, json, members, readableOnly bool
		maxReads                          int
	}
	cfg, pos, code := parseCommon("incident", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&f.from, "from", "", "start of the window, RFC 3339 (e.g. 2026-11-01T00:00:00+09:00), included")
		fs.StringVar(&f.to, "to", "", "end of the window, RFC 3339, included")
		fs.BoolVar(&f.keys, "keys-exposed", false, "the key-encryption keyset and the epoch key files were taken too")
		fs.BoolVar(&f.json, "json", false, "print the report as one JSON object")
		fs.BoolVar(&f.members, "members", false, "print only the affected members' external IDs, one a line, sorted")
		fs.BoolVar(&f.readableOnly, "readable-only", false, "with --members: only members with a readable document")
		fs.IntVar(&f.maxReads, "max-reads", 200, "list at most this many staff reads (0: all)")
	})
	if cfg == nil {
		return code
	}
	if len(pos) != 1 || pos[0] != "scope" {
		fmt.Fprint(stderr, incidentUsage)
		return 2
	}
	q, msg := scopeQuery(f.from, f.to, f.keys, f.maxReads)
	switch {
	case msg == "" && f.json && f.members:
		msg = "--json and --members print different things: choose one"
	case msg == "" && f.readableOnly && !f.members:
		msg = "--readable-only goes with --members"
	}
	if msg != "" {
		fmt.Fprintf(stderr, "kakunin: incident scope: %s\n", msg)
		return 2
	}

	db, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return fail("%v", err)
	}
	defer db.Close()
	rep, err := incident.Scope(ctx, db, q)
	if kakunin.ErrorCode(err) == kakunin.EINVALID {
		fmt.Fprintf(stderr, "kakunin: incident scope: %s\n", kakunin.ErrorMessage(err))
		return 2
	}
	if err != nil {
		return fail("incident scope: %v", err)
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
	l := &audit.Log{DB: db, Now: time.Now}
	if err := l.Append(ctx, audit.Event{Action: audit.IncidentScoped, Actor: "cli", Subject: "scope", Detail: detail}); err != nil {
		return fail("record the scope in the audit log: %v", err)
	}

	switch {
	case f.members:
		return printMembers(ctx, db, q, f.readableOnly, stdout, stderr)
	case f.json:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail("write report: %v", err)
		}
	default:
		if err := rep.WriteText(stdout); err != nil {
			return fail("write report: %v", err)
		}
	}
	return 0
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
func printMembers(ctx context.Context, db *store.DB, q incident.Query, readableOnly bool, stdout, stderr io.Writer) int {
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
		return fail("list members: %v", err)
	}
	what := "affected"
	if readableOnly {
		what = "with a readable document"
	}
	fmt.Fprintf(stderr, "%d member(s) %s, %s to %s\n", n, what, q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	return 0
}
