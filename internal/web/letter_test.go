package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/massmail/massmailtest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestThePreviewHighlightsPlaceholdersAndTheStartIsRefusedWhileOneIsLeft(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		inc, _ := massmailtest.Setup(t, c.env, []massmailtest.Member{{ExternalID: "m1", Email: "m1@example.jp"}})
		resp := c.signIn(kakunin.RoleResponder)
		page := notificationURL(inc.ID)
		d := massmail.DefaultText()
		form := url.Values{"subject_ja": {d.SubjectJA}, "body_ja": {d.BodyJA}, "subject_en": {d.SubjectEN}, "body_en": {d.BodyEN}}
		if rec := c.post(resp.token, page, form.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("save: %d", rec.Code)
		}
		status, body := c.get(resp.token, page+"/preview")
		if status != http.StatusOK {
			t.Fatalf("preview: %d", status)
		}
		for _, want := range []string{"<mark>【要記入】</mark>に暗号鍵を交換しました", "<mark>[to fill in]</mark>",
			"<mark>【要記入：不正なアクセスを止めた方法と、調査の体制】</mark>", `id="preview-marked"`} {
			if !strings.Contains(body, want) {
				t.Errorf("preview lacks %q", want)
			}
		}
		if strings.Contains(body, `/notification/confirm"`) {
			t.Error("the page offers to start a letter with placeholders")
		}
		// Neither the confirmation nor a crafted start goes through.
		for _, rec := range []*httptest.ResponseRecorder{
			c.do(resp.token, http.MethodGet, page+"/confirm?action=start", nil),
			c.post(resp.token, page+"/start", url.Values{"count": {"1"}, "code": {c.nextTOTP(resp)}}.Encode()),
		} {
			if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "文面に【要記入】（[to fill in]）が残っています") {
				t.Errorf("%d, not refused for the placeholder", rec.Code)
			}
		}
		if _, camp, _ := c.srv.MassMail.Campaign(t.Context(), inc.ID); camp.State != store.CampaignDraft {
			t.Fatalf("started with placeholders: %s", camp.State)
		}
	})
}
