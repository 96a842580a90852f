// Package nginxtest starts Debian's nginx for a test, on loopback, with a
// configuration of the test's choosing in a temporary directory: a real
// reverse proxy (careless or correct) in front of a kakunin under test
// (invariant 7, docs/caching.md). Test-only.
package nginxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary is Debian's nginx.
const Binary = "/usr/sbin/nginx"

// Careless is the configuration an operator might copy to "speed things
// up": every answer cached for ten minutes, whatever kakunin says, POSTs
// included, under a key that is the URL alone (no method, no cookie). It
// is the location block's inside; UPSTREAM is replaced.
const Careless = `
        proxy_pass http://UPSTREAM;
        proxy_cache careless;
        proxy_cache_valid 200 302 10m;
        proxy_ignore_headers Cache-Control Expires Set-Cookie;
        proxy_cache_methods GET HEAD POST;
        proxy_cache_key $scheme$proxy_host$request_uri;
`

// Hardened is Careless and worse: it also ignores Vary (so the cookie
// never enters the key, however the answer is marked) and X-Accel-Expires,
// and keeps every status, 303 redirects included.
const Hardened = `
        proxy_pass http://UPSTREAM;
        proxy_cache careless;
        proxy_cache_valid any 10m;
        proxy_ignore_headers Cache-Control Expires Set-Cookie Vary X-Accel-Expires;
        proxy_cache_methods GET HEAD POST;
        proxy_cache_key $scheme$proxy_host$request_uri;
`

// Start runs nginx with http { server { listen; location / { LOCATION } } }
// around location, proxying to upstream (host:port), and returns its base
// URL. server, if not empty, replaces the whole server block (with
// LISTEN and UPSTREAM placeholders) for a test that brings its own. Without
// nginx the test is skipped, unless KAKUNIN_REQUIRE_NGINX=1 (CI), when it
// fails.
func Start(t testing.TB, upstream, location, server string) string {
	t.Helper()
	return StartAt(t, FreeAddr(t), upstream, location, server)
}

// StartAt is Start listening on addr (from FreeAddr), for a test whose
// kakunin must know its public URL before nginx starts.
func StartAt(t testing.TB, addr, upstream, location, server string) string {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("KAKUNIN_REQUIRE_NGINX") == "1" {
			t.Fatalf("nginx is required (KAKUNIN_REQUIRE_NGINX=1) but %s is missing: apt-get install nginx", Binary)
		}
		t.Skipf("needs Debian's nginx at %s (apt-get install nginx; CI sets KAKUNIN_REQUIRE_NGINX=1)", Binary)
	}
	dir := t.TempDir()
	if server == "" {
		server = "server {\n    listen LISTEN;\n    location / {" + location + "    }\n}\n"
	}
	server = strings.NewReplacer("LISTEN", addr, "UPSTREAM", upstream, "DIR", dir).Replace(server)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers must write the cache under the temp dir
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    proxy_cache_path %[2]s/cache keys_zone=careless:1m;
    client_max_body_size 21m;
%[3]s
}
`, user, dir, server)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Binary, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	out, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			if strings.Contains(server, " ssl") {
				return "https://" + addr
			}
			return "http://" + addr
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "stderr"))
			elog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s%s\nconfig:\n%s", err, log, elog, conf)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s", addr)
		}
	}
}

// FreeAddr is a loopback address with a port nobody listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
