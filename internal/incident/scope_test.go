package incident_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func openDB(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	db.UseStaffEmails(storetest.StaffEmails{})
	t.Cleanup(func() { db.Close() })
	return db
}

// The window of the fixture: 11–21 November 2026, UTC.
var (
	from = time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
)

const (
	day = 24 * time.Hour
	us  = time.Microsecond
)

// fixture builds, through the store's ordinary writes, a history whose
// scope is known exactly:
//
//	doc   member   type              received     wrapped key gone   blob gone     epoch          in window   readable with keys
//	d1    alpha    drivers_licence   from-5d      -                  -             alive          yes         yes
//	d2    alpha    passport          from+1d      from+1d+1h         from+1d+1h    alive          yes         yes
//	d3    Bravo    health_insurance  from-20d     from (exactly)     from          alive          yes         yes (boundary)
//	d4    charlie  my_number_card    to (exactly) -                  -             alive          yes         yes (boundary)
//	d5    echo     passport          to+1µs       -                  -             alive          no          -
//	d6    echo     drivers_licence   from-40d     from-1µs           from-1µs      alive          no          -
//	d7    _delta   drivers_licence   from-60d     from-50d           never         alive          yes         no: key gone
//	d8    charlie  passport          from-70d     -                  -             from-1µs       yes         no: epoch gone
//	d9    alpha    health_insurance  from-3d      from+12h           from+12h      from (exactly) yes         yes
//	d10   alpha    my_number_card    from+2d      -                  -             no row         yes         yes (assumed)
//
// Members: alpha never left; Bravo left at from+2d and _delta at from-30d
// (both before the end); charlie left at to+5d (since); echo has nothing
// in the window. The IDs sort differently bytewise ("Bravo" < "_delta" <
// "alpha" < "charlie") than in a natural-language collation.
//
// Reads: staff r1 (reviewer) opened d2 twice at from+1d+10m and +11m, d4
// at to, d1 at to+1µs (out); a1 (admin) opened d1 at from-1s (out) and d9
// at from.
func fixture(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	members := map[string]*store.MemberRecord{}
	for _, ext := range []string{"alpha", "Bravo", "charlie", "_delta", "echo"} {
		m := &store.MemberRecord{ID: kakunin.NewID("mem"), ExternalID: ext, EmailSealed: []byte{1}, EmailIndex: []byte(ext),
			Locale: kakunin.LocaleJA, CreatedAt: from.Add(-100 * day), UpdatedAt: from.Add(-100 * day)}
		must(t, db.InsertMember(ctx, m))
		members[ext] = m
	}
	type doc struct {
		name, member string
		typ          kakunin.DocumentType
		received     time.Time
		destroyed    time.Time // zero: never
		blobKept     bool      // the key was destroyed, the blob deletion never recorded
		epoch        string    // "": the UTC day of received
		noteEpoch    bool
	}
	docs := []doc{
		{"d1", "alpha", kakunin.DocDriversLicence, from.Add(-5 * day), time.Time{}, false, "", true},
		{"d2", "alpha", kakunin.DocPassport, from.Add(day), from.Add(day + time.Hour), false, "", true},
		{"d3", "Bravo", kakunin.DocHealthInsurance, from.Add(-20 * day), from, false, "", true},
		{"d4", "charlie", kakunin.DocMyNumberCard, to, time.Time{}, false, "", true},
		{"d5", "echo", kakunin.DocPassport, to.Add(us), time.Time{}, false, "", true},
		{"d6", "echo", kakunin.DocDriversLicence, from.Add(-40 * day), from.Add(-us), false, "", true},
		{"d7", "_delta", kakunin.DocDriversLicence, from.Add(-60 * day), from.Add(-50 * day), true, "", true},
		{"d8", "charlie", kakunin.DocPassport, from.Add(-70 * day), time.Time{}, false, "", true},
		{"d9", "alpha", kakunin.DocHealthInsurance, from.Add(-3 * day), from.Add(12 * time.Hour), false, "", true},
		{"d10", "alpha", kakunin.DocMyNumberCard, from.Add(2 * day), time.Time{}, false, "", false},
	}
	ids := map[string]string{}
	for _, d := range docs {
		m := members[d.member]
		v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, Status: kakunin.StatusSubmitted,
			ExpiresAt: d.received.Add(day), CreatedAt: d.received.Add(-time.Minute), UpdatedAt: d.received}
		must(t, db.InsertVerification(ctx, v))
		r := &store.DocumentRecord{BlobKey: "documents/" + d.name}
		r.ID, r.VerificationID, r.MemberID, r.Type = kakunin.NewID("doc"), v.ID, m.ID, d.typ
		r.ContentType, r.Size, r.Width, r.Height = "image/jpeg", 1000, 640, 480
		r.Epoch = d.epoch
		if r.Epoch == "" {
			r.Epoch = d.received.Format(time.DateOnly)
		}
		r.WrappedKey, r.ReceivedAt, r.DestroyAfter = []byte("wrapped"), d.received, d.received.Add(7*day)
		if d.noteEpoch {
			if _, err := db.NoteEpoch(ctx, r.Epoch, d.received.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		must(t, db.InsertDocument(ctx, r))
		if !d.destroyed.IsZero() {
			ok, err := db.DestroyDocumentKey(ctx, r.ID, d.destroyed)
			must(t, err)
			if !ok {
				t.Fatalf("destroy %s: not destroyed", d.name)
			}
			if !d.blobKept {
				must(t, db.MarkBlobDeleted(ctx, r.ID, d.destroyed))
			}
		}
		ids[d.name] = r.ID
	}
	// d8's day lost its key a microsecond before the window, d9's exactly
	// at its start (the key existed at that moment).
	must(t, db.MarkEpochDestroyed(ctx, from.Add(-70*day).Format(time.DateOnly), from.Add(-us)))
	must(t, db.MarkEpochDestroyed(ctx, from.Add(-3*day).Format(time.DateOnly), from))

	must(t, db.MarkMemberLeft(ctx, members["Bravo"].ID, from.Add(2*day)))
	must(t, db.MarkMemberLeft(ctx, members["_delta"].ID, from.Add(-30*day)))
	must(t, db.MarkMemberLeft(ctx, members["charlie"].ID, to.Add(5*day)))

	staff := map[string]string{}
	for _, s := range []struct {
		name string
		role kakunin.Role
	}{{"r1", kakunin.RoleReviewer}, {"a1", kakunin.RoleAdmin}} {
		id := "stf_" + s.name
		must(t, db.InsertStaff(ctx, &store.StaffRecord{ID: id, Email: s.name + "@example.jp", Role: s.role,
			PasswordHash: "unused", TOTPSealed: []byte{0}, CreatedAt: from.Add(-100 * day)}))
		staff[s.name] = id
	}
	for _, r := range []struct {
		staff, doc string
		at         time.Time
	}{
		{"r1", "d2", from.Add(day + 10*time.Minute)},
		{"r1", "d2", from.Add(day + 11*time.Minute)},
		{"r1", "d4", to},
		{"r1", "d1", to.Add(us)},
		{"a1", "d1", from.Add(-time.Second)},
		{"a1", "d9", from},
	} {
		d, err := db.Document(ctx, ids[r.doc])
		must(t, err)
		must(t, db.InsertDocumentRead(ctx, &store.DocumentRead{DocumentID: d.ID, StaffID: staff[r.staff], MemberID: d.MemberID,
			DocumentType: string(d.Type), Origin: "origin-" + r.staff, At: r.at}))
	}
	fixtureIDs = ids
}

// fixtureIDs maps the fixture's document names to their IDs (set by fixture).
var fixtureIDs map[string]string

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func counts(d incident.Documents) map[kakunin.DocumentType][3]int64 {
	out := map[kakunin.DocumentType][3]int64{}
	for _, t := range d.ByType {
		out[t.Type] = [3]int64{t.Existing, t.Readable, t.ReadableIfKeysExposed}
	}
	return out
}

func members(t *testing.T, db *store.DB, q incident.Query, readable bool) []string {
	t.Helper()
	list := []string{}
	f := incident.AffectedMembers
	if readable {
		f = incident.ReadableMembers
	}
	must(t, f(context.Background(), db, q, func(ext string) error {
		list = append(list, ext)
		return nil
	}))
	return list
}

func TestScopeWithKeysExposedCountsWhatCouldBeRead(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		fixture(t, db)
		q := incident.Query{From: from, To: to, KeysExposed: true}
		r, err := incident.Scope(context.Background(), db, q)
		must(t, err)

		if r.Documents.Existing != 8 || r.Documents.Readable != 6 || r.Documents.ReadableIfKeysExposed != 6 {
			t.Errorf("documents = %+v, want 8 existing, 6 readable", r.Documents.Count)
		}
		want := map[kakunin.DocumentType][3]int64{
			kakunin.DocDriversLicence:  {2, 1, 1}, // d1; d7 lost its key
			kakunin.DocPassport:        {2, 1, 1}, // d2; d8 lost its epoch key
			kakunin.DocHealthInsurance: {2, 2, 2}, // d3 at the boundary, d9
			kakunin.DocMyNumberCard:    {2, 2, 2}, // d4 at the boundary, d10 with no epoch row
		}
		if got := counts(r.Documents); !mapsEqual(got, want) {
			t.Errorf("by type = %v, want %v", got, want)
		}
		var types []kakunin.DocumentType
		for _, c := range r.Documents.ByType {
			types = append(types, c.Type)
		}
		if !slices.Equal(types, kakunin.DocumentTypes) {
			t.Errorf("types in order %v, want %v", types, kakunin.DocumentTypes)
		}
		if want := (incident.MemberCount{Total: 4, LeftBeforeEnd: 2, LeftSince: 1}); r.Members != want {
			t.Errorf("members = %+v, want %+v", r.Members, want)
		}
		if want := (incident.MemberCount{Total: 3, LeftBeforeEnd: 1, LeftSince: 1}); r.ReadableMembers != want {
			t.Errorf("readable members = %+v, want %+v", r.ReadableMembers, want)
		}
		if got, want := members(t, db, q, false), []string{"Bravo", "_delta", "alpha", "charlie"}; !slices.Equal(got, want) {
			t.Errorf("affected members = %q, want %q", got, want)
		}
		if got, want := members(t, db, q, true), []string{"Bravo", "alpha", "charlie"}; !slices.Equal(got, want) {
			t.Errorf("readable members = %q, want %q", got, want)
		}
		if !strings.HasPrefix(r.Verdict, "keys exposed: 6 of 8 documents readable") {
			t.Errorf("verdict = %q", r.Verdict)
		}
	})
}

func TestScopeWithoutKeysFindsCiphertextOnly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		fixture(t, db)
		q := incident.Query{From: from, To: to}
		r, err := incident.Scope(context.Background(), db, q)
		must(t, err)

		if r.Documents.Existing != 8 || r.Documents.Readable != 0 || r.Documents.ReadableIfKeysExposed != 6 {
			t.Errorf("documents = %+v, want 8 existing, 0 readable, 6 if keys exposed", r.Documents.Count)
		}
		for _, c := range r.Documents.ByType {
			if c.Readable != 0 {
				t.Errorf("%s: %d readable without keys", c.Type, c.Readable)
			}
		}
		if want := (incident.MemberCount{Total: 4, LeftBeforeEnd: 2, LeftSince: 1}); r.Members != want {
			t.Errorf("members = %+v, want %+v", r.Members, want)
		}
		if r.ReadableMembers != (incident.MemberCount{}) {
			t.Errorf("readable members = %+v, want none", r.ReadableMembers)
		}
		if got := members(t, db, q, true); len(got) != 0 {
			t.Errorf("readable members listed without keys: %q", got)
		}
		if got, want := members(t, db, q, false), []string{"Bravo", "_delta", "alpha", "charlie"}; !slices.Equal(got, want) {
			t.Errorf("affected members = %q, want %q", got, want)
		}
		if r.Verdict != "keys not exposed: ciphertext only" {
			t.Errorf("verdict = %q", r.Verdict)
		}
		if why := strings.Join(r.Reasoning, "\n"); !strings.Contains(why, "Keys not exposed: ciphertext only") || !strings.Contains(why, "0 readable") {
			t.Errorf("reasoning does not say why nothing is readable:\n%s", why)
		}
	})
}

func TestScopeListsTheStaffReadsOfTheWindowOnly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		fixture(t, db)
		ctx := context.Background()
		r, err := incident.Scope(ctx, db, incident.Query{From: from, To: to})
		must(t, err)

		if r.ReadsTotal != 4 {
			t.Errorf("reads total = %d, want 4", r.ReadsTotal)
		}
		type staffRow struct {
			id, email   string
			role        kakunin.Role
			reads       int64
			first, last time.Time
		}
		var gotStaff []staffRow
		for _, s := range r.Staff {
			gotStaff = append(gotStaff, staffRow{s.StaffID, s.Email, s.Role, s.Reads, s.FirstRead, s.LastRead})
		}
		wantStaff := []staffRow{
			{"stf_r1", "r1@example.jp", kakunin.RoleReviewer, 3, from.Add(day + 10*time.Minute), to},
			{"stf_a1", "a1@example.jp", kakunin.RoleAdmin, 1, from, from},
		}
		if !slices.Equal(gotStaff, wantStaff) {
			t.Errorf("staff = %+v\nwant %+v", gotStaff, wantStaff)
		}
		type readRow struct {
			at     time.Time
			staff  string
			email  string
			doc    string
			typ    kakunin.DocumentType
			origin string
		}
		var got []readRow
		for _, rd := range r.Reads {
			got = append(got, readRow{rd.At, rd.StaffID, rd.Email, rd.DocumentID, rd.DocumentType, rd.Origin})
		}
		want := []readRow{
			{from, "stf_a1", "a1@example.jp", fixtureIDs["d9"], kakunin.DocHealthInsurance, "origin-a1"},
			{from.Add(day + 10*time.Minute), "stf_r1", "r1@example.jp", fixtureIDs["d2"], kakunin.DocPassport, "origin-r1"},
			{from.Add(day + 11*time.Minute), "stf_r1", "r1@example.jp", fixtureIDs["d2"], kakunin.DocPassport, "origin-r1"},
			{to, "stf_r1", "r1@example.jp", fixtureIDs["d4"], kakunin.DocMyNumberCard, "origin-r1"},
		}
		if !slices.Equal(got, want) {
			t.Errorf("reads = %+v\nwant %+v", got, want)
		}

		r, err = incident.Scope(ctx, db, incident.Query{From: from, To: to, MaxReads: 2})
		must(t, err)
		if len(r.Reads) != 2 || r.ReadsTotal != 4 || r.Reads[1].At != want[1].at {
			t.Errorf("with max reads 2: %d listed of %d, want the first 2 of 4", len(r.Reads), r.ReadsTotal)
		}
		var all []time.Time
		must(t, incident.Reads(ctx, db, incident.Query{From: from, To: to, MaxReads: 2}, func(rd incident.Read) error {
			all = append(all, rd.At)
			return nil
		}))
		if len(all) != 4 {
			t.Errorf("Reads streamed %d reads, want all 4 whatever MaxReads", len(all))
		}
		var newest []time.Time
		must(t, incident.NewestReads(ctx, db, incident.Query{From: from, To: to}, 2, func(rd incident.Read) error {
			newest = append(newest, rd.At)
			return nil
		}))
		if !slices.Equal(newest, []time.Time{want[3].at, want[2].at}) {
			t.Errorf("newest 2 reads at %v, want %v and %v", newest, want[3].at, want[2].at)
		}
	})
}

func TestScopeWindowEndsAreIncluded(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		fixture(t, db)
		ctx := context.Background()
		// A window of one microsecond at from: d3's blob and key went at
		// that very moment, so it is still there, and readable with keys.
		r, err := incident.Scope(ctx, db, incident.Query{From: from, To: from.Add(us), KeysExposed: true})
		must(t, err)
		if got := counts(r.Documents)[kakunin.DocHealthInsurance]; got != [3]int64{2, 2, 2} {
			t.Errorf("health insurance at from = %v, want d3 and d9 existing and readable", got)
		}
		// One ending a microsecond before from: d6 (gone at from-1µs) is
		// in, d3 and d9 too, and d8 is readable, its epoch key still there.
		r, err = incident.Scope(ctx, db, incident.Query{From: from.Add(-2 * us), To: from.Add(-us), KeysExposed: true})
		must(t, err)
		if got := counts(r.Documents)[kakunin.DocDriversLicence]; got != [3]int64{3, 2, 2} {
			t.Errorf("driving licences just before from = %v, want d1, d6 readable and d7 not", got)
		}
		if got := counts(r.Documents)[kakunin.DocPassport]; got != [3]int64{1, 1, 1} {
			t.Errorf("passports just before from = %v, want d8, readable", got)
		}
		// One starting just after to: d5 (received at to+1µs) is in; what
		// was destroyed in the window (d2, d3, d9) is not.
		r, err = incident.Scope(ctx, db, incident.Query{From: to.Add(us), To: to.Add(2 * us), KeysExposed: true})
		must(t, err)
		if got := counts(r.Documents)[kakunin.DocPassport]; got != [3]int64{2, 1, 1} {
			t.Errorf("passports just after to = %v, want d5 readable and d8 not", got)
		}
		if r.Documents.Existing != 6 {
			t.Errorf("just after to: %d documents, want 6 (d1, d4, d5, d7, d8, d10)", r.Documents.Existing)
		}
	})
}

func TestScopeCountsATypeIntakeNeverTookAfterTheKnownOnes(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		fixture(t, db)
		ctx := context.Background()
		m := &store.MemberRecord{ID: kakunin.NewID("mem"), ExternalID: "foxtrot", Locale: kakunin.LocaleJA, CreatedAt: from, UpdatedAt: from}
		must(t, db.InsertMember(ctx, m))
		v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, Status: kakunin.StatusSubmitted, ExpiresAt: to, CreatedAt: from, UpdatedAt: from}
		must(t, db.InsertVerification(ctx, v))
		d := &store.DocumentRecord{BlobKey: "documents/odd"}
		d.ID, d.VerificationID, d.MemberID, d.Type = kakunin.NewID("doc"), v.ID, m.ID, "residence_card"
		d.ContentType, d.Epoch, d.WrappedKey, d.ReceivedAt, d.DestroyAfter = "image/jpeg", "2026-11-12", []byte("k"), from.Add(day), to
		must(t, db.InsertDocument(ctx, d))

		r, err := incident.Scope(ctx, db, incident.Query{From: from, To: to, KeysExposed: true})
		must(t, err)
		last := r.Documents.ByType[len(r.Documents.ByType)-1]
		if len(r.Documents.ByType) != 5 || last.Type != "residence_card" || last.Existing != 1 || last.Readable != 1 {
			t.Errorf("by type = %+v, want the four known types, then residence_card 1/1", r.Documents.ByType)
		}
		if r.Documents.Existing != 9 || r.Documents.Readable != 7 {
			t.Errorf("documents = %+v, want 9 existing, 7 readable", r.Documents.Count)
		}
	})
}

func TestScopeRefusesAWindowThatDoesNotRunForward(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	ctx := context.Background()
	for _, q := range []incident.Query{
		{From: to, To: from},
		{From: from, To: from},
		{To: to},
		{From: from},
		{From: from, To: to, MaxReads: -1},
	} {
		_, err := incident.Scope(ctx, db, q)
		if kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("Scope(%v) = %v, want an invalid error", q, err)
		}
		err = incident.AffectedMembers(ctx, db, q, func(string) error { return nil })
		if kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("AffectedMembers(%v) = %v, want an invalid error", q, err)
		}
	}
}

func TestReportJSONKeepsItsFieldNames(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	fixture(t, db)
	r, err := incident.Scope(context.Background(), db, incident.Query{From: from, To: to, KeysExposed: true, MaxReads: 1})
	must(t, err)
	b, err := json.Marshal(r)
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(b, &m))
	for _, path := range []string{
		"query.from", "query.to", "query.keys_exposed", "query.max_reads", "computed_at", "took_ms", "verdict", "reasoning",
		"documents.existing", "documents.readable", "documents.readable_if_keys_exposed", "documents.by_type",
		"members.total", "members.left_before_end", "members.left_since",
		"readable_members.total", "staff", "reads_total", "reads",
	} {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = obj[k]
		}
		if v == nil {
			t.Errorf("JSON has no %s:\n%s", path, b)
		}
	}
	if q := m["query"].(map[string]any); q["from"] != "2026-11-11T00:00:00Z" {
		t.Errorf("query.from = %v, want RFC 3339 in UTC", q["from"])
	}
	row := m["documents"].(map[string]any)["by_type"].([]any)[0].(map[string]any)
	if row["type"] != "drivers_licence" || row["existing"] != 2.0 || row["readable"] != 1.0 {
		t.Errorf("by_type[0] = %v", row)
	}
	read := m["reads"].([]any)[0].(map[string]any)
	for _, k := range []string{"at", "staff_id", "email", "role", "document_id", "document_type", "origin"} {
		if _, ok := read[k]; !ok {
			t.Errorf("reads[0] has no %s: %v", k, read)
		}
	}
	staff := m["staff"].([]any)[0].(map[string]any)
	for _, k := range []string{"staff_id", "email", "role", "reads", "first_read", "last_read"} {
		if _, ok := staff[k]; !ok {
			t.Errorf("staff[0] has no %s: %v", k, staff)
		}
	}
}

func TestReportTextSummarisesAndExplains(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	fixture(t, db)
	r, err := incident.Scope(context.Background(), db, incident.Query{From: from, To: to})
	must(t, err)
	var buf bytes.Buffer
	must(t, r.WriteText(&buf))
	out := buf.String()
	for _, want := range []string{
		"window:        2026-11-11T00:00:00Z → 2026-11-21T00:00:00Z",
		"verdict:       keys not exposed: ciphertext only",
		"drivers_licence",
		"total",
		"Staff reads in the window: 4 reads by 2 accounts",
		"r1@example.jp",
		"Keys not exposed: ciphertext only.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	// The counts line up: every row of the documents table is as wide.
	var widths []int
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 4 && (f[0] == "drivers_licence" || f[0] == "passport" || f[0] == "total") {
			widths = append(widths, len(strings.TrimRight(line, " ")))
		}
	}
	if len(widths) != 3 || widths[0] != widths[1] || widths[1] != widths[2] {
		t.Errorf("document rows are not aligned (%v):\n%s", widths, out)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
