// Package samplecard draws synthetic identity-document images for
// `kakunin demo` and for tests, so that nobody ever needs a real member's
// document to see or test the review flow. Every card is plainly fake: a red
// diagonal SAMPLE across it and "SAMPLE — NOT A REAL DOCUMENT" along the
// bottom. Text is Latin only, because no CJK font ships as a Go module.
package samplecard

import (
	"bytes"
	"fmt"
	"github.com/kakunin/kakunin/internal/raster"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/kakunin/kakunin"
)

// Card is what a sample card shows. All of it is made up by the caller.
type Card struct {
	Type      kakunin.DocumentType
	Name      string    // Latin, e.g. "SATO HANAKO"
	BirthDate time.Time // only the date is shown
	Issuer    string    // Latin, e.g. "TOKYO PREFECTURAL POLICE (SAMPLE)"
	Number    string    // fake, e.g. "SAMPLE-0000-1234"
	Seed      int64     // varies colours and layout a little, deterministically
}

const jpegQuality = 90

// Parsed fonts are immutable, so parsing each once is safe to share.
var (
	regularFont  = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(goregular.TTF) })
	boldFont     = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(gobold.TTF) })
	monoBoldFont = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(gomonobold.TTF) })
)

// Image draws c, for callers that go on drawing (the intake benchmark
// photographs cards on a desk) and need no encoded file.
func Image(c Card) (*image.RGBA, error) { return paint(c) }

// Render draws c and returns it as a JPEG, the form a member's upload takes.
func Render(c Card) ([]byte, error) {
	img, err := paint(c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("samplecard: encode jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// RenderPNG draws c and returns it as a PNG, for tests that compare pixels
// without JPEG's losses.
func RenderPNG(c Card) ([]byte, error) {
	img, err := paint(c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("samplecard: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// style is what sets one document type apart from the others.
type style struct {
	title  string
	size   image.Point
	header color.RGBA // the header band
	paper  color.RGBA // the card's ground
	wave   color.RGBA // the fine background lines
	photo  image.Rectangle
	fields image.Point // top-left of the first field
	fieldW int         // room for a field's value
	boxed  bool        // fields in ruled boxes, as on insurance cards
	mrz    bool        // machine-readable zone, as on a passport data page
	stripe color.RGBA  // a band above the footer, as the licence's colour band
}

func styleFor(t kakunin.DocumentType) (style, error) {
	card := image.Pt(1200, 756) // ISO/IEC 7810 ID-1 proportions
	switch t {
	case kakunin.DocDriversLicence:
		return style{
			title: "DRIVER'S LICENCE — SAMPLE", size: card,
			header: rgb(0x1f, 0x7a, 0x4d), paper: rgb(0xf2, 0xf8, 0xf0), wave: rgb(0xcf, 0xe6, 0xcf),
			photo: image.Rect(860, 180, 1140, 540), fields: image.Pt(60, 190), fieldW: 760,
			stripe: rgb(0x2f, 0x6f, 0xc8),
		}, nil
	case kakunin.DocPassport:
		return style{
			title: "PASSPORT — SAMPLE", size: image.Pt(1250, 880),
			header: rgb(0x6b, 0x1d, 0x2a), paper: rgb(0xf7, 0xf1, 0xe4), wave: rgb(0xe6, 0xd6, 0xc8),
			photo: image.Rect(70, 170, 400, 590), fields: image.Pt(460, 180), fieldW: 740,
			mrz: true,
		}, nil
	case kakunin.DocHealthInsurance:
		return style{
			title: "HEALTH INSURANCE CARD — SAMPLE", size: card,
			header: rgb(0xe0, 0x7a, 0x1f), paper: rgb(0xfd, 0xf4, 0xe8), wave: rgb(0xf5, 0xdc, 0xc0),
			photo: image.Rect(930, 170, 1140, 430), fields: image.Pt(60, 170), fieldW: 820,
			boxed: true,
		}, nil
	case kakunin.DocMyNumberCard:
		return style{
			title: "MY NUMBER CARD (FRONT) — SAMPLE", size: card,
			header: rgb(0xc8, 0x4f, 0x8a), paper: rgb(0xf6, 0xf7, 0xfc), wave: rgb(0xdc, 0xe2, 0xf4),
			photo: image.Rect(820, 160, 1140, 580), fields: image.Pt(60, 180), fieldW: 720,
		}, nil
	}
	return style{}, kakunin.Errorf(kakunin.EINVALID, "unknown document type %q", t)
}

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{r, g, b, 0xff} }

// fonts holds the faces' sources for one card.
type fonts struct{ regular, bold, mono *opentype.Font }

func loadFonts() (fonts, error) {
	r, err := regularFont()
	if err != nil {
		return fonts{}, fmt.Errorf("samplecard: parse font: %w", err)
	}
	b, err := boldFont()
	if err != nil {
		return fonts{}, fmt.Errorf("samplecard: parse font: %w", err)
	}
	m, err := monoBoldFont()
	if err != nil {
		return fonts{}, fmt.Errorf("samplecard: parse font: %w", err)
	}
	return fonts{r, b, m}, nil
}

// paint draws the card into a new image.
func paint(c Card) (*image.RGBA, error) {
	st, err := styleFor(c.Type)
	if err != nil {
		return nil, err
	}
	fs, err := loadFonts()
	if err != nil {
		return nil, err
	}
	// A fixed second word keeps the stream the same for the same seed on
	// every machine and Go release that keeps PCG.
	rng := rand.New(rand.NewPCG(uint64(c.Seed), 0x6b616b756e696e))
	st.header = jitter(rng, st.header, 18)
	st.wave = jitter(rng, st.wave, 10)
	nudge := image.Pt(rng.IntN(17)-8, rng.IntN(17)-8)
	st.photo = st.photo.Add(nudge)
	st.fields = st.fields.Add(image.Pt(-nudge.X/2, nudge.Y))
	// A fixed year range rather than the clock keeps the output a pure
	// function of c; the month and day follow the birthday, as a licence's do.
	validYear := 2029 + rng.IntN(5)

	w, h := st.size.X, st.size.Y
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), st.paper)
	waves(img, rng, st.wave, 110, h-70)

	const headerH = 110
	fill(img, image.Rect(0, 0, w, headerH), st.header)
	text(img, fs.bold, 52, image.Pt(50, 74), w-100, st.title, color.White)

	silhouette(img, st.photo)

	fields := []struct{ label, value string }{
		{"NAME", c.Name},
		{"DATE OF BIRTH", day(c.BirthDate)},
		{"ISSUER", c.Issuer},
		{"NUMBER", c.Number},
		{"VALID UNTIL", day(time.Date(validYear, c.BirthDate.Month(), c.BirthDate.Day(), 0, 0, 0, 0, time.UTC))},
	}
	rowH := 82
	if st.mrz {
		rowH = 90
	}
	ink := rgb(0x1a, 0x1a, 0x1a)
	labelInk := rgb(0x5a, 0x5a, 0x5a)
	for i, f := range fields {
		top := st.fields.Y + i*rowH
		if st.boxed {
			frame(img, image.Rect(st.fields.X-14, top-8, st.fields.X+st.fieldW, top+rowH-8), st.header, 2)
		}
		text(img, fs.regular, 20, image.Pt(st.fields.X, top+18), st.fieldW, f.label, labelInk)
		text(img, fs.bold, 34, image.Pt(st.fields.X, top+58), st.fieldW-10, printable(fs.bold, f.value), ink)
	}

	footerH := 56
	if st.stripe != (color.RGBA{}) {
		fill(img, image.Rect(0, h-footerH-26, w, h-footerH), st.stripe)
	}
	if st.mrz {
		line1, line2 := mrz(c)
		mono := rgb(0x20, 0x20, 0x20)
		text(img, fs.mono, 34, image.Pt(60, h-footerH-70), w-120, line1, mono)
		text(img, fs.mono, 34, image.Pt(60, h-footerH-24), w-120, line2, mono)
	}
	fill(img, image.Rect(0, h-footerH, w, h), rgb(0xff, 0xff, 0xff))
	text(img, fs.bold, 30, image.Pt(50, h-17), w-100, "SAMPLE — NOT A REAL DOCUMENT", rgb(0xc0, 0x10, 0x10))

	if err := stampSample(img, fs.bold); err != nil {
		return nil, err
	}
	return img, nil
}

func jitter(rng *rand.Rand, c color.RGBA, d int) color.RGBA {
	j := func(v uint8) uint8 { return uint8(min(255, max(0, int(v)+rng.IntN(2*d+1)-d))) }
	return color.RGBA{j(c.R), j(c.G), j(c.B), 0xff}
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

func frame(img *image.RGBA, r image.Rectangle, c color.Color, t int) {
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+t), c)
	fill(img, image.Rect(r.Min.X, r.Max.Y-t, r.Max.X, r.Max.Y), c)
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+t, r.Max.Y), c)
	fill(img, image.Rect(r.Max.X-t, r.Min.Y, r.Max.X, r.Max.Y), c)
}

// waves draws the fine sine lines that printed security backgrounds have;
// the seed moves their phase and frequency.
func waves(img *image.RGBA, rng *rand.Rand, c color.RGBA, top, bottom int) {
	w := img.Bounds().Dx()
	freq := 0.012 + rng.Float64()*0.008
	phase := rng.Float64() * 2 * math.Pi
	amp := 10 + rng.Float64()*8
	for base := top + 10; base < bottom; base += 14 {
		for x := range w {
			y := base + int(math.Round(amp*math.Sin(float64(x)*freq+phase+float64(base)*0.05)))
			if y >= top && y < bottom {
				img.SetRGBA(x, y, c)
			}
		}
	}
}

// silhouette is the grey head-and-shoulders where a photo would be.
func silhouette(img *image.RGBA, r image.Rectangle) {
	fill(img, r, rgb(0xd4, 0xd4, 0xd4))
	frame(img, r, rgb(0x9a, 0x9a, 0x9a), 3)
	shape := rgb(0x8c, 0x8c, 0x8c)
	w, h := float64(r.Dx()), float64(r.Dy())
	hx, hy, hr := w/2, h*0.38, w*0.2                // head
	sx, sy, srx, sry := w/2, h*1.02, w*0.42, h*0.36 // shoulders
	for y := r.Min.Y + 3; y < r.Max.Y-3; y++ {
		for x := r.Min.X + 3; x < r.Max.X-3; x++ {
			fx, fy := float64(x-r.Min.X)+0.5, float64(y-r.Min.Y)+0.5
			inHead := (fx-hx)*(fx-hx)+(fy-hy)*(fy-hy) <= hr*hr
			ex, ey := (fx-sx)/srx, (fy-sy)/sry
			if inHead || ex*ex+ey*ey <= 1 {
				img.SetRGBA(x, y, shape)
			}
		}
	}
}

// text draws s with its baseline starting at at, shrinking it to fit in
// maxW so a long name never runs off the card.
func text(dst draw.Image, f *opentype.Font, px float64, at image.Point, maxW int, s string, c color.Color) {
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return // only for an invalid size, which the constants here never are
	}
	if wd := font.MeasureString(face, s).Ceil(); wd > maxW && wd > 0 {
		face.Close()
		face, err = opentype.NewFace(f, &opentype.FaceOptions{Size: px * float64(maxW) / float64(wd), DPI: 72, Hinting: font.HintingNone})
		if err != nil {
			return
		}
	}
	defer face.Close()
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face, Dot: fixed.P(at.X, at.Y)}
	d.DrawString(s)
}

// stampSample lays a large, mostly opaque red SAMPLE diagonally across the
// middle of the card, where no crop can remove it without removing the data.
func stampSample(img *image.RGBA, f *opentype.Font) error {
	const word = "SAMPLE"
	const opacity = 205 // ≈ 80 %: the fields stay readable through it
	w, h := img.Bounds().Dx(), img.Bounds().Dy()

	const ref = 100
	probe, err := opentype.NewFace(f, &opentype.FaceOptions{Size: ref, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return fmt.Errorf("samplecard: font face: %w", err)
	}
	px := ref * float64(w) * 0.62 / float64(font.MeasureString(probe, word).Ceil())
	probe.Close()
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return fmt.Errorf("samplecard: font face: %w", err)
	}
	defer face.Close()

	met := face.Metrics()
	tw := font.MeasureString(face, word).Ceil()
	tile := image.NewRGBA(image.Rect(0, 0, tw, (met.Ascent + met.Descent).Ceil()))
	red := color.RGBA{opacity * 0xd8 / 255, opacity * 0x10 / 255, opacity * 0x10 / 255, opacity}
	d := font.Drawer{Dst: tile, Src: image.NewUniform(red), Face: face, Dot: fixed.P(0, met.Ascent.Ceil())}
	d.DrawString(word)

	rot := raster.Rotate(tile, -22*math.Pi/180)
	rb := rot.Bounds()
	at := image.Pt((w-rb.Dx())/2, (h-rb.Dy())/2)
	draw.Draw(img, rb.Add(at), rot, image.Point{}, draw.Over)
	return nil
}

func day(t time.Time) string { return strings.ToUpper(t.Format("02 Jan 2006")) }

// printable replaces runes the Go fonts cannot draw (no CJK) and control
// characters with '?', so a caller sees at once that the text was not Latin.
func printable(f *opentype.Font, s string) string {
	var buf sfnt.Buffer
	return strings.Map(func(r rune) rune {
		if idx, err := f.GlyphIndex(&buf, r); err != nil || idx == 0 || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}

// mrz writes a passport's two machine-readable lines in the ICAO 9303 shape
// with a made-up issuing state, so no reader mistakes them for a real one.
func mrz(c Card) (string, string) {
	names := strings.Fields(mrzChars(c.Name))
	surname, given := "SAMPLE", ""
	if len(names) > 0 {
		surname, given = names[0], strings.Join(names[1:], "<")
	}
	line1 := pad("P<XXX"+surname+"<<"+given, 44)
	num := pad(strings.ReplaceAll(mrzChars(c.Number), " ", ""), 9)[:9]
	line2 := pad(num+"0XXX"+c.BirthDate.Format("060102")+"0<SAMPLE<NOT<VALID", 44)
	return line1, line2
}

// mrzChars keeps what an MRZ may hold: capitals, digits and spaces (which
// become fillers).
func mrzChars(s string) string {
	return strings.Map(func(r rune) rune {
		r = unicode.ToUpper(r)
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case r == ' ':
			return ' '
		}
		return -1
	}, s)
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + strings.Repeat("<", n-len(s))
}
