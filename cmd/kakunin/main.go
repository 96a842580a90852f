// Command kakunin runs the identity-document vault and its tools: serve,
// migrate, apikey, staff, keys, webhook-secret and demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kakunin/kakunin/internal/config"
)

const usage = `kakunin — verify identity documents without hoarding them

Usage:
  kakunin serve [flags]                      run the service
  kakunin demo [flags]                       run a throw-away instance with sample data
  kakunin migrate [flags]                    apply database migrations and exit
  kakunin apikey create NAME [flags]         make an API key for the host platform
  kakunin apikey list [flags]                list API keys
  kakunin apikey revoke ID [flags]           revoke an API key
  kakunin staff add EMAIL --role ROLE        create a staff account (reviewer, support, responder, admin, auditor)
  kakunin staff unlock EMAIL                 unlock a locked staff account
  kakunin keys list [flags]                  list the epoch keys that still exist
  kakunin keys rotate-kek [--retire-old]     re-wrap every key under a new key-encryption key (stop the service first)
  kakunin audit verify [--checkpoints FILE]  check the audit chain against its signed checkpoints
  kakunin audit export --from T --to T       write audit events as JSON lines (for a SIEM)
  kakunin audit key                          print the checkpoint verifier key
  kakunin incident scope --from T --to T     what was exposed in a window [--keys-exposed] [--json]
  kakunin dev seed --documents N             fill a throw-away database with synthetic documents
  kakunin webhook-secret                     print a new webhook signing secret
  kakunin version

Every command takes the common flags (see "kakunin serve --help"), each also
settable as a KAKUNIN_* environment variable.
`

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "apikey":
		return cmdAPIKey(ctx, rest, stdout, stderr)
	case "staff":
		return cmdStaff(ctx, rest, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, rest, stdout, stderr)
	case "incident":
		return cmdIncident(ctx, rest, stdout, stderr)
	case "dev":
		return cmdDev(ctx, rest, stdout, stderr)
	case "webhook-secret":
		return cmdWebhookSecret(stdout)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "kakunin", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "kakunin: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// parseCommon parses the common flags plus any extra ones a command adds,
// allowing flags between positional arguments.
func parseCommon(name string, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) (*config.Config, []string, int) {
	var cfg config.Config
	fs := config.FlagSet("kakunin "+name, &cfg, stderr)
	if extra != nil {
		extra(fs)
	}
	pos, err := interleaved(fs.Parse, fs.Args, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, nil, 0
	}
	if err != nil {
		return nil, nil, 2
	}
	if err := config.ApplyEnv(fs, os.Getenv); err != nil {
		fmt.Fprintln(stderr, "kakunin:", err)
		return nil, nil, 2
	}
	if err := cfg.Finish(); err != nil {
		fmt.Fprintln(stderr, "kakunin: invalid configuration:\n"+err.Error())
		return nil, nil, 2
	}
	return &cfg, pos, -1
}
