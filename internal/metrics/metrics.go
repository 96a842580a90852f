// Package metrics exposes kakunin's health to Prometheus on an address of
// its own (--metrics-addr). Labels carry only route patterns, methods,
// status codes and job kinds — never a path, a token, an address or an ID —
// so a metrics scrape can never leak who uses the service.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kakunin/kakunin/internal/store"
)

// CacheFor is how long the database gauges are reused between scrapes:
// several Prometheus servers (or a fast scrape interval) then cost one set
// of queries every 15 s, whatever they do.
const CacheFor = 15 * time.Second

// Metrics is the registry and the collectors the rest of the program feeds.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	uploads   prometheus.Histogram
	diskFull  prometheus.Counter
	state     *stateCollector
	unmatched string
}

// Source reads the database gauges; *store.DB is one.
type Source interface {
	ReadGauges(ctx context.Context, now time.Time) (*store.Gauges, error)
}

// New registers kakunin's metrics over src (nil: no database gauges).
func New(src Source, log *slog.Logger) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry(), unmatched: "unmatched"}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kakunin_http_requests_total", Help: "HTTP requests served, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kakunin_http_request_duration_seconds", Help: "Time to serve a request, by route pattern and method (uploads include the member's transfer).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"route", "method"})
	m.uploads = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kakunin_upload_bytes", Help: "Size of accepted document uploads after sanitising, in bytes.",
		Buckets: prometheus.ExponentialBuckets(64<<10, 2, 10), // 64 KiB … 32 MiB
	})
	m.diskFull = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kakunin_upload_disk_full_total", Help: "Uploads refused because the blob store was out of space.",
	})
	m.registry.MustRegister(m.requests, m.latency, m.uploads, m.diskFull,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src != nil {
		m.state = &stateCollector{src: src, log: log, now: time.Now}
		m.registry.MustRegister(m.state)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry is for tests and for gathering in-process.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// ObserveRequest counts one request. route is the mux pattern that matched
// ("" when none did: a path anyone can make up is never a label).
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = m.unmatched
	}
	if !knownMethod(method) {
		method = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveUpload records an accepted upload's stored size.
func (m *Metrics) ObserveUpload(bytes int64) { m.uploads.Observe(float64(bytes)) }

// ObserveDiskFull counts an upload refused for lack of space.
func (m *Metrics) ObserveDiskFull() { m.diskFull.Inc() }

func knownMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return true
	}
	return false
}

// stateCollector turns store.Gauges into metrics at scrape time, reading the
// database at most once per CacheFor.
type stateCollector struct {
	src Source
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	cached *store.Gauges
	readAt time.Time
}

var (
	descJobsWaiting   = prometheus.NewDesc("kakunin_jobs_waiting", "Jobs waiting to run (available, scheduled or retrying), by kind.", []string{"kind"}, nil)
	descJobsRunning   = prometheus.NewDesc("kakunin_jobs_running", "Jobs running now, by kind.", []string{"kind"}, nil)
	descJobsAge       = prometheus.NewDesc("kakunin_jobs_oldest_due_seconds", "How long the oldest due job of a kind has waited past its scheduled time.", []string{"kind"}, nil)
	descNotifyPending = prometheus.NewDesc("kakunin_notifications_pending", "Mass-notification letters waiting to be sent.", nil, nil)
	descNotifyAge     = prometheus.NewDesc("kakunin_notifications_oldest_due_seconds", "How long the oldest due notification letter has waited.", nil, nil)
	descRetention     = prometheus.NewDesc("kakunin_retention_backlog", "Images past their retention deadline and not yet destroyed.", nil, nil)
	descEpochs        = prometheus.NewDesc("kakunin_epoch_keys_alive", "Retention-epoch keys not yet destroyed.", nil, nil)
	descLocked        = prometheus.NewDesc("kakunin_staff_locked", "Staff accounts locked (read quota exceeded or failed sign-ins).", nil, nil)
	descAuditHead     = prometheus.NewDesc("kakunin_audit_chain_head", "Sequence number of the newest audit event.", nil, nil)
	descCheckpoint    = prometheus.NewDesc("kakunin_audit_checkpoint_size", "Events covered by the newest signed audit checkpoint.", nil, nil)
	descCheckpointAge = prometheus.NewDesc("kakunin_audit_checkpoint_age_seconds", "Age of the newest signed audit checkpoint.", nil, nil)
	descUp            = prometheus.NewDesc("kakunin_state_up", "1 if the database gauges could be read at the last refresh.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobsWaiting, descJobsRunning, descJobsAge, descNotifyPending, descNotifyAge,
		descRetention, descEpochs, descLocked, descAuditHead, descCheckpoint, descCheckpointAge, descUp} {
		ch <- d
	}
}

func (c *stateCollector) gauges() (*store.Gauges, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.cached != nil && now.Sub(c.readAt) < CacheFor {
		return c.cached, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := c.src.ReadGauges(ctx, now)
	if err != nil {
		c.log.Warn("metrics: read database gauges", "err", err)
		return c.cached, false // the last good values, marked stale by kakunin_state_up 0
	}
	c.cached, c.readAt = g, now
	return g, true
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	g, ok := c.gauges()
	up := 0.0
	if ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
	if g == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, j := range g.Jobs {
		gauge(descJobsWaiting, float64(j.Waiting), j.Kind)
		gauge(descJobsRunning, float64(j.Running), j.Kind)
		gauge(descJobsAge, j.OldestDue.Seconds(), j.Kind)
	}
	gauge(descNotifyPending, float64(g.NotificationsPending))
	gauge(descNotifyAge, g.NotificationOldestDue.Seconds())
	gauge(descRetention, float64(g.RetentionBacklog))
	gauge(descEpochs, float64(g.EpochKeysAlive))
	gauge(descLocked, float64(g.StaffLocked))
	gauge(descAuditHead, float64(g.AuditHead))
	if g.HasCheckpoint {
		gauge(descCheckpoint, float64(g.CheckpointSize))
		gauge(descCheckpointAge, g.CheckpointAge.Seconds())
	}
}
