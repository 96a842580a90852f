package store_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// signalHandler is a slog handler that closes a channel at the first
// warning: the sentinel that OpenWait has missed once and is waiting.
type signalHandler struct {
	slog.Handler
	once *sync.Once
	ch   chan struct{}
}

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

// Start-up waits for a database that is not up yet, then opens it.
func TestStartUpWaitsForTheDatabaseInsteadOfCrashing(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	u, _ := url.Parse(dsn)
	real := u.Host
	// A port with nothing behind it yet.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().String()
	l.Close()
	u.Host = port
	waiting := make(chan struct{})
	log := slog.New(signalHandler{Handler: slog.NewTextHandler(io.Discard, nil), once: &sync.Once{}, ch: waiting})
	type result struct {
		db  *store.DB
		err error
	}
	done := make(chan result, 1)
	go func() {
		db, err := store.OpenWait(context.Background(), u.String(), time.Minute, log)
		done <- result{db, err}
	}()
	<-waiting
	// The database "comes up": a forwarder to the real server on that port.
	l, err = net.Listen("tcp", port)
	if err != nil {
		t.Fatalf("re-listen on %s: %v", port, err)
	}
	defer l.Close()
	go forward(l, real)
	r := <-done
	if r.err != nil {
		t.Fatalf("OpenWait: %v", r.err)
	}
	r.db.Close()
}

func TestStartUpGivesUpAfterTheWaitAndSaysSo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().String()
	l.Close()
	_, err = store.OpenWait(context.Background(), "postgres://postgres@"+port+"/test?sslmode=disable&connect_timeout=1",
		300*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "--database-wait") {
		t.Fatalf("err %v, want one naming --database-wait", err)
	}
}

func forward(l net.Listener, to string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer s.Close()
			go io.Copy(s, c)
			io.Copy(c, s)
		}()
	}
}

// A server that answers "no such database" is not worth waiting for.
func TestStartUpDoesNotWaitWhenTheServerRefuses(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	u, _ := url.Parse(dsn)
	u.Path = "/kakunin_no_such_database"
	warned := make(chan struct{})
	log := slog.New(signalHandler{Handler: slog.NewTextHandler(io.Discard, nil), once: &sync.Once{}, ch: warned})
	_, err := store.OpenWait(context.Background(), u.String(), time.Hour, log)
	if err == nil {
		t.Fatal("opened a database that does not exist")
	}
	select {
	case <-warned:
		t.Fatalf("waited (retried) on a refusal: %v", err)
	default:
	}
}
