package inquiry

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

// Whatever is typed, an accepted message is valid UTF-8 within MaxMessage,
// holds no control character but line feed and tab, and cleaning it again
// changes nothing.
func FuzzCleanMessage(f *testing.F) {
	for _, s := range []string{"hello", "a\r\nb", "\x00", "日本語", "<script>alert(1)</script>", "a\u202eb", "\t\n x \n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CleanMessage(in)
		if err != nil {
			return
		}
		if !utf8.ValidString(out) || len(out) > MaxMessage || out == "" {
			t.Fatalf("accepted %q", out)
		}
		for _, r := range out {
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				t.Fatalf("control character %U accepted", r)
			}
		}
		if again, err := CleanMessage(out); err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q, %v", out, again, err)
		}
	})
}
