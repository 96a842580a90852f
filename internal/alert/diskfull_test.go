package alert

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestAFullDiskAlertsOnceAnHourNotOncePerRefusedUpload(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	raised := 0
	var fail error
	d := &DiskFull{Raise: func(context.Context) error { raised++; return fail }, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, full := d.FullSince(); full {
		t.Fatal("full before any refusal")
	}
	for range 50 {
		d.Noticed(context.Background())
		now = now.Add(time.Minute / 2)
	}
	if raised != 1 {
		t.Fatalf("%d alerts for 50 refusals in 25 minutes, want 1", raised)
	}
	now = now.Add(time.Hour)
	d.Noticed(context.Background())
	if raised != 2 {
		t.Fatalf("%d alerts after an hour more, want 2", raised)
	}
	if _, full := d.FullSince(); !full {
		t.Fatal("not reported full after refusals")
	}
	d.Clear()
	if _, full := d.FullSince(); full {
		t.Fatal("still full after Clear")
	}
	// A raise that failed is tried again at the next refusal.
	now = now.Add(2 * time.Hour)
	fail = errors.New("database full too")
	d.Noticed(context.Background())
	fail = nil
	d.Noticed(context.Background())
	if raised != 4 {
		t.Fatalf("%d raises, want the failed one retried (4)", raised)
	}
}

func TestStorageIsNotReadyWhileFullAndReadyOnceThereIsRoomAgain(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	free := int64(1 << 30)
	d := &DiskFull{Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Free: func() (int64, bool) { return free, true }, Need: 40 << 20}
	ctx := context.Background()
	if err := d.Ready(ctx); err != nil {
		t.Fatalf("ready with room: %v", err)
	}
	d.Noticed(ctx) // ENOSPC although statfs looked fine (a quota, a race)
	if err := d.Ready(ctx); err == nil {
		t.Fatal("ready right after a refused upload")
	}
	now = now.Add(2 * time.Minute)
	if err := d.Ready(ctx); err != nil {
		t.Fatalf("still not ready two minutes after the last refusal with room: %v", err)
	}
	free = 1 << 20
	if err := d.Ready(ctx); err == nil {
		t.Fatal("ready with 1 MiB free")
	}
}
