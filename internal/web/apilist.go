package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// Page sizes of the API's lists.
const (
	DefaultPageLimit = 10
	MaxPageLimit     = 100
)

// listJSON is one page of a list: data, whether more follow, the page size
// used (limit_clamped when the one asked for was over MaxPageLimit) and
// the cursor of the next page.
type listJSON struct {
	Object       string `json:"object"` // "list"
	Data         any    `json:"data"`
	HasMore      bool   `json:"has_more"`
	Limit        int    `json:"limit"`
	LimitClamped bool   `json:"limit_clamped,omitempty"`
	// NextStartingAfter is the starting_after of the next page, null on the last.
	NextStartingAfter *string `json:"next_starting_after"`
}

// pageLimit reads ?limit=: DefaultPageLimit when absent, clamped to
// MaxPageLimit (and said so), 400 when not a positive integer.
func pageLimit(q url.Values) (limit int, clamped bool, err error) {
	s := q.Get("limit")
	if s == "" {
		return DefaultPageLimit, false, nil
	}
	n, perr := strconv.Atoi(s)
	if perr != nil || n < 1 {
		return 0, false, kakunin.Errorf(kakunin.EINVALID, "limit must be a whole number from 1 to %d", MaxPageLimit)
	}
	if n > MaxPageLimit {
		return MaxPageLimit, true, nil
	}
	return n, false, nil
}

// listCursor is a page's position in one listing: the last item's creation
// time and ID, and a digest of the listing's filters, under a MAC. A cursor
// altered, made up or taken from another listing is refused (400).
func listCursor(keys auth.Signer, filters string, at time.Time, id string) string {
	msg := filterDigest(filters) + "." + strconv.FormatInt(at.UnixMicro(), 10) + "." + id
	tag := keys.MAC(vault.PurposeAPICursor, []byte(msg))
	return "cur_" + base64.RawURLEncoding.EncodeToString([]byte(msg)) + "." + base64.RawURLEncoding.EncodeToString(tag)
}

func filterDigest(filters string) string {
	sum := sha256.Sum256([]byte(filters))
	return hex.EncodeToString(sum[:8])
}

func readCursor(keys auth.Signer, filters, cursor string) (time.Time, string, error) {
	bad := kakunin.Errorf(kakunin.EINVALID, "starting_after is not a cursor of this listing; pass next_starting_after from the previous page with the same filters")
	body, ok := strings.CutPrefix(cursor, "cur_")
	enc, tagText, ok2 := strings.Cut(body, ".")
	if !ok || !ok2 || len(cursor) > 300 {
		return time.Time{}, "", bad
	}
	msg, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return time.Time{}, "", bad
	}
	tag, err := auth.DecodeTag(tagText)
	if err != nil || !keys.VerifyMAC(vault.PurposeAPICursor, msg, tag) {
		return time.Time{}, "", bad
	}
	parts := strings.SplitN(string(msg), ".", 3)
	if len(parts) != 3 || parts[0] != filterDigest(filters) {
		return time.Time{}, "", bad
	}
	micros, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(micros).UTC(), parts[2], nil
}

// listVerifications answers GET /api/v1/verifications: newest first, by
// member (external_id), status and creation time (created_after, RFC 3339),
// a page at a time.
func (s *Server) listVerifications(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.VerificationFilter{ExternalID: q.Get("external_id")}
	if st := q.Get("status"); st != "" {
		known := false
		for _, k := range kakunin.Statuses {
			known = known || string(k) == st
		}
		if !known {
			return kakunin.Errorf(kakunin.EINVALID, "status must be one of awaiting_upload, submitted, approved, rejected, expired, canceled")
		}
		f.Status = kakunin.VerificationStatus(st)
	}
	if ca := q.Get("created_after"); ca != "" {
		t, err := time.Parse(time.RFC3339, ca)
		if err != nil {
			return kakunin.Errorf(kakunin.EINVALID, "created_after must be an RFC 3339 time, e.g. 2026-11-25T00:00:00Z")
		}
		f.CreatedAfter = t
	}
	limit, clamped, err := pageLimit(q)
	if err != nil {
		return err
	}
	f.Limit = limit
	filters := f.ExternalID + "\x00" + string(f.Status) + "\x00" + q.Get("created_after")
	if c := q.Get("starting_after"); c != "" {
		if f.BeforeAt, f.BeforeID, err = readCursor(s.Verifications.Keys, filters, c); err != nil {
			return err
		}
	}
	vs, more, err := s.Verifications.List(r.Context(), f)
	if err != nil {
		return err
	}
	data := make([]verificationJSON, 0, len(vs))
	for _, v := range vs {
		data = append(data, toJSON(v))
	}
	out := listJSON{Object: "list", Data: data, HasMore: more, Limit: limit, LimitClamped: clamped}
	if more {
		last := vs[len(vs)-1]
		c := listCursor(s.Verifications.Keys, filters, last.CreatedAt, last.ID)
		out.NextStartingAfter = &c
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cancelVerification answers POST /api/v1/verifications/{id}/cancel.
func (s *Server) cancelVerification(w http.ResponseWriter, r *http.Request) error {
	v, err := s.Verifications.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toJSON(v))
	return nil
}
