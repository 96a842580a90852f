package audit

import (
	"encoding/json"
	"maps"
	"testing"
)

func TestDetailDecodesWhatAppendStoresAndNothingLooser(t *testing.T) {
	good := []struct {
		in   string
		want map[string]string
	}{
		{`{}`, nil},
		{` { } `, nil},
		{`{"a":"1"}`, map[string]string{"a": "1"}},
		{`{ "a" : "1" , "b":"" }`, map[string]string{"a": "1", "b": ""}},
		{`{"q":"\"\\\/\b\f\n\r\t"}`, map[string]string{"q": "\"\\/\b\f\n\r\t"}},
		{`{"html":"\u003c\u003e\u0026","ja":"確認","emoji":"\ud83d\ude00"}`, map[string]string{"html": "<>&", "ja": "確認", "emoji": "😀"}},
	}
	for _, g := range good {
		got, err := decodeDetail(g.in)
		if err != nil || !maps.Equal(got, g.want) {
			t.Errorf("decodeDetail(%s) = %v, %v; want %v", g.in, got, err, g.want)
		}
	}
	bad := []string{
		``, `null`, `[]`, `"a"`, `{`, `{"a"}`, `{"a":1}`, `{"a":null}`, `{"a":{"b":"c"}}`, `{"a":"1",}`,
		`{"a":"1"}{}`, `{"a":"1"} x`, `{"a":"1","a":"2"}`, `{a:"1"}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `{"a":"\u0000"}`, "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", `{"a":"1"`,
	}
	for _, in := range bad {
		if got, err := decodeDetail(in); err == nil {
			t.Errorf("decodeDetail(%q) = %v, want an error", in, got)
		}
	}
}

// FuzzDecodeDetail checks the hand-written parser against encoding/json:
// whatever it accepts, encoding/json reads the same way; and whatever
// encodeDetail writes, it reads back.
func FuzzDecodeDetail(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"1","b":"\u00e9\n"}`, `{"a":"\ud83d\ude00"}`, `{"a":"1","a":"2"}`, `{"k":"<&>"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeDetail(s)
		if err == nil {
			var want map[string]string
			if jerr := json.Unmarshal([]byte(s), &want); jerr != nil {
				t.Fatalf("decodeDetail accepted %q, encoding/json did not: %v", s, jerr)
			}
			if len(want) == 0 {
				want = nil
			}
			if !maps.Equal(got, want) {
				t.Fatalf("decodeDetail(%q) = %v, encoding/json %v", s, got, want)
			}
		}
		// Used as a key and a value, s round-trips when Append would take it.
		m := map[string]string{"k": s, s: "v"}
		if validate(&Event{Action: "a", Actor: "b", Detail: m}) != nil {
			return
		}
		back, err := decodeDetail(encodeDetail(m))
		if err != nil || !maps.Equal(back, m) {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}
