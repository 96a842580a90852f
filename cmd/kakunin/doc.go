// Command kakunin runs the identity-document vault and its tools: the
// service itself, a demo, and the operator's admin commands.
//
// Commands ("kakunin help" lists them, "kakunin help COMMAND" shows one):
//
//	serve                              run the service: member pages, staff console, API and jobs
//	demo                               run a throw-away instance with sample data
//	migrate                            apply the database migrations and exit
//	backup DEST                        copy the database and blobs, never the keys, while the service runs
//	apikey create NAME                 make an API key for the host platform
//	apikey list                        list the API keys, live and revoked
//	apikey revoke ID                   revoke an API key
//	staff add EMAIL --role ROLE        create a staff account and print how it signs in
//	staff unlock EMAIL                 unlock a locked staff account
//	keys list                          list the epoch keys that still exist
//	keys rotate-kek [--retire-old]     re-wrap every key under a new key-encryption key
//	audit verify [--checkpoints FILE]  check the audit chain against its signed checkpoints
//	audit export --from T --to T       write audit events as JSON lines (for a SIEM)
//	audit key                          print the checkpoint verifier key
//	receipt verify FILE                check an erasure receipt, offline with the verifier key alone
//	incident scope --from T --to T     say what was exposed in a time window
//	dev seed --documents N             fill a throw-away database with synthetic documents
//	doctor --url URL                   check a deployment from outside: TLS, headers, caches, clock
//	webhook-secret                     print a new webhook signing secret
//	webhook-secret rotate [--alerts]   add a signing secret; all active ones sign
//	webhook-secret retire [--alerts]   keep only the newest signing secret
//	version                            print the version and build of this binary
//	help [COMMAND]                     list the commands, or show one command's usage
//
// Each command parses its own flags: its own, and the groups of settings it
// reads (internal/config: storage, keys, server, mail, ...), each also a
// KAKUNIN_* variable that its flag beats. --help prints the usage and does
// nothing else. Arguments are checked before anything is opened or created.
// Admin commands print their answer on stdout and log only warnings.
//
// The shape follows WTF Dial's cmd/wtf: main calls run(ctx, args, stdin,
// stdout, stderr), which returns an error; a usageError exits with status 2,
// any other error with 1. Commands write only to the streams they are given.
//
// Where things are: main.go has the command table and dispatch, command.go
// the parsing and the help, app.go wires the services from a Config
// (openApp), serve.go runs the HTTP server and the workers, admin.go the
// small admin commands; backup.go, audit.go, incident.go, keys_rotate.go, dev.go,
// demo.go and version.go one command family each.
package main
