package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// tinyDisk mounts a 256 KiB tmpfs (a real full disk: writes fail with
// ENOSPC) and unmounts it when t ends; skipped where mounting is not
// allowed (not root, no CAP_SYS_ADMIN).
func tinyDisk(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v: %s); the unit test in internal/web covers ENOSPC by injection", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	// Fill it but for a few KiB: room for directories, not for an image.
	f, err := os.Create(dir + "/filler")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 256<<10)) // fails with ENOSPC part-way: that is the point
	f.Close()
	os.Truncate(dir+"/filler", 240<<10)
	return dir
}

// Issue 17 item 5 on a really full disk: the real binary answers an upload
// that does not fit with 507 (twice), raises one alert, reports the storage
// on /readyz, and leaves no temp file on the full disk.
func TestARealFullDiskGets507OneAlertAndANotReadyReplica(t *testing.T) {
	disk := tinyDisk(t)
	in := startInstance(t, "", "--blobs", "file://"+disk+"/blobs", "--max-upload-mb", "1")
	for i, ext := range []string{"full-1", "full-2"} {
		_, uploadURL := newUploadLink(t, in, ext)
		status, body := upload(t, uploadURL, "drivers_licence", sampleJPEG(t, int64(10+i)))
		if status != http.StatusInsufficientStorage {
			t.Fatalf("upload %d onto a full disk: %d, want 507\n%.300s", i+1, status, body)
		}
		if !strings.Contains(body, "保存領域") {
			t.Errorf("upload %d: the Japanese page does not say the storage is full", i+1)
		}
	}
	resp, err := http.Get(in.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "storage") {
		t.Fatalf("readyz on a full disk: %d %q", resp.StatusCode, b)
	}
	db := openTestDB(t, in)
	defer db.Close()
	// The only alert this instance can raise here is storage.full.
	var alerts int
	if err := db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = 'alert_fanout'`).Scan(&alerts); err != nil {
		t.Fatal(err)
	}
	if alerts != 1 {
		t.Errorf("%d storage.full alerts for two refused uploads, want 1\n%s", alerts, in.logs.String())
	}
	if left := tempFiles(in.Data); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	walk := exec.Command("find", disk, "-name", "*.tmp")
	if out, _ := walk.Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("temp files left on the full disk: %s", out)
	}
}
