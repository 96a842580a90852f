// Package config reads kakunin's settings from flags and KAKUNIN_*
// environment variables once, validates them, and hands a Config to the rest
// of the program. A flag beats its variable; both beat the default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is every setting of the service.
type Config struct {
	Addr      string // listen address
	PublicURL string // how members and staff reach the service (links in API answers)
	Data      string // data directory
	Database  string // database DSN; default SQLite in Data
	Blobs     string // blob store URL; default file:// in Data
	Keyset    string // KEK keyset file
	KeyDir    string // epoch and record keys

	WebhookURL    string
	WebhookSecret string

	UploadLinkTTL       time.Duration
	RetainAfterDecision time.Duration
	RetainUnreviewed    time.Duration
	RetentionInterval   time.Duration
	KeepBirthDate       bool
	MaxUploadMB         int
	MaxMegapixels       int

	// Audit log (issue 3): the checkpoint signing key lives with the other
	// keys, apart from the database, and checkpoints can be published to a
	// file and the alert webhook.
	AuditKey                string
	AuditCheckpointEvery    int
	AuditCheckpointInterval time.Duration
	AuditCheckpointFile     string

	// Staff: read quota, sessions.
	ReadQuota        int
	ReadQuotaWindow  time.Duration
	StaffIdleTimeout time.Duration
	ReauthWindow     time.Duration

	// Mail and alerts.
	SMTPURL            string
	MailFrom           string
	AlertWebhookURL    string
	AlertWebhookSecret string

	// Incident desk: an open incident without a public update for this
	// long raises an alert to responders.
	NoticeStaleAfter time.Duration

	// Mass notification of affected members (internal/massmail).
	NotifyRate        float64 // messages a second, per replica; 0: no throttle
	NotifyConnections int     // SMTP sessions sending at once
	NotifyMaxAttempts int     // a temporary failure gives up after this many attempts
	NotifyContact     string  // where the letter tells members to ask (default --mail-from)

	// The exposure check "am I affected?" (internal/exposure).
	CheckRateClient    int           // checks one client may send per hour
	CheckRateAddress   int           // answer mails one address may receive per 24 h
	CheckNoAccountMail bool          // mail "no account uses this address" (at most once a day per address)
	CheckSpread        time.Duration // answer jobs start at a random delay up to this long

	LogLevel  string
	LogFormat string
}

type option struct {
	name, env, usage string
	apply            func(fs *flag.FlagSet, c *Config)
}

// options lists every setting once: its flag, its variable, its default.
var options = []option{
	{"addr", "KAKUNIN_ADDR", "listen address", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "") }},
	{"public-url", "KAKUNIN_PUBLIC_URL", "base URL members and staff use (default http://ADDR)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.PublicURL, "public-url", "", "") }},
	{"data", "KAKUNIN_DATA", "data directory (database, blobs, keys by default)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Data, "data", "./data", "") }},
	{"database", "KAKUNIN_DATABASE", "database: a SQLite file path or a postgres:// URL (default DATA/kakunin.db)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Database, "database", "", "") }},
	{"blobs", "KAKUNIN_BLOBS", "blob store URL: file:///dir or s3://bucket (default file://DATA/blobs)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Blobs, "blobs", "", "") }},
	{"keyset", "KAKUNIN_KEYSET", "key-encryption keyset file, created 0600 on first start; keep it apart from backups of DATA (default DATA/keys/master.json)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Keyset, "keyset", "", "") }},
	{"key-dir", "KAKUNIN_KEY_DIR", "directory of epoch and record keys, sealed by the keyset (default DATA/keys)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.KeyDir, "key-dir", "", "") }},
	{"webhook-url", "KAKUNIN_WEBHOOK_URL", "where decisions are sent (Standard Webhooks); empty: none", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.WebhookURL, "webhook-url", "", "") }},
	{"webhook-secret", "KAKUNIN_WEBHOOK_SECRET", "webhook signing secret, whsec_…; required with --webhook-url", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.WebhookSecret, "webhook-secret", "", "") }},
	{"upload-link-ttl", "KAKUNIN_UPLOAD_LINK_TTL", "how long a member's upload link stays valid", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.UploadLinkTTL, "upload-link-ttl", 24*time.Hour, "")
	}},
	{"retain-after-decision", "KAKUNIN_RETAIN_AFTER_DECISION", "how long an image is kept after the decision (0: destroyed at once)", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.RetainAfterDecision, "retain-after-decision", 0, "")
	}},
	{"retain-unreviewed", "KAKUNIN_RETAIN_UNREVIEWED", "how long an image waits for review before it is destroyed unreviewed", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.RetainUnreviewed, "retain-unreviewed", 7*24*time.Hour, "")
	}},
	{"retention-interval", "KAKUNIN_RETENTION_INTERVAL", "how often the retention sweep runs", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.RetentionInterval, "retention-interval", time.Minute, "")
	}},
	{"keep-birth-date", "KAKUNIN_KEEP_BIRTH_DATE", "keep the date of birth in the verification record (default: only adult yes/no)", func(fs *flag.FlagSet, c *Config) { fs.BoolVar(&c.KeepBirthDate, "keep-birth-date", false, "") }},
	{"max-upload-mb", "KAKUNIN_MAX_UPLOAD_MB", "largest upload accepted, in MiB", func(fs *flag.FlagSet, c *Config) { fs.IntVar(&c.MaxUploadMB, "max-upload-mb", 20, "") }},
	{"max-megapixels", "KAKUNIN_MAX_MEGAPIXELS", "largest image accepted, in megapixels (checked before decoding)", func(fs *flag.FlagSet, c *Config) { fs.IntVar(&c.MaxMegapixels, "max-megapixels", 50, "") }},
	{"audit-key", "KAKUNIN_AUDIT_KEY", "ed25519 key that signs audit checkpoints, created 0600 on first start (default KEY_DIR/audit-signer.key)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.AuditKey, "audit-key", "", "") }},
	{"audit-checkpoint-every", "KAKUNIN_AUDIT_CHECKPOINT_EVERY", "sign an audit checkpoint after this many events", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.AuditCheckpointEvery, "audit-checkpoint-every", 1000, "")
	}},
	{"audit-checkpoint-interval", "KAKUNIN_AUDIT_CHECKPOINT_INTERVAL", "sign an audit checkpoint at least this often when there are new events", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.AuditCheckpointInterval, "audit-checkpoint-interval", time.Minute, "")
	}},
	{"audit-checkpoint-file", "KAKUNIN_AUDIT_CHECKPOINT_FILE", "also append every signed checkpoint to this file (keep it off the database host); empty: none", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.AuditCheckpointFile, "audit-checkpoint-file", "", "")
	}},
	{"read-quota", "KAKUNIN_READ_QUOTA", "document images one reviewer may open per --read-quota-window before the account locks", func(fs *flag.FlagSet, c *Config) { fs.IntVar(&c.ReadQuota, "read-quota", 60, "") }},
	{"read-quota-window", "KAKUNIN_READ_QUOTA_WINDOW", "the rolling window of --read-quota", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.ReadQuotaWindow, "read-quota-window", time.Hour, "")
	}},
	{"staff-idle-timeout", "KAKUNIN_STAFF_IDLE_TIMEOUT", "a staff session unused this long ends", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.StaffIdleTimeout, "staff-idle-timeout", 15*time.Minute, "")
	}},
	{"reauth-window", "KAKUNIN_REAUTH_WINDOW", "sensitive console actions need the second factor again after this long", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.ReauthWindow, "reauth-window", 5*time.Minute, "")
	}},
	{"smtp-url", "KAKUNIN_SMTP_URL", "mail server: smtp://[user:pass@]host:port (STARTTLS when offered; ?tls=required|implicit|none); empty: no mail", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.SMTPURL, "smtp-url", "", "") }},
	{"mail-from", "KAKUNIN_MAIL_FROM", "sender address of kakunin's mail", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.MailFrom, "mail-from", "kakunin@localhost", "") }},
	{"alert-webhook-url", "KAKUNIN_ALERT_WEBHOOK_URL", "where the operator's alerts (locked accounts, audit checkpoints) are posted, signed like --webhook-url; empty: none", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.AlertWebhookURL, "alert-webhook-url", "", "")
	}},
	{"alert-webhook-secret", "KAKUNIN_ALERT_WEBHOOK_SECRET", "signing secret of --alert-webhook-url (default --webhook-secret)", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.AlertWebhookSecret, "alert-webhook-secret", "", "")
	}},
	{"notice-stale-after", "KAKUNIN_NOTICE_STALE_AFTER", "an open incident with no public notice update for this long raises an alert to responders", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.NoticeStaleAfter, "notice-stale-after", 72*time.Hour, "")
	}},
	{"notify-rate", "KAKUNIN_NOTIFY_RATE", "mass notification: messages a second each replica sends to affected members (0: no throttle)", func(fs *flag.FlagSet, c *Config) {
		fs.Float64Var(&c.NotifyRate, "notify-rate", 20, "")
	}},
	{"notify-connections", "KAKUNIN_NOTIFY_CONNECTIONS", "mass notification: SMTP sessions sending at once", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.NotifyConnections, "notify-connections", 2, "")
	}},
	{"notify-max-attempts", "KAKUNIN_NOTIFY_MAX_ATTEMPTS", "mass notification: attempts before a temporarily refused message counts as failed (retries back off from 1m, doubling, up to 6h)", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.NotifyMaxAttempts, "notify-max-attempts", 10, "")
	}},
	{"notify-contact", "KAKUNIN_NOTIFY_CONTACT", "mass notification: where the letter tells members to ask questions, an address or a URL (default --mail-from)", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.NotifyContact, "notify-contact", "", "")
	}},
	{"check-rate-client", "KAKUNIN_CHECK_RATE_CLIENT", "exposure check: checks one client (IP address) may send per hour; more get a calm 429", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.CheckRateClient, "check-rate-client", 10, "")
	}},
	{"check-rate-address", "KAKUNIN_CHECK_RATE_ADDRESS", "exposure check: answer mails one address may receive per 24 hours; more are silently not sent", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.CheckRateAddress, "check-rate-address", 3, "")
	}},
	{"check-no-account-mail", "KAKUNIN_CHECK_NO_ACCOUNT_MAIL", "exposure check: mail an address no account uses that none does (at most once a day per address; default: send nothing)", func(fs *flag.FlagSet, c *Config) {
		fs.BoolVar(&c.CheckNoAccountMail, "check-no-account-mail", false, "")
	}},
	{"check-spread", "KAKUNIN_CHECK_SPREAD", "exposure check: each answer job starts at a random delay up to this long, so a member's extra work cannot be timed from the form (0: at once)", func(fs *flag.FlagSet, c *Config) {
		fs.DurationVar(&c.CheckSpread, "check-spread", 15*time.Second, "")
	}},
	{"log-level", "KAKUNIN_LOG_LEVEL", "debug, info, warn or error", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.LogLevel, "log-level", "info", "") }},
	{"log-format", "KAKUNIN_LOG_FORMAT", "json or text", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.LogFormat, "log-format", "json", "") }},
}

// FlagSet returns a flag set for command name carrying every setting, bound
// to c, with usage text that names each variable and default.
func FlagSet(name string, c *Config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	for _, o := range options {
		o.apply(fs, c)
		f := fs.Lookup(o.name)
		f.Usage = o.usage + " [$" + o.env + "]"
	}
	return fs
}

// ApplyEnv sets, from the environment, every setting whose flag was not
// given on the command line. Call it after fs.Parse.
func ApplyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, o := range options {
		if given[o.name] {
			continue
		}
		if v := getenv(o.env); v != "" {
			if err := fs.Set(o.name, v); err != nil {
				return fmt.Errorf("%s: %w", o.env, err)
			}
		}
	}
	return nil
}

// Finish fills derived defaults and validates the whole config.
func (c *Config) Finish() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: want host:port", c.Addr))
	}
	if c.Data == "" {
		errs = append(errs, errors.New("--data must not be empty"))
	}
	data, err := filepath.Abs(c.Data)
	if err == nil {
		c.Data = data
	}
	if c.Database == "" {
		c.Database = filepath.Join(c.Data, "kakunin.db")
	}
	if c.Blobs == "" {
		c.Blobs = "file://" + filepath.ToSlash(filepath.Join(c.Data, "blobs"))
	}
	if c.KeyDir == "" {
		c.KeyDir = filepath.Join(c.Data, "keys")
	}
	if c.Keyset == "" {
		c.Keyset = filepath.Join(c.KeyDir, "master.json")
	}
	if c.AuditKey == "" {
		c.AuditKey = filepath.Join(c.KeyDir, "audit-signer.key")
	}
	if c.AuditCheckpointEvery < 1 || c.AuditCheckpointInterval < time.Second {
		errs = append(errs, errors.New("--audit-checkpoint-every must be >= 1 and --audit-checkpoint-interval >= 1s"))
	}
	if c.ReadQuota < 1 || c.ReadQuotaWindow < time.Minute {
		errs = append(errs, errors.New("--read-quota must be >= 1 and --read-quota-window >= 1m"))
	}
	if c.StaffIdleTimeout < time.Minute || c.ReauthWindow < time.Minute {
		errs = append(errs, errors.New("--staff-idle-timeout and --reauth-window: at least 1m"))
	}
	if c.SMTPURL != "" {
		if u, err := url.Parse(c.SMTPURL); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
			errs = append(errs, errors.New("--smtp-url: want smtp://host:port or smtps://host:port"))
		}
	}
	// Alerts name staff and go to the operator, not the host platform: no
	// fallback to --webhook-url.
	if c.AlertWebhookURL != "" {
		if c.AlertWebhookSecret == "" {
			c.AlertWebhookSecret = c.WebhookSecret
		}
		if u, err := url.Parse(c.AlertWebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, errors.New("--alert-webhook-url: want an http(s) URL"))
		}
		if !strings.HasPrefix(c.AlertWebhookSecret, "whsec_") {
			errs = append(errs, errors.New("--alert-webhook-secret: a whsec_… secret is required with --alert-webhook-url"))
		}
	}
	if c.NotifyRate < 0 || c.NotifyRate > 10000 || c.NotifyConnections < 1 || c.NotifyConnections > 64 || c.NotifyMaxAttempts < 1 {
		errs = append(errs, errors.New("--notify-rate: 0 (no throttle) to 10000; --notify-connections: 1 to 64; --notify-max-attempts: at least 1"))
	}
	if c.NotifyContact == "" {
		c.NotifyContact = c.MailFrom
	}
	if c.CheckRateClient < 1 || c.CheckRateAddress < 1 {
		errs = append(errs, errors.New("--check-rate-client and --check-rate-address: at least 1"))
	}
	if c.CheckSpread < 0 || c.CheckSpread > time.Hour {
		errs = append(errs, errors.New("--check-spread: 0 to 1h"))
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--public-url %q: want an http(s) URL", c.PublicURL))
	}
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("--webhook-url %q: want an http(s) URL", c.WebhookURL))
		}
		if !strings.HasPrefix(c.WebhookSecret, "whsec_") {
			errs = append(errs, errors.New("--webhook-secret: a whsec_… secret is required with --webhook-url (kakunin webhook-secret makes one)"))
		}
	}
	if c.UploadLinkTTL < time.Minute {
		errs = append(errs, errors.New("--upload-link-ttl: at least 1m"))
	}
	if c.NoticeStaleAfter < time.Hour {
		errs = append(errs, errors.New("--notice-stale-after: at least 1h"))
	}
	if c.RetainAfterDecision < 0 || c.RetainUnreviewed <= 0 {
		errs = append(errs, errors.New("--retain-after-decision must be >= 0 and --retain-unreviewed > 0"))
	}
	if c.RetentionInterval < time.Second {
		errs = append(errs, errors.New("--retention-interval: at least 1s"))
	}
	if c.MaxUploadMB < 1 || c.MaxUploadMB > 100 {
		errs = append(errs, errors.New("--max-upload-mb: between 1 and 100"))
	}
	if c.MaxMegapixels < 1 || c.MaxMegapixels > 200 {
		errs = append(errs, errors.New("--max-megapixels: between 1 and 200"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: one of debug, info, warn, error", c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("--log-format %q: json or text", c.LogFormat))
	}
	return errors.Join(errs...)
}

// Parse is FlagSet + Parse + ApplyEnv + Finish for commands that take no
// other flags. It returns the remaining arguments.
func Parse(name string, args []string, out io.Writer) (*Config, []string, error) {
	var c Config
	fs := FlagSet(name, &c, out)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if err := ApplyEnv(fs, os.Getenv); err != nil {
		return nil, nil, err
	}
	if err := c.Finish(); err != nil {
		return nil, nil, err
	}
	return &c, fs.Args(), nil
}
