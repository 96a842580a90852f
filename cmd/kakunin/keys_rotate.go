package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/vault"
)

const rotateKEKAbout = `
Adds a new key to the key-encryption keyset (--keyset), makes it the
primary, and re-wraps every key file in --key-dir under it. Documents,
fields and indexes do not change. A crash part way is safe: run it again.

Stop the service first, and every other kakunin process using the key
directory: a running one keeps the old keyset in memory and wraps the epoch
keys it creates under the old key, which is harmless while the old keys are
kept, but loses that day's documents once they are retired. This command
refuses to run while a kakunin server answers at --addr.

Without --retire-old the old keys stay in the keyset, so copies of key files
taken before (backups) stay readable with it. With --retire-old they are
removed once every key file is re-wrapped: backups of the key directory from
before the rotation then open only with the old keyset file. Keep that file
offline and apart from those backups for as long as you need them, then
destroy every copy of it.

Only a local keyset is rotated here; with a KMS, rotate the key in the KMS.`

// defineRotateKEK rotates the local key-encryption key (vault.RotateKEK)
// and records it in the audit log.
func defineRotateKEK(fs *flag.FlagSet) action {
	retireOld := fs.Bool("retire-old", false, "remove the old keys from the keyset once every key file is re-wrapped")
	return func(ctx context.Context, c *call) error { return rotateKEK(ctx, c, *retireOld) }
}

func rotateKEK(ctx context.Context, c *call, retireOld bool) error {
	cfg := c.cfg
	if kakuninAnswersAt(ctx, cfg.Addr) {
		return fmt.Errorf("a kakunin server answers at %s: stop the service (and every other kakunin process using %s) before rotating the key-encryption key", cfg.Addr, cfg.KeyDir)
	}
	a, err := openApp(ctx, cfg, quietLogger(c.stderr), false)
	if err != nil {
		return err
	}
	defer a.close()

	rot, err := a.vault.RotateKEK(ctx, vault.RotateOptions{RetireOld: retireOld})
	if rot.NewKeyID == 0 {
		// Nothing changed: no key was added.
		return fmt.Errorf("rotate KEK: %w", err)
	}
	printRotation(c.stdout, rot)
	// A rotation that stopped part way still added a key: record it too.
	aerr := a.audit.Append(ctx, audit.Event{Action: audit.KEKRotated, Actor: "cli", Subject: "kek", Detail: map[string]string{
		"new_key_id": strconv.FormatUint(uint64(rot.NewKeyID), 10),
		"rewrapped":  strconv.Itoa(rot.Rewrapped),
		"retired":    strconv.FormatBool(rot.Retired),
		"complete":   strconv.FormatBool(err == nil),
	}})
	if aerr != nil {
		aerr = fmt.Errorf("audit: %w (the rotation above did happen)", aerr)
	}
	if err != nil {
		err = fmt.Errorf("rotate KEK: %w\nEvery key file still opens with %s; run kakunin keys rotate-kek again to finish.", err, rot.Keyset)
	}
	return errors.Join(aerr, err)
}

func printRotation(w io.Writer, rot vault.KEKRotation) {
	old := make([]string, len(rot.OldKeyIDs))
	for i, id := range rot.OldKeyIDs {
		old[i] = strconv.FormatUint(uint64(id), 10)
	}
	fmt.Fprintf(w, "new primary key %d in %s\n", rot.NewKeyID, rot.Keyset)
	fmt.Fprintf(w, "%d key file(s) re-wrapped under it\n", rot.Rewrapped)
	if rot.Retired {
		fmt.Fprintf(w, "old key(s) %s retired: backups of the key directory from before now need the old keyset file; destroy every copy of it once they are no longer needed\n", strings.Join(old, ", "))
	} else {
		fmt.Fprintf(w, "old key(s) %s kept, still able to decrypt (run again with --retire-old to remove them)\n", strings.Join(old, ", "))
	}
}

// kakuninAnswersAt reports whether a kakunin server answers its health
// check at addr, the --addr it would listen on. It cannot see a server on
// another host or address; the help text asks to stop them all.
func kakuninAnswersAt(ctx context.Context, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // a server on every interface answers on loopback
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return false
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok"
}
