package main

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/samplecard"
)

// photoQuality is the JPEG quality of the synthetic photos: phone cameras
// write 90-95.
const photoQuality = 92

// input is one upload: a synthetic phone photo of a SAMPLE card.
type input struct {
	jpeg []byte
	typ  kakunin.DocumentType
}

var cardTypes = []kakunin.DocumentType{
	kakunin.DocDriversLicence, kakunin.DocMyNumberCard, kakunin.DocHealthInsurance, kakunin.DocPassport,
}

// canvasFor sizes the photo so that the noise needed to reach target bytes
// stays in a photo-like range: 2400x1512 (3.6 MP) for 1 MB, more pixels for
// larger targets, as a phone's larger files come from more pixels.
func canvasFor(target int64) image.Point {
	k := math.Sqrt(float64(target) / 1e6)
	w := max(1200, int(math.Round(2400*k/8))*8)
	return image.Pt(w, w*63/100) // ID-1 card proportions, 85.6 x 54 mm
}

// photographer turns SAMPLE cards into photo-like JPEGs: a card scaled up
// onto a larger canvas with a desk around it, uneven lighting and sensor
// noise. The noise is what makes the file as large, and as costly to decode,
// as a phone photo; without it a flat synthetic card compresses to a
// fraction of the size.
//
// Drawing and scaling a card costs more than the rest, so a few cards are
// drawn once (every document type, two seeds each) and each input places
// one of them at its own offset under its own noise: no two inputs share
// their bytes, or more than a few pixels in a row.
type photographer struct {
	canvas image.Point
	noise  int // peak per-channel noise, 0..64
	cards  []card
}

type card struct {
	img *image.RGBA // already scaled to the canvas
	typ kakunin.DocumentType
}

func newPhotographer(canvas image.Point) (*photographer, error) {
	p := &photographer{canvas: canvas, cards: make([]card, 2*len(cardTypes))}
	errs := make([]error, len(p.cards))
	var wg sync.WaitGroup
	for i := range p.cards {
		wg.Go(func() { p.cards[i], errs[i] = p.drawCard(int64(i)) })
	}
	wg.Wait()
	return p, errors.Join(errs...)
}

func (p *photographer) drawCard(seed int64) (card, error) {
	typ := cardTypes[int(seed)%len(cardTypes)]
	src, err := samplecard.Image(samplecard.Card{
		Type:      typ,
		Name:      fmt.Sprintf("SAMPLE MEMBER %04d", seed),
		BirthDate: time.Date(1970+int(seed%35), time.Month(1+seed%12), 1+int(seed%28), 0, 0, 0, 0, time.UTC),
		Issuer:    "BENCHMARK ISSUER (SAMPLE)",
		Number:    fmt.Sprintf("SAMPLE-0000-%04d", seed),
		Seed:      seed,
	})
	if err != nil {
		return card{}, fmt.Errorf("render card %d: %w", seed, err)
	}
	// The card fills about 85% of the frame.
	sb := src.Bounds()
	scale := min(0.85*float64(p.canvas.X)/float64(sb.Dx()), 0.85*float64(p.canvas.Y)/float64(sb.Dy()))
	img := image.NewRGBA(image.Rect(0, 0, int(float64(sb.Dx())*scale), int(float64(sb.Dy())*scale)))
	xdraw.ApproxBiLinear.Scale(img, img.Bounds(), src, sb, xdraw.Src, nil)
	return card{img: img, typ: typ}, nil
}

// photo makes input seed: one of the cards, a desk colour, an offset and
// the noise all follow from the seed.
func (p *photographer) photo(seed int64) (input, error) {
	c := p.cards[int(seed)%len(p.cards)]
	rng := rand.New(rand.NewPCG(uint64(seed), 0x62656e6368))
	img := p.compose(c.img, rng)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: photoQuality}); err != nil {
		return input{}, fmt.Errorf("encode photo %d: %w", seed, err)
	}
	return input{jpeg: out.Bytes(), typ: c.typ}, nil
}

func (p *photographer) compose(c *image.RGBA, rng *rand.Rand) *image.RGBA {
	w, h := p.canvas.X, p.canvas.Y
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	desk := color.RGBA{uint8(90 + rng.IntN(60)), uint8(70 + rng.IntN(50)), uint8(50 + rng.IntN(40)), 0xff}
	xdraw.Draw(img, img.Bounds(), &image.Uniform{desk}, image.Point{}, xdraw.Src)
	cw, ch := c.Bounds().Dx(), c.Bounds().Dy()
	x0 := (w-cw)/2 + rng.IntN(w/20+1) - w/40
	y0 := (h-ch)/2 + rng.IntN(h/20+1) - h/40
	xdraw.Draw(img, image.Rect(x0, y0, x0+cw, y0+ch), c, image.Point{}, xdraw.Src)

	// Light falling off towards one side (in 1/256ths), plus per-channel
	// sensor noise; one 64-bit draw gives eight noise bytes.
	light := make([]int, w)
	for x := range light {
		light[x] = 225 + 31*x/w
	}
	var bits uint64
	var left int
	span := 2*p.noise + 1
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			px := row[4*x : 4*x+3]
			for c := range px {
				if left == 0 {
					bits, left = rng.Uint64(), 8
				}
				v := int(px[c]) * light[x] >> 8
				if p.noise > 0 {
					v += int(bits&0xff)%span - p.noise
				}
				bits >>= 8
				left--
				px[c] = uint8(min(255, max(0, v)))
			}
		}
	}
	return img
}

// calibrate sets the noise level whose photo of seed 0 is closest to
// target bytes, by bisection over the level.
func (p *photographer) calibrate(target int64) error {
	lo, hi := 0, 64
	best, bestDiff := 0, int64(math.MaxInt64)
	for lo <= hi {
		p.noise = (lo + hi) / 2
		in, err := p.photo(0)
		if err != nil {
			return err
		}
		size := int64(len(in.jpeg))
		if d := abs(size - target); d < bestDiff {
			best, bestDiff = p.noise, d
		}
		if size < target {
			lo = p.noise + 1
		} else {
			hi = p.noise - 1
		}
	}
	p.noise = best
	return nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// prepareInputs makes n distinct photos of about target bytes, using every
// CPU (this is set-up, not measured).
func prepareInputs(n int, target int64, firstSeed int64) ([]input, *photographer, error) {
	p, err := newPhotographer(canvasFor(target))
	if err != nil {
		return nil, nil, err
	}
	if err := p.calibrate(target); err != nil {
		return nil, nil, err
	}
	ins := make([]input, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				ins[i], errs[i] = p.photo(firstSeed + int64(i))
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return ins, p, nil
}

// sizes returns the mean, smallest and largest input size in bytes.
func sizes(ins []input) (mean float64, lo, hi int) {
	lo = math.MaxInt
	var sum int
	for _, in := range ins {
		sum += len(in.jpeg)
		lo, hi = min(lo, len(in.jpeg)), max(hi, len(in.jpeg))
	}
	return float64(sum) / float64(len(ins)), lo, hi
}
