package auth

import "testing"

func TestTokensAreTokenLenLongAndNeverRepeat(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := NewToken()
		if len(tok) != TokenLen || seen[tok] {
			t.Fatalf("token %q: length %d (want %d), seen before %v", tok, len(tok), TokenLen, seen[tok])
		}
		seen[tok] = true
	}
}
