package catalogue

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kakunin/kakunin"
)

func TestTheShippedCatalogueLoadsWithEveryMessageInBothLanguages(t *testing.T) {
	c, err := Load(FS(), Languages...)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.IDs()) < 100 {
		t.Fatalf("only %d messages loaded", len(c.IDs()))
	}
	for _, id := range c.IDs() {
		for _, lang := range Languages {
			if !c.Has(lang, id) {
				t.Errorf("%s lacks %s", lang, id)
			}
		}
	}
}

// withFrench is the shipped catalogue plus a French one made of the
// English messages, less the message drop.
func withFrench(t *testing.T, drop string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	dropped := false
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(FS(), p)
		if err != nil {
			return err
		}
		m[p] = &fstest.MapFile{Data: raw}
		if fr, ok := strings.CutSuffix(p, "en.json"); ok {
			src := string(raw)
			if drop != "" {
				// Each message is on its own line: "id": "text",
				var kept []string
				for _, line := range strings.Split(src, "\n") {
					if strings.HasPrefix(strings.TrimSpace(line), `"`+drop+`"`) {
						dropped = true
						continue
					}
					kept = append(kept, line)
				}
				src = strings.Join(kept, "\n")
				src = strings.Replace(src, ",\n}", "\n}", 1)
			}
			m[fr+"fr.json"] = &fstest.MapFile{Data: []byte(src)}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if drop != "" && !dropped {
		t.Fatalf("no message %s to drop", drop)
	}
	return m
}

func TestAThirdLanguageIsOnlyCatalogueFiles(t *testing.T) {
	fr := kakunin.Locale("fr")
	c, err := Load(withFrench(t, ""), kakunin.LocaleJA, kakunin.LocaleEN, fr)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Localize(fr, M("incident.timeline.status", "From", "investigating", "To", "identified"))
	if err != nil || got != "Status: investigating → identified." {
		t.Errorf("French from its own files: %q, %v", got, err)
	}
}

func TestAThirdLanguageLackingAMessageIsRefusedNamingIt(t *testing.T) {
	const missing = "deadline.verdict.required"
	_, err := Load(withFrench(t, missing), kakunin.LocaleJA, kakunin.LocaleEN, "fr")
	var me *MissingError
	if !errors.As(err, &me) || me.Lang != "fr" || me.ID != missing {
		t.Fatalf("loading a French catalogue without %s: %v", missing, err)
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("the error does not name the message: %v", err)
	}
}

func TestMessagesWriteTheirArgumentsInTheReadersLanguage(t *testing.T) {
	fs := fstest.MapFS{
		"ja.json": {Data: []byte(`{"a": "{{date .At}}に{{count .N}}人", "s": "状態: {{t \"x\"}}", "x": "調査中", "raw": "{{.Keep}}"}`)},
		"en.json": {Data: []byte(`{"a": "{{count .N}} on {{date .At}}", "s": "Status: {{t \"x\"}}", "x": "Investigating", "raw": "{{.Keep}}"}`)},
	}
	c, err := Load(fs, kakunin.LocaleJA, kakunin.LocaleEN)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC) // 1 December in Japan
	for _, tt := range []struct {
		lang kakunin.Locale
		m    Message
		want string
	}{
		{kakunin.LocaleJA, M("a", "At", at, "N", int64(1234)), "2026年12月1日に1,234人"},
		{kakunin.LocaleEN, M("a", "At", at.Format(time.RFC3339), "N", "1234"), "1,234 on 1 December 2026"},
		{kakunin.LocaleJA, M("s"), "状態: 調査中"},
		{kakunin.LocaleEN, M("s"), "Status: Investigating"},
	} {
		if got, err := c.Localize(tt.lang, tt.m); err != nil || got != tt.want {
			t.Errorf("%s %v: %q, %v; want %q", tt.lang, tt.m, got, err, tt.want)
		}
	}
	if raw, err := c.Raw(kakunin.LocaleEN, "raw"); err != nil || raw != "{{.Keep}}" {
		t.Errorf("raw: %q, %v", raw, err)
	}
	if _, err := c.Localize(kakunin.LocaleEN, M("nope")); err == nil {
		t.Error("a missing message was written")
	}
	if got := c.Text("fr", M("x")); got != "調査中" {
		t.Errorf("a language without a catalogue: %q, want the fallback", got)
	}
}
