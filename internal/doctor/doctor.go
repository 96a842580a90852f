// Package doctor checks a kakunin deployment from outside, as its
// operator would: TLS and HSTS, the security headers of a public page, a
// personal page and an error, whether anything between the client and
// kakunin keeps personal answers (invariant 7: the canary), the server's
// clock, and whether kakunin's --public-url is the URL reached. How the
// canary works, and why a cache must not sit in front of kakunin at all,
// is in docs/caching.md.
package doctor

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Options say what to check.
type Options struct {
	URL    string // the deployment, as members reach it: https://id.example.jp
	APIKey string // an API key of the install; without it the canary is not asked for
	Client *http.Client
	Now    func() time.Time
}

// Result is one check.
type Result struct {
	Check  string
	Status Status
	Detail string
	Fix    []string // "nginx: …", "Caddy: …", "CDN: …"
}

// Status of a check.
type Status string

const (
	OK   Status = "ok"
	Fail Status = "FAIL"
	Skip Status = "skip"
)

// Findings counts the failed checks.
func Findings(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Status == Fail {
			n++
		}
	}
	return n
}

// Write prints the report.
func Write(w io.Writer, target string, rs []Result) {
	fmt.Fprintf(w, "kakunin doctor: %s\n", target)
	for _, r := range rs {
		fmt.Fprintf(w, "  %-4s  %s", r.Status, r.Check)
		if r.Detail != "" {
			fmt.Fprintf(w, ": %s", r.Detail)
		}
		fmt.Fprintln(w)
		if r.Status == Fail {
			for _, f := range r.Fix {
				fmt.Fprintf(w, "        fix, %s\n", f)
			}
		}
	}
	switch n := Findings(rs); n {
	case 0:
		fmt.Fprintln(w, "no findings.")
	case 1:
		fmt.Fprintln(w, "1 finding.")
	default:
		fmt.Fprintf(w, "%d findings.\n", n)
	}
}

var (
	fixCache = []string{
		"nginx: no proxy_cache in kakunin's server block (`proxy_cache off;`), and never proxy_ignore_headers Cache-Control, Set-Cookie or Vary; docs/nginx.conf is the reference",
		"Caddy: no cache handler (cache-handler, souin) in kakunin's site block; a plain reverse_proxy keeps nothing",
		"CDN: a rule that bypasses the cache for the whole host (Cloudflare: a Cache Rule \"Bypass cache\"; CloudFront: the CachingDisabled policy with all cookies and headers forwarded), or no CDN in front of kakunin",
	}
	fixPost = []string{
		"nginx: remove POST from proxy_cache_methods (better: no proxy_cache at all for kakunin)",
		"Caddy: no cache handler in kakunin's site block",
		"CDN: never cache POST; bypass the cache for the whole host",
	}
	fixHSTS = []string{
		"kakunin sends Strict-Transport-Security itself when --public-url is https://: set it so, and do not strip the header",
		"nginx: `add_header Strict-Transport-Security \"max-age=31536000\" always;` in the server block if kakunin's does not reach the client",
		"Caddy: `header Strict-Transport-Security \"max-age=31536000\"`",
		"CDN: turn on HSTS (max-age one year) for the host",
	}
	fixTLS = []string{
		"nginx: ssl_certificate must be the full chain, renewed before it expires (certbot renew, or ACME in the load balancer)",
		"Caddy: automatic HTTPS renews by itself; check that it can reach the ACME server",
		"CDN: check the edge certificate and the origin certificate in the CDN's console",
	}
	fixHeaders = []string{
		"nginx: do not proxy_hide_header kakunin's security headers, and no add_header that replaces them",
		"Caddy: no `header -Name` that removes them",
		"CDN: no transform rule that removes response headers",
	}
	fixClock = []string{
		"server: keep the clock synchronised (systemd-timesyncd or chrony); one-time links, TOTP and deadlines depend on it — or check this machine's clock",
	}
	fixPublicURL = []string{
		"kakunin: --public-url (KAKUNIN_PUBLIC_URL) must be exactly the scheme and host members reach; links in mails, cookies (__Host-, Secure) and HSTS follow it",
		"nginx: pass the Host header through (`proxy_set_header Host $host;`)",
	}
)

type checker struct {
	opts    Options
	base    *url.URL
	client  *http.Client
	results []Result
	clockAt time.Time
	date    string
}

func (c *checker) add(r Result) { c.results = append(c.results, r) }

// Run checks the deployment at opts.URL and returns what it found.
func Run(ctx context.Context, opts Options) []Result {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &checker{opts: opts}
	base, err := url.Parse(strings.TrimSuffix(opts.URL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		c.add(Result{Check: "the URL", Status: Fail, Detail: "not an http(s) URL: " + opts.URL})
		return c.results
	}
	c.base = base
	client := http.Client{Timeout: 15 * time.Second}
	if opts.Client != nil {
		client = *opts.Client
	}
	// Every answer as sent: a redirect is a finding to look at, not to follow.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.client = &client

	home, _, err := c.get(ctx, "GET", "/", "")
	if err != nil {
		c.add(Result{Check: "reach kakunin", Status: Fail, Detail: err.Error(), Fix: fixTLS})
		return c.results
	}
	c.add(Result{Check: "reach kakunin", Status: OK, Detail: fmt.Sprintf("GET / answered %d", home.StatusCode)})
	c.checkTLS(home)
	c.checkClock(home)
	c.checkHeaders("public page (/)", home, false)
	missing := "/doctor/no-such-page-" + randomHex()
	if errPage, _, err := c.get(ctx, "GET", missing, ""); err == nil {
		if errPage.StatusCode != http.StatusNotFound {
			c.add(Result{Check: "error page", Status: Fail, Detail: fmt.Sprintf("%s answered %d, not 404: something in front answers for kakunin", missing, errPage.StatusCode), Fix: fixCache})
		}
		c.checkHeaders("error page (404)", errPage, true)
	}
	c.checkCanary(ctx)
	return c.results
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// get sends one request and reads its body (at most 1 MiB).
func (c *checker) get(ctx context.Context, method, path, cookie string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", "kakunin-doctor")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if c.opts.APIKey != "" && strings.HasPrefix(path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	return resp, string(b), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *checker) checkTLS(resp *http.Response) {
	if c.base.Scheme == "http" {
		if isLoopback(c.base.Hostname()) {
			c.add(Result{Check: "TLS", Status: Skip, Detail: "plain http on a loopback address (kakunin or a proxy on this machine)"})
			return
		}
		c.add(Result{Check: "TLS", Status: Fail, Detail: "the URL is plain http: members' links, cookies and the console travel in the clear", Fix: fixTLS})
		return
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		c.add(Result{Check: "TLS", Status: Fail, Detail: "no certificate seen", Fix: fixTLS})
		return
	}
	cert := resp.TLS.PeerCertificates[0]
	left := cert.NotAfter.Sub(c.opts.Now())
	if left < 14*24*time.Hour {
		c.add(Result{Check: "TLS certificate", Status: Fail, Detail: fmt.Sprintf("expires %s (in %s)", cert.NotAfter.UTC().Format(time.RFC3339), left.Round(time.Hour)), Fix: fixTLS})
	} else {
		c.add(Result{Check: "TLS certificate", Status: OK, Detail: fmt.Sprintf("valid for %s until %s", strings.Join(cert.DNSNames, ", "), cert.NotAfter.UTC().Format(time.DateOnly))})
	}
	hsts := resp.Header.Get("Strict-Transport-Security")
	m := regexp.MustCompile(`max-age=(\d+)`).FindStringSubmatch(hsts)
	if m == nil {
		c.add(Result{Check: "HSTS", Status: Fail, Detail: "no Strict-Transport-Security on /", Fix: fixHSTS})
		return
	}
	if age, _ := strconv.Atoi(m[1]); age < 180*24*3600 {
		c.add(Result{Check: "HSTS", Status: Fail, Detail: "max-age " + m[1] + " s is under half a year", Fix: fixHSTS})
		return
	}
	c.add(Result{Check: "HSTS", Status: OK, Detail: hsts})
}

// checkClock compares the server's Date with this machine's clock.
func (c *checker) checkClock(resp *http.Response) {
	at, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		c.add(Result{Check: "server clock", Status: Fail, Detail: "no Date header", Fix: fixClock})
		return
	}
	skew := at.Sub(c.opts.Now())
	if skew < 0 {
		skew = -skew
	}
	if skew > time.Minute {
		c.add(Result{Check: "server clock", Status: Fail, Detail: fmt.Sprintf("the server's Date is %s, %s from this machine's clock", at.UTC().Format(time.RFC3339), skew.Round(time.Second)), Fix: fixClock})
		return
	}
	c.add(Result{Check: "server clock", Status: OK, Detail: fmt.Sprintf("within %s of this machine's", skew.Round(time.Second)+time.Second)})
}

// checkHeaders checks the security headers kakunin sends; personal
// answers must also be no-store, private.
func (c *checker) checkHeaders(what string, resp *http.Response, personal bool) {
	h := resp.Header
	var missing []string
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src") {
		missing = append(missing, "Content-Security-Policy")
	}
	if !strings.Contains(csp, "frame-ancestors 'none'") && h.Get("X-Frame-Options") != "DENY" {
		missing = append(missing, "frame-ancestors/X-Frame-Options")
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	if h.Get("Referrer-Policy") != "no-referrer" {
		missing = append(missing, "Referrer-Policy: no-referrer")
	}
	if len(missing) > 0 {
		c.add(Result{Check: "security headers, " + what, Status: Fail, Detail: "missing or changed: " + strings.Join(missing, ", "), Fix: fixHeaders})
	} else {
		c.add(Result{Check: "security headers, " + what, Status: OK})
	}
	if personal {
		if p := cacheHeaderProblem(h); p != "" {
			c.add(Result{Check: "cache headers, " + what, Status: Fail, Detail: p, Fix: fixHeaders})
		}
	}
}

func cacheHeaderProblem(h http.Header) string {
	cc := h.Get("Cache-Control")
	if !strings.Contains(cc, "no-store") || !strings.Contains(cc, "private") {
		return "Cache-Control is " + strconv.Quote(cc) + ", not no-store, private"
	}
	if h.Get("ETag") != "" || h.Get("Last-Modified") != "" {
		return "a validator (ETag or Last-Modified) was added"
	}
	return ""
}

// cacheHint reads the headers caches add about themselves.
func cacheHint(h http.Header) string {
	var hints []string
	if age := h.Get("Age"); age != "" {
		hints = append(hints, "Age: "+age)
	}
	for _, name := range []string{"X-Cache", "X-Cache-Status", "X-Proxy-Cache", "CF-Cache-Status", "X-Served-From-Cache", "Fastly-Debug-Digest"} {
		if v := h.Get(name); v != "" && !strings.Contains(strings.ToUpper(v), "BYPASS") && !strings.Contains(strings.ToUpper(v), "DYNAMIC") {
			hints = append(hints, name+": "+v)
		}
	}
	return strings.Join(hints, ", ")
}

type grant struct {
	Cookie    string    `json:"cookie"`
	Token     string    `json:"token"`
	Path      string    `json:"path"`
	ExpiresAt time.Time `json:"expires_at"`
	PublicURL string    `json:"public_url"`
}

type canaryAnswer struct {
	status                  int
	session, answer, method string
	resp                    *http.Response
}

func parseCanary(resp *http.Response, body string) canaryAnswer {
	a := canaryAnswer{status: resp.StatusCode, resp: resp}
	for _, line := range strings.Split(body, "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "session":
			a.session = v
		case "answer":
			a.answer = v
		case "method":
			a.method = v
		}
	}
	return a
}

// checkCanary asks kakunin for two canary sessions and their personal
// page, at one fixed URL, the way two people would: each session twice,
// without a session, and by POST. Any answer that kakunin did not write
// for that very request came from something in between that stores
// personal answers.
func (c *checker) checkCanary(ctx context.Context) {
	const check = "no cache keeps personal answers (canary)"
	if c.opts.APIKey == "" {
		c.add(Result{Check: check, Status: Skip, Detail: "give --api-key (kakunin apikey create doctor) to ask for the canary"})
		c.checkPublicURL(ctx, "")
		return
	}
	var gs [2]grant
	for i := range gs {
		resp, body, err := c.get(ctx, "POST", "/api/v1/doctor/canary", "")
		if err == nil && resp.StatusCode != http.StatusCreated {
			err = fmt.Errorf("POST /api/v1/doctor/canary answered %d: %.200s", resp.StatusCode, body)
		}
		if err == nil {
			err = json.Unmarshal([]byte(body), &gs[i])
		}
		if err != nil {
			c.add(Result{Check: check, Status: Fail, Detail: "could not get a canary session: " + err.Error(),
				Fix: []string{"kakunin: the API key must be live (kakunin apikey list); the API must reach kakunin unchanged"}})
			return
		}
	}
	c.checkPublicURL(ctx, gs[0].PublicURL)
	if gs[0].Token == gs[1].Token {
		// The API's answer was stored and replayed: so would be the
		// host's upload, sign-in and answer links for its members.
		c.add(Result{Check: "no cache keeps the API's answers", Status: Fail,
			Detail: "two POST /api/v1/doctor/canary calls got the same answer: the host's calls (upload, sign-in and answer links) are replayed too", Fix: fixCache})
		return
	}
	cookie := func(g grant) string { return g.Cookie + "=" + g.Token }
	session := func(g grant) string { return strings.Split(g.Token, ".")[0] }
	ask := func(method string, g *grant) (canaryAnswer, error) {
		ck := ""
		if g != nil {
			ck = cookie(*g)
		}
		resp, body, err := c.get(ctx, method, gs[0].Path, ck)
		if err != nil {
			return canaryAnswer{}, err
		}
		return parseCanary(resp, body), nil
	}
	var problems, hints []string
	first, err := ask("GET", &gs[0])
	if err != nil {
		c.add(Result{Check: check, Status: Fail, Detail: err.Error()})
		return
	}
	if first.status != http.StatusOK || first.session != session(gs[0]) {
		c.add(Result{Check: check, Status: Fail, Detail: fmt.Sprintf("the canary page did not answer its own session (%d): the cookie is lost or the page comes from a store", first.status), Fix: fixCache})
		return
	}
	c.checkHeaders("personal page (canary)", first.resp, true)
	steps := []struct {
		name   string
		method string
		g      *grant
	}{
		{"no session", "GET", nil},
		{"the second session", "GET", &gs[1]},
		{"the first session again", "GET", &gs[0]},
		{"the second session by POST", "POST", &gs[1]},
	}
	seen := map[string]string{first.answer: "the first session"}
	for _, st := range steps {
		a, err := ask(st.method, st.g)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if h := cacheHint(a.resp.Header); h != "" {
			hints = append(hints, st.name+" ("+h+")")
		}
		want := ""
		if st.g != nil {
			want = session(*st.g)
		}
		switch {
		case a.session != "" && a.session != want:
			problems = append(problems, fmt.Sprintf("%s was answered with another session's personal page: a cache keyed without the cookie hands one person's page to the next", st.name))
		case st.g == nil && a.status == http.StatusOK:
			problems = append(problems, "a request without a session got a personal page")
		case st.g != nil && a.session == "":
			problems = append(problems, fmt.Sprintf("%s got no canary page (%d): the cookie did not reach kakunin", st.name, a.status))
		case st.method == "POST" && a.method != "" && a.method != "POST":
			problems = append(problems, "a POST was answered with the stored answer to a GET: forms never reach kakunin")
		case a.answer != "" && seen[a.answer] != "":
			problems = append(problems, fmt.Sprintf("%s got the answer kakunin wrote for %s: personal answers are stored and replayed", st.name, seen[a.answer]))
		}
		if a.answer != "" && seen[a.answer] == "" {
			seen[a.answer] = st.name
		}
	}
	detail := "two sessions, asked twice each, without a session and by POST: every answer was kakunin's own"
	status := OK
	if len(problems) > 0 {
		status, detail = Fail, strings.Join(problems, "; ")
	}
	fix := fixCache
	if len(problems) == 1 && strings.Contains(problems[0], "POST") {
		fix = fixPost
	}
	c.add(Result{Check: check, Status: status, Detail: detail, Fix: fix})
	if len(hints) > 0 {
		c.add(Result{Check: "cache headers seen (hints)", Status: Fail, Detail: strings.Join(hints, "; "), Fix: fixCache})
	}
}

// checkPublicURL compares kakunin's --public-url (from the canary grant,
// or the notices feed's self link) with the URL reached.
func (c *checker) checkPublicURL(ctx context.Context, public string) {
	const check = "--public-url is the URL reached"
	if public == "" {
		resp, body, err := c.get(ctx, "GET", "/notices.atom", "")
		if err == nil && resp.StatusCode == http.StatusOK {
			var feed struct {
				Links []struct {
					Rel  string `xml:"rel,attr"`
					Href string `xml:"href,attr"`
				} `xml:"link"`
			}
			if xml.Unmarshal([]byte(body), &feed) == nil {
				for _, l := range feed.Links {
					if l.Rel == "self" {
						public = strings.TrimSuffix(l.Href, "/notices.atom?lang=ja")
					}
				}
			}
		}
	}
	if public == "" {
		c.add(Result{Check: check, Status: Skip, Detail: "kakunin did not say its public URL"})
		return
	}
	p, err := url.Parse(public)
	if err != nil || p.Scheme != c.base.Scheme || !strings.EqualFold(p.Host, c.base.Host) {
		c.add(Result{Check: check, Status: Fail, Detail: fmt.Sprintf("kakunin believes it is %s but was reached at %s://%s", public, c.base.Scheme, c.base.Host), Fix: fixPublicURL})
		return
	}
	c.add(Result{Check: check, Status: OK, Detail: public})
}

// CertPool is a pool of the PEM certificates in pem, for --ca-file.
func CertPool(pem []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate found")
	}
	return pool, nil
}
