package main

import (
	"context"
	"fmt"
	"io"
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
	writeVersion(c.stdout, bi)
	return nil
}

// writeVersion writes the version ("(devel)" for a build from a checkout,
// whose commit then says which), the module, the commit and the toolchain.
func writeVersion(w io.Writer, bi *debug.BuildInfo) {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	fmt.Fprintf(w, "kakunin %s\n", bi.Main.Version)
	fmt.Fprintf(w, "  module    %s\n", bi.Main.Path)
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (with uncommitted changes)"
		}
		fmt.Fprintf(w, "  revision  %s\n", rev)
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(w, "  committed %s\n", t)
	}
	fmt.Fprintf(w, "  go        %s\n", bi.GoVersion)
}
