package main

import (
	"context"
	"io"
)

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return fail("not written yet")
}
