package intake

import (
	"bytes"
	"encoding/binary"
	"image"
)

// The decoders allocate very different amounts per pixel: a baseline
// 4:2:0 JPEG 1.5 bytes, a progressive one 7.5 more for its coefficients, a
// CMYK one a second 4-byte copy, a 16-bit PNG 8 bytes. A pixel count alone
// lets a 387 KB 16-bit PNG of 50 megapixels cost 400 MB. decodeCost reads
// the header (the same bytes DecodeConfig reads) and estimates what a full
// decode of this file allocates, from how image/jpeg, image/png and
// x/image/webp lay out their images; the limit and the memory budget are
// both in these bytes.

// decodeCost returns the estimated bytes a full decode of the file whose
// stripped stream begins with prefix allocates, with its dimensions.
func decodeCost(f format, prefix []byte) (image.Config, int64, error) {
	switch f.contentType {
	case "image/jpeg":
		return jpegCost(prefix)
	case "image/png":
		return pngCost(prefix)
	case "image/webp":
		return webpCost(prefix)
	}
	return image.Config{}, 0, errStructure
}

func jpegCost(prefix []byte) (image.Config, int64, error) {
	p := prefix
	if len(p) < 2 || p[0] != 0xFF || p[1] != markerSOI {
		return image.Config{}, 0, errStructure
	}
	p = p[2:]
	adobeRGB := false
	for len(p) >= 4 && p[0] == 0xFF {
		m, n := p[1], int(binary.BigEndian.Uint16(p[2:4]))
		if n < 2 || len(p) < 2+n {
			break
		}
		seg := p[4 : 2+n]
		p = p[2+n:]
		switch {
		case m == markerAPP14 && len(seg) >= 12 && bytes.HasPrefix(seg, []byte("Adobe")):
			adobeRGB = seg[11] == 0
		case m == 0xC0 || m == 0xC1 || m == 0xC2:
			fr, err := parseSOF(m, seg)
			if err != nil {
				return image.Config{}, 0, err
			}
			return image.Config{Width: fr.width, Height: fr.height}, fr.cost(adobeRGB), nil
		case m == markerSOS:
			return image.Config{}, 0, errStructure
		}
	}
	return image.Config{}, 0, errStructure
}

// cost follows image/jpeg: one byte per sample in planes padded to whole
// MCUs, 64 int32 coefficients per block of every component when
// progressive, and a 4-byte-per-pixel copy when the result is converted
// to CMYK (four components) or RGB (an Adobe or R,G,B-named frame).
func (f jpegFrame) cost(adobeRGB bool) int64 {
	h0, v0 := int64(f.comps[0].h), int64(f.comps[0].v)
	mxx := (int64(f.width) + 8*h0 - 1) / (8 * h0)
	myy := (int64(f.height) + 8*v0 - 1) / (8 * v0)
	var total int64
	for _, c := range f.comps {
		blocks := mxx * int64(c.h) * myy * int64(c.v)
		total += blocks * 64 // one byte per sample
		if f.progressive {
			total += blocks * 64 * 4
		}
	}
	px := int64(f.width) * int64(f.height)
	rgbNamed := len(f.comps) == 3 && f.comps[0].id == 'R' && f.comps[1].id == 'G' && f.comps[2].id == 'B'
	if len(f.comps) == 4 || len(f.comps) == 3 && (adobeRGB || rgbNamed) {
		total += 4 * px
	}
	return total
}

func pngCost(prefix []byte) (image.Config, int64, error) {
	if len(prefix) < 8+8+13+4 || string(prefix[:8]) != magicPNG || string(prefix[12:16]) != "IHDR" ||
		binary.BigEndian.Uint32(prefix[8:12]) != 13 {
		return image.Config{}, 0, errStructure
	}
	h, err := parseIHDR(prefix[16 : 16+13])
	if err != nil {
		return image.Config{}, 0, err
	}
	// tRNS, which must come before IDAT, turns grey and truecolour into
	// NRGBA; look for it in the chunks that came with the header.
	trns := false
	for p := prefix[8:]; len(p) >= 12; {
		n := int64(binary.BigEndian.Uint32(p[:4]))
		typ := string(p[4:8])
		if typ == "IDAT" || n > int64(len(p)-12) {
			break
		}
		trns = trns || typ == "tRNS"
		p = p[12+n:]
	}
	var bpp int64
	switch {
	case h.colour == 3:
		bpp = 1 // image.Paletted
	case h.colour == 0 && !trns && h.depth == 16:
		bpp = 2 // image.Gray16
	case h.colour == 0 && !trns:
		bpp = 1 // image.Gray
	case h.depth == 16:
		bpp = 8 // RGBA64 or NRGBA64
	default:
		bpp = 4 // RGBA or NRGBA
	}
	px := int64(h.width) * int64(h.height)
	total := px * bpp
	if h.interlaced {
		total *= 2 // each pass is decoded into its own image, then merged
	}
	// Two rows of filtered data.
	total += 2 * ((int64(h.width)*int64(h.bitsPixel)+7)/8 + 1)
	return image.Config{Width: h.width, Height: h.height}, total, nil
}

func webpCost(prefix []byte) (image.Config, int64, error) {
	if len(prefix) < 12 || string(prefix[:4]) != "RIFF" || string(prefix[8:12]) != "WEBP" {
		return image.Config{}, 0, errStructure
	}
	// parseWebP needs whole chunks; the frame header is in the first
	// bytes of the frame chunk, so chunks cut by the prefix are shortened
	// to what is there.
	body := prefix[12:]
	var whole []byte
	for len(body) >= 8 {
		n := int(binary.LittleEndian.Uint32(body[4:8]))
		padded := n + n&1
		if padded > len(body)-8 {
			part := len(body) - 8
			whole = append(whole, body[:4]...)
			whole = binary.LittleEndian.AppendUint32(whole, uint32(part&^1))
			whole = append(whole, body[8:8+part&^1]...)
			break
		}
		whole = append(whole, body[:8+padded]...)
		body = body[8+padded:]
	}
	img, err := parseWebP(whole)
	if err != nil {
		return image.Config{}, 0, err
	}
	w, h := int64(img.width), int64(img.height)
	var total int64
	if img.lossless {
		total = w * h * 8 // the ARGB words, then the NRGBA image
	} else {
		mw, mh := (w+15)/16*16, (h+15)/16*16
		total = mw * mh * 3 / 2 // YCbCr 4:2:0 in whole macroblocks
		if img.alpha {
			total += w * h * 5 // the alpha plane, decoded losslessly first
		}
	}
	return image.Config{Width: img.width, Height: img.height}, total, nil
}
