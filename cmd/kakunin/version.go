package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// cmdVersion prints the version of the main module and the commit it was
// built from, as the Go toolchain recorded them in the binary.
func cmdVersion(_ context.Context, c *call) error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(c.stdout, "kakunin (no build information: built without module support)")
		return nil
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	fmt.Fprintf(c.stdout, "kakunin %s\n", bi.Main.Version)
	fmt.Fprintf(c.stdout, "  module    %s\n", bi.Main.Path)
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (with uncommitted changes)"
		}
		fmt.Fprintf(c.stdout, "  revision  %s\n", rev)
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(c.stdout, "  committed %s\n", t)
	}
	fmt.Fprintf(c.stdout, "  go        %s\n", bi.GoVersion)
	return nil
}
