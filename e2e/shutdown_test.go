package e2e

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// slowUpload starts a member's upload whose body arrives in two halves: it
// returns once the server is writing the blob (its temp file exists), with
// a function that sends the rest and returns the answer's status (or 0 if
// the connection was cut).
func slowUpload(t *testing.T, in *instance, uploadURL string) (finish func(rest bool) int) {
	t.Helper()
	file := sampleJPEG(t, 7)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, _ := http.NewRequest(http.MethodPost, uploadURL, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	status := make(chan int, 1)
	go func() {
		resp, err := browserless().Do(req)
		if err != nil {
			status <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	go func() {
		mw.WriteField("document_type", "drivers_licence")
		w, _ := mw.CreateFormFile("document", "card.jpg")
		w.Write(file[:len(file)/2])
	}()
	waitFor(t, "the upload's temp file", 20*time.Second, func() bool { return len(tempFiles(in.Data)) > 0 })
	return func(rest bool) int {
		if rest {
			var buf bytes.Buffer
			buf.Write(file[len(file)/2:])
			go func() {
				// The multipart writer wraps pw: finish the part and the form.
				pw.Write(buf.Bytes())
				mw.Close()
				pw.Close()
			}()
		} else {
			// The client gives up too, or its transport waits on the body.
			pw.CloseWithError(io.ErrUnexpectedEOF)
		}
		return <-status
	}
}

// stopAndWait sends SIGTERM and returns the exit error (nil: status 0).
func stopAndWait(t *testing.T, in *instance) (wait func() error) {
	t.Helper()
	cmd := in.cmd
	in.cmd = nil // the harness's Stop must not signal it again
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("server did not exit after SIGTERM:\n%s", in.logs.String())
			return nil
		}
	}
}

// Issue 17 item 6: a routine stop during an upload lets it finish, exits 0
// and leaves no temp file.
func TestSIGTERMLetsAnUploadInFlightFinishAndExitsCleanly(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		in := startInstance(t, dsn, "--shutdown-timeout", "30s")
		_, uploadURL := newUploadLink(t, in, "slow-member")
		finish := slowUpload(t, in, uploadURL)
		wait := stopAndWait(t, in)
		if status := finish(true); status != http.StatusSeeOther {
			t.Fatalf("upload in flight at SIGTERM answered %d, want 303 (accepted)", status)
		}
		if err := wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", err, in.logs.String())
		}
		if tmp := tempFiles(in.Data); len(tmp) > 0 {
			t.Fatalf("temp files left: %v", tmp)
		}
		if n := len(blobFiles(t, in.Data)); n != 1 {
			t.Fatalf("%d blobs after the accepted upload, want 1", n)
		}
	})
}

// An upload that does not finish within --shutdown-timeout is cut off: the
// process still exits 0, and its partial ciphertext is removed at once
// (not an hour later by the sweep).
func TestSIGTERMCutsOffAStalledUploadAtTheTimeoutAndLeavesNothing(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		in := startInstance(t, dsn, "--shutdown-timeout", "1s")
		id, uploadURL := newUploadLink(t, in, "stalled-member")
		finish := slowUpload(t, in, uploadURL)
		wait := stopAndWait(t, in)
		if err := wait(); err != nil {
			t.Fatalf("exit after SIGTERM with a stalled upload: %v, want status 0\n%s", err, in.logs.String())
		}
		if status := finish(false); status == http.StatusSeeOther {
			t.Fatal("a cut-off upload was acknowledged")
		}
		if tmp := tempFiles(in.Data); len(tmp) > 0 {
			t.Fatalf("temp files left after the stop: %v", tmp)
		}
		if n := len(blobFiles(t, in.Data)); n != 0 {
			t.Fatalf("%d blobs after an unacknowledged upload, want 0", n)
		}
		// The member can still upload after the restart.
		in.Start()
		if st, _ := verificationStatus(t, in, id); st != "awaiting_upload" {
			t.Fatalf("verification %s after the cut-off upload, want awaiting_upload", st)
		}
	})
}
