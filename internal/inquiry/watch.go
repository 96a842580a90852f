package inquiry

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
)

// Alert kinds of the desk's SLA watch (mail to the responsible role and
// the alert webhook's "alert.<kind>" event).
const (
	KindSLAWarning  = "inquiry.sla_warning"  // a target is within WarnBefore
	KindSLABreached = "inquiry.sla_breached" // a target passed unmet
)

// Targets of a thread, as named in Warned, Escalated and the alerts.
const (
	TargetFirst    = "first_response"
	TargetNext     = "next_update"
	TargetSolution = "solution"
)

// ResponsibleRole is who is alerted about a thread of category: the
// responders for incident questions, support for the rest.
func ResponsibleRole(category string) kakunin.Role {
	if category == CategoryIncident {
		return kakunin.RoleResponder
	}
	return kakunin.RoleSupport
}

func marked(list, target string) bool { return slices.Contains(strings.Split(list, ","), target) }

func mark(list, target string) string {
	if list == "" {
		return target
	}
	return list + "," + target
}

func unmark(list, target string) string {
	var out []string
	for _, t := range strings.Split(list, ",") {
		if t != "" && t != target {
			out = append(out, t)
		}
	}
	return strings.Join(out, ",")
}

// Watch warns of every target of an open, running thread that is near,
// and escalates every one that passed: each once per target (a target set
// anew, such as a next update, may be warned of and escalated again). Each
// alert commits with the thread's marks and, for a breach, its audit
// event. It returns how many alerts it raised.
func (s *Service) Watch(ctx context.Context) (int, error) {
	ths, err := s.DB.Inquiries(ctx, store.InquiryFilter{Status: StatusOpen})
	if err != nil {
		return 0, err
	}
	now := s.now()
	raised := 0
	for _, th := range ths {
		if th.PausedAt != nil {
			continue
		}
		err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
			changed := false
			for _, t := range []struct {
				name string
				due  *time.Time
			}{{TargetFirst, th.DueFirst}, {TargetNext, th.DueNext}, {TargetSolution, th.DueSolution}} {
				if t.due == nil {
					continue
				}
				kind := ""
				switch {
				case !now.Before(*t.due) && !marked(th.Escalated, t.name):
					kind, th.Escalated = KindSLABreached, mark(th.Escalated, t.name)
				case now.Before(*t.due) && t.due.Sub(now) <= s.sla().WarnBefore && !marked(th.Warned, t.name):
					kind, th.Warned = KindSLAWarning, mark(th.Warned, t.name)
				default:
					continue
				}
				detail := map[string]string{"thread": th.ID, "target": t.name, "category": th.Category, "due": t.due.UTC().Format(time.RFC3339)}
				if err := alert.Raise(ctx, s.Jobs, tx.SQL(), alert.Alert{Kind: kind, Role: ResponsibleRole(th.Category), At: now, Detail: detail}); err != nil {
					return err
				}
				if kind == KindSLABreached {
					if err := s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.InquiryEscalated, Actor: "system", Subject: th.ID,
						Detail: map[string]string{"target": t.name}}); err != nil {
						return err
					}
				}
				changed = true
				raised++
			}
			if !changed {
				return nil
			}
			return tx.UpdateInquiry(ctx, th)
		})
		if err != nil {
			return raised, err
		}
	}
	return raised, nil
}

// WatchArgs is the periodic job that runs Watch.
type WatchArgs struct{}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (WatchArgs) Kind() string { return "inquiry_watch" }

// WatchJob runs Watch every interval, and once at start.
func WatchJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return WatchArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})
}

type watchWorker struct {
	river.WorkerDefaults[WatchArgs]
	s *Service
}

func (w *watchWorker) Timeout(*river.Job[WatchArgs]) time.Duration { return jobs.DefaultJobTimeout }

func (w *watchWorker) Work(ctx context.Context, job *river.Job[WatchArgs]) error {
	_, err := w.s.Watch(ctx)
	return err
}
