package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// Intake over HTTP, as a browser uploads: the real binary (`kakunin
// serve`, default settings) on loopback, each upload on a fresh upload
// link, against writing and fsyncing the same bytes as files in the same
// data directory. Both engines, 1 MB and 9 MB photos.

func intakeRows(ctx context.Context, opt options, out io.Writer) ([]row, error) {
	n := map[string]int{"small": 20, "full": 100}[opt.size]
	dir, err := os.MkdirTemp(opt.data, "kakunin-bench-all-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "kakunin")
	fmt.Fprintf(out, "building kakunin\n")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kakunin")
	build.Stderr = out
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build kakunin: %w", err)
	}
	engines := []string{"sqlite"}
	if opt.postgres != "" {
		if err := pingPostgres(ctx, opt.postgres); err != nil {
			fmt.Fprintf(out, "PostgreSQL not reachable (%v): SQLite only\n", err)
		} else {
			engines = append(engines, "postgres")
		}
	}
	var rows []row
	for _, size := range []int{1_000_000, 9_000_000} {
		photo := photoOfSize(size)
		for _, engine := range engines {
			r, err := intakeOne(ctx, out, bin, dir, engine, opt.postgres, photo, n)
			if err != nil {
				return rows, err
			}
			rows = append(rows, r...)
		}
	}
	return rows, nil
}

func pingPostgres(ctx context.Context, dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// photoOfSize is a noisy 4:2:0 JPEG of about size bytes: noise compresses
// as badly as a phone photo's sensor noise, so the pixel count is a
// phone's for the size.
func photoOfSize(size int) []byte {
	enc := func(w, h int) []byte {
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
		for i := range img.Y {
			img.Y[i] = uint8(128 + rng.IntN(64) - 32 + (i%w)/32)
		}
		for i := range img.Cb {
			img.Cb[i], img.Cr[i] = uint8(120+rng.IntN(16)), uint8(130+rng.IntN(16))
		}
		var buf bytes.Buffer
		jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92})
		return buf.Bytes()
	}
	// Calibrate bytes per pixel on a small image, then scale a 4:3 frame.
	probe := enc(400, 300)
	bpp := float64(len(probe)) / (400 * 300)
	px := float64(size) / bpp
	w := int(sqrt(px*4/3)) &^ 15
	b := enc(w, w*3/4)
	// Large images compress a little differently: correct once.
	w = int(float64(w)*sqrt(float64(size)/float64(len(b)))) &^ 15
	return enc(w, w*3/4)
}

func sqrt(x float64) float64 {
	z := x / 2
	for range 40 {
		z = (z + x/z) / 2
	}
	return z
}

func intakeOne(ctx context.Context, out io.Writer, bin, dir, engine, pg string, photo []byte, n int) ([]row, error) {
	label := fmt.Sprintf("intake over HTTP, %.1f MB photos, %s", float64(len(photo))/1e6, engine)
	fmt.Fprintf(out, "%s: %d uploads at C=1 and C=2\n", label, n)
	data, err := os.MkdirTemp(dir, engine+"-")
	if err != nil {
		return nil, err
	}
	dsn := ""
	if engine == "postgres" {
		name := fmt.Sprintf("kakunin_bench_%d", time.Now().UnixNano())
		db, err := sql.Open("pgx", pg)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			return nil, fmt.Errorf("create database: %w", err)
		}
		defer db.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE "+name+" WITH (FORCE)")
		u, _ := url.Parse(pg)
		u.Path = "/" + name
		dsn = u.String()
	}
	srv, err := startServer(ctx, bin, data, dsn)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	// Baseline: the same bytes written and fsynced as files, with their
	// directory, on the same filesystem; before and after, the median kept.
	raw := func() (time.Duration, error) {
		rdir, err := os.MkdirTemp(data, "raw-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(rdir)
		began := time.Now()
		for i := range n {
			if err := writeSync(rdir, fmt.Sprintf("f%d", i), photo); err != nil {
				return 0, err
			}
		}
		return time.Since(began), nil
	}
	r1, err := raw()
	if err != nil {
		return nil, err
	}
	mbps := func(d time.Duration) float64 { return float64(n*len(photo)) / 1e6 / d.Seconds() }
	var rows []row
	var kakunin []time.Duration
	for _, c := range []int{1, 2} {
		links, err := srv.openLinks(ctx, n)
		if err != nil {
			return nil, err
		}
		took, err := uploadAll(ctx, links, photo, c)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "  C=%d: %.1f MB/s\n", c, mbps(took))
		kakunin = append(kakunin, took)
	}
	r2, err := raw()
	if err != nil {
		return nil, err
	}
	base := max(r1, r2) // the slower: a fair (lenient) baseline on a shared disk
	baseRate := mbps(base)
	fmt.Fprintf(out, "  raw write+fsync: %.1f and %.1f MB/s\n", mbps(r1), mbps(r2))
	for i, c := range []int{1, 2} {
		ratio := mbps(kakunin[i]) / baseRate
		rows = append(rows, row{workload: fmt.Sprintf("%s, C=%d", label, c), figure: fmt.Sprintf("%.1f MB/s", mbps(kakunin[i])),
			baseline: fmt.Sprintf("raw write+fsync %.1f MB/s", baseRate), ratio: fmt.Sprintf("%.2f×", ratio), goal: "≥ 0.5×", met: yesNo(ratio >= 0.5)})
	}
	return rows, nil
}

func writeSync(dir, name string, b []byte) error {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type server struct {
	bin, data, dsn, url, apiKey string
	cmd                         *exec.Cmd
}

func startServer(ctx context.Context, bin, data, dsn string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &server{bin: bin, data: data, dsn: dsn, url: "http://" + addr}
	args := append([]string{"serve", "--addr", addr, "--log-level", "warn"}, s.storage()...)
	s.cmd = exec.CommandContext(ctx, bin, args...)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("kakunin serve did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	keyOut, err := exec.CommandContext(ctx, bin, append([]string{"apikey", "create", "bench"}, s.storage()...)...).Output()
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("apikey create: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(keyOut)), "\n")
	s.apiKey = lines[len(lines)-1]
	return s, nil
}

func (s *server) storage() []string {
	args := []string{"--data", s.data}
	if s.dsn != "" {
		args = append(args, "--database", s.dsn)
	}
	return args
}

func (s *server) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
}

func (s *server) api(ctx context.Context, method, path string, body any) (map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, method, s.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, err)
	}
	return out, nil
}

var memberSeq int

// openLinks registers n members and opens an upload link for each (not
// timed).
func (s *server) openLinks(ctx context.Context, n int) ([]string, error) {
	links := make([]string, n)
	for i := range links {
		memberSeq++
		id := fmt.Sprintf("bench-%d", memberSeq)
		if _, err := s.api(ctx, "PUT", "/api/v1/members/"+id, map[string]string{"email": id + "@example.test", "locale": "ja"}); err != nil {
			return nil, err
		}
		v, err := s.api(ctx, "POST", "/api/v1/verifications", map[string]string{"external_id": id})
		if err != nil {
			return nil, err
		}
		links[i] = v["upload_url"].(string)
	}
	return links, nil
}

// uploadAll posts photo to every link with c uploads at a time and
// returns the wall time of the whole batch.
func uploadAll(ctx context.Context, links []string, photo []byte, c int) (time.Duration, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("document_type", "drivers_licence")
	fw, _ := mw.CreateFormFile("document", "card.jpg")
	fw.Write(photo)
	mw.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	began := time.Now()
	for range c {
		wg.Go(func() {
			for link := range next {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, link, bytes.NewReader(body.Bytes()))
				req.Header.Set("Content-Type", mw.FormDataContentType())
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusSeeOther {
						err = fmt.Errorf("upload answered %d", resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	for _, l := range links {
		next <- l
	}
	close(next)
	wg.Wait()
	return time.Since(began), firstErr
}
