package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
)

// DefaultStaleAfter is how long an open incident may go without a public
// update before responders are alerted (--notice-stale-after).
const DefaultStaleAfter = 72 * time.Hour

// AlertAgain is how long the watch waits before alerting the same overdue
// item again: once a day, not every hour it runs.
const AlertAgain = 24 * time.Hour

// ObligationNoticeStale is the key the watch remembers stale-notice alerts by.
const ObligationNoticeStale = "notice_stale"

// Watch looks at every open incident and raises, for responders, an alert
// per overdue obligation and one when its public notices are stale
// (older than StaleAfter), at
// most once per item per AlertAgain. Each alert is raised in the
// transaction that records it (incident_alerts), so a crash between the
// two cannot alert twice or lose one. It returns how many alerts it raised.
func (s *Service) Watch(ctx context.Context) (int, error) {
	if s.Queue == nil {
		return 0, errors.New("watch incidents: no queue to raise alerts on")
	}
	staleAfter := s.staleAfter()
	open, err := s.DB.ListOpenIncidents(ctx)
	if err != nil {
		return 0, fmt.Errorf("watch incidents: %w", err)
	}
	if len(open) == 0 {
		return 0, nil
	}
	lastPublic, err := s.DB.LastPublicUpdates(ctx)
	if err != nil {
		return 0, fmt.Errorf("watch incidents: %w", err)
	}
	raised := 0
	for _, in := range open {
		n, err := s.watchOne(ctx, in, lastPublic, staleAfter)
		raised += n
		if err != nil {
			return raised, fmt.Errorf("watch incident %s: %w", in.ID, err)
		}
	}
	return raised, nil
}

// dueAlert is one alert the watch may raise.
type dueAlert struct {
	key    string
	kind   string
	detail map[string]string
}

func (s *Service) watchOne(ctx context.Context, in *kakunin.Incident, lastPublic map[string]time.Time, staleAfter time.Duration) (int, error) {
	now := s.now()
	items, err := s.DB.CertifierItems(ctx, in.ID)
	if err != nil {
		return 0, err
	}
	// The people count matters only for the report rule, and only while
	// no other rule already requires the report; counting is cheap enough
	// (seconds for millions of documents) to do it whenever it can.
	facts, _, err := s.Count(ctx, in)
	if err != nil {
		return 0, err
	}
	var alerts []dueAlert
	for _, o := range Assess(in, items, facts, now).Overdue() {
		alerts = append(alerts, dueAlert{key: o.Key, kind: alert.KindIncidentOverdue, detail: map[string]string{
			"incident": in.ID, "obligation": o.Key, "due": o.DueAt.UTC().Format(time.RFC3339)}})
	}
	var last *time.Time
	if t, ok := lastPublic[in.ID]; ok {
		last = &t
	}
	if st := PublicStatus(in, last, staleAfter, now); st.Stale {
		d := map[string]string{"incident": in.ID, "obligation": ObligationNoticeStale, "stale_after": staleAfter.String(), "last_public_update": "none"}
		if last != nil {
			d["last_public_update"] = last.UTC().Format(time.RFC3339)
		}
		alerts = append(alerts, dueAlert{key: ObligationNoticeStale, kind: alert.KindIncidentNoticeStale, detail: d})
	}
	raised := 0
	for _, a := range alerts {
		err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
			ok, err := tx.ClaimIncidentAlert(ctx, in.ID, a.key, now, now.Add(-AlertAgain))
			if err != nil || !ok {
				return err
			}
			al := alert.Alert{Kind: a.kind, At: now, Role: kakunin.RoleResponder, Detail: a.detail}
			if err := alert.Raise(ctx, s.Queue, tx.SQL(), al); err != nil {
				return err
			}
			raised++
			return s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.IncidentAlerted, Actor: "system", Subject: in.ID,
				Detail: map[string]string{"obligation": a.key, "kind": a.kind}})
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
func (WatchArgs) Kind() string { return "incident_watch" }

// WatchInterval is how often the watch runs.
const WatchInterval = time.Hour

// WatchJob is the hourly periodic job, for jobs.Config.PeriodicJobs. Only
// one runs per period across replicas.
func WatchJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(WatchInterval),
		func() (river.JobArgs, *river.InsertOpts) {
			return WatchArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: WatchInterval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})
}

// RegisterWatch adds the watch worker to workers, logging to log
// (required).
func RegisterWatch(workers *river.Workers, s *Service, log *slog.Logger) {
	if log == nil {
		panic("incident.RegisterWatch: no logger")
	}
	river.AddWorker(workers, &watchWorker{s: s, Log: log})
}

type watchWorker struct {
	river.WorkerDefaults[WatchArgs]
	s   *Service
	Log *slog.Logger
}

// Timeout is the queue's default; a watch cut short raises the rest of its
// alerts at the next run.
func (w *watchWorker) Timeout(*river.Job[WatchArgs]) time.Duration { return jobs.DefaultJobTimeout }

func (w *watchWorker) Work(ctx context.Context, job *river.Job[WatchArgs]) error {
	n, err := w.s.Watch(ctx)
	if n > 0 {
		w.Log.InfoContext(ctx, "incident alerts raised", "alerts", n)
	}
	return err
}
