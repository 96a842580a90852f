package watermark

import (
	"fmt"
	"image"
	"image/color"
	"testing"
)

var (
	red   = color.RGBA{0xff, 0, 0, 0xff}
	green = color.RGBA{0, 0xff, 0, 0xff}
	blue  = color.RGBA{0, 0, 0xff, 0xff}
	white = color.RGBA{0xff, 0xff, 0xff, 0xff}
	grey  = color.RGBA{0x80, 0x80, 0x80, 0xff}
)

// corners is a 3×2 image as stored: red top left, green top right, blue
// bottom left, white bottom right, grey between.
func corners() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for y := range 2 {
		for x := range 3 {
			img.SetRGBA(x, y, grey)
		}
	}
	img.SetRGBA(0, 0, red)
	img.SetRGBA(2, 0, green)
	img.SetRGBA(0, 1, blue)
	img.SetRGBA(2, 1, white)
	return img
}

func TestOrientTurnsEachEXIFValueToItsDisplayCorners(t *testing.T) {
	// The colour seen at the top-left, top-right, bottom-left and
	// bottom-right corners of the displayed image, from the EXIF wording
	// of each value (which visual side the stored 0th row and column are).
	tests := []struct {
		o              int
		w, h           int
		tl, tr, bl, br color.RGBA
	}{
		{0, 3, 2, red, green, blue, white},
		{1, 3, 2, red, green, blue, white},
		{2, 3, 2, green, red, white, blue}, // mirrored left–right
		{3, 3, 2, white, blue, green, red}, // turned 180°
		{4, 3, 2, blue, white, red, green}, // mirrored top–bottom
		{5, 2, 3, red, blue, green, white}, // row 0 left, column 0 top
		{6, 2, 3, blue, red, white, green}, // row 0 right, column 0 top: 90° clockwise
		{7, 2, 3, white, green, blue, red}, // row 0 right, column 0 bottom
		{8, 2, 3, green, white, red, blue}, // row 0 left, column 0 bottom: 90° anticlockwise
		{9, 3, 2, red, green, blue, white}, // not an orientation: as stored
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.o), func(t *testing.T) {
			got := orient(corners(), tt.o)
			if b := got.Bounds(); b != image.Rect(0, 0, tt.w, tt.h) {
				t.Fatalf("bounds %v, want %dx%d", b, tt.w, tt.h)
			}
			w, h := tt.w-1, tt.h-1
			for _, c := range []struct {
				name string
				x, y int
				want color.RGBA
			}{{"top left", 0, 0, tt.tl}, {"top right", w, 0, tt.tr}, {"bottom left", 0, h, tt.bl}, {"bottom right", w, h, tt.br}} {
				if p := got.RGBAAt(c.x, c.y); p != c.want {
					t.Errorf("%s is %v, want %v", c.name, p, c.want)
				}
			}
		})
	}
}

func TestOrientReadsASubImageFromItsOwnOrigin(t *testing.T) {
	big := image.NewRGBA(image.Rect(0, 0, 5, 4))
	sub := big.SubImage(image.Rect(1, 1, 4, 3)).(*image.RGBA)
	src := corners()
	for y := range 2 {
		for x := range 3 {
			sub.SetRGBA(1+x, 1+y, src.RGBAAt(x, y))
		}
	}
	got := orient(sub, 6)
	if got.Bounds() != image.Rect(0, 0, 2, 3) || got.RGBAAt(1, 0) != red || got.RGBAAt(0, 2) != white {
		t.Errorf("turned sub-image: bounds %v, top right %v, bottom left %v", got.Bounds(), got.RGBAAt(1, 0), got.RGBAAt(0, 2))
	}
}
