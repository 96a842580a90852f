// Package massmailtest makes an incident and its affected members for the
// tests of the mass notification (internal/massmail and the console). It is
// imported only by tests.
package massmailtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
)

// Member is one member Setup registers.
type Member struct {
	ExternalID string
	Email      string
	Locale     kakunin.Locale
	Type       kakunin.DocumentType // default a driving licence
	// Left: the member leaves after their document is in (their address
	// is forgotten). Outside: their document arrives after the window, so
	// the incident did not reach them.
	Left, Outside bool
}

// Window is the incident's window: two days up to an hour before
// servicetest.Start.
var (
	WindowFrom = servicetest.Start.Add(-48 * time.Hour)
	WindowTo   = servicetest.Start.Add(-time.Hour)
)

// Setup inserts an incident (the database and the blob store taken, not
// the keys) whose window is [WindowFrom, WindowTo], and registers members
// through the verification service (addresses sealed as in production),
// each with one document received three days before Start (or, Outside,
// after the window). It returns the incident and each member's ID by
// external ID.
func Setup(t testing.TB, env *servicetest.Env, members []Member) (*kakunin.Incident, map[string]string) {
	t.Helper()
	ctx := t.Context()
	now := env.Clock.Now()
	inc := &kakunin.Incident{ID: kakunin.NewID("inc"), Title: "test incident", Summary: "test", DiscoveredAt: WindowTo.Add(30 * time.Minute),
		WindowFrom: WindowFrom, WindowTo: WindowTo, Held: kakunin.IncidentHeld{Database: true, Blobs: true},
		Status: kakunin.IncidentIdentified, CreatedBy: "cli", CreatedAt: now, UpdatedAt: now}
	if err := env.DB.InsertIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i, m := range members {
		locale := m.Locale
		if locale == "" {
			locale = kakunin.LocaleJA
		}
		mem, _, err := env.Verifications.UpsertMember(ctx, m.ExternalID, m.Email, locale)
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := env.Verifications.Create(ctx, m.ExternalID)
		if err != nil {
			t.Fatal(err)
		}
		received := servicetest.Start.Add(-72 * time.Hour).Add(time.Duration(i) * time.Second)
		if m.Outside {
			received = WindowTo.Add(10 * time.Minute)
		}
		typ := m.Type
		if typ == "" {
			typ = kakunin.DocDriversLicence
		}
		d := &store.DocumentRecord{Document: kakunin.Document{ID: kakunin.NewID("doc"), VerificationID: v.ID, MemberID: mem.ID,
			Type: typ, ContentType: "image/jpeg", Size: 1000, Width: 10, Height: 10, Orientation: 1,
			Epoch: received.Format("2006-01-02"), WrappedKey: []byte{1}, ReceivedAt: received, DestroyAfter: received.Add(30 * 24 * time.Hour)},
			BlobKey: fmt.Sprintf("blob-%d", i)}
		if err := env.DB.InsertDocument(ctx, d); err != nil {
			t.Fatal(err)
		}
		if m.Left {
			if err := env.Verifications.MemberLeft(ctx, m.ExternalID); err != nil {
				t.Fatal(err)
			}
		}
		ids[m.ExternalID] = mem.ID
	}
	return inc, ids
}

// Letter is the default letter with its placeholders dealt with as a
// responder would: the sentences waiting for facts the test incident does
// not record are deleted, and the one to write is written.
func Letter() massmail.Text {
	t := massmail.DefaultText()
	fill := func(body, written string) string {
		var out []string
		for _, line := range strings.Split(body, "\n") {
			switch {
			case strings.Contains(line, "{{.KeysRotatedOn}}"), strings.Contains(line, "{{.ReportedToPPCOn}}"):
			case massmail.HasPlaceholder(line):
				out = append(out, written)
			default:
				out = append(out, line)
			}
		}
		return strings.Join(out, "\n")
	}
	t.BodyJA = fill(t.BodyJA, "不正なアクセスの経路を遮断しました。")
	t.BodyEN = fill(t.BodyEN, "We closed the route the intruder used.")
	return t
}
