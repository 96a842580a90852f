// Package jpkitest runs a real OpenID provider for tests: zitadel/oidc's
// op package with its example server's storage and login page
// (github.com/zitadel/oidc/v3/example/server), which this package extends
// to issue the birthdate claim, as the Digital Agency's provider does. It
// listens on 127.0.0.1 on a free port. Tests may tamper with its token
// responses (Tamper) to play an attacker between the provider and kakunin.
// It is imported only by tests.
package jpkitest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/text/language"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	exstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Password is every test user's password on the provider's login page.
const Password = "verysecure"

// OP is a running provider.
type OP struct {
	Issuer       string // http://127.0.0.1:PORT
	ClientID     string
	ClientSecret string
	// OtherClientID is a second registered client, whose tokens kakunin
	// must refuse.
	OtherClientID string

	storage *storage
	users   *users

	mu     sync.Mutex
	tamper func(idToken string) string
	// BirthdateInUserInfoOnly: the ID token carries no birthdate; only the
	// UserInfo endpoint answers it.
	userInfoOnly bool
}

// Start runs a provider that accepts redirectURL for its client, until the
// test ends.
func Start(t testing.TB, redirectURL string) *OP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &OP{Issuer: "http://" + ln.Addr().String(), ClientID: "kakunin-test", ClientSecret: "test-client-secret",
		OtherClientID: "another-relying-party"}
	o.users = &users{byID: map[string]*user{}}
	clients := map[string]*exstorage.Client{
		o.ClientID:      exstorage.WebClient(o.ClientID, o.ClientSecret, redirectURL),
		o.OtherClientID: exstorage.WebClient(o.OtherClientID, "other-secret", redirectURL),
	}
	o.storage = &storage{Storage: exstorage.NewStorageWithClients(o.users, clients), op: o}
	router := exampleop.SetupServer(o.Issuer, o.storage, nil, false)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: o.tampering(router)}}
	srv.Start()
	t.Cleanup(srv.Close)
	return o
}

// AddUser registers a user who signs in as username with Password and
// whose card says birthdate (any JSON value: a string such as
// "2000-01-02", or something malformed; nil: no birthdate at all).
func (o *OP) AddUser(username string, birthdate any) {
	o.users.mu.Lock()
	defer o.users.mu.Unlock()
	id := "sub-" + username
	o.users.byID[id] = &user{User: exstorage.User{ID: id, Username: username, Password: Password,
		FirstName: "Test", LastName: "User", PreferredLanguage: language.Japanese}, birthdate: birthdate}
}

// Tamper replaces the id_token of every token response by f(id_token)
// until set to nil.
func (o *OP) Tamper(f func(idToken string) string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tamper = f
}

// BirthdateInUserInfoOnly makes the ID token carry no birthdate, so
// kakunin must ask the UserInfo endpoint.
func (o *OP) BirthdateInUserInfoOnly(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.userInfoOnly = on
}

func (o *OP) onlyInUserInfo() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.userInfoOnly
}

// Resign returns idToken with its claims changed by edit and signed again
// with the provider's own key: a token the provider could have issued.
func (o *OP) Resign(t testing.TB, idToken string, edit func(claims map[string]any)) string {
	t.Helper()
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", idToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	return o.Sign(t, claims)
}

// Sign signs claims with the provider's key.
func (o *OP) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	key, err := o.storage.SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return SignWith(t, key.Key(), key.ID(), claims)
}

// SignWith signs claims with any RSA key under key ID kid (RS256).
func SignWith(t testing.TB, key any, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tampering passes the token endpoint's answers through o.tamper.
func (o *OP) tampering(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		f := o.tamper
		o.mu.Unlock()
		if f == nil || r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var m map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &m) == nil {
			if s, ok := m["id_token"].(string); ok {
				m["id_token"] = f(s)
				body, _ = json.Marshal(m)
			}
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// FlipSignature returns idToken with one bit of its signature changed.
func FlipSignature(idToken string) string {
	parts := strings.Split(idToken, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		return idToken + "x"
	}
	sig = bytes.Clone(sig)
	sig[len(sig)/2] ^= 0x01
	parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	return strings.Join(parts, ".")
}

type user struct {
	exstorage.User
	birthdate any
}

// users is the example storage's UserStore with a birth date per user.
type users struct {
	mu   sync.Mutex
	byID map[string]*user
}

func (u *users) GetUserByID(id string) *exstorage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	if x := u.byID[id]; x != nil {
		return &x.User
	}
	return nil
}

func (u *users) GetUserByUsername(name string) *exstorage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.byID {
		if x.Username == name {
			return &x.User
		}
	}
	return nil
}

func (u *users) ExampleClientID() string { return exstorage.ServiceUserID }

func (u *users) birthdate(id string) (any, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	x := u.byID[id]
	if x == nil || x.birthdate == nil {
		return nil, false
	}
	return x.birthdate, true
}

// storage is the example storage, plus the birthdate scope and claim.
type storage struct {
	*exstorage.Storage
	op *OP
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return client{c}, nil
}

type client struct{ op.Client }

// IsScopeAllowed lets birthdate through the provider's scope filter.
func (c client) IsScopeAllowed(scope string) bool {
	return scope == "birthdate" || c.Client.IsScopeAllowed(scope)
}

func (s *storage) addBirthdate(ui *oidc.UserInfo, subject string) {
	b, ok := s.op.users.birthdate(subject)
	if !ok {
		return
	}
	if str, isString := b.(string); isString {
		ui.Birthdate = str
		return
	}
	ui.AppendClaims("birthdate", b)
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, "birthdate") && !s.op.onlyInUserInfo() {
		s.addBirthdate(ui, req.GetSubject())
	}
	return nil
}

// SetUserinfoFromToken answers the UserInfo endpoint.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.addBirthdate(ui, subject)
	return nil
}

// SignIn plays the member's browser at the provider: it opens authURL,
// signs in as username on the login page and returns the URL the
// provider then sends the browser back to (kakunin's callback, with code
// and state), without following it.
func (o *OP) SignIn(t testing.TB, authURL, username string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var back *url.URL
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), o.Issuer) {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("open authorization URL: %v", err)
	}
	res.Body.Close()
	if back != nil {
		return back // the provider answered at once (an error)
	}
	id := res.Request.URL.Query().Get("authRequestID")
	if res.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("provider's login page: %d at %s", res.StatusCode, res.Request.URL)
	}
	res, err = c.PostForm(o.Issuer+"/login/username", url.Values{"username": {username}, "password": {Password}, "id": {id}})
	if err != nil {
		t.Fatalf("sign in at the provider: %v", err)
	}
	res.Body.Close()
	if back == nil {
		t.Fatalf("the provider did not send the browser back (%d at %s)", res.StatusCode, res.Request.URL)
	}
	return back
}
