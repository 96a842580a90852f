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
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin/internal/brand"
)

// Config is every setting of the service.
type Config struct {
	Addr string // listen address
	// MaxConnections caps the open client connections (0: no cap).
	MaxConnections int
	PublicURL      string // how members and staff reach the service (links in API answers)

	// Behind a reverse proxy: the proxies whose header names the client
	// (for limits and the audit origin); TrustedProxies is filled from
	// TrustedProxiesList by Finish.
	TrustedProxiesList string
	TrustedProxies     []netip.Prefix
	ProxyHeader        string // x-forwarded-for or forwarded

	Data     string // data directory
	Database string // database DSN; default SQLite in Data
	Blobs    string // blob store URL; default file:// in Data

	// Running as one of several replicas (issue 14): how long start-up
	// waits for the database, how long a stop lets requests finish, and
	// where Prometheus metrics are served ("": nowhere).
	DatabaseWait    time.Duration
	ShutdownTimeout time.Duration
	MetricsAddr     string

	Keyset string // KEK keyset file
	KeyDir string // epoch and record keys

	WebhookURL    string
	WebhookSecret string
	// EventRetention is how long GET /api/v1/events lists an event.
	EventRetention time.Duration

	UploadLinkTTL       time.Duration
	UploadAbandonAfter  time.Duration
	RetainAfterDecision time.Duration
	RetainUnreviewed    time.Duration
	ErasureDeadline     time.Duration
	RetentionInterval   time.Duration
	KeepBirthDate       bool
	MaxUploadMB         int
	MaxMegapixels       int
	MemoryBudgetMB      int // uploads' buffers and image decodes held at once (internal/intake.Budget)
	VerifyWorkers       int // full decodes of uploads that run at once (document_verify jobs)

	// Audit log (issue 3): the checkpoint signing key lives with the other
	// keys, apart from the database, and checkpoints can be published to a
	// file and the alert webhook.
	AuditKey                string
	AuditCheckpointEvery    int
	AuditCheckpointInterval time.Duration
	AuditCheckpointFile     string
	AuditVerifierKey        string // the pinned verifier key, or a file of them, kept outside the data

	// Staff: read quota, sessions.
	ReadQuota        int
	ReadQuotaWindow  time.Duration
	StaffIdleTimeout time.Duration
	ReauthWindow     time.Duration

	// Brand: who runs the service, as members see it (internal/brand).
	Brand brand.Brand

	// Mail and alerts.
	SMTPURL            string
	MailFrom           string
	AlertWebhookURL    string
	AlertWebhookSecret string

	// Incident desk: an open incident without a public update for this
	// long raises an alert to responders.
	NoticeStaleAfter time.Duration

	// Mass notification of affected members (internal/massmail).
	NotifyRate        float64 // messages a second, all replicas together (a row in the database); 0: no throttle
	NotifyConnections int     // SMTP sessions sending at once
	NotifyMaxAttempts int     // a temporary failure gives up after this many attempts
	NotifyContact     string  // where the letter tells members to ask (default --mail-from)
	InquirySLA        string  // the inquiry desk's SLA file ("": the defaults)

	// The exposure check "am I affected?" (internal/exposure).
	CheckRateClient    int           // checks one client may send per hour
	CheckRateAddress   int           // answer mails one address may receive per 24 h
	CheckNoAccountMail bool          // mail "no account uses this address" (at most once a day per address)
	CheckSpread        time.Duration // answer jobs start at a random delay up to this long

	// The My Number card check through the Digital Agency's app (OpenID
	// Connect; internal/jpki). Off unless JPKIIssuer is set. The client
	// secret never comes from a flag value (ps would show it): from the
	// file JPKIClientSecretFile, or KAKUNIN_JPKI_CLIENT_SECRET.
	JPKIIssuer           string
	JPKIClientID         string
	JPKIClientSecretFile string
	JPKIClientSecret     string // filled by Finish

	LogLevel  string
	LogFormat string

	// Set by Finish. LegacyKeys: the keys were found in DATA/keys, where
	// kakunin put them before issue 17, and are used from there.
	// KeysInsideData: the keyset, key directory or audit key is inside
	// --data, so a backup of the data directory holds the keys that open
	// it. Warnings says so for the operator, one sentence each.
	LegacyKeys     bool
	KeysInsideData bool
	Warnings       []string
}

// A Group is a set of settings that belong together. Each command registers
// only the groups it reads, so its --help lists what it takes and nothing
// else, and a variable of a group it does not take is not even looked at.
type Group string

// The groups, in the order --help lists them.
const (
	Server    Group = "server"    // where the service listens and how it is reached
	Storage   Group = "storage"   // database and blob store
	Keys      Group = "keys"      // key-encryption keyset, epoch keys, audit signing key
	Webhook   Group = "webhook"   // decisions sent to the host platform
	Uploads   Group = "uploads"   // upload links and the limits on images
	Retention Group = "retention" // what is kept, and for how long
	Staff     Group = "staff"     // read quota and sessions
	Audit     Group = "audit"     // audit checkpoints
	Mail      Group = "mail"      // SMTP and the operator's alerts
	Incident  Group = "incident"  // incident desk and mass notification
	Check     Group = "check"     // the exposure check "am I affected?"
	Log       Group = "log"       // the service's logs
)

// All is every group: what kakunin serve takes.
var All = []Group{Server, Storage, Keys, Webhook, Uploads, Retention, Staff, Audit, Mail, Incident, Check, Log}

// Title is the group's heading in --help.
func (g Group) Title() string {
	switch g {
	case Server:
		return "Server"
	case Storage:
		return "Database and blob store"
	case Keys:
		return "Keys"
	case Webhook:
		return "Webhook to the host platform"
	case Uploads:
		return "Uploads"
	case Retention:
		return "Retention"
	case Staff:
		return "Staff sessions and read quota"
	case Audit:
		return "Audit checkpoints"
	case Mail:
		return "Mail and alerts"
	case Incident:
		return "Incident desk and mass notification"
	case Check:
		return "Exposure check (/check)"
	case Log:
		return "Logs"
	}
	return string(g)
}

// Flags names the group's flags, in --help order.
func (g Group) Flags() []string {
	var names []string
	for _, o := range options {
		if o.group == g {
			names = append(names, o.name)
		}
	}
	return names
}

type option struct {
	group            Group
	name, env, usage string
	apply            func(fs *flag.FlagSet, c *Config)
}

// options lists every setting once: its group, its flag, its variable, its
// default.
var options = []option{
	{Server, "addr", "KAKUNIN_ADDR", "listen address", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "") }},
	{Server, "max-connections", "KAKUNIN_MAX_CONNECTIONS", "open client connections at most; more wait to be accepted (0: no cap)", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.MaxConnections, "max-connections", 256, "")
	}},
	{Server, "public-url", "KAKUNIN_PUBLIC_URL", "base URL members and staff use (default http://ADDR)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.PublicURL, "public-url", "", "") }},
	{Server, "trusted-proxies", "KAKUNIN_TRUSTED_PROXIES", "comma-separated CIDRs or addresses of the reverse proxies in front; only their --proxy-header is believed for the client address (limits, audit origin); empty: headers ignored", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.TrustedProxiesList, "trusted-proxies", "", "")
	}},
	{Server, "proxy-header", "KAKUNIN_PROXY_HEADER", "header the trusted proxies name the client in: x-forwarded-for or forwarded (RFC 7239)", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.ProxyHeader, "proxy-header", "x-forwarded-for", "")
	}},

	{Server, "operator-name", "KAKUNIN_OPERATOR_NAME", "who runs the service, shown on every page, in the notice feed and in every mail (e.g. 株式会社サンプル); empty: only the service's name", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.Brand.Operator, "operator-name", "", "")
	}},
	{Server, "service-name", "KAKUNIN_SERVICE_NAME", "the service members know (e.g. SampleMatch), shown with --operator-name", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.Brand.Service, "service-name", "kakunin", "")
	}},
	{Server, "service-url", "KAKUNIN_SERVICE_URL", "the service's home page, linked from every page and mail; empty: no link", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.Brand.ServiceURL, "service-url", "", "")
	}},
	{Server, "contact-url", "KAKUNIN_CONTACT_URL", "where members reach the operator (https:// or mailto:), linked from every page and mail; empty: no link", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.Brand.ContactURL, "contact-url", "", "")
	}},
	{Server, "privacy-policy-url", "KAKUNIN_PRIVACY_POLICY_URL", "the operator's privacy policy, linked from every page and mail; empty: no link", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.Brand.PrivacyURL, "privacy-policy-url", "", "")
	}},
	{Server, "shutdown-timeout", "KAKUNIN_SHUTDOWN_TIMEOUT", "on SIGTERM, how long requests in flight (uploads) may take to finish before they are cut off; the exit is clean either way", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.ShutdownTimeout, "shutdown-timeout", 30*time.Second)
	}},
	{Server, "metrics-addr", "KAKUNIN_METRICS_ADDR", "listen address of /metrics (Prometheus), apart from --addr; keep it private; empty: no metrics", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "")
	}},

	{Storage, "data", "KAKUNIN_DATA", "data directory (database and blobs by default; the keys go beside it, in DATA-keys)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Data, "data", "./data", "") }},
	{Storage, "database", "KAKUNIN_DATABASE", "database: a SQLite file path or a postgres:// URL (default DATA/kakunin.db)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Database, "database", "", "") }},
	{Storage, "blobs", "KAKUNIN_BLOBS", "blob store URL: file:///dir or s3://bucket (default file://DATA/blobs)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Blobs, "blobs", "", "") }},

	{Storage, "database-wait", "KAKUNIN_DATABASE_WAIT", "at start, how long to keep retrying (with back-off) a PostgreSQL server that cannot be reached yet", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.DatabaseWait, "database-wait", time.Minute)
	}},
	{Keys, "keyset", "KAKUNIN_KEYSET", "key-encryption keyset file, created 0600 on first start; keep it apart from backups of DATA (default KEY_DIR/master.json)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.Keyset, "keyset", "", "") }},
	{Keys, "key-dir", "KAKUNIN_KEY_DIR", "directory of epoch and record keys, sealed by the keyset, and the audit signing key; outside DATA, so a backup of DATA holds no key (default DATA-keys, beside DATA; an install whose keys are in DATA/keys keeps them there, with a warning)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.KeyDir, "key-dir", "", "") }},
	{Keys, "audit-key", "KAKUNIN_AUDIT_KEY", "ed25519 key that signs audit checkpoints, created 0600 on first start (default KEY_DIR/audit-signer.key)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.AuditKey, "audit-key", "", "") }},

	{Webhook, "webhook-url", "KAKUNIN_WEBHOOK_URL", "where decisions are sent (Standard Webhooks); empty: none", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.WebhookURL, "webhook-url", "", "") }},
	{Webhook, "event-retention", "KAKUNIN_EVENT_RETENTION", "how long every event sent or tried stays listed in GET /api/v1/events", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.EventRetention, "event-retention", 30*24*time.Hour)
	}},
	{Webhook, "webhook-secret", "KAKUNIN_WEBHOOK_SECRET", "webhook signing secret, whsec_…; required with --webhook-url", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.WebhookSecret, "webhook-secret", "", "") }},

	{Uploads, "upload-link-ttl", "KAKUNIN_UPLOAD_LINK_TTL", "how long a member's upload link stays valid", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.UploadLinkTTL, "upload-link-ttl", 24*time.Hour)
	}},
	{Uploads, "upload-abandon-after", "KAKUNIN_UPLOAD_ABANDON_AFTER", "an upload not committed this long after it began is treated as left by a crash: the sweep deletes its ciphertext and temp files (keep it above the longest upload; the server reads a request for up to 10m)", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.UploadAbandonAfter, "upload-abandon-after", time.Hour)
	}},
	{Uploads, "max-upload-mb", "KAKUNIN_MAX_UPLOAD_MB", "largest upload accepted, in MiB", func(fs *flag.FlagSet, c *Config) { fs.IntVar(&c.MaxUploadMB, "max-upload-mb", 20, "") }},
	{Uploads, "memory-budget-mb", "KAKUNIN_MEMORY_BUDGET_MB", "memory that uploads in flight and image decodes may hold at once, in MiB; past it uploads wait, then get 503 (also sets GOMEMLIMIT)", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.MemoryBudgetMB, "memory-budget-mb", 128, "")
	}},
	{Uploads, "verify-workers", "KAKUNIN_VERIFY_WORKERS", "uploads fully decoded at once after they are received (an undecodable one is rejected as unreadable)", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.VerifyWorkers, "verify-workers", 2, "")
	}},
	{Uploads, "max-megapixels", "KAKUNIN_MAX_MEGAPIXELS", "largest image accepted, in megapixels (checked before decoding)", func(fs *flag.FlagSet, c *Config) { fs.IntVar(&c.MaxMegapixels, "max-megapixels", 50, "") }},

	{Uploads, "jpki-issuer", "KAKUNIN_JPKI_ISSUER", "the Digital Agency's OpenID provider for the My Number card check (discovery at URL/.well-known/openid-configuration); empty: the check is not offered", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.JPKIIssuer, "jpki-issuer", "", "")
	}},
	{Uploads, "jpki-client-id", "KAKUNIN_JPKI_CLIENT_ID", "the client_id the Digital Agency issued; required with --jpki-issuer", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.JPKIClientID, "jpki-client-id", "", "")
	}},
	{Uploads, "jpki-client-secret-file", "KAKUNIN_JPKI_CLIENT_SECRET_FILE", "file holding the client secret (or set KAKUNIN_JPKI_CLIENT_SECRET; never a flag value)", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.JPKIClientSecretFile, "jpki-client-secret-file", "", "")
	}},
	{Retention, "retain-after-decision", "KAKUNIN_RETAIN_AFTER_DECISION", "how long an image is kept after the decision (0: destroyed at once)", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.RetainAfterDecision, "retain-after-decision", 0)
	}},
	{Retention, "retain-unreviewed", "KAKUNIN_RETAIN_UNREVIEWED", "how long an image waits for review before it is destroyed unreviewed", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.RetainUnreviewed, "retain-unreviewed", 7*24*time.Hour)
	}},
	{Retention, "erasure-deadline", "KAKUNIN_ERASURE_DEADLINE", "how long a member's erasure request may stay open before it is overdue and alerted", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.ErasureDeadline, "erasure-deadline", 14*24*time.Hour)
	}},
	{Retention, "retention-interval", "KAKUNIN_RETENTION_INTERVAL", "how often the retention sweep runs", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.RetentionInterval, "retention-interval", time.Minute)
	}},
	{Retention, "keep-birth-date", "KAKUNIN_KEEP_BIRTH_DATE", "keep the date of birth in the verification record (default: only adult yes/no)", func(fs *flag.FlagSet, c *Config) { fs.BoolVar(&c.KeepBirthDate, "keep-birth-date", false, "") }},

	{Staff, "read-quota", "KAKUNIN_READ_QUOTA", "document images one reviewer may open per --read-quota-window before the account locks", func(fs *flag.FlagSet, c *Config) { fs.IntVar(&c.ReadQuota, "read-quota", 60, "") }},
	{Staff, "read-quota-window", "KAKUNIN_READ_QUOTA_WINDOW", "the rolling window of --read-quota", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.ReadQuotaWindow, "read-quota-window", time.Hour)
	}},
	{Staff, "staff-idle-timeout", "KAKUNIN_STAFF_IDLE_TIMEOUT", "a staff session unused this long ends", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.StaffIdleTimeout, "staff-idle-timeout", 15*time.Minute)
	}},
	{Staff, "reauth-window", "KAKUNIN_REAUTH_WINDOW", "sensitive console actions need the second factor again after this long", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.ReauthWindow, "reauth-window", 5*time.Minute)
	}},

	{Audit, "audit-checkpoint-every", "KAKUNIN_AUDIT_CHECKPOINT_EVERY", "sign an audit checkpoint after this many events", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.AuditCheckpointEvery, "audit-checkpoint-every", 1000, "")
	}},
	{Audit, "audit-checkpoint-interval", "KAKUNIN_AUDIT_CHECKPOINT_INTERVAL", "sign an audit checkpoint at least this often when there are new events", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.AuditCheckpointInterval, "audit-checkpoint-interval", time.Minute)
	}},
	{Audit, "audit-checkpoint-file", "KAKUNIN_AUDIT_CHECKPOINT_FILE", "also append every signed checkpoint to this file (keep it off the database host); empty: none", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.AuditCheckpointFile, "audit-checkpoint-file", "", "")
	}},

	{Audit, "audit-verifier-key", "KAKUNIN_AUDIT_VERIFIER_KEY", "the checkpoint verifier key printed when the signing key was made, or a file of such keys, kept outside the data: serve refuses a signing key it does not match, audit verify checks against it (default: none, and audit verify warns that the .pub beside the key proves nothing against someone who replaced both)", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.AuditVerifierKey, "audit-verifier-key", "", "")
	}},

	{Mail, "smtp-url", "KAKUNIN_SMTP_URL", "mail server: smtp://[user:pass@]host:port (STARTTLS when offered; ?tls=required|implicit|none); empty: no mail", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.SMTPURL, "smtp-url", "", "") }},
	{Mail, "mail-from", "KAKUNIN_MAIL_FROM", "sender address of kakunin's mail", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.MailFrom, "mail-from", "kakunin@localhost", "") }},
	{Mail, "alert-webhook-url", "KAKUNIN_ALERT_WEBHOOK_URL", "where the operator's alerts (locked accounts, audit checkpoints) are posted, signed like --webhook-url; empty: none", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.AlertWebhookURL, "alert-webhook-url", "", "")
	}},
	{Mail, "alert-webhook-secret", "KAKUNIN_ALERT_WEBHOOK_SECRET", "signing secret of --alert-webhook-url (default --webhook-secret)", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.AlertWebhookSecret, "alert-webhook-secret", "", "")
	}},

	{Incident, "notice-stale-after", "KAKUNIN_NOTICE_STALE_AFTER", "an open incident with no public notice update for this long raises an alert to responders", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.NoticeStaleAfter, "notice-stale-after", 72*time.Hour)
	}},
	{Incident, "notify-rate", "KAKUNIN_NOTIFY_RATE", "mass notification: messages a second sent to affected members, all replicas together (0: no throttle)", func(fs *flag.FlagSet, c *Config) {
		fs.Float64Var(&c.NotifyRate, "notify-rate", 20, "")
	}},
	{Incident, "notify-connections", "KAKUNIN_NOTIFY_CONNECTIONS", "mass notification: SMTP sessions sending at once", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.NotifyConnections, "notify-connections", 2, "")
	}},
	{Incident, "notify-max-attempts", "KAKUNIN_NOTIFY_MAX_ATTEMPTS", "mass notification: attempts before a temporarily refused message counts as failed (retries back off from 1m, doubling, up to 6h)", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.NotifyMaxAttempts, "notify-max-attempts", 10, "")
	}},
	{Incident, "notify-contact", "KAKUNIN_NOTIFY_CONTACT", "mass notification: where the letter tells members to ask questions, an address or a URL (default --mail-from)", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.NotifyContact, "notify-contact", "", "")
	}},

	{Check, "inquiry-sla", "KAKUNIN_INQUIRY_SLA", "inquiry desk: a JSON file of service-level targets per category, business hours and closure days (empty: the built-in defaults)", func(fs *flag.FlagSet, c *Config) {
		fs.StringVar(&c.InquirySLA, "inquiry-sla", "", "")
	}},
	{Check, "check-rate-client", "KAKUNIN_CHECK_RATE_CLIENT", "exposure check: checks one client (IP address) may send per hour; more get a calm 429", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.CheckRateClient, "check-rate-client", 10, "")
	}},
	{Check, "check-rate-address", "KAKUNIN_CHECK_RATE_ADDRESS", "exposure check: answer mails one address may receive per 24 hours; more are silently not sent", func(fs *flag.FlagSet, c *Config) {
		fs.IntVar(&c.CheckRateAddress, "check-rate-address", 3, "")
	}},
	{Check, "check-no-account-mail", "KAKUNIN_CHECK_NO_ACCOUNT_MAIL", "exposure check: mail an address no account uses that none does (at most once a day per address; default: send nothing)", func(fs *flag.FlagSet, c *Config) {
		fs.BoolVar(&c.CheckNoAccountMail, "check-no-account-mail", false, "")
	}},
	{Check, "check-spread", "KAKUNIN_CHECK_SPREAD", "exposure check: each answer job starts at a random delay up to this long, so a member's extra work cannot be timed from the form (0: at once)", func(fs *flag.FlagSet, c *Config) {
		durationVar(fs, &c.CheckSpread, "check-spread", 15*time.Second)
	}},

	{Log, "log-level", "KAKUNIN_LOG_LEVEL", "debug, info, warn or error", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.LogLevel, "log-level", "info", "") }},
	{Log, "log-format", "KAKUNIN_LOG_FORMAT", "json or text (default text on a terminal, json otherwise)", func(fs *flag.FlagSet, c *Config) { fs.StringVar(&c.LogFormat, "log-format", "json", "") }},
}

// FlagSet returns a flag set for command name carrying the settings of the
// given groups, bound to c, with usage text that names each variable and
// default. Settings of other groups are set to their defaults in c, so the
// rest of the program sees a whole Config whichever command runs.
func FlagSet(name string, c *Config, out io.Writer, groups ...Group) *flag.FlagSet {
	defaults := flag.NewFlagSet("defaults", flag.ContinueOnError)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	for _, o := range options {
		if !slices.Contains(groups, o.group) {
			o.apply(defaults, c)
			continue
		}
		o.apply(fs, c)
		f := fs.Lookup(o.name)
		f.Usage = o.usage + " [$" + o.env + "]"
	}
	return fs
}

// ApplyEnv sets, from the environment, every setting of fs whose flag was
// not given on the command line. Call it after fs.Parse. Afterwards
// fs.Visit visits the settings given either way.
func ApplyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, o := range options {
		if given[o.name] || fs.Lookup(o.name) == nil {
			continue
		}
		if v := getenv(o.env); v != "" {
			if err := fs.Set(o.name, v); err != nil {
				return fmt.Errorf("%s=%q: %w", o.env, v, err)
			}
		}
	}
	return nil
}

// durationValue is a time.Duration flag whose error says what a good value
// looks like: "5" (no unit) is the mistake people make.
type durationValue time.Duration

func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration) {
	*p = value
	fs.Var((*durationValue)(p), name, "")
}

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return errors.New("use a unit: 24h, 90m")
		}
		return errors.New("not a duration; use a number and a unit: 24h, 90m, 30s")
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string { return (*time.Duration)(d).String() }

// Get makes durationValue a flag.Getter, like the standard duration flag.
func (d *durationValue) Get() any { return time.Duration(*d) }

// LegacyKeyDir is where kakunin kept its keys before issue 17: inside the
// data directory, where a backup of it took them too.
func LegacyKeyDir(data string) string { return filepath.Join(data, "keys") }

// DefaultKeyDir is where the keys go by default: a directory beside the
// data directory (./data-keys for ./data), which a backup of the data
// directory does not reach, and still needs no set-up.
func DefaultKeyDir(data string) string { return filepath.Clean(data) + "-keys" }

// finishKeys places the keys. An install that already has its keyset in
// DATA/keys keeps using it (moving keys silently could lose them), and is
// told loudly to move them.
func (c *Config) finishKeys() {
	if c.KeyDir == "" {
		c.KeyDir = DefaultKeyDir(c.Data)
		legacy := LegacyKeyDir(c.Data)
		if _, err := os.Stat(filepath.Join(legacy, "master.json")); err == nil && c.Keyset == "" {
			c.KeyDir, c.LegacyKeys = legacy, true
		}
	}
	if c.Keyset == "" {
		c.Keyset = filepath.Join(c.KeyDir, "master.json")
	}
	if c.AuditKey == "" {
		c.AuditKey = filepath.Join(c.KeyDir, "audit-signer.key")
	}
	for _, k := range []struct{ what, path string }{{"the keyset", c.Keyset}, {"the key directory", c.KeyDir}, {"the audit signing key", c.AuditKey}} {
		if inside(c.Data, k.path) {
			c.KeysInsideData = true
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s %s is inside the data directory %s: a backup or copy of the data directory holds the keys that open it",
				k.what, k.path, c.Data))
		}
	}
	if c.LegacyKeys {
		c.Warnings = append(c.Warnings, fmt.Sprintf("the keys are in %s, inside the data directory, where earlier versions put them: "+
			"stop kakunin, move the directory out (mv %s %s, or anywhere and pass --key-dir) and start it again",
			c.KeyDir, c.KeyDir, DefaultKeyDir(c.Data)))
	}
}

// inside reports whether path is dir or lies under it.
func inside(dir, path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(dir, abs)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Finish fills derived defaults and validates the whole config.
func (c *Config) Finish() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: want host:port", c.Addr))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil || c.MetricsAddr == c.Addr {
			errs = append(errs, fmt.Errorf("--metrics-addr %q: want host:port, not --addr", c.MetricsAddr))
		}
	}
	if c.DatabaseWait < 0 || c.ShutdownTimeout < time.Second {
		errs = append(errs, errors.New("--database-wait must be >= 0 and --shutdown-timeout >= 1s"))
	}
	if err := c.parseProxies(); err != nil {
		errs = append(errs, err)
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
	c.finishKeys()
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
	for _, f := range c.Brand.Validate() {
		errs = append(errs, fmt.Errorf("%s: want an http(s) URL (the contact link may be mailto:); names one line of 200 bytes at most", f))
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
	if c.UploadAbandonAfter < time.Second {
		errs = append(errs, errors.New("--upload-abandon-after: at least 1s"))
	}
	if c.NoticeStaleAfter < time.Hour {
		errs = append(errs, errors.New("--notice-stale-after: at least 1h"))
	}
	if c.ErasureDeadline < time.Hour {
		errs = append(errs, errors.New("--erasure-deadline: at least 1h"))
	}
	if c.RetainAfterDecision < 0 || c.RetainUnreviewed <= 0 {
		errs = append(errs, errors.New("--retain-after-decision must be >= 0 and --retain-unreviewed > 0"))
	}
	if c.EventRetention < time.Hour {
		errs = append(errs, errors.New("--event-retention: at least 1h"))
	}
	if c.RetentionInterval < time.Second {
		errs = append(errs, errors.New("--retention-interval: at least 1s"))
	}
	if c.MaxUploadMB < 1 || c.MaxUploadMB > 100 {
		errs = append(errs, errors.New("--max-upload-mb: between 1 and 100"))
	}
	if c.MaxConnections < 0 {
		errs = append(errs, errors.New("--max-connections: 0 (no cap) or more"))
	}
	if c.VerifyWorkers < 1 || c.VerifyWorkers > 64 {
		errs = append(errs, errors.New("--verify-workers: between 1 and 64"))
	}
	if c.MemoryBudgetMB < 32 {
		errs = append(errs, errors.New("--memory-budget-mb: at least 32"))
	}
	if c.MaxMegapixels < 1 || c.MaxMegapixels > 200 {
		errs = append(errs, errors.New("--max-megapixels: between 1 and 200"))
	}
	if c.JPKIIssuer != "" {
		if u, err := url.Parse(c.JPKIIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("--jpki-issuer: want the provider's https URL"))
		}
		if c.JPKIClientID == "" {
			errs = append(errs, errors.New("--jpki-client-id is required with --jpki-issuer"))
		}
		if c.JPKIClientSecretFile != "" {
			b, err := os.ReadFile(c.JPKIClientSecretFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("--jpki-client-secret-file: %w", err))
			}
			c.JPKIClientSecret = strings.TrimSpace(string(b))
		}
		if c.JPKIClientSecret == "" {
			errs = append(errs, errors.New("--jpki-issuer needs the client secret: --jpki-client-secret-file or KAKUNIN_JPKI_CLIENT_SECRET"))
		}
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

// parseProxies reads --trusted-proxies (CIDRs, or single addresses meaning
// just that host) and checks --proxy-header.
func (c *Config) parseProxies() error {
	c.ProxyHeader = strings.ToLower(strings.TrimSpace(c.ProxyHeader))
	if c.ProxyHeader != "x-forwarded-for" && c.ProxyHeader != "forwarded" {
		return fmt.Errorf("--proxy-header %q: x-forwarded-for or forwarded", c.ProxyHeader)
	}
	c.TrustedProxies = nil
	for item := range strings.SplitSeq(c.TrustedProxiesList, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return fmt.Errorf("--trusted-proxies %q: want CIDRs or addresses, comma-separated (10.0.0.0/8,192.0.2.10)", item)
		}
		c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return nil
}
