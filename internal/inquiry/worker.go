package inquiry

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/mail"
)

// Register adds the contact, reply and SLA-watch workers. A nil mailer is taken as
// mail disabled.
func Register(workers *river.Workers, s *Service, m mail.Mailer) {
	if m == nil {
		m = mail.Disabled(s.Log)
	}
	river.AddWorker(workers, &contactWorker{s: s, mailer: m})
	river.AddWorker(workers, &replyWorker{s: s, mailer: m})
	river.AddWorker(workers, &watchWorker{s: s})
}

type contactWorker struct {
	river.WorkerDefaults[ContactArgs]
	s      *Service
	mailer mail.Mailer
}

// Timeout leaves room for a slow mail server.
func (w *contactWorker) Timeout(*river.Job[ContactArgs]) time.Duration {
	return 3 * mail.DefaultTimeout
}

func (w *contactWorker) Work(ctx context.Context, job *river.Job[ContactArgs]) error {
	_, err := w.s.Deliver(ctx, w.mailer, job.Args)
	return err
}

type replyWorker struct {
	river.WorkerDefaults[ReplyArgs]
	s      *Service
	mailer mail.Mailer
}

func (w *replyWorker) Timeout(*river.Job[ReplyArgs]) time.Duration { return 3 * mail.DefaultTimeout }

func (w *replyWorker) Work(ctx context.Context, job *river.Job[ReplyArgs]) error {
	return w.s.DeliverReply(ctx, w.mailer, job.Args)
}
