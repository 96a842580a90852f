package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// markerPNG is a grey image whose first pixel row is the marker itself: it
// is encoded without compression or filtering, so the marker's bytes stand
// literally in the file, as they would in any plaintext copy of it. A tEXt
// chunk carries the marker too, as metadata.
func markerPNG(t testing.TB, marker string) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 400, 300))
	for x := 0; x < 400; x++ {
		img.Pix[x] = marker[x%len(marker)]
	}
	for y := 1; y < 300; y++ {
		for x := 0; x < 400; x++ {
			img.SetGray(x, y, color.Gray{Y: uint8(x ^ y)})
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.NoCompression}
	if err := enc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.Contains(b, []byte(marker)) {
		t.Fatal("the marker is not literally in the PNG: the test would prove nothing")
	}
	// Insert a tEXt chunk after IHDR (8 signature + 25 IHDR bytes).
	text := []byte("Comment\x00" + marker)
	chunk := make([]byte, 0, len(text)+12)
	chunk = append(chunk, byte(len(text)>>24), byte(len(text)>>16), byte(len(text)>>8), byte(len(text)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, text...)
	chunk = append(chunk, 0, 0, 0, 0) // CRC is not checked for ancillary chunks by the stripper
	out := append([]byte{}, b[:33]...)
	out = append(out, chunk...)
	return append(out, b[33:]...)
}

// noiseJPEG is a large photo-like JPEG (noise compresses badly), so an
// upload of it streams for a while.
func noiseJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	return buf.Bytes()
}

// filesContaining returns the files under dirs that contain any needle.
func filesContaining(t testing.TB, needles [][]byte, dirs ...string) []string {
	t.Helper()
	var hits []string
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, n := range needles {
				if bytes.Contains(b, n) {
					hits = append(hits, fmt.Sprintf("%s (contains %q…)", p, n[:min(len(n), 16)]))
				}
			}
			return nil
		})
	}
	return hits
}

// windows returns k slices of n bytes from the second half of b: bytes of
// the image data itself, which any plaintext copy would contain.
func windows(b []byte, k, n int) [][]byte {
	var out [][]byte
	for i := 0; i < k; i++ {
		off := len(b)/2 + i*(len(b)/2-n)/k
		out = append(out, b[off:off+n])
	}
	return out
}

func TestAnUploadLeavesNoPlaintextUnderTheDataDirectory(t *testing.T) {
	in := startInstance(t, "")
	marker := fmt.Sprintf("KAKUNIN-MARKER-%d", time.Now().UnixNano())
	in.API("PUT", "/api/v1/members/m1", map[string]string{"email": "m1@example.test", "locale": "ja"})
	in.API("PUT", "/api/v1/members/m2", map[string]string{"email": "m2@example.test", "locale": "ja"})
	_, v1 := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": "m1"})
	_, v2 := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": "m2"})

	pngFile := markerPNG(t, marker)
	jpegFile := withEXIF(sampleJPEG(t, 7), marker)
	if status, body := upload(t, v1["upload_url"].(string), "passport", pngFile); status != http.StatusSeeOther {
		t.Fatalf("png upload: %d %s", status, body)
	}
	if status, body := upload(t, v2["upload_url"].(string), "drivers_licence", jpegFile); status != http.StatusSeeOther {
		t.Fatalf("jpeg upload: %d %s", status, body)
	}
	if n := len(blobFiles(t, in.Data)); n != 2 {
		t.Fatalf("want 2 stored blobs, found %d", n)
	}
	needles := append([][]byte{[]byte(marker)}, windows(jpegFile, 8, 48)...)
	needles = append(needles, windows(pngFile, 8, 48)...)
	if hits := filesContaining(t, needles, in.Data, in.TempDir); len(hits) > 0 {
		t.Fatalf("plaintext found at rest while running:\n%s", strings.Join(hits, "\n"))
	}
	in.Stop() // checkpoints the WAL into the database file
	if hits := filesContaining(t, needles, in.Data, in.TempDir); len(hits) > 0 {
		t.Fatalf("plaintext found at rest after shutdown:\n%s", strings.Join(hits, "\n"))
	}
	if strings.Contains(in.logs.String(), marker) {
		t.Fatal("the marker reached the log")
	}
}

func TestACopyOfTheDataWithoutTheKeysetDecryptsNothing(t *testing.T) {
	ctx := context.Background()
	in := startInstance(t, "")
	in.API("PUT", "/api/v1/members/m1", map[string]string{"email": "m1@example.test", "locale": "ja"})
	_, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": "m1"})
	if status, _ := upload(t, v["upload_url"].(string), "passport", sampleJPEG(t, 3)); status != http.StatusSeeOther {
		t.Fatal("upload failed")
	}
	in.Stop()

	// The data directory holds no key at all: they are beside it.
	keyDir := in.KeyDir()
	if _, err := os.Stat(filepath.Join(in.Data, "keys")); err == nil {
		t.Fatal("keys were created inside the data directory")
	}
	if _, err := os.Stat(filepath.Join(keyDir, "master.json")); err != nil {
		t.Fatalf("no keyset beside the data directory: %v", err)
	}
	// The attacker's copy: the data directory, and the key directory but
	// for the key-encryption keyset.
	stolen := t.TempDir()
	copyTree(t, in.Data, stolen, func(string) bool { return true })
	copyTree(t, keyDir, filepath.Join(stolen, "keys"), func(rel string) bool { return rel != "master.json" })

	db, err := store.Open(ctx, filepath.Join(stolen, "kakunin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	doc, err := db.DocumentByVerification(ctx, v["id"].(string))
	if err != nil || doc.WrappedKey == nil {
		t.Fatalf("the copy should hold the wrapped key: %v", err)
	}
	blob, err := os.ReadFile(filepath.Join(stolen, "blobs", filepath.FromSlash(doc.BlobKey)))
	if err != nil {
		t.Fatal(err)
	}

	// With a keyset of their own, the copied keys do not even open.
	kek, err := vault.OpenLocalKeyset(filepath.Join(t.TempDir(), "attacker.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vault.New(ctx, kek, filepath.Join(stolen, "keys")); err == nil {
		t.Fatal("the copied key directory opened under another keyset")
	}
	// Without the key directory at all, the epoch key is simply missing.
	v2, err := vault.New(ctx, kek, filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := v2.OpenDocument(ctx, doc.ID, doc.Epoch, doc.WrappedKey, bytes.NewReader(blob)); err == nil {
		if _, err := io.ReadAll(r); err == nil {
			t.Fatal("the document decrypted without its keys")
		}
	}
	// The service refuses to start on the copy rather than making new keys.
	cmd := exec.Command(kakuninBin, "serve", "--data", stolen, "--key-dir", filepath.Join(t.TempDir(), "new-keys"), "--addr", freeAddr(t))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "will not make new keys") {
		t.Fatalf("serve on a copy without the keyset: err=%v\n%s", err, out)
	}

	// Control: with the real keyset the same copy does decrypt, so the
	// failures above are the keyset's absence and nothing else.
	realKEK, err := vault.OpenLocalKeyset(filepath.Join(keyDir, "master.json"))
	if err != nil {
		t.Fatal(err)
	}
	v3, err := vault.New(ctx, realKEK, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := v3.OpenDocument(ctx, doc.ID, doc.Epoch, doc.WrappedKey, bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := io.ReadAll(r); err != nil || int64(len(plain)) != doc.Size {
		t.Fatalf("control decrypt: %d bytes, %v", len(plain), err)
	}
}

func copyTree(t testing.TB, src, dst string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if !keep(rel) {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAServerKilledDuringAnUploadLeavesNoRecordAndNoReadableBlob(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		in := startInstance(t, dsn)
		in.API("PUT", "/api/v1/members/m1", map[string]string{"email": "m1@example.test", "locale": "ja"})
		_, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": "m1"})
		uploadURL := v["upload_url"].(string)
		big := noiseJPEG(t, 1600, 1200)
		ct, body := uploadForm("passport", "big.jpg", big)

		// Send the headers and 70% of the body, then kill the server while
		// it is still reading.
		conn, err := net.Dial("tcp", in.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		path := strings.TrimPrefix(uploadURL, in.URL)
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, in.Addr, ct, len(body))
		conn.Write(body[:len(body)*7/10])
		time.Sleep(500 * time.Millisecond)
		in.Kill()

		in.Start()
		if _, v = in.API("GET", "/api/v1/verifications/"+v["id"].(string), nil); v["status"] != "awaiting_upload" {
			t.Fatalf("after the crash the verification is %v", v["status"])
		}
		if files := blobFiles(t, in.Data); len(files) != 0 {
			t.Fatalf("a blob survived the crash: %v", files)
		}
		if hits := filesContaining(t, windows(big, 8, 48), in.Data, in.TempDir); len(hits) > 0 {
			t.Fatalf("plaintext left by the crash:\n%s", strings.Join(hits, "\n"))
		}
		// Nothing was acknowledged, so nothing is lost: the link still works.
		if status, b := upload(t, uploadURL, "passport", sampleJPEG(t, 4)); status != http.StatusSeeOther {
			t.Fatalf("upload after restart: %d %s", status, b)
		}
	})
}

// counts returns the number of members, verifications and documents.
func counts(t testing.TB, in *instance) [3]int {
	t.Helper()
	dsn := in.Database
	if dsn == "" {
		dsn = filepath.Join(in.Data, "kakunin.db")
	}
	db, _, err := store.OpenSQL(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c [3]int
	for i, table := range []string{"members", "verifications", "documents"} {
		if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&c[i]); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestBadInputsGetAClearErrorAndChangeNothing(t *testing.T) {
	in := startInstance(t, "", "--max-upload-mb", "1")
	in.API("PUT", "/api/v1/members/m1", map[string]string{"email": "m1@example.test", "locale": "ja"})
	_, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": "m1"})
	uploadURL := v["upload_url"].(string)
	before := counts(t, in)

	raw := func(method, path, key, body string) (int, string) {
		req, _ := http.NewRequest(method, in.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if method != http.MethodGet && !strings.HasPrefix(body, "form:") {
			req.Header.Set("Content-Type", "application/json")
		} else if method != http.MethodGet {
			req.Body = io.NopCloser(strings.NewReader(strings.TrimPrefix(body, "form:")))
			req.ContentLength = int64(len(body) - len("form:"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"no key", "POST", "/api/v1/verifications", "", `{"external_id":"m1"}`, 401, "unauthorized"},
		{"wrong key", "POST", "/api/v1/verifications", "kkn_wrong", `{"external_id":"m1"}`, 401, "unauthorized"},
		{"not JSON", "POST", "/api/v1/verifications", in.APIKey, `external_id=m1`, 400, "invalid"},
		{"not sent as JSON", "POST", "/api/v1/verifications", in.APIKey, `form:external_id=m1`, 415, "unsupported"},
		{"empty body", "POST", "/api/v1/verifications", in.APIKey, ``, 400, "invalid"},
		{"unknown field", "POST", "/api/v1/verifications", in.APIKey, `{"external_id":"m1","admin":true}`, 400, "invalid"},
		{"two objects", "POST", "/api/v1/verifications", in.APIKey, `{"external_id":"m1"}{"external_id":"m1"}`, 400, "invalid"},
		{"wrong type", "POST", "/api/v1/verifications", in.APIKey, `{"external_id":42}`, 400, "invalid"},
		{"missing id", "POST", "/api/v1/verifications", in.APIKey, `{}`, 400, "invalid"},
		{"unknown member", "POST", "/api/v1/verifications", in.APIKey, `{"external_id":"nobody"}`, 404, "not_found"},
		{"oversize body", "POST", "/api/v1/verifications", in.APIKey, `{"external_id":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "too_large"},
		{"bad email", "PUT", "/api/v1/members/m2", in.APIKey, `{"email":"not an address","locale":"ja"}`, 400, "invalid"},
		{"display-name email", "PUT", "/api/v1/members/m2", in.APIKey, `{"email":"Hanako <h@example.test>","locale":"ja"}`, 400, "invalid"},
		{"bad locale", "PUT", "/api/v1/members/m2", in.APIKey, `{"email":"h@example.test","locale":"fr"}`, 400, "invalid"},
		{"unknown verification", "GET", "/api/v1/verifications/ver_nope", in.APIKey, ``, 404, "not_found"},
		{"unknown route", "GET", "/api/v1/nothing", in.APIKey, ``, 404, "not_found"},
	} {
		status, body := raw(tc.method, tc.path, tc.key, tc.body)
		if status != tc.status || !strings.Contains(body, `"code":"`+tc.code+`"`) || !strings.Contains(body, `"message":"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}

	bigPNG := noiseJPEG(t, 1400, 1000) // over the 1 MiB limit set above
	bomb := bombPNG()
	for _, tc := range []struct {
		name     string
		docType  string
		file     []byte
		status   int
		fragment string // a word of the English or Japanese message class
	}{
		{"PDF", "passport", []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"), 415, ""},
		{"HEIC", "passport", append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...), 415, ""},
		{"GIF", "passport", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 415, ""},
		{"random bytes", "passport", bytes.Repeat([]byte{0x13, 0x37}, 500), 415, ""},
		{"truncated JPEG", "passport", sampleJPEG(t, 5)[:20000], 400, ""},
		{"decompression bomb", "passport", bomb, 413, ""},
		{"oversize", "passport", bigPNG, 413, ""},
		{"missing file", "passport", nil, 400, ""},
		{"missing type", "", sampleJPEG(t, 6), 400, ""},
		{"unknown type", "residence_card", sampleJPEG(t, 6), 400, ""},
	} {
		status, body := upload(t, uploadURL, tc.docType, tc.file)
		if status != tc.status || !strings.Contains(body, `role="alert"`) {
			t.Errorf("upload %s: %d, want %d with an alert on the page", tc.name, status, tc.status)
		}
	}
	if after := counts(t, in); after != before {
		t.Fatalf("bad inputs changed state: %v → %v", before, after)
	}
	if _, v = in.API("GET", "/api/v1/verifications/"+v["id"].(string), nil); v["status"] != "awaiting_upload" {
		t.Fatalf("the link was used up by bad uploads: %v", v["status"])
	}
	if files := blobFiles(t, in.Data); len(files) != 0 {
		t.Fatalf("bad uploads left blobs: %v", files)
	}
	if tmp, _ := filepath.Glob(filepath.Join(in.Data, "blobs", "*", "*", "*.tmp")); len(tmp) != 0 {
		t.Fatalf("bad uploads left temp files: %v", tmp)
	}
}

// bombPNG is a 100 000 × 100 000 PNG header with almost no data.
func bombPNG() []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// Rewrite IHDR's width and height (bytes 16..23) and its CRC: a
	// well-formed header for an image that would need 10 GB to decode.
	for i, v := range []byte{0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0} {
		b[16+i] = v
	}
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestPersonalResponsesAreNeverCacheable(t *testing.T) {
	in := startInstance(t, "")
	in.API("PUT", "/api/v1/members/m1", map[string]string{"email": "m1@example.test", "locale": "ja"})
	_, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": "m1"})
	for _, path := range []string{"/", "/console/login", strings.TrimPrefix(v["upload_url"].(string), in.URL), "/api/v1/verifications/" + v["id"].(string), "/nothing-here", "/u/forged.token.here"} {
		req, _ := http.NewRequest("GET", in.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+in.APIKey)
		resp, err := browserless().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get("Cache-Control") != "no-store, private" {
			t.Errorf("%s: Cache-Control %q", path, h.Get("Cache-Control"))
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing: %v", path, h)
		}
	}
	resp, err := http.Get(in.URL + "/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") {
		t.Errorf("static file: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}

func TestCrossSiteFormPostsAreRefused(t *testing.T) {
	in := startInstance(t, "")
	req, _ := http.NewRequest("POST", in.URL+"/console/login", strings.NewReader("email=a%40b.test&password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", resp.StatusCode)
	}
}

func TestTheLogCarriesNoSecretsOrPersonalData(t *testing.T) {
	in := startInstance(t, "")
	email := "secret.person@example.test"
	in.API("PUT", "/api/v1/members/m1", map[string]string{"email": email, "locale": "ja"})
	_, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": "m1"})
	uploadURL := v["upload_url"].(string)
	upload(t, uploadURL, "passport", sampleJPEG(t, 8))
	acct := in.AddStaff("rev@example.test", "reviewer")
	rv := in.signIn(acct)
	rv.takeNext()
	in.Stop()
	logs := in.logs.String()
	token := uploadURL[strings.LastIndex(uploadURL, "/")+1:]
	for what, s := range map[string]string{"member e-mail": email, "upload token": token, "API key": in.APIKey, "TOTP secret": acct.Secret, "password": acct.Password} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", what)
		}
	}
	// Every line is JSON (machine-readable for the operator's log stack).
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "{") {
			t.Errorf("non-JSON log line: %q", line)
		}
	}
}
