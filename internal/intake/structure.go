package intake

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// The structural check reads the stripped stream once, in constant memory,
// and refuses what no decoder could read: a marker or chunk out of place, a
// length that does not add up, a scan header that names no component, a
// missing EOI or IEND, a bad CRC. It costs a small fraction of a full
// decode (which allocates every pixel), so it runs on every upload before
// the answer; the full decode runs afterwards, within the memory budget
// (see Decode).

// errStructure is what every structural check returns; Sanitize turns it
// into the one "damaged" message.
var errStructure = errors.New("malformed image structure")

// maxJPEGScans bounds the scans of a progressive JPEG. Encoders write about
// ten; thousands of scans are a way to make the decoder pass over every
// block thousands of times.
const maxJPEGScans = 64

// checkStructure checks the stripped stream r of format f.
func checkStructure(f format, r io.Reader) error {
	br := bufio.NewReaderSize(r, 16<<10)
	var err error
	switch f.contentType {
	case "image/jpeg":
		err = checkJPEG(br)
	case "image/png":
		err = checkPNG(br)
	case "image/webp":
		err = checkWebP(br)
	default:
		return errStructure
	}
	if err != nil {
		return err
	}
	// The strippers stop at EOI, IEND and the RIFF end: nothing may follow.
	if _, err := br.ReadByte(); err != io.EOF {
		return errStructure
	}
	return nil
}

// need turns running out of data into a structural error.
func need(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errStructure
	}
	return err
}

// jpegFrame is what a JPEG's SOF segment says.
type jpegFrame struct {
	progressive   bool
	width, height int
	comps         []jpegComp
}

type jpegComp struct {
	id, h, v byte
}

// parseSOF reads the payload of an SOF0, SOF1 or SOF2 segment, the only
// frame types the decoder takes (8-bit Huffman, baseline or progressive).
func parseSOF(m byte, p []byte) (jpegFrame, error) {
	if len(p) < 6 || p[0] != 8 {
		return jpegFrame{}, errStructure
	}
	f := jpegFrame{progressive: m == 0xC2,
		height: int(binary.BigEndian.Uint16(p[1:3])), width: int(binary.BigEndian.Uint16(p[3:5]))}
	n := int(p[5])
	if f.width == 0 || f.height == 0 || (n != 1 && n != 3 && n != 4) || len(p) != 6+3*n {
		return jpegFrame{}, errStructure
	}
	for i := range n {
		c := p[6+3*i:]
		h, v := c[1]>>4, c[1]&0x0F
		if h < 1 || h > 4 || v < 1 || v > 4 || c[2] > 3 {
			return jpegFrame{}, errStructure
		}
		for _, o := range f.comps {
			if o.id == c[0] {
				return jpegFrame{}, errStructure
			}
		}
		f.comps = append(f.comps, jpegComp{id: c[0], h: h, v: v})
	}
	// The decoder needs the first component to have the largest factors.
	for _, c := range f.comps[1:] {
		if c.h > f.comps[0].h || c.v > f.comps[0].v {
			return jpegFrame{}, errStructure
		}
	}
	return f, nil
}

func checkJPEG(br *bufio.Reader) error {
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xFF, markerSOI} {
		return errStructure
	}
	var frame *jpegFrame
	scans := 0
	seg := make([]byte, 0, 1<<16)
	for {
		var mk [2]byte
		if _, err := io.ReadFull(br, mk[:]); err != nil {
			return need(err)
		}
		if mk[0] != 0xFF {
			return errStructure
		}
		m := mk[1]
		if m == markerEOI {
			if frame == nil || scans == 0 {
				return errStructure
			}
			return nil
		}
		var lb [2]byte
		if _, err := io.ReadFull(br, lb[:]); err != nil {
			return need(err)
		}
		n := int(binary.BigEndian.Uint16(lb[:]))
		if n < 2 {
			return errStructure
		}
		seg = seg[:n-2]
		if _, err := io.ReadFull(br, seg); err != nil {
			return need(err)
		}
		switch {
		case m == 0xC0 || m == 0xC1 || m == 0xC2:
			if frame != nil {
				return errStructure
			}
			f, err := parseSOF(m, seg)
			if err != nil {
				return err
			}
			frame = &f
		case m == 0xC4:
			if !validDHT(seg) {
				return errStructure
			}
		case m == 0xDB:
			if !validDQT(seg) {
				return errStructure
			}
		case m == 0xDD:
			if len(seg) != 2 {
				return errStructure
			}
		case m == markerSOS:
			if frame == nil || !validSOS(frame, seg) {
				return errStructure
			}
			if scans++; scans > maxJPEGScans {
				return errStructure
			}
			if err := skipEntropyData(br); err != nil {
				return err
			}
		case markerAPP0 <= m && m <= markerAPP15 && !dropJPEGSegment(m, seg):
			// JFIF, an ICC profile, Adobe: the segments stripping keeps.
		default:
			// Other frame types, arithmetic coding, DNL, a stray RST or
			// SOI: nothing the decoder would read.
			return errStructure
		}
	}
}

// validDHT checks the Huffman tables of a DHT segment: classes 0–1,
// destinations 0–3, at most 256 codes each, lengths adding up.
func validDHT(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	for len(p) > 0 {
		if len(p) < 17 || p[0]>>4 > 1 || p[0]&0x0F > 3 {
			return false
		}
		total := 0
		for _, c := range p[1:17] {
			total += int(c)
		}
		if total == 0 || total > 256 || len(p) < 17+total {
			return false
		}
		p = p[17+total:]
	}
	return true
}

// validDQT checks the quantisation tables of a DQT segment: 8- or 16-bit,
// destinations 0–3, 64 entries each.
func validDQT(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	for len(p) > 0 {
		size := 1 + 64
		if p[0]>>4 == 1 {
			size = 1 + 128
		} else if p[0]>>4 != 0 {
			return false
		}
		if p[0]&0x0F > 3 || len(p) < size {
			return false
		}
		p = p[size:]
	}
	return true
}

// validSOS checks a scan header against the frame: components it names
// exist, once each, in frame order; table numbers and the spectral and
// approximation parameters are those the decoder takes.
func validSOS(f *jpegFrame, p []byte) bool {
	if len(p) < 1 {
		return false
	}
	n := int(p[0])
	if n < 1 || n > len(f.comps) || len(p) != 1+2*n+3 {
		return false
	}
	last := -1
	for i := range n {
		sel, tables := p[1+2*i], p[2+2*i]
		idx := -1
		for j, c := range f.comps {
			if c.id == sel {
				idx = j
			}
		}
		if idx <= last || tables>>4 > 3 || tables&0x0F > 3 {
			return false
		}
		last = idx
	}
	ss, se, ah, al := p[1+2*n], p[2+2*n], p[3+2*n]>>4, p[3+2*n]&0x0F
	if !f.progressive {
		return ss == 0 && se == 63 && ah == 0 && al == 0
	}
	if ss > se || se > 63 || ah > 13 || al > 13 {
		return false
	}
	// A DC scan covers only coefficient 0; an AC scan covers one component.
	return (ss == 0) == (se == 0) && (ss == 0 || n == 1)
}

// skipEntropyData reads the entropy-coded data after a scan header up to
// the next marker, which it leaves unread. Inside it FF is followed only by
// 00 (a stuffed byte) or a restart marker.
func skipEntropyData(br *bufio.Reader) error {
	for {
		buf, err := peekSome(br, 1<<30)
		if err != nil {
			return need(err)
		}
		i := bytes.IndexByte(buf, 0xFF)
		if i < 0 {
			br.Discard(len(buf))
			continue
		}
		br.Discard(i)
		two, err := br.Peek(2)
		if err != nil {
			return need(err)
		}
		if b := two[1]; b == 0x00 || markerRST0 <= b && b <= markerRST7 {
			br.Discard(2)
			continue
		}
		return nil
	}
}

// pngHeader is what a PNG's IHDR says.
type pngHeader struct {
	width, height       int
	depth, colour       byte
	interlaced          bool
	channels, bitsPixel int
}

func parseIHDR(p []byte) (pngHeader, error) {
	if len(p) != 13 {
		return pngHeader{}, errStructure
	}
	h := pngHeader{width: int(binary.BigEndian.Uint32(p[0:4])), height: int(binary.BigEndian.Uint32(p[4:8])),
		depth: p[8], colour: p[9], interlaced: p[12] == 1}
	if h.width <= 0 || h.height <= 0 || h.width > 1<<31-1 || h.height > 1<<31-1 || p[10] != 0 || p[11] != 0 || p[12] > 1 {
		return pngHeader{}, errStructure
	}
	depthOK := map[byte][]byte{0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}[h.colour]
	if bytes.IndexByte(depthOK, h.depth) < 0 {
		return pngHeader{}, errStructure
	}
	h.channels = map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[h.colour]
	h.bitsPixel = h.channels * int(h.depth)
	return h, nil
}

// checkPNG checks the chunk sequence (IHDR first, PLTE before IDAT when
// the colour type needs one, IDAT chunks in one run, IEND last and empty),
// every CRC, and that the IDAT data is one zlib stream that inflates,
// without error, to exactly the bytes the header's rows need. Inflating
// costs a 32 KiB window, not the image.
func checkPNG(br *bufio.Reader) error {
	var sig [8]byte
	if _, err := io.ReadFull(br, sig[:]); err != nil || string(sig[:]) != magicPNG {
		return errStructure
	}
	var hdr pngHeader
	seenIHDR, seenPLTE, idatDone := false, false, false
	var pending *idatReader // set once the IDAT run has been read past
	for {
		var length int64
		var typ string
		if pending != nil {
			length, typ, pending = pending.nextLen, pending.nextType, nil
		} else {
			var err error
			if length, typ, err = readChunkHeader(br); err != nil {
				return err
			}
		}
		if !seenIHDR && typ != "IHDR" {
			return errStructure
		}
		switch typ {
		case "IHDR":
			if seenIHDR {
				return errStructure
			}
			seenIHDR = true
			p, err := readChunkBody(br, typ, length, 13)
			if err != nil {
				return err
			}
			if hdr, err = parseIHDR(p); err != nil {
				return err
			}
		case "PLTE":
			p, err := readChunkBody(br, typ, length, 768)
			if err != nil {
				return err
			}
			if seenPLTE || idatDone || len(p)%3 != 0 || len(p) == 0 {
				return errStructure
			}
			seenPLTE = true
		case "IDAT":
			if idatDone || hdr.colour == 3 && !seenPLTE {
				return errStructure
			}
			idat := &idatReader{br: br}
			idat.start(typ, length)
			if err := inflateRows(idat, hdr); err != nil {
				return err
			}
			// The run of IDAT chunks has been read, and the header of
			// the chunk after it.
			idatDone, pending = true, idat
		case "IEND":
			if !idatDone || length != 0 {
				return errStructure
			}
			_, err := readChunkBody(br, "IEND", 0, 0)
			return err
		default:
			if !keepPNGAncillary(typ) {
				// A critical chunk the decoder does not know, or an
				// ancillary one stripping drops.
				return errStructure
			}
			if err := skipChunk(br, typ, length); err != nil {
				return err
			}
		}
	}
}

func readChunkHeader(br *bufio.Reader) (int64, string, error) {
	var h [8]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, "", need(err)
	}
	length := int64(binary.BigEndian.Uint32(h[:4]))
	typ := string(h[4:8])
	if length > 0x7fffffff || !isChunkType(typ) {
		return 0, "", errStructure
	}
	return length, typ, nil
}

// readChunkBody reads a chunk of at most max bytes and its CRC.
func readChunkBody(br *bufio.Reader, typ string, length int64, max int64) ([]byte, error) {
	if length > max {
		return nil, errStructure
	}
	p := make([]byte, length+4)
	if _, err := io.ReadFull(br, p); err != nil {
		return nil, need(err)
	}
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(p[:length])
	if crc.Sum32() != binary.BigEndian.Uint32(p[length:]) {
		return nil, errStructure
	}
	return p[:length], nil
}

// skipChunk reads a chunk of any length through its CRC.
func skipChunk(br *bufio.Reader, typ string, length int64) error {
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	if _, err := io.CopyN(crc, br, length); err != nil {
		return need(err)
	}
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return need(err)
	}
	if crc.Sum32() != binary.BigEndian.Uint32(sum[:]) {
		return errStructure
	}
	return nil
}

// idatReader reads the data of consecutive IDAT chunks as one stream,
// checking each CRC, and stops at the first other chunk, whose header it
// keeps in nextLen and nextType.
type idatReader struct {
	br                *bufio.Reader
	left              int64
	crc               uint32
	nextLen           int64
	nextType          string
	done              bool
	emptyChunksInARow int
}

func (r *idatReader) start(typ string, length int64) {
	r.left = length
	r.crc = crc32.Update(0, crc32.IEEETable, []byte(typ))
}

func (r *idatReader) Read(p []byte) (int, error) {
	for r.left == 0 {
		if r.done {
			return 0, io.EOF
		}
		var sum [4]byte
		if _, err := io.ReadFull(r.br, sum[:]); err != nil {
			return 0, need(err)
		}
		if r.crc != binary.BigEndian.Uint32(sum[:]) {
			return 0, errStructure
		}
		length, typ, err := readChunkHeader(r.br)
		if err != nil {
			return 0, err
		}
		if typ != "IDAT" {
			r.done, r.nextLen, r.nextType = true, length, typ
			return 0, io.EOF
		}
		// Empty IDAT chunks are legal but a stream of them is a way to
		// spin; a real encoder never writes many in a row.
		if length == 0 {
			if r.emptyChunksInARow++; r.emptyChunksInARow > 16 {
				return 0, errStructure
			}
		} else {
			r.emptyChunksInARow = 0
		}
		r.start(typ, length)
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.br.Read(p)
	r.left -= int64(n)
	r.crc = crc32.Update(r.crc, crc32.IEEETable, p[:n])
	if err != nil {
		return n, need(err)
	}
	return n, nil
}

// inflateRows inflates the IDAT stream and checks it yields exactly the
// filtered rows the header describes, each starting with a filter type
// 0–4, then reads the rest of the IDAT run.
func inflateRows(idat *idatReader, h pngHeader) error {
	zr, err := zlib.NewReader(idat)
	if err != nil {
		return need(err)
	}
	zb := bufio.NewReaderSize(zr, 32<<10)
	passes := [][4]int{{0, 0, 1, 1}} // x0, y0, dx, dy
	if h.interlaced {
		passes = [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	for _, p := range passes {
		w := (h.width - p[0] + p[2] - 1) / p[2]
		rows := (h.height - p[1] + p[3] - 1) / p[3]
		if w <= 0 || rows <= 0 {
			continue
		}
		rowBytes := (int64(w)*int64(h.bitsPixel) + 7) / 8
		for range rows {
			f, err := zb.ReadByte()
			if err != nil {
				return need(err)
			}
			if f > 4 {
				return errStructure
			}
			if _, err := zb.Discard(int(rowBytes)); err != nil {
				return need(err)
			}
		}
	}
	// The stream must end here (its Adler-32 checked) with no extra data.
	if _, err := zb.ReadByte(); err != io.EOF {
		if err == nil {
			return errStructure
		}
		return need(err)
	}
	if _, err := io.Copy(io.Discard, idat); err != nil {
		return err
	}
	if !idat.done {
		return errStructure
	}
	return nil
}

// webpImage is what a WebP's frame header (and VP8X, if any) says.
type webpImage struct {
	width, height int
	lossless      bool
	alpha         bool
}

// checkWebP checks the RIFF container the stripper wrote (VP8X first when
// present, then an optional ALPH and one VP8 or VP8L chunk) and the frame
// header inside it: its dimensions must be the canvas's, so a small frame
// cannot claim a huge canvas.
func checkWebP(br *bufio.Reader) error {
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WEBP" {
		return errStructure
	}
	size := int64(binary.LittleEndian.Uint32(hdr[4:8])) - 4
	// The body was held whole by the stripper already (see stripWebP); it
	// is read here in full too, bounded by the byte limit.
	body, err := io.ReadAll(io.LimitReader(br, size))
	if err != nil {
		return err
	}
	if int64(len(body)) != size {
		return errStructure
	}
	_, err = parseWebP(body)
	return err
}

// parseWebP parses the chunks of a WebP body (after "RIFF....WEBP").
func parseWebP(body []byte) (webpImage, error) {
	var img webpImage
	canvasW, canvasH := 0, 0
	first, frame := true, false
	for len(body) > 0 {
		if len(body) < 8 || frame {
			return webpImage{}, errStructure
		}
		id := string(body[:4])
		n := int(binary.LittleEndian.Uint32(body[4:8]))
		padded := n + n&1
		if n < 0 || padded > len(body)-8 {
			return webpImage{}, errStructure
		}
		p := body[8 : 8+n]
		body = body[8+padded:]
		switch id {
		case "VP8X":
			if !first || n < 10 || p[0]&(vp8xFlagEXIF|vp8xFlagXMP) != 0 {
				return webpImage{}, errStructure
			}
			canvasW = 1 + (int(p[4]) | int(p[5])<<8 | int(p[6])<<16)
			canvasH = 1 + (int(p[7]) | int(p[8])<<8 | int(p[9])<<16)
		case "ICCP":
		case "ALPH":
			img.alpha = true
		case "VP8 ":
			if n < 10 || p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a || p[0]&1 != 0 {
				return webpImage{}, errStructure
			}
			img.width = int(binary.LittleEndian.Uint16(p[6:8]) & 0x3fff)
			img.height = int(binary.LittleEndian.Uint16(p[8:10]) & 0x3fff)
			frame = true
		case "VP8L":
			if n < 5 || p[0] != 0x2f || p[4]>>5 != 0 {
				return webpImage{}, errStructure
			}
			bits := binary.LittleEndian.Uint32(p[1:5])
			img.width = int(bits&0x3fff) + 1
			img.height = int(bits>>14&0x3fff) + 1
			img.lossless, frame = true, true
		default:
			return webpImage{}, errStructure
		}
		first = false
	}
	if !frame || img.width == 0 || img.height == 0 {
		return webpImage{}, errStructure
	}
	if canvasW != 0 && (canvasW != img.width || canvasH != img.height) {
		return webpImage{}, errStructure
	}
	if img.alpha && (canvasW == 0 || img.lossless) {
		return webpImage{}, errStructure // ALPH belongs to a lossy frame in VP8X
	}
	return img, nil
}
