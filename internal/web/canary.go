package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/vault"
)

// canaryRoutes is the route table's part for kakunin doctor's canary: a
// personal page that belongs to no one, so that doctor can see from
// outside whether something between a client and kakunin keeps personal
// answers (invariant 7, docs/caching.md). The host's API key asks for a
// canary session; the page answers only with one.
func (s *Server) canaryRoutes() []Route {
	return []Route{
		{"POST /api/v1/doctor/canary", hostAPI, s.api(s.newCanary)},
		// One fixed URL for every canary session, on purpose: a cache that
		// keys on the URL without the cookie answers the second session
		// with the first one's page, and doctor sees it.
		{"GET /doctor/canary", public, http.HandlerFunc(s.canary)},
		{"POST /doctor/canary", public, http.HandlerFunc(s.canary)},
	}
}

// CanaryCookie carries a canary session to /doctor/canary.
const CanaryCookie = "kakunin_canary"

// canaryTTL is how long a canary session lasts: long enough for doctor's
// few requests, short enough that it is worth nothing later.
const canaryTTL = 2 * time.Minute

// CanaryGrant is the API's answer: the cookie doctor sends, and what the
// server believes its own public URL is (doctor compares it with the URL
// it reached).
type CanaryGrant struct {
	Cookie    string    `json:"cookie"`
	Token     string    `json:"token"`
	Path      string    `json:"path"`
	ExpiresAt time.Time `json:"expires_at"`
	PublicURL string    `json:"public_url"`
}

// canaryToken is "session.expiry.tag", the tag a MAC under the vault's
// index key (PurposeDoctorCanary): no database row, valid on every replica.
func canaryToken(sg auth.Signer, session string, expires time.Time) string {
	msg := session + "." + strconv.FormatInt(expires.Unix(), 10)
	return msg + "." + base64.RawURLEncoding.EncodeToString(sg.MAC(vault.PurposeDoctorCanary, []byte(msg)))
}

// checkCanaryToken returns the canary session of a live token.
func checkCanaryToken(sg auth.Signer, token string, now time.Time) (string, bool) {
	parts := strings.Split(token, ".")
	if len(token) > 200 || len(parts) != 3 {
		return "", false
	}
	tag, err := auth.DecodeTag(parts[2])
	if err != nil || !sg.VerifyMAC(vault.PurposeDoctorCanary, []byte(parts[0]+"."+parts[1]), tag) {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return "", false
	}
	return parts[0], true
}

func (s *Server) newCanary(w http.ResponseWriter, r *http.Request) error {
	if s.Signer == nil {
		return kakunin.Errorf(kakunin.ENOTFOUND, "this server has no canary")
	}
	session := auth.NewToken()[:22]
	exp := s.Now().Add(canaryTTL).Truncate(time.Second)
	writeJSON(w, http.StatusCreated, CanaryGrant{Cookie: CanaryCookie, Token: canaryToken(s.Signer, session, exp),
		Path: "/doctor/canary", ExpiresAt: exp.UTC(), PublicURL: s.PublicURL})
	return nil
}

// canary answers a canary session with a page that is personal to it: the
// session, and a value new at every answer, so that doctor can tell an
// answer kakunin wrote from one a cache replayed. Without a live session
// it is the 404 page, like any unknown URL.
func (s *Server) canary(w http.ResponseWriter, r *http.Request) {
	var session string
	ok := false
	if c, err := r.Cookie(CanaryCookie); err == nil && s.Signer != nil {
		session, ok = checkCanaryToken(s.Signer, c.Value, s.Now())
	}
	if !ok {
		s.errorPage(w, r, http.StatusNotFound, "not_found", nil)
		return
	}
	w.Header().Set("Cache-Control", "no-store, private")
	w.Header().Set("Vary", "Cookie")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "kakunin doctor canary\nsession: %s\nanswer: %s\nmethod: %s\n", session, auth.NewToken(), r.Method)
}
