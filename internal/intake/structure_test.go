package intake

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/kakunin/kakunin"
)

// FuzzStructure checks the structural validator on any stripped stream: no
// panic; a stream it accepts is one stripping leaves byte for byte as it
// is (the validator reads what the strippers write, nothing looser); and
// the estimated decode cost of an accepted header is at least a byte per
// pixel. Seeds are in testdata/fuzz/FuzzStructure.
func FuzzStructure(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		fm, err := sniff(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			return
		}
		if checkStructure(fm, bytes.NewReader(in)) != nil {
			return
		}
		var out bytes.Buffer
		if _, err := fm.strip(bufio.NewReader(bytes.NewReader(in)), &out); err != nil {
			t.Fatalf("accepted by the structural check, refused by the stripper: %v", err)
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("accepted a stream that stripping changes (%d bytes -> %d)", len(in), out.Len())
		}
		if cfg, cost, err := decodeCost(fm, in[:min(len(in), configPrefix)]); err == nil && cost < int64(cfg.Width)*int64(cfg.Height) {
			t.Fatalf("%dx%d image estimated at %d bytes", cfg.Width, cfg.Height, cost)
		}
	})
}

// decodable returns the sanitised form of every seed the full decoder
// reads, so the structural check can be held to them.
func decodableSeeds(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, dir := range []string{"testdata/fuzz/FuzzSanitize", "testdata/fuzz/FuzzStructure"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, name := range files {
			in := readSeed(t, name)
			var buf bytes.Buffer
			lim := Limits{MaxBytes: 64 << 20, MinWidth: 1, MinHeight: 1, DecodeInline: true}
			if _, err := Sanitize(context.Background(), bytes.NewReader(in), &buf, lim); err == nil {
				out[name] = buf.Bytes()
			}
		}
	}
	return out
}

// readSeed reads the one []byte of a "go test fuzz v1" file.
func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	_, lit, ok := strings.Cut(string(b), "[]byte(")
	if !ok {
		t.Fatalf("%s: not a []byte seed", name)
	}
	v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimSpace(lit), ")"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(v)
}

func TestTheStructuralCheckAcceptsEveryImageTheDecoderReads(t *testing.T) {
	seeds := decodableSeeds(t)
	if len(seeds) < 5 {
		t.Fatalf("only %d decodable seeds", len(seeds))
	}
	for name, in := range seeds {
		fm, _ := sniff(bufio.NewReader(bytes.NewReader(in)))
		if err := checkStructure(fm, bytes.NewReader(in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTheStructuralCheckRefusesDamageTheStripperLetsThrough(t *testing.T) {
	jpg := encodeJPEG(t, testImage(320, 240, 8), 90)
	pngFile := encodePNG(t, testImage(320, 240, 8))
	sos := bytes.Index(jpg, []byte{0xFF, markerSOS})
	badScanHeader := bytes.Clone(jpg)
	badScanHeader[sos+5] = 0x77 // a component the frame does not have
	idat := bytes.Index(pngFile, []byte("IDAT"))
	shortRows := rewritePNGData(t, pngFile, idat, func(z []byte) []byte { return z[:len(z)/2] })
	tests := map[string][]byte{
		"a JPEG scan naming an unknown component": badScanHeader,
		"a JPEG without EOI":                      jpg[:len(jpg)-2],
		"a JPEG with data after EOI":              append(bytes.Clone(jpg), 0, 0),
		"a JPEG with an EXIF segment":             append(append([]byte{0xFF, 0xD8}, jpegSegment(markerAPP1, exifWithGPS(exifMarker))...), jpg[2:]...),
		"a PNG without IEND":                      pngFile[:len(pngFile)-12],
		"a PNG whose image data is cut short":     shortRows,
		"a JPEG with more scans than any encoder": manyScanJPEG(320, 240, maxJPEGScans+1),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			fm, err := sniff(bufio.NewReader(bytes.NewReader(in)))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkStructure(fm, bytes.NewReader(in)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// The many-scan JPEG within the limit is a valid image.
	ok := manyScanJPEG(320, 240, maxJPEGScans)
	if err := checkStructure(format{contentType: "image/jpeg"}, bytes.NewReader(ok)); err != nil {
		t.Fatalf("a progressive JPEG of %d scans: %v", maxJPEGScans, err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(ok)); err != nil {
		t.Fatalf("the fixture is not a JPEG: %v", err)
	}
}

func TestDecodeCostCountsTheDecodersBytesPerPixel(t *testing.T) {
	img := testImage(400, 300, 0)
	jpg := encodeJPEG(t, img, 90)
	var png16 bytes.Buffer
	png.Encode(&png16, image.NewRGBA64(image.Rect(0, 0, 400, 300)))
	simple, _, _ := webpWithMetadata(t)
	tests := []struct {
		name     string
		in       []byte
		min, max float64 // bytes per pixel
	}{
		{"a 4:2:0 baseline JPEG", jpg, 1.4, 1.7},
		{"a progressive grey JPEG", manyScanJPEG(400, 300, 2), 4.9, 5.5},
		{"a 16-bit PNG", png16.Bytes(), 8, 8.2},
		{"an 8-bit RGBA PNG", encodePNG(t, img), 4, 4.2},
		{"a lossy WebP", simple, 1.5, 1.7},
	}
	for _, tt := range tests {
		fm, err := sniff(bufio.NewReader(bytes.NewReader(tt.in)))
		if err != nil {
			t.Fatal(err)
		}
		cfg, cost, err := decodeCost(fm, tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		bpp := float64(cost) / float64(cfg.Width*cfg.Height)
		if bpp < tt.min || bpp > tt.max {
			t.Errorf("%s: %.2f bytes per pixel, want %.1f–%.1f", tt.name, bpp, tt.min, tt.max)
		}
	}
	_ = webp.Decode
}

// manyScanJPEG is a valid grey progressive JPEG of w×h whose image is
// sent as the same DC scan `scans` times: each scan costs the decoder a
// pass over every block, and the file stays small (a bit per block).
func manyScanJPEG(w, h, scans int) []byte {
	b := []byte{0xFF, markerSOI}
	q := make([]byte, 65)
	for i := 1; i < 65; i++ {
		q[i] = 1
	}
	b = append(b, jpegSegment(0xDB, q)...)
	b = append(b, jpegSegment(0xC2, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})...)
	// One DC code: length 1, category 0 (a difference of zero).
	dht := append([]byte{0x00, 1}, make([]byte, 15)...)
	b = append(b, jpegSegment(0xC4, append(dht, 0))...)
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	data := make([]byte, (blocks+7)/8) // a 0 bit per block
	if blocks%8 != 0 {
		data[len(data)-1] = 0xFF >> (blocks % 8) // pad with ones
	}
	for range scans {
		b = append(b, jpegSegment(markerSOS, []byte{1, 1, 0x00, 0, 0, 0})...)
		b = append(b, data...)
	}
	return append(b, 0xFF, markerEOI)
}

// rewritePNGData replaces the data of the one IDAT chunk at idat (the
// offset of its type) with f of it, fixing the length and CRC.
func rewritePNGData(t *testing.T, in []byte, idat int, f func([]byte) []byte) []byte {
	t.Helper()
	n := int(uint32(in[idat-4])<<24 | uint32(in[idat-3])<<16 | uint32(in[idat-2])<<8 | uint32(in[idat-1]))
	data := f(bytes.Clone(in[idat+4 : idat+4+n]))
	out := append(bytes.Clone(in[:idat-4]), pngChunk("IDAT", data)...)
	return append(out, in[idat+4+n+4:]...)
}

func TestDecodeRefusesAnImageWhoseStructureIsSoundButPixelsAreNot(t *testing.T) {
	bad := manyScanJPEG(320, 240, 1)
	sos := bytes.LastIndex(bad, []byte{0xFF, markerSOS})
	for i := sos + 10; i < len(bad)-2; i++ {
		bad[i] = 0xFE // codes the one-code Huffman table does not have
	}
	var out bytes.Buffer
	info, err := Sanitize(context.Background(), bytes.NewReader(bad), &out, Limits{})
	if err != nil {
		t.Fatalf("the structural check refused it: %v", err)
	}
	if info.DecodeCost < 320*240 {
		t.Fatalf("decode cost %d", info.DecodeCost)
	}
	if err := Decode(context.Background(), bytes.NewReader(out.Bytes())); kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Fatalf("Decode: %v, want EINVALID", err)
	}
	if _, err := Sanitize(context.Background(), bytes.NewReader(bad), io.Discard, Limits{DecodeInline: true}); kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Fatalf("Sanitize with DecodeInline: %v, want EINVALID", err)
	}
	good := manyScanJPEG(320, 240, 1)
	if err := Decode(context.Background(), bytes.NewReader(good)); err != nil {
		t.Fatalf("Decode of a sound image: %v", err)
	}
	if cost, err := DecodeCost(good); err != nil || cost != info.DecodeCost {
		t.Fatalf("DecodeCost %d %v, Sanitize said %d", cost, err, info.DecodeCost)
	}
}

// brokenAfter returns the first n bytes of b, then fails as a blob store
// or a decryption would.
type brokenAfter struct {
	b []byte
	n int
}

var errStoreDown = errors.New("blob store connection reset")

func (r *brokenAfter) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errStoreDown
	}
	k := copy(p, r.b[:r.n])
	r.b, r.n = r.b[k:], r.n-k
	return k, nil
}

func TestDecodeReportsAReadFailureAsItselfNotAsADamagedImage(t *testing.T) {
	good := encodeJPEG(t, testImage(320, 240, 8), 90)
	err := Decode(context.Background(), &brokenAfter{b: good, n: len(good) / 2})
	if !errors.Is(err, errStoreDown) || kakunin.ErrorCode(err) == kakunin.EINVALID {
		t.Fatalf("Decode: %v, want the read error, not EINVALID", err)
	}
}
