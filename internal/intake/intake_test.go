package intake

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/kakunin/kakunin"
)

func sanitize(t testing.TB, in []byte, lim Limits) ([]byte, Info, error) {
	t.Helper()
	var out bytes.Buffer
	info, err := Sanitize(context.Background(), bytes.NewReader(in), &out, lim)
	return out.Bytes(), info, err
}

func mustSanitize(t testing.TB, in []byte, lim Limits) ([]byte, Info) {
	t.Helper()
	out, info, err := sanitize(t, in, lim)
	if err != nil {
		t.Fatalf("Sanitize: %v", err)
	}
	if info.Size != int64(len(out)) {
		t.Errorf("Info.Size = %d, but %d bytes were written", info.Size, len(out))
	}
	return out, info
}

// samePixels fails the test unless a and b decode to identical pixels.
func samePixels(t *testing.T, decode func(io.Reader) (image.Image, error), a, b []byte) {
	t.Helper()
	ia, err := decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("decode original: %v", err)
	}
	ib, err := decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode sanitised: %v", err)
	}
	if ia.Bounds() != ib.Bounds() {
		t.Fatalf("bounds %v, want %v", ib.Bounds(), ia.Bounds())
	}
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if ia.At(x, y) != ib.At(x, y) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, ib.At(x, y), ia.At(x, y))
			}
		}
	}
}

func assertAbsent(t *testing.T, out []byte, markers ...string) {
	t.Helper()
	for _, m := range markers {
		if bytes.Contains(out, []byte(m)) {
			t.Errorf("output still contains %q", m)
		}
	}
}

func TestSanitizeJPEGDropsEXIFGPSCommentsAndTrailingDataButKeepsPixels(t *testing.T) {
	plain, dirty := jpegWithMetadata(t, testImage(320, 240, 8))
	out, info := mustSanitize(t, dirty, DefaultLimits())

	assertAbsent(t, out, exifMarker, comMarker, xmpMarker, textMarker, trailMarker, "Exif\x00\x00", "Photoshop")
	for _, kept := range []string{"JFIF\x00", "ICC_PROFILE\x00", iccMarker} {
		if !bytes.Contains(out, []byte(kept)) {
			t.Errorf("output lost %q", kept)
		}
	}
	if !bytes.HasSuffix(out, []byte{0xFF, 0xD9}) {
		t.Errorf("output does not end at EOI: % x", out[len(out)-4:])
	}
	if want := (Info{ContentType: "image/jpeg", Width: 320, Height: 240, Size: int64(len(out)), Orientation: 1, DecodeCost: 320 * 240 * 3 / 2}); info != want {
		t.Errorf("Info = %+v, want %+v", info, want)
	}
	samePixels(t, jpeg.Decode, plain, out)
}

func TestSanitizeCopiesAJPEGWithoutMetadataByteForByte(t *testing.T) {
	// The encoder's own output has no metadata, so sanitising must add
	// nothing and drop nothing, whether the file fits in the header
	// prefix or streams past it.
	for _, size := range [][2]int{{400, 300}, {1000, 800}} {
		plain := encodeJPEG(t, testImage(size[0], size[1], 255), 85)
		out, _ := mustSanitize(t, plain, DefaultLimits())
		if !bytes.Equal(out, plain) {
			t.Fatalf("a %d-byte JPEG without metadata changed: %d bytes out", len(plain), len(out))
		}
	}
}

func TestSanitizePNGDropsTextEXIFAndUnknownChunksButKeepsColourAndPixels(t *testing.T) {
	plain, dirty := pngWithMetadata(t, testImage(320, 240, 8))
	out, info := mustSanitize(t, dirty, DefaultLimits())

	assertAbsent(t, out, exifMarker, textMarker, xmpMarker, comMarker, trailMarker, "tEXt", "eXIf", "iTXt", "tIME", "prVt")
	if !bytes.Contains(out, []byte("gAMA")) {
		t.Error("output lost the gAMA colour chunk")
	}
	if !bytes.HasSuffix(out, []byte("IEND\xae\x42\x60\x82")) {
		t.Error("output does not end at IEND")
	}
	if info.ContentType != "image/png" || info.Width != 320 || info.Height != 240 {
		t.Errorf("Info = %+v", info)
	}
	samePixels(t, png.Decode, plain, out)
}

func TestSanitizeWebPDropsEXIFAndXMPAndFixesTheContainer(t *testing.T) {
	simple, dirty, want := webpWithMetadata(t)
	out, info := mustSanitize(t, dirty, DefaultLimits())

	if !bytes.Equal(out, want) {
		t.Errorf("stripped container differs:\n got % x\nwant % x", out[:40], want[:40])
	}
	assertAbsent(t, out, exifMarker, xmpMarker, trailMarker, "EXIF", "XMP ")
	if info.ContentType != "image/webp" || info.Width != 400 || info.Height != 301 {
		t.Errorf("Info = %+v", info)
	}
	samePixels(t, webp.Decode, simple, out)
}

func TestSanitizeOutputSanitizesAgainToTheSameBytes(t *testing.T) {
	_, j := jpegWithMetadata(t, testImage(320, 240, 8))
	_, p := pngWithMetadata(t, testImage(320, 240, 8))
	_, w, _ := webpWithMetadata(t)
	for name, in := range map[string][]byte{"jpeg": j, "png": p, "webp": w} {
		t.Run(name, func(t *testing.T) {
			once, _ := mustSanitize(t, in, DefaultLimits())
			twice, _ := mustSanitize(t, once, DefaultLimits())
			if !bytes.Equal(once, twice) {
				t.Error("a second pass changed the output")
			}
		})
	}
}

func TestSanitizeRefuses(t *testing.T) {
	jpg := encodeJPEG(t, testImage(320, 240, 8), 90)
	pngFile := encodePNG(t, testImage(320, 240, 8))
	corruptPNG := bytes.Clone(pngFile)
	corruptPNG[len(corruptPNG)/2] ^= 0xFF // the IDAT CRC no longer matches
	corruptJPEG := bytes.Clone(jpg)
	for i := len(jpg) / 2; i < len(jpg)/2+64; i++ {
		corruptJPEG[i] = 0xFF // a run of fill bytes ends the scan early
	}
	_, webpFile, _ := webpWithMetadata(t)

	tests := []struct {
		name string
		in   []byte
		lim  Limits
		code string
		msg  string // a part of the message the member sees
	}{
		{"an empty file", nil, Limits{}, kakunin.EINVALID, "empty"},
		{"a HEIC photo", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), Limits{}, kakunin.EUNSUPPORTED, "HEIC photos are not accepted yet"},
		{"a HEIF photo branded mif1", []byte("\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heix"), Limits{}, kakunin.EUNSUPPORTED, "JPEG or PNG"},
		{"an AVIF photo", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1"), Limits{}, kakunin.EUNSUPPORTED, "AVIF images are not accepted"},
		{"a PDF", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), Limits{}, kakunin.EUNSUPPORTED, "PDF files are not accepted"},
		{"a GIF", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), Limits{}, kakunin.EUNSUPPORTED, "JPEG, PNG or WebP"},
		{"random bytes", bytes.Repeat([]byte{0x13, 0x37, 0xC0, 0xDE}, 100), Limits{}, kakunin.EUNSUPPORTED, "JPEG, PNG or WebP"},
		{"a lone JPEG signature", []byte{0xFF, 0xD8, 0xFF}, Limits{}, kakunin.EINVALID, "incomplete or damaged"},
		{"a JPEG cut in its scan", jpg[:len(jpg)/2], Limits{}, kakunin.EINVALID, "incomplete or damaged"},
		{"a JPEG without EOI", jpg[:len(jpg)-2], Limits{}, kakunin.EINVALID, "incomplete or damaged"},
		{"a JPEG with a broken scan", corruptJPEG, Limits{}, kakunin.EINVALID, "incomplete or damaged"},
		{"a PNG cut in IDAT", pngFile[:len(pngFile)/2], Limits{}, kakunin.EINVALID, "incomplete or damaged"},
		{"a PNG with a bad CRC", corruptPNG, Limits{}, kakunin.EINVALID, "incomplete or damaged"},
		{"a WebP cut short", webpFile[:len(webpFile)/2], Limits{}, kakunin.EINVALID, "incomplete or damaged"},
		{"a JPEG too small to read", encodeJPEG(t, testImage(100, 100, 0), 90), Limits{}, kakunin.EINVALID, "too small"},
		{"a PNG narrower than the minimum both ways", encodePNG(t, testImage(199, 400, 0)), Limits{}, kakunin.EINVALID, "too small"},
		{"a JPEG over MaxBytes", jpg, Limits{MaxBytes: int64(len(jpg)) - 1}, kakunin.ETOOLARGE, "larger than"},
		{"a WebP over MaxBytes", webpFile, Limits{MaxBytes: 4096}, kakunin.ETOOLARGE, "larger than 4096 bytes"},
		{"an animated WebP", animatedWebP(), Limits{}, kakunin.EUNSUPPORTED, "animated"},
		{"a PNG over MaxPixels", pngFile, Limits{MaxPixels: 320*240 - 1}, kakunin.ETOOLARGE, "pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := sanitize(t, tt.in, tt.lim)
			if got := kakunin.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
			if msg := kakunin.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}

func TestSanitizeAcceptsAPortraitPhotoOfTheMinimumSize(t *testing.T) {
	_, info := mustSanitize(t, encodePNG(t, testImage(200, 300, 0)), DefaultLimits())
	if info.Width != 200 || info.Height != 300 {
		t.Errorf("Info = %+v", info)
	}
}

func TestSanitizeAcceptsAFileOfExactlyMaxBytes(t *testing.T) {
	jpg := encodeJPEG(t, testImage(320, 240, 8), 90)
	mustSanitize(t, jpg, Limits{MaxBytes: int64(len(jpg))})
}

// countingReader counts what Sanitize pulled from the upload.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestSanitizeStopsReadingOneByteAfterMaxBytes(t *testing.T) {
	big := encodeJPEG(t, testImage(1200, 900, 255), 95)
	for _, max := range []int64{100, 64 << 10, 300 << 10} {
		cr := &countingReader{r: bytes.NewReader(big)}
		_, err := Sanitize(context.Background(), cr, io.Discard, Limits{MaxBytes: max})
		if kakunin.ErrorCode(err) != kakunin.ETOOLARGE {
			t.Fatalf("MaxBytes %d: err %v, want ETOOLARGE", max, err)
		}
		if cr.n > max+1 {
			t.Errorf("MaxBytes %d: read %d bytes of a %d-byte upload", max, cr.n, len(big))
		}
	}
}

// allocatedBy returns the bytes f allocated on the heap.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestSanitizeRefusesADecompressionBombFromItsHeaderAlone(t *testing.T) {
	jpegBomb := encodeJPEG(t, testImage(16, 16, 0), 50)
	sof := bytes.Index(jpegBomb, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(jpegBomb[sof+5:], 65000) // height
	binary.BigEndian.PutUint16(jpegBomb[sof+7:], 65000) // width

	tests := map[string][]byte{
		"a PNG claiming 100000x100000": pngBomb(100000, 100000),
		"a JPEG claiming 65000x65000":  jpegBomb,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			var err error
			// A full decode would allocate gigabytes for the pixels; the
			// header check needs the read buffer and the prefix.
			alloc := allocatedBy(func() { _, _, err = sanitize(t, in, DefaultLimits()) })
			if kakunin.ErrorCode(err) != kakunin.ETOOLARGE {
				t.Fatalf("err %v, want ETOOLARGE", err)
			}
			if alloc > 2<<20 {
				t.Errorf("refusing a %d-byte bomb allocated %d bytes", len(in), alloc)
			}
		})
	}
}

// pngBomb is a valid-looking PNG whose IHDR states w x h grey pixels,
// followed by a little compressed data.
func pngBomb(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1<<16))
	zw.Close()
	b := append([]byte(nil), magicPNG...)
	b = append(b, pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", z.Bytes())...)
	return append(b, pngChunk("IEND", nil)...)
}

func TestSanitizeReturnsTheWritersError(t *testing.T) {
	jpg := encodeJPEG(t, testImage(320, 240, 8), 90)
	boom := errors.New("blob store is down")
	_, err := Sanitize(context.Background(), bytes.NewReader(jpg), failingWriter{boom}, DefaultLimits())
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want it to wrap %v", err, boom)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestSanitizeStopsWhenTheContextIsCancelled(t *testing.T) {
	big := encodeJPEG(t, testImage(1200, 900, 255), 95)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the decoder is running: after the first 300 KiB.
	r := &cancelAfter{r: bytes.NewReader(big), n: 300 << 10, cancel: cancel}
	_, err := Sanitize(ctx, r, io.Discard, DefaultLimits())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// animatedWebP is the start of an animated WebP: VP8X, ANIM, one ANMF.
func animatedWebP() []byte {
	body := []byte("WEBP")
	body = append(body, riffChunk("VP8X", []byte{0x02, 0, 0, 0, 0x2B, 0x01, 0, 0xC7, 0, 0})...)
	body = append(body, riffChunk("ANIM", make([]byte, 6))...)
	body = append(body, riffChunk("ANMF", make([]byte, 16))...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}
