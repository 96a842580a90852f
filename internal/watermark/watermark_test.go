package watermark_test

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/watermark"
)

var mark = watermark.Mark{
	Reviewer: "reviewer.tanaka",
	At:       time.Date(2026, 11, 25, 3, 4, 5, 0, time.UTC),
	TaskID:   "task-01JD3X",
}

const limit = 40_000_000

// scene is a mid-grey image with a gentle gradient: JPEG keeps it almost
// exactly, so any large change in the output is the watermark's doing.
func scene(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(110 + 30*x/w)
			img.SetRGBA(x, y, color.RGBA{v, v + 4, v - 4, 0xff})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeJPEG(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not a JPEG: %v", err)
	}
	return img
}

// changed reports whether a pixel moved by more than JPEG noise could.
func changed(a, b color.Color) bool {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(x, y uint32) uint32 {
		if x > y {
			return (x - y) >> 8
		}
		return (y - x) >> 8
	}
	return max(d(ar, br), d(ag, bg), d(ab, bb)) > 30
}

func luma(c color.Color) uint32 {
	r, g, b, _ := c.RGBA()
	return (299*r + 587*g + 114*b) / 1000 >> 8
}

func TestApplyTilesTheMarkOverEveryQuadrant(t *testing.T) {
	const w, h = 1600, 1000
	src := scene(w, h)
	out, err := watermark.Apply(encodePNG(t, src), mark, limit)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeJPEG(t, out)

	// Only the top 80 % counts, so the banner cannot satisfy the test: the
	// tiles alone must reach every quarter of the picture.
	top := h * 8 / 10
	quads := []image.Rectangle{
		image.Rect(0, 0, w/2, top/2), image.Rect(w/2, 0, w, top/2),
		image.Rect(0, top/2, w/2, top), image.Rect(w/2, top/2, w, top),
	}
	total, all := 0, 0
	for _, q := range quads {
		n := 0
		for y := q.Min.Y; y < q.Max.Y; y++ {
			for x := q.Min.X; x < q.Max.X; x++ {
				if changed(src.At(x, y), got.At(x, y)) {
					n++
				}
			}
		}
		if area := q.Dx() * q.Dy(); n < area/50 {
			t.Errorf("quadrant %v: %d of %d pixels changed, want at least 2%%", q, n, area)
		}
		total += n
		all += q.Dx() * q.Dy()
	}
	// The document must stay legible: the mark is text, not a veil.
	if total > all/2 {
		t.Errorf("%d of %d pixels changed above the banner; the watermark hides the document", total, all)
	}
}

func TestApplyKeepsDimensionsForEveryAcceptedFormat(t *testing.T) {
	webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  []byte
		w, h int
	}{
		{"png", encodePNG(t, scene(640, 400)), 640, 400},
		{"jpeg", encodeJPEG(t, scene(401, 777)), 401, 777},
		{"webp", webp, 0, 0}, // dimensions read from the file below
		{"tiny png", encodePNG(t, scene(20, 12)), 20, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.w == 0 {
				cfg, _, err := image.DecodeConfig(bytes.NewReader(tt.src))
				if err != nil {
					t.Fatal(err)
				}
				tt.w, tt.h = cfg.Width, cfg.Height
			}
			out, err := watermark.Apply(tt.src, mark, limit)
			if err != nil {
				t.Fatal(err)
			}
			b := decodeJPEG(t, out).Bounds()
			if b.Dx() != tt.w || b.Dy() != tt.h {
				t.Errorf("output is %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.w, tt.h)
			}
		})
	}
}

func TestApplyDrawsASolidBannerAlongTheBottom(t *testing.T) {
	const w, h = 1200, 800
	out, err := watermark.Apply(encodePNG(t, scene(w, h)), mark, limit)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeJPEG(t, out)
	// The source is mid-grey everywhere; the banner is near-black with
	// white text, so both extremes must appear in the bottom strip.
	dark, light := 0, 0
	for y := h - h/20; y < h; y++ {
		for x := range w {
			switch l := luma(got.At(x, y)); {
			case l < 40:
				dark++
			case l > 200:
				light++
			}
		}
	}
	if area := w * h / 20; dark < area/2 || light < area/100 {
		t.Errorf("bottom strip has %d dark and %d light pixels of %d; want a dark banner with light text", dark, light, area)
	}
}

func TestApplyIsDeterministic(t *testing.T) {
	src := encodeJPEG(t, scene(900, 600))
	a, err := watermark.Apply(src, mark, limit)
	if err != nil {
		t.Fatal(err)
	}
	b, err := watermark.Apply(src, mark, limit)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the same image and mark gave different bytes")
	}
	other := mark
	other.Reviewer = "reviewer.suzuki"
	c, err := watermark.Apply(src, other, limit)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Error("a different reviewer gave the same bytes")
	}
}

func TestApplyRefusesBadInput(t *testing.T) {
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, scene(10, 10), nil); err != nil {
		t.Fatal(err)
	}
	png100 := encodePNG(t, scene(100, 100))
	tests := []struct {
		name      string
		src       []byte
		m         watermark.Mark
		maxPixels int64
		code      string
	}{
		{"more pixels than allowed", png100, mark, 100*100 - 1, kakunin.ETOOLARGE},
		{"garbage", []byte("this is not an image at all"), mark, limit, kakunin.EINVALID},
		{"empty", nil, mark, limit, kakunin.EINVALID},
		{"truncated png", png100[:len(png100)/2], mark, limit, kakunin.EINVALID},
		{"gif, registered but not accepted", gifBuf.Bytes(), mark, limit, kakunin.EUNSUPPORTED},
		{"no reviewer", png100, watermark.Mark{At: mark.At, TaskID: mark.TaskID}, limit, kakunin.EINVALID},
		{"no time", png100, watermark.Mark{Reviewer: mark.Reviewer, TaskID: mark.TaskID}, limit, kakunin.EINVALID},
		{"no task", png100, watermark.Mark{Reviewer: mark.Reviewer, At: mark.At}, limit, kakunin.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := watermark.Apply(tt.src, tt.m, tt.maxPixels)
			if err == nil {
				t.Fatalf("accepted, returned %d bytes", len(out))
			}
			if got := kakunin.ErrorCode(err); got != tt.code {
				t.Errorf("code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func TestApplyExactlyAtTheLimitIsAccepted(t *testing.T) {
	if _, err := watermark.Apply(encodePNG(t, scene(100, 100)), mark, 100*100); err != nil {
		t.Fatal(err)
	}
}

func TestApplyDrawsNonLatinReviewerNamesAsQuestionMarks(t *testing.T) {
	// Go Mono has no CJK; the mark must still render (as '?') rather than
	// fail or leave the name blank.
	m := mark
	m.Reviewer = "田中\x00花子"
	if _, err := watermark.Apply(encodePNG(t, scene(300, 200)), m, limit); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkApply2000x1300(b *testing.B) {
	src := encodeJPEG(b, scene(2000, 1300))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := watermark.Apply(src, mark, limit); err != nil {
			b.Fatal(err)
		}
	}
}
