package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testHTTPLimits are the server's rules at a scale a test can watch.
func testHTTPLimits() httpLimits {
	return httpLimits{headerTimeout: 5 * time.Second, readIdle: 300 * time.Millisecond, minRate: 200,
		writeAfterBody: 400 * time.Millisecond, idleTimeout: time.Second, maxConnections: 4}
}

// serveTest runs h behind newHTTPServer on a loopback port.
func serveTest(t *testing.T, lim httpLimits, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, lim)
	go srv.Serve(lim.listen(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func sendHead(t *testing.T, c net.Conn, length int) {
	t.Helper()
	fmt.Fprintf(c, "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", length)
}

func TestAStalledUploadLosesItsConnectionInsteadOfHoldingIt(t *testing.T) {
	readErr := make(chan error, 1)
	addr := serveTest(t, testHTTPLimits(), func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sendHead(t, c, 1<<20)
	c.Write([]byte("the first bytes, then nothing"))
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the handler read a whole body that never came")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled upload still holds its request after 30 s (read idle is 300 ms)")
	}
}

func TestASlowHonestUploadGetsItsAnswerHoweverLongItTook(t *testing.T) {
	if testing.Short() {
		t.Skip("trickles an upload for seconds; skipped under -short")
	}
	lim := testHTTPLimits()
	addr := serveTest(t, lim, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "received %d bytes", n)
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 30 pieces of 40 bytes, 100 ms apart: 400 B/s, above minRate, and 3 s
	// in all, far past both readIdle and writeAfterBody.
	const pieces, size = 30, 40
	sendHead(t, c, pieces*size)
	for range pieces {
		if _, err := c.Write([]byte(strings.Repeat("x", size))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer after a slow upload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != fmt.Sprintf("received %d bytes", pieces*size) {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
}

func TestTheListenerCapsOpenConnections(t *testing.T) {
	lim := httpLimits{maxConnections: 2}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := lim.listen(raw)
	defer ln.Close()
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	for range 2 {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	var third atomic.Bool
	accepted := make(chan net.Conn)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			third.Store(true)
			accepted <- c
		}
	}()
	if third.Load() {
		t.Fatal("a third connection was accepted while two were open")
	}
	held[0].Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("closing a connection did not make room for the next")
	}
	held[1].Close()
}
