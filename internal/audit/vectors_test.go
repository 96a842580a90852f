package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the current encoding (only for a deliberate new version)")

// vectorFile is testdata/vectors.json: a chain from the genesis, each event
// with the bytes it hashes and its hash, for an independent verifier.
type vectorFile struct {
	Comment string   `json:"comment"`
	Genesis string   `json:"genesis"`
	Events  []vector `json:"events"`
}

type vector struct {
	Seq       int64             `json:"seq"`
	AtMicros  int64             `json:"at_micros"`
	Action    string            `json:"action"`
	Actor     string            `json:"actor"`
	Subject   string            `json:"subject"`
	Origin    string            `json:"origin"`
	Detail    map[string]string `json:"detail"`
	Prev      string            `json:"prev"`
	Canonical string            `json:"canonical"`
	Hash      string            `json:"hash"`
}

func (v vector) event() audit.Event {
	return audit.Event{Seq: v.Seq, At: time.UnixMicro(v.AtMicros).UTC(), Action: v.Action, Actor: v.Actor,
		Subject: v.Subject, Origin: v.Origin, Detail: v.Detail}
}

// vectorEvents are chosen to exercise the encoding: empty fields and
// detail, multi-byte UTF-8, keys that sort bytewise differently from their
// length or from case, a key that prefixes another.
var vectorEvents = []audit.Event{
	{At: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), Action: audit.StaffLogin, Actor: "staff:stf_01", Subject: "stf_01",
		Origin: "o_3f9a", Detail: map[string]string{"factor": "totp"}},
	{At: time.Date(2026, 11, 25, 3, 0, 1, 123456000, time.UTC), Action: audit.DocumentRead, Actor: "staff:stf_01",
		Subject: "doc_7q", Origin: "o_3f9a", Detail: map[string]string{"task": "doc_7q", "b": "2", "a": "1", "aa": "", "B": "upper"}},
	{At: time.Date(2026, 11, 25, 3, 0, 2, 0, time.UTC), Action: audit.EpochDestroyed, Actor: "system", Subject: "epoch:2026-11-18"},
	{At: time.Date(2026, 11, 25, 3, 0, 3, 0, time.UTC), Action: audit.IncidentScoped, Actor: "cli", Subject: "",
		Detail: map[string]string{"note": "確認済み", "ü": "ß"}},
}

func TestVectorsMatchTheDocumentedEncoding(t *testing.T) {
	const path = "testdata/vectors.json"
	if *update {
		vf := vectorFile{Comment: "kakunin audit chain, encoding v1 (internal/audit/doc.go): hash = SHA-256(canonical); canonical and hashes in hex",
			Genesis: hex.EncodeToString(audit.Genesis())}
		prev := audit.Genesis()
		for i, ev := range vectorEvents {
			ev.Seq = int64(i + 1)
			h := audit.ChainHash(prev, ev)
			vf.Events = append(vf.Events, vector{Seq: ev.Seq, AtMicros: ev.At.UnixMicro(), Action: ev.Action, Actor: ev.Actor,
				Subject: ev.Subject, Origin: ev.Origin, Detail: ev.Detail, Prev: hex.EncodeToString(prev),
				Canonical: hex.EncodeToString(audit.Canonical(prev, ev)), Hash: hex.EncodeToString(h)})
			prev = h
		}
		b, _ := json.MarshalIndent(vf, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Events) != len(vectorEvents) || vf.Genesis != hex.EncodeToString(make([]byte, 32)) {
		t.Fatalf("%s: %d events, genesis %s", path, len(vf.Events), vf.Genesis)
	}
	prev := vf.Genesis
	for _, v := range vf.Events {
		if v.Prev != prev {
			t.Fatalf("vector %d: prev %s is not the hash before it (%s)", v.Seq, v.Prev, prev)
		}
		p, _ := hex.DecodeString(v.Prev)
		if got := hex.EncodeToString(audit.Canonical(p, v.event())); got != v.Canonical {
			t.Errorf("vector %d: canonical bytes changed:\n got %s\nwant %s", v.Seq, got, v.Canonical)
		}
		if got := hex.EncodeToString(audit.ChainHash(p, v.event())); got != v.Hash {
			t.Errorf("vector %d: hash = %s, want %s", v.Seq, got, v.Hash)
		}
		c, _ := hex.DecodeString(v.Canonical)
		if sum := sha256.Sum256(c); hex.EncodeToString(sum[:]) != v.Hash {
			t.Errorf("vector %d: the hash is not SHA-256 of the canonical bytes", v.Seq)
		}
		prev = v.Hash
	}
}

// TestTheEncodingIsWhatDocGoSays builds the second vector's bytes by hand,
// from the description in doc.go rather than from the code.
func TestTheEncodingIsWhatDocGoSays(t *testing.T) {
	prev := bytes.Repeat([]byte{0xab}, 32)
	ev := audit.Event{Seq: 2, At: time.UnixMicro(1764039601123456), Action: "document.read", Actor: "staff:stf_01",
		Subject: "doc_7q", Origin: "", Detail: map[string]string{"task": "doc_7q", "a": "1", "B": "upper"}}
	var want bytes.Buffer
	want.WriteString("kakunin-audit-event-v1")
	want.WriteByte(0)
	want.Write(prev)
	binary.Write(&want, binary.BigEndian, uint64(2))
	binary.Write(&want, binary.BigEndian, int64(1764039601123456))
	str := func(s string) {
		binary.Write(&want, binary.BigEndian, uint32(len(s)))
		want.WriteString(s)
	}
	str("document.read")
	str("staff:stf_01")
	str("doc_7q")
	str("")
	binary.Write(&want, binary.BigEndian, uint32(3))
	for _, kv := range [][2]string{{"B", "upper"}, {"a", "1"}, {"task", "doc_7q"}} { // bytewise order: 'B' < 'a'
		str(kv[0])
		str(kv[1])
	}
	if got := audit.Canonical(prev, ev); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("canonical =\n%x\nwant\n%x", got, want.Bytes())
	}
}

func TestAppendStoresTheVectorsHashes(t *testing.T) {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatal(err)
	}
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		l := newLog(db)
		for _, v := range vf.Events {
			ev := v.event()
			ev.Seq = 0
			evs := []audit.Event{ev}
			if err := l.Append(context.Background(), evs...); err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(evs[0].Hash); evs[0].Seq != v.Seq || got != v.Hash {
				t.Fatalf("appended vector %d: seq %d hash %s, want %s", v.Seq, evs[0].Seq, got, v.Hash)
			}
		}
	})
}
