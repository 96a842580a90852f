package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// errDuplicateKey says a JSON object names one key twice. encoding/json
// keeps the last value silently, so two parsers in front of kakunin (a
// gateway, a WAF, the host's own logging) could each see a different
// value: such a body is refused instead. Keys are compared as the decoder
// matches struct fields, ignoring case.
var errDuplicateKey = errors.New("a key appears twice in one object")

// jsonFrame is one open object or array.
type jsonFrame struct {
	keys    map[string]bool // nil for an array
	wantKey bool            // in an object: the next token is a key
}

// checkDuplicateKeys walks data token by token, at every nesting level,
// and returns errDuplicateKey when an object repeats a key. Syntax errors
// are left to the real decode, which reports them.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*jsonFrame
	// valueDone marks the value of the innermost object's key as read.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the decode reports
		}
		top := (*jsonFrame)(nil)
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		if top != nil && top.keys != nil && top.wantKey {
			if k, ok := tok.(string); ok {
				k = strings.ToLower(k)
				if top.keys[k] {
					return errDuplicateKey
				}
				top.keys[k] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &jsonFrame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &jsonFrame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
