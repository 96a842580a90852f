package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// The staff sign-in form posts to /console/login?form=TOKEN, a token made
// for that one rendering of the page and good for one sign-in. Behind a
// cache that hands one stored login page to everyone, everyone gets the
// same token: the first sign-in through it works (its 303 answer is not
// something such a cache keeps by default), and every later one is refused
// with a page that says why, instead of going on through a cache that
// might replay the answer and its cookie (docs/caching.md, section 4). A
// POST without the token (scripts, older pages) is not refused.
const (
	loginFormScope = "login-form"
	loginFormTTL   = time.Hour
)

// loginAction is the sign-in form's target, with a new token.
func (s *Server) loginAction() string {
	if s.Signer == nil || s.Staff == nil {
		return "/console/login"
	}
	msg := auth.NewToken()[:22] + "." + strconv.FormatInt(s.Now().Add(loginFormTTL).Unix(), 10)
	tok := msg + "." + base64.RawURLEncoding.EncodeToString(s.Signer.MAC(vault.PurposeLoginForm, []byte(msg)))
	return "/console/login?form=" + url.QueryEscape(tok)
}

// staleLoginForm says whether the request comes from a sign-in page whose
// token was already used (or is forged or expired): a page that more than
// one person was given.
func (s *Server) staleLoginForm(r *http.Request) (bool, error) {
	tok := r.URL.Query().Get("form")
	if tok == "" || s.Signer == nil || s.Staff == nil {
		return false, nil
	}
	parts := strings.Split(tok, ".")
	if len(tok) > 200 || len(parts) != 3 {
		return true, nil
	}
	tag, err := auth.DecodeTag(parts[2])
	if err != nil || !s.Signer.VerifyMAC(vault.PurposeLoginForm, []byte(parts[0]+"."+parts[1]), tag) {
		return true, nil
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !s.Now().Before(time.Unix(exp, 0)) {
		return true, nil
	}
	// One use, counted in the database so every replica agrees.
	var ok bool
	err = s.Staff.DB.WithTx(r.Context(), func(tx *store.Tx) error {
		var err error
		ok, err = tx.TakeRateHit(r.Context(), loginFormScope, auth.HashToken(tok), 1, loginFormTTL, "", s.Now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("login form token: %w", err)
	}
	return !ok, nil
}
