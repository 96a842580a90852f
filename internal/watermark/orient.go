package watermark

import "image"

// orient returns src turned to display orientation o, an EXIF Orientation
// value (TIFF 6.0, tag 274): 2 mirrored left–right, 3 turned 180°, 4
// mirrored top–bottom, 5 transposed, 6 turned 90° clockwise, 7 transversed,
// 8 turned 90° anticlockwise. Values 5–8 swap width and height. Any other
// value, 0 and 1 included, returns src as it is: intake only ever stores
// 1–8, and an image shown as stored beats none.
//
// Pixels are copied one by one; nothing is resampled, so the result is
// exact and the same input always gives the same output.
func orient(src *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return src
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range h {
		for x := range w {
			dx, dy := displayed(o, x, y, w, h)
			s := src.PixOffset(b.Min.X+x, b.Min.Y+y)
			d := dst.PixOffset(dx, dy)
			copy(dst.Pix[d:d+4:d+4], src.Pix[s:s+4:s+4])
		}
	}
	return dst
}

// displayed maps the stored pixel (x, y) of a w×h image to where
// orientation o shows it. Read with the EXIF wording: for 6, "the 0th row
// is the visual right-hand side and the 0th column the visual top", so the
// stored top-left corner lands top right.
func displayed(o, x, y, w, h int) (int, int) {
	switch o {
	case 2:
		return w - 1 - x, y
	case 3:
		return w - 1 - x, h - 1 - y
	case 4:
		return x, h - 1 - y
	case 5:
		return y, x
	case 6:
		return h - 1 - y, x
	case 7:
		return h - 1 - y, w - 1 - x
	case 8:
		return y, w - 1 - x
	}
	return x, y
}
