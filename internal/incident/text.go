package incident

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kakunin/kakunin"
)

// WriteText writes the report as an aligned summary for a terminal or a
// ticket: the query, the verdict, the counts, the staff reads, the reasoning.
func (r *Report) WriteText(w io.Writer) error {
	q := r.Query
	keys := "no: the database and the blob store only"
	if q.KeysExposed {
		keys = "yes: also the key-encryption keyset and the epoch key files"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }

	p("Incident scope")
	p("  window:\t%s → %s (both included)", q.From.Format(time.RFC3339Nano), q.To.Format(time.RFC3339Nano))
	p("  keys exposed:\t%s", keys)
	p("  computed:\t%s in %.2f s", r.ComputedAt.Format(time.RFC3339), float64(r.TookMS)/1000)
	p("  verdict:\t%s", r.Verdict)
	p("")
	if err := tw.Flush(); err != nil {
		return err
	}

	// Counts are right-aligned; the labels are padded to one width first,
	// so that aligning them right too changes nothing.
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	d := r.Documents
	labels := []string{"Documents", "  total"}
	for _, t := range d.ByType {
		labels = append(labels, "  "+string(t.Type))
	}
	wd := width(labels...)
	p("%-*s\texisting\treadable\treadable if keys exposed\t", wd, "Documents")
	for _, t := range d.ByType {
		p("%-*s\t%s\t%s\t%s\t", wd, "  "+string(t.Type), kakunin.FormatCount(t.Existing), kakunin.FormatCount(t.Readable), kakunin.FormatCount(t.ReadableIfKeysExposed))
	}
	p("%-*s\t%s\t%s\t%s\t", wd, "  total", kakunin.FormatCount(d.Existing), kakunin.FormatCount(d.Readable), kakunin.FormatCount(d.ReadableIfKeysExposed))
	p("")
	m, rm := r.Members, r.ReadableMembers
	const withDoc, withReadable = "  with a document in the window", "  with a readable document"
	wm := width("Members", withDoc, withReadable)
	p("%-*s\tall\tleft by the end\tleft since\t", wm, "Members")
	p("%-*s\t%s\t%s\t%s\t", wm, withDoc, kakunin.FormatCount(m.Total), kakunin.FormatCount(m.LeftBeforeEnd), kakunin.FormatCount(m.LeftSince))
	p("%-*s\t%s\t%s\t%s\t", wm, withReadable, kakunin.FormatCount(rm.Total), kakunin.FormatCount(rm.LeftBeforeEnd), kakunin.FormatCount(rm.LeftSince))
	p("")
	if err := tw.Flush(); err != nil {
		return err
	}

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	u := r.Unclaimed
	orphans := "not listed (the blob store was not read)"
	if u.BlobsListed {
		orphans = kakunin.FormatCount(u.OrphanBlobs) + " (member unknown)"
	}
	p("Ciphertext without a record (unreadable: its data key was never stored)")
	p("  pending uploads:\t%s, from %s (%s naming none)", kakunin.FormatCount(u.PendingUploads), plural(u.PendingMembers, "member", "members"), kakunin.FormatCount(u.PendingMemberUnknown))
	p("  orphan blobs:\t%s", orphans)
	p("")
	if r.ReadsTotal == 0 {
		p("Staff reads in the window: none")
	} else {
		p("Staff reads in the window: %s by %s", plural(r.ReadsTotal, "read", "reads"), plural(int64(len(r.Staff)), "account", "accounts"))
		p("  staff\temail\trole\treads\tfirst read\tlast read")
		for _, s := range r.Staff {
			p("  %s\t%s\t%s\t%s\t%s\t%s", s.StaffID, orUnknown(s.Email), s.Role, kakunin.FormatCount(s.Reads),
				s.FirstRead.Format(time.RFC3339), s.LastRead.Format(time.RFC3339))
		}
		p("")
		if int64(len(r.Reads)) < r.ReadsTotal {
			p("Reads, the first %s of %s (list them all with max reads 0):", kakunin.FormatCount(int64(len(r.Reads))), kakunin.FormatCount(r.ReadsTotal))
		} else {
			p("Reads:")
		}
		p("  at\tstaff\temail\tdocument\ttype\torigin")
		for _, rd := range r.Reads {
			p("  %s\t%s\t%s\t%s\t%s\t%s", rd.At.Format(time.RFC3339), rd.StaffID, orUnknown(rd.Email), rd.DocumentID, rd.DocumentType, rd.Origin)
		}
	}
	p("")
	p("Why")
	for _, s := range r.Reasoning {
		p("  - %s", s)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return nil
}

func width(ss ...string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(s))
	}
	return n
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(deleted account)"
	}
	return s
}
