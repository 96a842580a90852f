// Command notify measures the mass notification (internal/massmail) at the
// Omiai breach's scale: it enqueues one notification per affected member
// (1.71 million by default) and delivers them to Postfix's smtp-sink, then
// sends same-sized messages to the same sink with a bare SMTP client over
// the same number of connections, and prints the ratio of the two rates.
//
//	go run ./bench/notify [-n 1710000] [-connections 4] [-batch 100] [-baseline-n N] [-sink /usr/sbin/smtp-sink] [-keep]
//
// smtp-sink comes with Debian's postfix package:
//
//	sudo apt-get update && sudo apt-get install -y postfix
//
// Seeding (members with sealed addresses, one verification and one document
// each, in a temporary SQLite database) is not timed. The throttle is off.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

type options struct {
	n, baselineN, connections, batch int
	sink, dir, cpuprofile            string
	keep                             bool
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1_710_000, "affected members to notify")
	flag.IntVar(&o.baselineN, "baseline-n", 0, "messages the bare client sends (default: min(n, 200000))")
	flag.IntVar(&o.connections, "connections", 4, "SMTP connections, for kakunin and the bare client alike")
	flag.IntVar(&o.batch, "batch", 100, "messages per SMTP session, for kakunin and the bare client alike")
	flag.StringVar(&o.sink, "sink", "/usr/sbin/smtp-sink", "path of Postfix's smtp-sink")
	flag.StringVar(&o.dir, "dir", "", "where the database goes (default: a temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the database afterwards")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the delivery to this file")
	flag.Parse()
	if o.baselineN <= 0 {
		o.baselineN = min(o.n, 200_000)
	}
	if _, err := os.Stat(o.sink); err != nil {
		fmt.Fprintf(os.Stderr, "notify: %s not found: smtp-sink comes with Postfix. Install it with\n\n"+
			"    sudo apt-get update && sudo apt-get install -y postfix\n\nor name it with -sink.\n", o.sink)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "kakunin-bench-notify-"); err != nil {
			return err
		}
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	addr, stopSink, err := startSink(o.sink)
	if err != nil {
		return err
	}
	defer stopSink()

	db, err := store.Open(ctx, filepath.Join(dir, "kakunin.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	kek, err := vault.OpenLocalKeyset(filepath.Join(dir, "kek.json"))
	if err != nil {
		return err
	}
	v, err := vault.New(ctx, kek, filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}

	fmt.Printf("notify: %d affected members, %d connections, %d messages a session, smtp-sink at %s\n", o.n, o.connections, o.batch, addr)
	began := time.Now()
	inc, err := seed(ctx, db, v, o.n)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("seed: %d members with sealed addresses in %s (not timed)\n", o.n, time.Since(began).Round(time.Millisecond))

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	al := &audit.Log{DB: db, Now: time.Now}
	svc := &massmail.Service{DB: db, Audit: al, Log: log, PublicURL: "https://kakunin.example", Contact: "support@example.jp"}
	actx := audit.WithActor(ctx, "cli")
	// The default letter states that the PPC was told and the keys were
	// replaced only once the record says so; a campaign whose letter still
	// holds a placeholder cannot start. Record both, as responders would.
	if err := al.Append(actx, audit.Event{Action: audit.KEKRotated, Actor: "cli", Subject: "kek", At: inc.DiscoveredAt.Add(time.Minute)}); err != nil {
		return err
	}
	// The responders' own sentence, which the default letter leaves to them.
	text := massmail.DefaultText()
	text.BodyJA = regexp.MustCompile(`【要記入[^】]*】`).ReplaceAllString(text.BodyJA, "外部からの接続を遮断し、外部の専門家と調査しています。")
	text.BodyEN = regexp.MustCompile(`\[to fill in[^\]]*\]`).ReplaceAllString(text.BodyEN, "We cut off the outside access and are investigating with outside experts.")
	if _, err := svc.Save(actx, inc.ID, text); err != nil {
		return err
	}
	preview, err := svc.Preview(actx, inc.ID)
	if err != nil {
		return err
	}
	if _, err := svc.Start(actx, inc.ID); err != nil {
		return err
	}

	mailer, err := mail.NewSMTPMailer("smtp://"+addr+"?tls=none", "kakunin@example.jp", log)
	if err != nil {
		return err
	}
	sender := &massmail.Sender{DB: db, Keys: v, Mailer: mailer, Connections: o.connections, Batch: o.batch, Audit: al, Log: log,
		PublicURL: "https://kakunin.example", Contact: "support@example.jp"}
	last := time.Now()
	sender.OnEnqueue = func(_ string, done, target int64) {
		if time.Since(last) > time.Second || done == target {
			fmt.Printf("\renqueue: %d / %d", done, target)
			last = time.Now()
		}
	}
	began = time.Now()
	if _, err := sender.EnqueueOnce(ctx); err != nil {
		return err
	}
	enqueue := time.Since(began)
	fmt.Printf("\nenqueue: %d rows in %s (%.0f rows/s)\n", o.n, enqueue.Round(time.Millisecond), float64(o.n)/enqueue.Seconds())

	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	sent, took, err := deliver(ctx, sender, o)
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	c, err := db.CampaignOfIncident(ctx, inc.ID)
	if err != nil {
		return err
	}
	if c.Sent != int64(o.n) || c.State != store.CampaignDone {
		return fmt.Errorf("campaign ended %s with %d sent, %d failed, %d bounced, %d pending", c.State, c.Sent, c.Failed, c.Bounced, c.Pending())
	}
	kRate := float64(sent) / took.Seconds()
	fmt.Printf("\nkakunin: %d delivered in %s: %.0f messages/s\n", sent, took.Round(time.Millisecond), kRate)

	raw := rawMessage(preview.JA)
	bTook, err := bare(ctx, addr, raw, o)
	if err != nil {
		return fmt.Errorf("bare client: %w", err)
	}
	bRate := float64(o.baselineN) / bTook.Seconds()
	fmt.Printf("bare client (net/smtp, %d-byte messages): %d in %s: %.0f messages/s\n", len(raw), o.baselineN, bTook.Round(time.Millisecond), bRate)
	fmt.Printf("ratio kakunin / bare client: %.2f\n", kRate/bRate)
	fmt.Printf("at this rate 1.71 million take %s; at the default --notify-rate 20/s, %s\n",
		(time.Duration(1_710_000/kRate) * time.Second).Round(time.Second), (1_710_000 / 20 * time.Second).Round(time.Minute))
	return nil
}

// startSink runs smtp-sink on a free local port until stopped.
func startSink(path string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	args := []string{addr, "1024"}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "nobody"}, args...)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start smtp-sink: %w", err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, errors.New("smtp-sink did not start listening")
}

// deliver runs the sender's connections until nothing is due, as serve's
// sender does, and times it.
func deliver(ctx context.Context, sender *massmail.Sender, o options) (int64, time.Duration, error) {
	var sent atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, o.connections)
	began := time.Now()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := sent.Load()
				fmt.Printf("\rdeliver: %d / %d (%.0f/s)", n, o.n, float64(n)/time.Since(began).Seconds())
			}
		}
	}()
	for range o.connections {
		wg.Go(func() {
			for ctx.Err() == nil {
				n, err := sender.SendOnce(ctx)
				if err != nil {
					errc <- err
					return
				}
				if n == 0 {
					return
				}
				sent.Add(int64(n))
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	close(done)
	select {
	case err := <-errc:
		return 0, 0, err
	default:
	}
	// The last look marks the campaign done.
	if _, err := sender.SendOnce(ctx); err != nil {
		return 0, 0, err
	}
	return sent.Load(), took, ctx.Err()
}

// rawMessage is a message like those kakunin sends: the Japanese letter,
// base64 subject, quoted-printable body.
func rawMessage(r massmail.Rendered) []byte {
	var b bytes.Buffer
	b.WriteString("From: <kakunin@example.jp>\r\nTo: <m1@example.test>\r\n")
	b.WriteString("Subject: " + mime.BEncoding.Encode("UTF-8", r.Subject) + "\r\n")
	b.WriteString("Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <n.0123456789abcdef0123456789abcdef@example.jp>\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\nContent-Language: ja\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	w := quotedprintable.NewWriter(&b)
	io.WriteString(w, r.Body)
	w.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}

// bare sends baselineN copies of raw over the same connections, each
// session carrying batch messages, as plainly as net/smtp allows.
func bare(ctx context.Context, addr string, raw []byte, o options) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, o.connections)
	began := time.Now()
	for range o.connections {
		wg.Go(func() {
			for ctx.Err() == nil {
				first := next.Add(int64(o.batch)) - int64(o.batch)
				if first >= int64(o.baselineN) {
					return
				}
				k := min(int64(o.batch), int64(o.baselineN)-first)
				if err := session(addr, raw, int(first), int(k)); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	return took, ctx.Err()
}

func session(addr string, raw []byte, first, k int) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	for i := range k {
		if err := c.Mail("kakunin@example.jp"); err != nil {
			return err
		}
		if err := c.Rcpt("m" + strconv.Itoa(first+i) + "@example.test"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return c.Quit()
}

// seed makes n members, each with a sealed address, one verification and
// one document received inside an incident's window, in a few large
// transactions, and the incident.
func seed(ctx context.Context, db *store.DB, v *vault.Vault, n int) (*kakunin.Incident, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	from, to := now.Add(-60*24*time.Hour), now.Add(-time.Hour)
	received := now.Add(-90 * 24 * time.Hour)
	const flush, perTx = 5000, 250_000
	for start := 0; start < n; {
		err := db.WithBulkTx(ctx, func(tx *store.BulkTx) error {
			for end := min(start+perTx, n); start < end; {
				k := min(flush, end-start)
				ms := make([]*store.MemberRecord, 0, k)
				vs := make([]*kakunin.Verification, 0, k)
				ds := make([]*store.DocumentLifecycle, 0, k)
				for i := start; i < start+k; i++ {
					email := "m" + strconv.Itoa(i) + "@example.test"
					sealed, err := v.SealField(vault.PurposeMemberEmail, []byte(email))
					if err != nil {
						return err
					}
					locale := kakunin.LocaleJA
					if i%5 == 0 {
						locale = kakunin.LocaleEN
					}
					at := received.Add(time.Duration(i) * time.Millisecond)
					m := &store.MemberRecord{ID: kakunin.NewID("mem"), ExternalID: "ext-" + strconv.Itoa(i), EmailSealed: sealed,
						EmailIndex: v.BlindIndex(vault.PurposeMemberEmailIndex, []byte(email)), Locale: locale, CreatedAt: at, UpdatedAt: at}
					ver := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, Status: kakunin.StatusApproved,
						ExpiresAt: at.Add(24 * time.Hour), CreatedAt: at, UpdatedAt: at,
						Result: &kakunin.Result{Adult: kakunin.Bool(true), DocumentType: kakunin.DocDriversLicence, CheckedAt: at, CheckedBy: "stf_bench"}}
					d := &store.DocumentLifecycle{DocumentRecord: store.DocumentRecord{Document: kakunin.Document{ID: kakunin.NewID("doc"),
						VerificationID: ver.ID, MemberID: m.ID, Type: kakunin.DocumentTypes[i%len(kakunin.DocumentTypes)], ContentType: "image/jpeg",
						Size: 1 << 20, Width: 2400, Height: 1512, Orientation: 1, Epoch: at.Format("2006-01-02"), WrappedKey: []byte{1},
						ReceivedAt: at, DestroyAfter: at.Add(10 * 365 * 24 * time.Hour)}, BlobKey: "bench/" + m.ID}}
					ms, vs, ds = append(ms, m), append(vs, ver), append(ds, d)
				}
				if err := tx.InsertMembers(ctx, ms); err != nil {
					return err
				}
				if err := tx.InsertVerifications(ctx, vs); err != nil {
					return err
				}
				if err := tx.InsertDocuments(ctx, ds); err != nil {
					return err
				}
				start += k
				fmt.Printf("\rseed: %d / %d", start, n)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	fmt.Println()
	if err := db.FinishBulkLoad(ctx); err != nil {
		return nil, err
	}
	reported := now.Add(time.Minute)
	inc := &kakunin.Incident{ID: kakunin.NewID("inc"), Title: "bench", Summary: "bench", DiscoveredAt: now, WindowFrom: from, WindowTo: to,
		Held: kakunin.IncidentHeld{Database: true, Blobs: true}, Status: kakunin.IncidentIdentified, CreatedBy: "cli", CreatedAt: now, UpdatedAt: now,
		PreliminaryReportedAt: &reported}
	return inc, db.InsertIncident(ctx, inc)
}
