package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// uploadPage shows the member's upload form, or where their verification
// stands once the link was used.
func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request) {
	v, m, ok := s.openLink(w, r)
	if !ok {
		return
	}
	lang := s.pageLang(w, r, m.Locale)
	if v.Status != kakunin.StatusAwaitingUpload {
		s.renderStatus(w, r, lang, v, http.StatusOK)
		return
	}
	data := s.uploadData(r, lang, v, "", "")
	if reason := r.URL.Query().Get("jpki"); slices.Contains(jpkiReasons, reason) {
		data.JPKIRefused = reason
	}
	s.render(w, r, http.StatusOK, "upload", data)
}

// openLink checks an upload link. A forged, unknown or used-up link and an
// expired one each get their page; nothing says whether a member exists.
func (s *Server) openLink(w http.ResponseWriter, r *http.Request) (*kakunin.Verification, *kakunin.Member, bool) {
	v, m, err := s.Verifications.ForUpload(r.Context(), r.PathValue("token"))
	reason := ""
	switch kakunin.ErrorCode(err) {
	case "":
		if v.Status == kakunin.StatusExpired && v.Result == nil {
			reason = "expired"
		}
	case kakunin.EGONE:
		reason = "expired"
	case kakunin.EINVALID, kakunin.ENOTFOUND:
		reason = "invalid"
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return nil, nil, false
	}
	if reason != "" {
		var fallback kakunin.Locale
		if m != nil {
			fallback = m.Locale
		}
		status := http.StatusNotFound
		if reason == "expired" {
			status = http.StatusGone
		}
		s.render(w, r, status, "link_problem", pages.LinkProblem{Base: s.base(r, s.pageLang(w, r, fallback)), Reason: reason})
		return nil, nil, false
	}
	return v, m, true
}

func (s *Server) renderUpload(w http.ResponseWriter, r *http.Request, lang kakunin.Locale, v *kakunin.Verification, selected kakunin.DocumentType, errCode string, status int) {
	s.render(w, r, status, "upload", s.uploadData(r, lang, v, selected, errCode))
}

// uploadData is the member's page: the My Number card check first when
// offered, then the photo upload when offered.
func (s *Server) uploadData(r *http.Request, lang kakunin.Locale, v *kakunin.Verification, selected kakunin.DocumentType, errCode string) pages.Upload {
	base := strings.TrimSuffix(strings.TrimSuffix(r.URL.Path, "/send"), "/jpki")
	d := pages.Upload{
		Base: s.base(r, lang), Action: base + "/send", DocumentTypes: kakunin.DocumentTypes, Selected: selected,
		ErrorCode: errCode, ExpiresAt: v.ExpiresAt, MaxMB: int(s.MaxUploadBytes >> 20),
		NoPhoto: !s.offers(v, kakunin.MethodPhoto),
	}
	if s.offers(v, kakunin.MethodJPKIApp) {
		d.JPKIURL = base + "/jpki"
	}
	return d
}

func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, lang kakunin.Locale, v *kakunin.Verification, status int) {
	data := pages.UploadStatus{Base: s.base(r, lang), Status: v.Status}
	if v.Result != nil {
		data.RejectReason = v.Result.RejectReason
	}
	s.render(w, r, status, "upload_status", data)
}

// upload receives the member's document. The body is read as a stream
// (never ParseMultipartForm, which spools large files to disk in
// plaintext); the image is encrypted as it arrives and the answer is sent
// only once ciphertext and record are durable.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	v, m, ok := s.openLink(w, r)
	if !ok {
		return
	}
	lang := s.pageLang(w, r, m.Locale)
	if v.Status != kakunin.StatusAwaitingUpload {
		s.renderStatus(w, r, lang, v, http.StatusConflict)
		return
	}
	if !s.offers(v, kakunin.MethodPhoto) {
		io.Copy(io.Discard, io.LimitReader(r.Body, s.MaxUploadBytes+64<<10))
		s.renderUpload(w, r, lang, v, "", "photo_off", http.StatusForbidden)
		return
	}
	// A little room above the image limit for the form's other fields.
	r.Body = http.MaxBytesReader(w, r.Body, s.MaxUploadBytes+64<<10)
	typ, pending, err := s.readUploadForm(r, v)
	if err == nil && pending == nil {
		err = kakunin.Errorf(kakunin.EINVALID, "missing_file")
	}
	if err == nil && !typ.Valid() {
		err = kakunin.Errorf(kakunin.EINVALID, "missing_type")
	}
	if err == nil {
		var d *store.DocumentRecord
		d, err = s.Documents.Commit(r.Context(), pending, v, typ)
		pending = nil // Commit discards it on failure
		if err == nil && s.Metrics != nil {
			s.Metrics.ObserveUpload(d.Size)
		}
	}
	if pending != nil {
		s.Documents.Discard(r.Context(), pending)
	}
	if err != nil {
		// Let the browser finish sending so it can show our answer.
		io.Copy(io.Discard, r.Body)
		code, status := uploadErrorCode(err)
		if status == http.StatusInternalServerError {
			s.logInternal(r, err)
		}
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfterBusy)
		}
		s.renderUpload(w, r, lang, v, typ, code, status)
		return
	}
	// Post/redirect/get: a reload does not re-send the image.
	http.Redirect(w, r, strings.TrimSuffix(r.URL.Path, "/send"), http.StatusSeeOther)
}

// readUploadForm streams the multipart form: the document_type field and
// the document file, in either order.
func (s *Server) readUploadForm(r *http.Request, v *kakunin.Verification) (kakunin.DocumentType, *document.Pending, error) {
	var typ kakunin.DocumentType
	var pending *document.Pending
	fail := func(err error) (kakunin.DocumentType, *document.Pending, error) {
		if pending != nil {
			s.Documents.Discard(r.Context(), pending)
		}
		return typ, nil, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return fail(kakunin.Errorf(kakunin.EINVALID, "missing_file"))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return fail(kakunin.Errorf(kakunin.EINVALID, "invalid"))
	}
	for parts := 0; ; parts++ {
		if parts > 10 {
			return fail(kakunin.Errorf(kakunin.EINVALID, "invalid"))
		}
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return typ, pending, nil
		}
		if err != nil {
			return fail(bodyError(err))
		}
		switch part.FormName() {
		case "document_type":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return fail(bodyError(err))
			}
			typ = kakunin.DocumentType(strings.TrimSpace(string(b)))
		case "document":
			if part.FileName() == "" {
				// A browser sends an empty file part when no photo was chosen.
				io.Copy(io.Discard, io.LimitReader(part, 1<<10))
				part.Close()
				continue
			}
			if pending != nil {
				return fail(kakunin.Errorf(kakunin.EINVALID, "invalid"))
			}
			pending, err = s.Documents.Store(r.Context(), v, part)
			if err != nil {
				return fail(bodyError(err))
			}
		default:
			io.Copy(io.Discard, io.LimitReader(part, 1<<10))
		}
		part.Close()
	}
}

// bodyError turns a body that broke off or ran over the limit into a
// member-facing error.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return kakunin.Errorf(kakunin.ETOOLARGE, "too_large")
	}
	if kakunin.ErrorCode(err) != kakunin.EINTERNAL {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "multipart") {
		return kakunin.Errorf(kakunin.EINVALID, "invalid")
	}
	return err
}

// retryAfterBusy is the Retry-After, in seconds, of an upload refused
// because the memory budget stayed full: uploads hold it for seconds.
const retryAfterBusy = "30"

// uploadErrorCode maps an upload failure to the page's message code and
// the response status.
func uploadErrorCode(err error) (string, int) {
	code := kakunin.ErrorCode(err)
	switch code {
	case kakunin.EUNSUPPORTED:
		return "unsupported", http.StatusUnsupportedMediaType
	case kakunin.ETOOLARGE:
		return "too_large", http.StatusRequestEntityTooLarge
	case kakunin.EGONE:
		return "gone", http.StatusGone
	case kakunin.EUNAVAILABLE:
		return "busy", http.StatusServiceUnavailable
	case kakunin.ENOSPACE:
		return "storage_full", http.StatusInsufficientStorage
	case kakunin.EINVALID:
		switch msg := kakunin.ErrorMessage(err); msg {
		case "missing_file", "missing_type":
			return msg, http.StatusBadRequest
		}
		return "invalid", http.StatusBadRequest
	}
	return "internal", http.StatusInternalServerError
}
