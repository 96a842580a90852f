package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	var c Config
	fs := FlagSet("test", &c, io.Discard, All...)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := ApplyEnv(fs, func(k string) string { return env[k] }); err != nil {
		return nil, err
	}
	return &c, c.Finish()
}

func TestDefaultsNeedNoSetUp(t *testing.T) {
	c, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" {
		t.Errorf("addr %q public %q", c.Addr, c.PublicURL)
	}
	if !filepath.IsAbs(c.Data) || c.Database != filepath.Join(c.Data, "kakunin.db") || c.Keyset != filepath.Join(c.Data+"-keys", "master.json") {
		t.Errorf("paths: %+v", c)
	}
	if c.RetainAfterDecision != 0 || c.RetainUnreviewed != 7*24*time.Hour {
		t.Errorf("retention: %v %v", c.RetainAfterDecision, c.RetainUnreviewed)
	}
	if c.AuditKey != filepath.Join(c.Data+"-keys", "audit-signer.key") || c.KeysInsideData || len(c.Warnings) != 0 || c.ReadQuota != 60 || c.ReadQuotaWindow != time.Hour {
		t.Errorf("audit key %q, quota %d per %v", c.AuditKey, c.ReadQuota, c.ReadQuotaWindow)
	}
	if c.NoticeStaleAfter != 72*time.Hour {
		t.Errorf("notice stale after %v, want 72h", c.NoticeStaleAfter)
	}
	if c, err := parse(t, nil, map[string]string{"KAKUNIN_NOTICE_STALE_AFTER": "24h"}); err != nil || c.NoticeStaleAfter != 24*time.Hour {
		t.Errorf("KAKUNIN_NOTICE_STALE_AFTER=24h: %v (%v)", c, err)
	}
	if c.NotifyRate != 20 || c.NotifyConnections != 2 || c.NotifyMaxAttempts != 10 || c.NotifyContact != c.MailFrom {
		t.Errorf("notify: rate %v, connections %d, attempts %d, contact %q", c.NotifyRate, c.NotifyConnections, c.NotifyMaxAttempts, c.NotifyContact)
	}
	if c, err := parse(t, nil, map[string]string{"KAKUNIN_NOTIFY_RATE": "0.5"}); err != nil || c.NotifyRate != 0.5 {
		t.Errorf("KAKUNIN_NOTIFY_RATE=0.5: %v (%v)", c, err)
	}
	if c.CheckRateClient != 10 || c.CheckRateAddress != 3 || c.CheckNoAccountMail || c.CheckSpread != 15*time.Second {
		t.Errorf("check: client %d, address %d, no-account mail %v", c.CheckRateClient, c.CheckRateAddress, c.CheckNoAccountMail)
	}
	if c, err := parse(t, nil, map[string]string{"KAKUNIN_CHECK_NO_ACCOUNT_MAIL": "true"}); err != nil || !c.CheckNoAccountMail {
		t.Errorf("KAKUNIN_CHECK_NO_ACCOUNT_MAIL=true: %v (%v)", c, err)
	}
	// Alerts name staff: without their own URL they go nowhere, never to
	// the host platform's webhook.
	c, err = parse(t, []string{"--webhook-url", "https://host.example/hook", "--webhook-secret", "whsec_x"}, nil)
	if err != nil || c.AlertWebhookURL != "" {
		t.Errorf("alert webhook %q (%v)", c.AlertWebhookURL, err)
	}
}

func TestAFlagBeatsItsVariableAndAVariableBeatsTheDefault(t *testing.T) {
	c, err := parse(t, []string{"--addr", "127.0.0.1:9000"}, map[string]string{"KAKUNIN_ADDR": "127.0.0.1:7000", "KAKUNIN_DATA": "/tmp/kk"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.Data != "/tmp/kk" {
		t.Errorf("addr %q data %q", c.Addr, c.Data)
	}
}

func TestBadSettingsAreRefusedWithTheirNames(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--addr", "nope"}, nil, "--addr"},
		{[]string{"--webhook-url", "https://host.example/hook"}, nil, "--webhook-secret"},
		{[]string{"--max-upload-mb", "0"}, nil, "--max-upload-mb"},
		{nil, map[string]string{"KAKUNIN_UPLOAD_LINK_TTL": "soon"}, "KAKUNIN_UPLOAD_LINK_TTL"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--read-quota", "0"}, nil, "--read-quota"},
		{[]string{"--reauth-window", "10s"}, nil, "--reauth-window"},
		{[]string{"--smtp-url", "http://mail.example:25"}, nil, "--smtp-url"},
		{[]string{"--alert-webhook-url", "https://ops.example/hook"}, nil, "--alert-webhook-secret"},
		{[]string{"--alert-webhook-url", "ftp://ops.example/hook", "--alert-webhook-secret", "whsec_x"}, nil, "--alert-webhook-url"},
		{[]string{"--audit-checkpoint-every", "0"}, nil, "--audit-checkpoint-every"},
		{[]string{"--notice-stale-after", "5m"}, nil, "--notice-stale-after"},
		{[]string{"--notify-rate", "-1"}, nil, "--notify-rate"},
		{[]string{"--notify-connections", "0"}, nil, "--notify-connections"},
		{nil, map[string]string{"KAKUNIN_NOTIFY_RATE": "fast"}, "KAKUNIN_NOTIFY_RATE"},
		{[]string{"--check-rate-client", "0"}, nil, "--check-rate-client"},
		{[]string{"--check-spread", "-1s"}, nil, "--check-spread"},
		{nil, map[string]string{"KAKUNIN_CHECK_NO_ACCOUNT_MAIL": "maybe"}, "KAKUNIN_CHECK_NO_ACCOUNT_MAIL"},
	} {
		_, err := parse(t, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err = %v, want mention of %s", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestABadDurationSaysWhatAGoodOneLooksLike(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--upload-link-ttl", "5"}, nil, "use a unit: 24h, 90m"},
		{[]string{"--check-spread", "soon"}, nil, "use a number and a unit: 24h, 90m, 30s"},
		{nil, map[string]string{"KAKUNIN_RETENTION_INTERVAL": "60"}, `KAKUNIN_RETENTION_INTERVAL="60": use a unit: 24h, 90m`},
	} {
		_, err := parse(t, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err = %v, want %q", tc.args, tc.env, err, tc.want)
		}
	}
	if c, err := parse(t, []string{"--upload-link-ttl", "90m"}, nil); err != nil || c.UploadLinkTTL != 90*time.Minute {
		t.Errorf("--upload-link-ttl 90m: %v (%v)", c, err)
	}
}

func TestACommandTakesOnlyItsGroupsAndSeesDefaultsForTheRest(t *testing.T) {
	var c Config
	fs := FlagSet("staff add", &c, io.Discard, Storage, Keys)
	if err := fs.Parse([]string{"--data", "/tmp/kk"}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--smtp-url", "smtp://mail.example:25"}); err == nil {
		t.Error("a command without the mail group took --smtp-url")
	}
	// A variable of a group the command does not take is not read, even
	// when it would not parse.
	env := map[string]string{"KAKUNIN_UPLOAD_LINK_TTL": "soon", "KAKUNIN_KEY_DIR": "/tmp/kk-keys"}
	if err := ApplyEnv(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("ApplyEnv read a variable of another group: %v", err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if c.Data != "/tmp/kk" || c.KeyDir != "/tmp/kk-keys" || c.UploadLinkTTL != 24*time.Hour || c.MailFrom != "kakunin@localhost" || c.Addr != "127.0.0.1:8080" {
		t.Errorf("config: %+v", c)
	}
}

func TestEveryFlagBelongsToOneListedGroup(t *testing.T) {
	seen := map[string]Group{}
	for _, g := range All {
		if g.Title() == string(g) {
			t.Errorf("group %s has no title", g)
		}
		for _, name := range g.Flags() {
			if prev, dup := seen[name]; dup {
				t.Errorf("--%s is in %s and %s", name, prev, g)
			}
			seen[name] = g
		}
	}
	var c Config
	fs := FlagSet("serve", &c, io.Discard, All...)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if _, ok := seen[f.Name]; !ok {
			t.Errorf("--%s is in no group", f.Name)
		}
	})
	if n != len(seen) || n != len(options) {
		t.Errorf("serve takes %d flags, groups list %d, options %d", n, len(seen), len(options))
	}
}

// The flag names, variables and defaults are documented in the README and
// used by deployments: testdata/flags.txt pins them, taken from the
// release before the settings were split into groups.
func TestEveryFlagKeepsItsNameVariableAndDefault(t *testing.T) {
	var c Config
	fs := FlagSet("serve", &c, io.Discard, All...)
	var got []string
	fs.VisitAll(func(f *flag.Flag) {
		env := f.Usage[strings.LastIndex(f.Usage, "[$")+2 : len(f.Usage)-1]
		got = append(got, fmt.Sprintf("--%s %s default %q", f.Name, env, f.DefValue))
	})
	want, err := os.ReadFile("testdata/flags.txt")
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, "\n") + "\n"; g != string(want) {
		t.Errorf("flags changed:\n got:\n%s\nwant:\n%s", g, want)
	}
}

// Issue 17 #10: a backup of the data directory must not take the keys.
func TestKeysLiveBesideTheDataUnlessAnInstallHasThemInsideAndSaysSo(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	c, err := parse(t, []string{"--data", data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyDir != filepath.Join(root, "data-keys") || c.Keyset != filepath.Join(root, "data-keys", "master.json") ||
		c.AuditKey != filepath.Join(root, "data-keys", "audit-signer.key") || c.LegacyKeys || c.KeysInsideData || len(c.Warnings) != 0 {
		t.Fatalf("a new install: %+v", c)
	}

	// An install of an earlier version: its keys stay where they are, loudly.
	if err := os.MkdirAll(filepath.Join(data, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "keys", "master.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = parse(t, []string{"--data", data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyDir != filepath.Join(data, "keys") || !c.LegacyKeys || !c.KeysInsideData {
		t.Fatalf("an old install: %+v", c)
	}
	if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "inside the data directory") || !strings.Contains(w, "mv ") {
		t.Errorf("warnings: %s", w)
	}

	// Keys put inside --data on purpose are warned about too.
	c, err = parse(t, []string{"--data", data, "--keyset", filepath.Join(data, "k.json"), "--key-dir", filepath.Join(root, "elsewhere")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.LegacyKeys || !c.KeysInsideData || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "the keyset") {
		t.Errorf("keyset inside --data: %+v", c)
	}
	// A directory merely named like the data directory is not inside it.
	if inside(data, data+"-keys") || !inside(data, filepath.Join(data, "x", "y")) || !inside(data, data) {
		t.Error("inside() is wrong about prefixes")
	}
}

func TestTrustedProxiesTakeCIDRsAndAddresses(t *testing.T) {
	c := Config{Addr: "127.0.0.1:8080", TrustedProxiesList: " 10.0.0.0/8, 192.0.2.10 ,fd00::/8", ProxyHeader: "Forwarded"}
	if err := c.parseProxies(); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.TrustedProxies)
	if got != "[10.0.0.0/8 192.0.2.10/32 fd00::/8]" || c.ProxyHeader != "forwarded" {
		t.Fatalf("proxies %s, header %q", got, c.ProxyHeader)
	}
	for _, bad := range []Config{{TrustedProxiesList: "10.0.0.0/33", ProxyHeader: "forwarded"}, {TrustedProxiesList: "proxy.local", ProxyHeader: "forwarded"}, {ProxyHeader: "x-real-ip"}} {
		if err := bad.parseProxies(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
