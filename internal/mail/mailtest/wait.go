package mailtest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// pollEvery is how often WaitFor looks at what the server accepted.
const pollEvery = 10 * time.Millisecond

// WaitFor returns what the server accepted as soon as pred holds for it,
// and fails the test if it does not within timeout. It only waits for
// something to happen: to show that nothing else happened, send a sentinel
// and use Before.
func (s *Server) WaitFor(t testing.TB, timeout time.Duration, pred func([]Envelope) bool) []Envelope {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		mails := s.Mails()
		if pred(mails) {
			return mails
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for mail; %d accepted: %v", timeout, len(mails), recipients(mails))
		}
		time.Sleep(pollEvery)
	}
}

// Before waits for the first mail to sentinel (compared without case) and
// returns every mail accepted before it. A test that must show a job sent
// nothing makes the sentinel's mail come strictly after that job (for
// instance, one queue worker and the sentinel enqueued last); then
// whatever the job would have sent is in the returned list, with no sleep
// and no guess at how long is long enough.
func (s *Server) Before(t testing.TB, timeout time.Duration, sentinel string) []Envelope {
	t.Helper()
	want := strings.ToLower(sentinel)
	isSentinel := func(e Envelope) bool { return slices.Contains(Lower(e.To), want) }
	mails := s.WaitFor(t, timeout, func(m []Envelope) bool { return slices.ContainsFunc(m, isSentinel) })
	return mails[:slices.IndexFunc(mails, isSentinel)]
}

func recipients(mails []Envelope) [][]string {
	out := make([][]string, len(mails))
	for i, m := range mails {
		out[i] = m.To
	}
	return out
}
