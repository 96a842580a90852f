package pages

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/inquiry"
)

func sampleThread() *inquiry.View {
	at := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	due := at.Add(4 * time.Hour)
	return &inquiry.View{ID: "inq_1", Category: inquiry.CategoryIncident, Status: inquiry.StatusOpen, CreatedAt: at, AnswerBy: &due,
		SolutionBy: &due, SLAState: "warning", Messages: []inquiry.Message{
			{ID: "msg_1", Kind: inquiry.KindPerson, Author: "person", Body: "<b>was I affected?</b>", At: at},
			{ID: "msg_2", Kind: inquiry.KindReply, Author: "stf_1", Body: "We are checking.", At: at.Add(time.Hour)},
			{ID: "msg_3", Kind: inquiry.KindNote, Author: "stf_1", Body: "internal", At: at.Add(time.Hour)},
		}}
}

// The inquiry desk's pages, in every state they have.
func init() {
	moreRepresentativePages = append(moreRepresentativePages, func(add func(name string, f func(b Base) any)) {
		for _, code := range []string{"", "invalid_category", "invalid_address", "message_empty", "message_too_long", "message_invalid", "message_control", "invalid_form", "rate_limited"} {
			add("contact", func(b Base) any {
				return Contact{Base: b, ErrorCode: code, Categories: inquiry.Categories, Category: "incident", MaxMessage: 10000, MaxLength: 254}
			})
		}
		add("contact", func(b Base) any {
			return Contact{Base: b, BadLink: true, Categories: inquiry.Categories, MaxMessage: 10000}
		})
		add("contact", func(b Base) any { return Contact{Base: b, Unavailable: true} })
		add("contact_sent", func(b Base) any { return ContactSent{b} })
		add("contact_thread", func(b Base) any {
			return ContactThread{Base: b, Thread: sampleThread(), Action: "/contact/t/x", MaxMessage: 10000, Sent: true, ErrorCode: "message_empty"}
		})
		add("contact_thread", func(b Base) any {
			return ContactThread{Base: b, Thread: &inquiry.View{Category: "other", Status: "waiting"}, Action: "/contact/t/x"}
		})
		add("desk_queue", func(b Base) any {
			return DeskQueue{Base: b, Threads: []*inquiry.View{sampleThread()}, Categories: inquiry.Categories,
				Statuses: []string{"open", "waiting", "closed"}, States: []string{"ok", "warning", "breached", "paused"}, Category: "incident"}
		})
		add("desk_queue", func(b Base) any { return DeskQueue{Base: b} })
		add("console_incident", func(b Base) any {
			return ConsoleIncident{Base: b, Inquiries: &IncidentInquiries{Drawn: 37, Overdue: 5}}
		})
		for _, code := range []string{"", "closed", "invalid_merge"} {
			add("desk_thread", func(b Base) any {
				return DeskThread{Base: b, Thread: sampleThread(), Categories: inquiry.Categories, ErrorCode: code, MaxMessage: 10000}
			})
		}
		add("desk_thread", func(b Base) any {
			return DeskThread{Base: b, Thread: &inquiry.View{ID: "inq_2", Category: "other", Status: "closed", SLAState: "closed", MergedInto: "inq_1"}}
		})
	})
}

// HTML in a message is shown as text, never as markup.
func TestAThreadShowsHTMLInMessagesAsText(t *testing.T) {
	for key, body := range renderAll(t) {
		if !strings.Contains(key, "contact_thread#") && !strings.Contains(key, "desk_thread#") {
			continue
		}
		if strings.Contains(body, "<b>was I affected") {
			t.Errorf("%s: a message's HTML reached the page as markup", key)
		}
	}
}

// A public notice sends questions to the inquiry desk, incident preset.
func TestAPublicNoticeLinksToTheContactFormWithTheIncidentCategory(t *testing.T) {
	n := 0
	for key, body := range renderAll(t) {
		if strings.Contains(key, "/notice_public#") {
			n++
			if !strings.Contains(body, `href="/contact?category=incident"`) {
				t.Errorf("%s: no contact link", key)
			}
		}
	}
	if n == 0 {
		t.Fatal("no notice page rendered")
	}
}
