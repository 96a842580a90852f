package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kakunin/kakunin/internal/config"
)

// A command is one thing kakunin does: "serve", "staff add". It parses its
// own flags (the config groups it reads and flags of its own), checks its
// arguments, and only then acts.
type command struct {
	name    string         // "staff add"
	args    string         // the usage line after the name: "EMAIL --role ROLE"
	nargs   int            // positional arguments it takes; -1: any number
	summary string         // what it does, one line, for "kakunin help"
	about   string         // more, for its --help, when one line is not enough
	example string         // one command line a user can adapt
	groups  []config.Group // the settings it reads
	// define adds the command's own flags to fs and returns what runs once
	// they are parsed. Nil: no flags of its own.
	define func(fs *flag.FlagSet) action
	do     action // what runs when define is nil
}

// An action runs a command whose flags and arguments have been checked.
type action func(ctx context.Context, c *call) error

// call is one run of a command: its settings and arguments, and the only
// streams it may use.
type call struct {
	cfg    *config.Config
	args   []string
	given  map[string]bool // settings given by flag or variable, not defaulted
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// usageError is a mistake in how kakunin was called: exit status 2.
// Anything else that goes wrong is a failure: exit status 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode reports err on stderr and returns the process's exit status.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "kakunin: "+strings.TrimSpace(err.Error()))
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageLine is "kakunin staff add EMAIL --role ROLE [flags]".
func (cmd *command) usageLine(hasFlags bool) string {
	line := "kakunin " + cmd.name
	if cmd.args != "" {
		line += " " + cmd.args
	}
	if hasFlags {
		line += " [flags]"
	}
	return line
}

// flagSet builds the command's flags on cfg; the action it returns runs the
// command once they are parsed.
func (cmd *command) flagSet(cfg *config.Config) (*flag.FlagSet, action) {
	fs := config.FlagSet("kakunin "+cmd.name, cfg, io.Discard, cmd.groups...)
	// Help and errors are printed by kakunin, not by the flag package: help
	// to stdout, errors once, without the whole flag list after them.
	fs.Usage = func() {}
	act := cmd.do
	if cmd.define != nil {
		act = cmd.define(fs)
	}
	return fs, act
}

// run parses args and runs the command. --help prints its usage and does
// nothing else.
func (cmd *command) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg := new(config.Config)
	fs, act := cmd.flagSet(cfg)
	pos, err := interleaved(fs.Parse, fs.Args, args)
	if errors.Is(err, flag.ErrHelp) {
		cmd.help(stdout, fs)
		return nil
	}
	if err != nil {
		return usagef("%s: %v\n(kakunin %s --help lists what it takes)", cmd.name, err, cmd.name)
	}
	if err := config.ApplyEnv(fs, os.Getenv); err != nil {
		return usagef("%s: %v", cmd.name, err)
	}
	// A secret read from the environment only, never a flag (ps shows flags).
	if fs.Lookup("jpki-client-secret-file") != nil && cfg.JPKIClientSecretFile == "" {
		cfg.JPKIClientSecret = os.Getenv("KAKUNIN_JPKI_CLIENT_SECRET")
	}
	if err := cfg.Finish(); err != nil {
		return usagef("%s: invalid configuration:\n%v", cmd.name, err)
	}
	if cmd.nargs >= 0 && len(pos) != cmd.nargs {
		return usagef("usage: %s", cmd.usageLine(hasFlags(fs)))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return act(ctx, &call{cfg: cfg, args: pos, given: given, stdin: stdin, stdout: stdout, stderr: stderr})
}

// interleaved parses flags that may stand before, between or after the
// positional arguments ("staff add EMAIL --role admin"), and returns the
// positional ones.
func interleaved(parse func([]string) error, args func() []string, in []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(in); err != nil {
			return nil, err
		}
		rest := args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		in = rest[1:]
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// help writes the command's usage: what it does, an example, and its flags,
// its own first, then each config group under its title.
func (cmd *command) help(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", cmd.usageLine(hasFlags(fs)), strings.Join(wrap(cmd.summary, 78), "\n"))
	if cmd.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.about))
	}
	if cmd.example != "" {
		fmt.Fprintf(w, "\nExample:\n  %s\n", cmd.example)
	}
	inGroup := map[string]bool{}
	for _, g := range cmd.groups {
		for _, name := range g.Flags() {
			inGroup[name] = true
		}
	}
	var own []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !inGroup[f.Name] {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		for _, f := range own {
			printFlag(w, f)
		}
	}
	for _, g := range cmd.groups {
		fmt.Fprintf(w, "\n%s:\n", g.Title())
		for _, name := range g.Flags() {
			printFlag(w, fs.Lookup(name))
		}
	}
	if len(cmd.groups) > 0 {
		fmt.Fprintln(w, "\nEach setting above is also the environment variable in brackets; a flag beats its variable.")
	}
}

// printFlag writes one flag as "  --name TYPE" and its usage below, wrapped,
// with its default where the usage does not already give one.
func printFlag(w io.Writer, f *flag.Flag) {
	typ, usage := flag.UnquoteUsage(f)
	if g, ok := f.Value.(flag.Getter); ok {
		if _, ok := g.Get().(time.Duration); ok {
			typ = "duration"
		}
	}
	head := "  --" + f.Name
	if typ != "" {
		head += " " + typ
	}
	if def := f.DefValue; def != "" && def != "0" && def != "0s" && def != "false" && !strings.Contains(usage, "(default") {
		// The variable's name ends the usage of a setting: keep it last.
		if i := strings.LastIndex(usage, " [$"); i >= 0 {
			usage = usage[:i] + " (default " + def + ")" + usage[i:]
		} else {
			usage += " (default " + def + ")"
		}
	}
	fmt.Fprintln(w, head)
	for _, line := range wrap(usage, 70) {
		fmt.Fprintln(w, "      "+line)
	}
}

// wrap breaks s into lines of at most width columns, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(word)) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
