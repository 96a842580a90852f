// Package watermark burns who is looking, and when, into the pixels of a
// document image before a reviewer sees it. It guards invariant 4 (no bulk
// read path): an image leaves kakunin only inside a review task and only
// marked, so a screenshot or a photo of the screen still names the reviewer.
//
// Everything happens in memory: the decrypted image comes in as bytes and
// goes out as bytes, and nothing here writes to disk or logs pixels.
package watermark

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	_ "image/png" // the formats intake accepts: JPEG, PNG, WebP
	"math"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/kakunin/kakunin/internal/raster"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	_ "golang.org/x/image/webp"

	"github.com/kakunin/kakunin"
)

// Mark is what the watermark says: who opened the image, when, and in which
// review task; and which way up to show the image.
type Mark struct {
	Reviewer string    // the staff member's login or ID, as the audit log names them
	At       time.Time // when the image was opened
	TaskID   string    // the review task the image was opened in
	// Orientation is the upload's EXIF Orientation (1–8), which intake kept
	// when it stripped the EXIF; 0 and 1 show the pixels as stored.
	Orientation int
}

const (
	jpegQuality = 85

	// The tiled mark is light text in a dark outline at this opacity (of 255):
	// enough to read on any background, little enough that the document under
	// it stays legible for the reviewer.
	tileOpacity = 105 // ≈ 41 %
	tileAngle   = -30 * math.Pi / 180

	// Runes beyond these lengths add nothing a reader could check by eye and
	// would only crowd the tile.
	maxReviewerRunes = 48
	maxTaskRunes     = 40

	minFontPx = 14

	outlineGrey = 0x14 // the outline's grey level, near black
	bannerGrey  = 0x12 // the banner's ground, near black so white text reads at once
)

// Go Mono Bold: a monospace face reads well at small sizes and makes the
// banner's width a simple function of its length. The parsed font is
// immutable, so parsing it once is safe to share.
var monoBold = sync.OnceValues(func() (*opentype.Font, error) {
	return opentype.Parse(gomonobold.TTF)
})

// Apply decodes src (JPEG, PNG or WebP), refuses images of more than
// maxPixels pixels before decoding them, turns the image to m.Orientation,
// burns m into the pixels and returns a new JPEG. Turning comes first so
// that the mark reads upright and the banner lies along the bottom as the
// reviewer sees it. The mark is tiled diagonally over the whole image, so it cannot
// be cropped out, and repeated in full in a solid banner along the bottom.
// The same input always yields the same bytes.
func Apply(src []byte, m Mark, maxPixels int64) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	img, err := decode(src, maxPixels)
	if err != nil {
		return nil, err
	}
	f, err := monoBold()
	if err != nil {
		return nil, fmt.Errorf("watermark: parse font: %w", err)
	}

	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	dst = orient(dst, m.Orientation)

	lines := m.lines(f)
	if err := drawTiles(dst, f, lines); err != nil {
		return nil, err
	}
	if err := drawBanner(dst, f, lines); err != nil {
		return nil, err
	}

	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("watermark: encode jpeg: %w", err)
	}
	return out.Bytes(), nil
}

func (m Mark) validate() error {
	// A mark that names nobody, or no time, defeats its purpose; refuse
	// rather than show an unmarked image.
	switch {
	case strings.TrimSpace(m.Reviewer) == "":
		return kakunin.Errorf(kakunin.EINVALID, "watermark needs the reviewer")
	case m.At.IsZero():
		return kakunin.Errorf(kakunin.EINVALID, "watermark needs the time the image was opened")
	case strings.TrimSpace(m.TaskID) == "":
		return kakunin.Errorf(kakunin.EINVALID, "watermark needs the review task")
	}
	return nil
}

// decode reads the header first so that a decompression bomb is refused
// before a single pixel buffer is allocated.
func decode(src []byte, maxPixels int64) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return nil, kakunin.Errorf(kakunin.EINVALID, "the image cannot be read as JPEG, PNG or WebP")
	}
	// image.DecodeConfig knows every format any package of the binary
	// registered; only the three intake accepts may pass.
	switch format {
	case "jpeg", "png", "webp":
	default:
		return nil, kakunin.Errorf(kakunin.EUNSUPPORTED, "image format %q is not JPEG, PNG or WebP", format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, kakunin.Errorf(kakunin.EINVALID, "the image has no pixels")
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return nil, kakunin.Errorf(kakunin.ETOOLARGE, "the image has %d pixels, more than the limit of %d", px, maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, kakunin.Errorf(kakunin.EINVALID, "the image is damaged: %v", err)
	}
	return img, nil
}

// markLines is the mark as text, cleaned so that every rune has a glyph.
type markLines struct {
	reviewer, utc, jst, task, confidential string
}

func (m Mark) lines(f *opentype.Font) markLines {
	return markLines{
		reviewer:     printable(f, m.Reviewer, maxReviewerRunes),
		utc:          m.At.UTC().Format("2006-01-02 15:04:05") + " UTC",
		jst:          m.At.In(kakunin.JST).Format("2006-01-02 15:04:05") + " JST",
		task:         "kakunin review " + printable(f, m.TaskID, maxTaskRunes),
		confidential: "CONFIDENTIAL",
	}
}

// printable replaces runes the font cannot draw (Go Mono has no CJK) and
// control characters with '?', so that a name never renders as blank boxes
// that a reader might mistake for nothing at all, and cuts s to limit runes.
func printable(f *opentype.Font, s string, limit int) string {
	var buf sfnt.Buffer
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if n == limit {
			b.WriteRune('…')
			break
		}
		if idx, err := f.GlyphIndex(&buf, r); err != nil || idx == 0 || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func newFace(f *opentype.Font, px float64) (font.Face, error) {
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, fmt.Errorf("watermark: font face: %w", err)
	}
	return face, nil
}

// drawTiles repeats the mark over the whole image on a rotated brick grid:
// cropping keeps some copy, and the diagonal crosses the card's printed
// lines instead of hiding between them.
func drawTiles(dst *image.RGBA, f *opentype.Font, l markLines) error {
	w, h := dst.Bounds().Dx(), dst.Bounds().Dy()
	px := max(float64(minFontPx), float64(w)/36)
	face, err := newFace(f, px)
	if err != nil {
		return err
	}
	defer face.Close()

	tile := renderTile(face, []string{l.reviewer, l.utc, l.jst, l.task, l.confidential}, px)
	rot := raster.Rotate(tile, tileAngle)

	// The grid lives in the rotated frame: neighbours along a line of text
	// sit a tile width apart, lines of tiles a tile height apart, and every
	// other line is shifted by half a tile so no gap runs straight through.
	tw, th := float64(tile.Bounds().Dx()), float64(tile.Bounds().Dy())
	stepX, stepY := tw+2*px, th+px
	sin, cos := math.Sincos(tileAngle)
	cx, cy := float64(w)/2, float64(h)/2
	reach := math.Hypot(float64(w), float64(h))/2 + tw + th
	nx, ny := int(reach/stepX)+1, int(reach/stepY)+1
	rw, rh := rot.Bounds().Dx(), rot.Bounds().Dy()
	for j := -ny; j <= ny; j++ {
		shift := 0.0
		if j%2 != 0 {
			shift = stepX / 2
		}
		for i := -nx; i <= nx; i++ {
			lx, ly := float64(i)*stepX+shift, float64(j)*stepY
			x := cx + lx*cos - ly*sin
			y := cy + lx*sin + ly*cos
			r := image.Rect(0, 0, rw, rh).Add(image.Pt(int(math.Round(x))-rw/2, int(math.Round(y))-rh/2))
			if !r.Overlaps(dst.Bounds()) {
				continue
			}
			draw.Draw(dst, r, rot, image.Point{}, draw.Over)
		}
	}
	return nil
}

// renderTile draws lines as light text with a dark outline, premultiplied
// by tileOpacity, so that compositing is a plain Over draw.
func renderTile(face font.Face, lines []string, px float64) *image.RGBA {
	met := face.Metrics()
	lineH := met.Height.Ceil()
	pad := int(px / 3)
	width := 0
	for _, s := range lines {
		width = max(width, font.MeasureString(face, s).Ceil())
	}
	bounds := image.Rect(0, 0, width+2*pad, lineH*len(lines)+2*pad)

	text := image.NewAlpha(bounds)
	d := font.Drawer{Dst: text, Src: image.Opaque, Face: face}
	for i, s := range lines {
		d.Dot = fixed.P(pad, pad+met.Ascent.Ceil()+i*lineH)
		d.DrawString(s)
	}
	// One dilation of the text's coverage makes the outline, far cheaper
	// than drawing the string again at every offset.
	outline := dilate(text, max(1, int(px/14)))

	tile := image.NewRGBA(bounds)
	for i := range text.Pix {
		at, ao := uint32(text.Pix[i]), uint32(outline.Pix[i])
		// Light text over its dark outline, premultiplied, then faded.
		a := at + (255-at)*ao/255
		c := at + (255-at)*ao*outlineGrey/(255*255)
		a, c = a*tileOpacity/255, c*tileOpacity/255
		p := tile.Pix[i*4 : i*4+4 : i*4+4]
		p[0], p[1], p[2], p[3] = uint8(c), uint8(c), uint8(c), uint8(a)
	}
	return tile
}

// dilate returns the maximum of src over a square of radius r around each
// pixel, done as two one-dimensional passes.
func dilate(src *image.Alpha, r int) *image.Alpha {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	tmp := image.NewAlpha(b)
	for y := range h {
		row := src.Pix[y*src.Stride : y*src.Stride+w]
		out := tmp.Pix[y*tmp.Stride : y*tmp.Stride+w]
		for x := range w {
			var m uint8
			for k := max(0, x-r); k <= min(w-1, x+r); k++ {
				m = max(m, row[k])
			}
			out[x] = m
		}
	}
	dst := image.NewAlpha(b)
	for y := range h {
		for x := range w {
			var m uint8
			for k := max(0, y-r); k <= min(h-1, y+r); k++ {
				m = max(m, tmp.Pix[k*tmp.Stride+x])
			}
			dst.Pix[y*dst.Stride+x] = m
		}
	}
	return dst
}

// drawBanner writes the whole mark at full opacity on a solid strip along
// the bottom: the one place a reader can always find it in one piece.
func drawBanner(dst *image.RGBA, f *opentype.Font, l markLines) error {
	w, h := dst.Bounds().Dx(), dst.Bounds().Dy()
	// Two long lines when they fit at a readable size, else one item a line.
	layouts := [][]string{
		{l.reviewer + " · " + l.utc + " · " + l.jst, l.confidential + " · " + l.task},
		{l.reviewer, l.utc, l.jst, l.task, l.confidential},
	}
	usable := float64(w) * 0.94
	var lines []string
	var px float64
	for _, candidate := range layouts {
		lines = candidate
		px = fitSize(f, candidate, usable, float64(w)/28)
		if px >= minFontPx {
			break
		}
	}
	px = max(px, minFontPx) // on a very small image, clipped text beats none

	face, err := newFace(f, px)
	if err != nil {
		return err
	}
	defer face.Close()
	met := face.Metrics()
	lineH := met.Height.Ceil()
	pad := int(px / 2)
	bh := min(h, lineH*len(lines)+2*pad)
	top := h - bh
	draw.Draw(dst, image.Rect(0, top, w, h), image.NewUniform(color.RGBA{bannerGrey, bannerGrey, bannerGrey, 0xff}), image.Point{}, draw.Src)

	d := font.Drawer{Dst: dst, Src: image.White, Face: face}
	for i, s := range lines {
		d.Dot = fixed.P(int(float64(w)*0.03), top+pad+met.Ascent.Ceil()+i*lineH)
		d.DrawString(s)
	}
	return nil
}

// fitSize returns the largest pixel size, up to limit, at which the longest
// of lines fits in width. Text width scales linearly with size, so one
// measurement at a reference size is enough.
func fitSize(f *opentype.Font, lines []string, width, limit float64) float64 {
	const ref = 100
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: ref, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return minFontPx
	}
	defer face.Close()
	widest := 0
	for _, s := range lines {
		widest = max(widest, font.MeasureString(face, s).Ceil())
	}
	if widest == 0 {
		return limit
	}
	return min(limit, width*ref/float64(widest))
}
