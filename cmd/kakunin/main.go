package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/kakunin/kakunin/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(os.Stderr, err))
}

// run runs the command named by args. It reads and writes only the streams
// it is given; the error it returns decides the exit status (exitCode).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 {
		return usagef("no command given\n\n%s", commandList(cmds, ""))
	}
	switch args[0] {
	case "-h", "-help", "--help":
		args = append([]string{"help"}, args[1:]...)
	case "-v", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, rest, err := lookup(cmds, args)
	if err != nil {
		return err
	}
	if cmd == nil {
		// "kakunin staff --help": the family's commands.
		fmt.Fprint(stdout, commandList(cmds, args[0]))
		return nil
	}
	return cmd.run(ctx, rest, stdin, stdout, stderr)
}

// commands is every command, in the order "kakunin help" lists them.
func commands() []*command {
	storage := []config.Group{config.Storage}
	withKeys := []config.Group{config.Storage, config.Keys}
	return []*command{
		{name: "serve", summary: "Run the service: member pages, staff console, API and jobs.",
			about:   serveAbout,
			example: "kakunin serve --public-url https://id.example.jp --data /var/lib/kakunin --keyset /etc/kakunin/master.json",
			groups:  config.All, do: cmdServe},
		{name: "demo", summary: "Run a throw-away instance with sample data.",
			about: `It prints how to try each part: the console, a member's upload, the API.
Every document is a synthetic SAMPLE card. The data directory is a new
temporary one, deleted when the demo stops unless --keep.`,
			// Its own data directory and keys, and quiet text logs: no
			// storage, keys or log settings.
			example: "kakunin demo --addr 127.0.0.1:9090",
			groups: []config.Group{config.Server, config.Webhook, config.Uploads, config.Retention, config.Staff,
				config.Audit, config.Mail, config.Incident, config.Check},
			define: defineDemo},
		{name: "migrate", summary: "Apply the database migrations and exit.",
			about:   "serve also applies them when it starts; this is for deployments that migrate first.",
			example: "kakunin migrate --database postgres://kakunin@db.internal/kakunin",
			groups:  storage, do: cmdMigrate},
		{name: "backup", args: "DEST", nargs: 1, summary: "Copy the database and blobs, never the keys, while the service runs.",
			about: backupAbout, example: "kakunin backup /mnt/backup/kakunin-2026-12-03",
			// The key settings name what must never be copied.
			groups: withKeys, do: cmdBackup},
		{name: "apikey create", args: "NAME", nargs: 1, summary: "Make an API key for the host platform.",
			about:   "The key is shown only this once, alone on the last line of the output.",
			example: "kakunin apikey create dating-app", groups: storage, do: cmdAPIKeyCreate},
		{name: "apikey list", summary: "List the API keys, live and revoked.",
			example: "kakunin apikey list", groups: storage, do: cmdAPIKeyList},
		{name: "apikey revoke", args: "ID", nargs: 1, summary: "Revoke an API key.",
			example: "kakunin apikey revoke key_43rpt7ltrxdxdnvikbjg2dvhbq", groups: storage, do: cmdAPIKeyRevoke},
		{name: "staff add", args: "EMAIL --role ROLE", nargs: 1,
			summary: "Create a staff account and print how it signs in.",
			about: `ROLE is reviewer, support, responder, admin or auditor. It prints a
one-time password (changed at first sign-in) and the authenticator (TOTP)
secret: hand them to the person in a safe way. It works while the server runs.`,
			example: "kakunin staff add rev@example.jp --role reviewer",
			// The public URL is where the account signs in.
			groups: []config.Group{config.Storage, config.Keys, config.Server}, define: defineStaffAdd},
		{name: "staff unlock", args: "EMAIL", nargs: 1, summary: "Unlock a locked staff account.",
			about:   "An account locks when it reaches its read quota or after failed sign-ins.",
			example: "kakunin staff unlock rev@example.jp", groups: withKeys, do: cmdStaffUnlock},
		{name: "keys list", summary: "List the epoch keys that still exist.",
			about:   "One per UTC day with documents still readable; a day whose key is destroyed cannot be read by anyone.",
			example: "kakunin keys list", groups: withKeys, do: cmdKeysList},
		{name: "keys rotate-kek", args: "[--retire-old]",
			summary: "Re-wrap every key under a new key-encryption key.",
			about:   rotateKEKAbout, example: "kakunin keys rotate-kek --keyset /etc/kakunin/master.json",
			// --addr: it refuses to run while a server answers there.
			groups: []config.Group{config.Storage, config.Keys, config.Server}, define: defineRotateKEK},
		{name: "audit verify", args: "[--checkpoints FILE]", summary: "Check the audit chain against its signed checkpoints.",
			example: "kakunin audit verify --checkpoints /mnt/worm/checkpoints.jsonl",
			// The verifier key sits beside --audit-key; the published
			// checkpoints default to --audit-checkpoint-file.
			groups: []config.Group{config.Storage, config.Keys, config.Audit}, define: defineAuditVerify},
		{name: "audit export", args: "--from T --to T", summary: "Write audit events as JSON lines (for a SIEM).",
			example: "kakunin audit export --from 2026-11-01T00:00:00+09:00 --to 2026-12-01T00:00:00+09:00 --out nov.jsonl",
			groups:  storage, define: defineAuditExport},
		{name: "audit key", summary: "Print the checkpoint verifier key.",
			about: "Keep it outside this machine, wherever checkpoints are checked, and verify with --audit-verifier-key. Creates the signing key, named for this installation, if there is none yet.",
			// --public-url: a new key is named for the installation's host.
			example: "kakunin audit key > verifier.pub", groups: []config.Group{config.Storage, config.Keys, config.Server}, do: cmdAuditKey},
		{name: "receipt verify", args: "FILE", nargs: 1, summary: "Check an erasure receipt, offline with the verifier key alone.",
			about: receiptAbout, example: "kakunin receipt verify --verifier-key 'kakunin/kakunin.example/inst_…+…+…' receipt.txt",
			groups: []config.Group{config.Keys, config.Audit}, define: defineReceiptVerify},
		{name: "incident scope", args: "--from T --to T", summary: "Say what was exposed in a time window.",
			about:   incidentAbout,
			example: "kakunin incident scope --from 2026-11-01T00:00:00+09:00 --to 2026-11-20T00:00:00+09:00 --keys-exposed",
			// Keys: the report names the staff who read, by their sealed address.
			groups: withKeys, define: defineIncidentScope},
		{name: "dev seed", args: "--documents N", summary: "Fill a throw-away database with synthetic documents.",
			about: devAbout, example: "kakunin dev seed --documents 100000 --database /tmp/seed.db",
			groups: storage, define: defineDevSeed},
		{name: "doctor", args: "--url URL", summary: "Check a deployment from outside: TLS, headers, caches, clock.",
			about: doctorAbout, example: "KAKUNIN_DOCTOR_API_KEY=... kakunin doctor --url https://id.example.jp",
			define: defineDoctor},
		{name: "webhook-secret", summary: "Print a new webhook signing secret.",
			example: `kakunin serve --webhook-url https://app.example.jp/hooks/kakunin --webhook-secret "$(kakunin webhook-secret)"`,
			do:      cmdWebhookSecret},
		{name: "webhook-secret rotate", summary: "Add a webhook signing secret; every active one signs each delivery.",
			about: `Deliveries are signed with every active secret at once (several v1, signatures): the first
rotation keeps the configured --webhook-secret active beside the new one it prints. Give the
new secret to the receiver, then run webhook-secret retire. --alerts: the alert webhook's.`,
			example: "kakunin webhook-secret rotate", groups: append(withKeys, config.Webhook, config.Mail), define: defineSecretRotate},
		{name: "webhook-secret retire", summary: "Stop signing with all but the newest webhook secret.",
			about:   "Run it once the receiver knows the secret the last rotate printed. --alerts: the alert webhook's.",
			example: "kakunin webhook-secret retire", groups: withKeys, define: defineSecretRetire},
		{name: "version", summary: "Print the version and build of this binary.", example: "kakunin version", do: cmdVersion},
		{name: "help", args: "[COMMAND]", nargs: -1, summary: "List the commands, or show one command's usage.",
			example: "kakunin help staff add", do: cmdHelp},
	}
}

// lookup finds the command args name (one word or two) and returns it with
// the arguments after its name. It returns no command and no error for
// "FAMILY --help" (apikey, staff, keys, ...), whose list is the answer.
func lookup(cmds []*command, args []string) (*command, []string, error) {
	for n := min(2, len(args)); n >= 1; n-- {
		name := strings.Join(args[:n], " ")
		for _, cmd := range cmds {
			if cmd.name == name {
				return cmd, args[n:], nil
			}
		}
	}
	if !isFamily(cmds, args[0]) {
		return nil, nil, usagef("unknown command %q\n\n%s", args[0], commandList(cmds, ""))
	}
	switch {
	case len(args) == 1:
		return nil, nil, usagef("%s: which one?\n\n%s", args[0], commandList(cmds, args[0]))
	case slices.Contains([]string{"-h", "-help", "--help"}, args[1]):
		return nil, nil, nil
	}
	return nil, nil, usagef("unknown command %q\n\n%s", args[0]+" "+args[1], commandList(cmds, args[0]))
}

// isFamily reports whether some commands are named "family ...".
func isFamily(cmds []*command, family string) bool {
	for _, cmd := range cmds {
		if strings.HasPrefix(cmd.name, family+" ") {
			return true
		}
	}
	return false
}

// commandList lists the commands, or those of one family, one a line with
// what they do.
func commandList(cmds []*command, family string) string {
	var b strings.Builder
	if family == "" {
		b.WriteString("kakunin — verify identity documents without hoarding them\n\nUsage: kakunin COMMAND [ARGUMENTS] [FLAGS]\n\nCommands:\n")
	}
	width := 0
	var shown []*command
	for _, cmd := range cmds {
		if family == "" || strings.HasPrefix(cmd.name, family+" ") {
			shown = append(shown, cmd)
			width = max(width, len(cmd.usageLine(false))-len("kakunin "))
		}
	}
	for _, cmd := range shown {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, strings.TrimPrefix(cmd.usageLine(false), "kakunin "), firstSentence(cmd.summary))
	}
	b.WriteString("\n\"kakunin help COMMAND\" or \"kakunin COMMAND --help\" shows what a command takes, with an example.\n")
	if family == "" {
		b.WriteString("Every setting is also a KAKUNIN_* environment variable; a flag beats its variable.\n")
	}
	return b.String()
}

// firstSentence is the summary as a list shows it: lower case, no full stop.
func firstSentence(s string) string {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// cmdHelp prints the command list, a family's list, or the usage of the
// command named.
func cmdHelp(_ context.Context, c *call) error {
	cmds := commands()
	// A family that is also a command itself (webhook-secret) shows the
	// command, as "COMMAND --help" does.
	single := len(c.args) == 1 && !slices.ContainsFunc(cmds, func(cmd *command) bool { return cmd.name == c.args[0] })
	if len(c.args) == 0 || (single && isFamily(cmds, c.args[0])) {
		fmt.Fprint(c.stdout, commandList(cmds, strings.Join(c.args, "")))
		return nil
	}
	cmd, rest, err := lookup(cmds, c.args)
	if err != nil {
		return err
	}
	if cmd == nil || len(rest) > 0 {
		return usagef("unknown command %q\n\n%s", strings.Join(c.args, " "), commandList(cmds, ""))
	}
	fs, _ := cmd.flagSet(new(config.Config))
	cmd.help(c.stdout, fs)
	return nil
}
