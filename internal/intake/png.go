package intake

import (
	"bufio"
	"encoding/binary"
	"io"
)

// keepPNGAncillary lists the ancillary chunks kept: those that change how
// the pixels look (transparency, colour space, gamma, bit depth, HDR) or
// their physical size. Every other ancillary chunk is dropped, the
// metadata ones (eXIf, tEXt, zTXt, iTXt, tIME) by name and unknown ones
// because an allow-list cannot miss tomorrow's metadata chunk. Critical
// chunks (upper-case first letter) are always kept: the image needs them.
func keepPNGAncillary(typ string) bool {
	switch typ {
	case "tRNS", "cHRM", "gAMA", "iCCP", "sBIT", "sRGB", "cICP", "mDCV", "cLLI", "bKGD", "pHYs":
		return true
	}
	return false
}

// stripPNG copies a PNG chunk by chunk, dropping metadata chunks, and stops
// after IEND so trailing data is never read. CRCs of kept chunks are copied
// as they are; the full decode checks them. The orientation it returns is
// always 1: an eXIf chunk is dropped unread.
func stripPNG(br *bufio.Reader, w io.Writer) (orientation int, err error) {
	if err := stripPNGChunks(br, w); err != nil {
		return 0, err
	}
	return orientationNormal, nil
}

func stripPNGChunks(br *bufio.Reader, w io.Writer) error {
	if _, err := br.Discard(len(magicPNG)); err != nil { // checked by sniff
		return readErr("png", err)
	}
	if _, err := io.WriteString(w, magicPNG); err != nil {
		return err
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return readErr("png chunk header", err)
		}
		length := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		if length > 0x7fffffff || !isChunkType(typ) {
			return damaged()
		}
		critical := typ[0] >= 'A' && typ[0] <= 'Z'
		if !critical && !keepPNGAncillary(typ) {
			if err := skipN(br, length+4, "png chunk"); err != nil {
				return err
			}
			continue
		}
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if err := copyN(w, br, length+4, "png chunk"); err != nil {
			return err
		}
		if typ == "IEND" {
			return nil
		}
	}
}

// isChunkType reports whether typ is four ASCII letters, as the PNG
// specification requires of every chunk type.
func isChunkType(typ string) bool {
	for i := 0; i < len(typ); i++ {
		c := typ[i] | 0x20 // fold to lower case
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
