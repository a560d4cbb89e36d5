package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"go/build"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/testkit"
)

// Issue 8, point 7: Graph names zones the Windows way ("Pacific Standard
// Time", Microsoft's own event example) when it does not convert to the
// requested zone; they map to IANA zones through CLDR's windowsZones.
func TestWindowsTimeZonesMapToIANA(t *testing.T) {
	for _, c := range []struct {
		dateTime, zone string
		want           string // RFC 3339 UTC
	}{
		// event-get.md's example: PDT is UTC-7 in April
		{"2017-04-21T10:00:00.0000000", "Pacific Standard Time", "2017-04-21T17:00:00Z"},
		// PST is UTC-8 in winter: the mapping follows daylight saving time
		{"2026-01-15T09:30:00.0000000", "Pacific Standard Time", "2026-01-15T17:30:00Z"},
		{"2026-03-10T15:00:00.0000000", "W. Europe Standard Time", "2026-03-10T14:00:00Z"},
		{"2026-07-10T15:00:00.0000000", "GMT Standard Time", "2026-07-10T14:00:00Z"},
		{"2026-03-10T09:00:00.0000000", "India Standard Time", "2026-03-10T03:30:00Z"},
		{"2026-03-10T09:00:00.0000000", "AUS Eastern Standard Time", "2026-03-09T22:00:00Z"},
		{"2026-03-10T09:00:00.0000000", "Dateline Standard Time", "2026-03-10T21:00:00Z"},
		{"2026-03-10T09:00:00.0000000", "UTC-11", "2026-03-10T20:00:00Z"},
		{"2026-03-10T09:00:00.0000000", "pacific standard time", "2026-03-10T16:00:00Z"}, // case as sent varies
		// what Graph sends besides Windows names
		{"2026-03-10T15:00:00.0000000", "UTC", "2026-03-10T15:00:00Z"},
		{"2026-03-10T15:00:00.0000000", "", "2026-03-10T15:00:00Z"},
		{"2026-03-10T15:00:00.0000000", "tzone://Microsoft/Utc", "2026-03-10T15:00:00Z"},
		{"2026-03-10T15:00:00.0000000", "Etc/GMT", "2026-03-10T15:00:00Z"},
		{"2026-03-10T15:00:00.0000000", "Europe/Berlin", "2026-03-10T14:00:00Z"},
		{"2026-03-10T15:00:00.0000000", "America/Los_Angeles", "2026-03-10T22:00:00Z"},
	} {
		d := &graph.DateTimeTimeZone{DateTime: c.dateTime, TimeZone: c.zone}
		got, err := d.Parse()
		if err != nil || got.Format(time.RFC3339) != c.want {
			t.Errorf("%s in %q: %s %v, want %s", c.dateTime, c.zone, got.Format(time.RFC3339), err, c.want)
		}
		if tt, ok := d.Time(); !ok || !tt.Equal(got) {
			t.Errorf("%s in %q: Time() = %s %v", c.dateTime, c.zone, tt, ok)
		}
	}
	for _, zone := range []string{"Mars Standard Time", "Customized Time Zone", "tzone://Microsoft/Custom", "../../etc/passwd", "Local"} {
		d := &graph.DateTimeTimeZone{DateTime: "2026-03-10T15:00:00.0000000", TimeZone: zone}
		if _, err := d.Parse(); !errors.Is(err, graph.ErrUnknownTimeZone) {
			t.Errorf("%q: err %v, want ErrUnknownTimeZone", zone, err)
		}
		if _, ok := d.Time(); ok {
			t.Errorf("%q: Time() reported a time", zone)
		}
	}
	d := &graph.DateTimeTimeZone{DateTime: "yesterday", TimeZone: "UTC"}
	if _, err := d.Parse(); err == nil || errors.Is(err, graph.ErrUnknownTimeZone) {
		t.Errorf("bad dateTime: %v", err)
	}
}

// Every Windows zone CLDR maps resolves to a zone this binary can load,
// whatever the host has under /usr/share/zoneinfo.
func TestEveryWindowsZoneLoads(t *testing.T) {
	names := graph.WindowsZoneNames()
	if len(names) < 130 {
		t.Fatalf("%d Windows zones, want CLDR's ~139", len(names))
	}
	for _, name := range names {
		d := &graph.DateTimeTimeZone{DateTime: "2026-03-10T15:00:00.0000000", TimeZone: name}
		if _, err := d.Parse(); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
}

// The IANA zones load in a Lambda on provided.al2023 without the OS's
// zoneinfo: the package embeds Go's copy (time/tzdata).
func TestZoneDataIsEmbedded(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pkg.Imports, "time/tzdata") {
		t.Fatalf("package graph does not import time/tzdata: %v", pkg.Imports)
	}
}

// The same, shown: this test binary runs again in a mount namespace where
// every zoneinfo source Go looks for on the host (/usr/share/zoneinfo and
// the others, and $GOROOT/lib/time, absent from a Lambda) is an empty
// directory, as on a provided.al2023 image without tzdata. Skipped where
// namespaces cannot be made (unshare missing, not root).
func TestZonesLoadWithoutHostZoneinfo(t *testing.T) {
	const child = "STAGEMOVER_TZ_CHILD"
	if os.Getenv(child) == "1" {
		if _, err := os.Stat("/usr/share/zoneinfo/America/Los_Angeles"); err == nil {
			t.Fatal("the host's zoneinfo is still visible")
		}
		d := &graph.DateTimeTimeZone{DateTime: "2017-04-21T10:00:00.0000000", TimeZone: "Pacific Standard Time"}
		if got, err := d.Parse(); err != nil || !got.Equal(time.Date(2017, 4, 21, 17, 0, 0, 0, time.UTC)) {
			t.Fatalf("without the host's zoneinfo: %s %v", got, err)
		}
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not available")
	}
	var hide []string
	for _, dir := range []string{"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo",
		filepath.Join(build.Default.GOROOT, "lib", "time")} {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			hide = append(hide, "mount -t tmpfs none '"+dir+"' || exit 97")
		}
	}
	script := strings.Join(append(hide, `exec "$0" -test.run='^TestZonesLoadWithoutHostZoneinfo$' -test.count=1`), "\n")
	cmd := exec.Command(unshare, "-m", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), child+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		if !strings.Contains(string(out), "PASS") {
			t.Fatalf("the child ran no test:\n%s", out)
		}
	case errors.As(err, &exit) && (exit.ExitCode() == 97 || strings.Contains(string(out), "unshare failed")):
		t.Skipf("cannot hide the host's zoneinfo here: %s", strings.TrimSpace(string(out)))
	default:
		t.Fatalf("%v:\n%s", err, out)
	}
}

// A meeting whose start is in a Windows zone keeps its start, so a meeting
// booked for a time already past is recognised as such.
func TestEventInAWindowsTimeZoneKeepsItsStart(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	ctx := context.Background()
	event := func(start, zone string, cancelled bool) []byte {
		b, _ := json.Marshal(map[string]any{
			"subject": "Pilot kickoff", "isOrganizer": true, "isCancelled": cancelled,
			"createdDateTime": "2026-03-03T09:12:44Z", "lastModifiedDateTime": "2026-03-03T09:12:46Z",
			"start":     map[string]any{"dateTime": start, "timeZone": zone},
			"end":       map[string]any{"dateTime": start, "timeZone": zone},
			"organizer": map[string]any{"emailAddress": map[string]any{"address": mailbox}},
			"attendees": []any{map[string]any{"type": "required", "emailAddress": map[string]any{"address": "dana.whitfield@northwind-logistics.com"}}},
		})
		return b
	}
	id := s.AddEvent(mailbox, event("2026-03-10T08:00:00.0000000", "Pacific Standard Time", false))
	recs, err := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, id, "created", t0))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %d", err, len(recs))
	}
	if st := recs[0].Signal.StartsAt; st == nil || !st.Equal(time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("starts_at %v, want 2026-03-10T15:00Z (08:00 PDT: US daylight time began on 8 March)", st)
	}

	// an update of a meeting already held, in a Windows zone: no booking news
	past := s.AddEvent(mailbox, event("2026-03-02T08:00:00.0000000", "Pacific Standard Time", false))
	s.UpdateEvent(mailbox, past, map[string]any{"lastModifiedDateTime": "2026-03-05T10:00:00Z"})
	if recs, err := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, past, "updated", t0)); err != nil || len(recs) != 0 {
		t.Fatalf("post-meeting update: %v %+v, want no signal", err, recs)
	}
}

// A zone no table knows leaves the start unknown. A booking whose time is
// unknown cannot be told from a past one, so it is no evidence (never a
// "booked in the future" signal without starts_at); a cancellation needs no
// time and is kept. Both are logged and counted.
func TestEventInAnUnknownTimeZone(t *testing.T) {
	now := testkit.NewClock(t0)
	s, c := newStandIn(t, now)
	f := newFetcher(c, now)
	logs := &testkit.LogBuffer{}
	f.Log = logs.LoggerAt(slog.LevelInfo)
	ctx := context.Background()
	raw := readTestdata(t, "event-buyer-demo.json")
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["start"] = map[string]any{"dateTime": "2026-03-10T15:00:00.0000000", "timeZone": "Customized Time Zone"}
	b, _ := json.Marshal(ev)
	id := s.AddEvent(mailbox, b)
	recs, err := f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, id, "created", t0))
	if err != nil || len(recs) != 0 {
		t.Fatalf("booking in an unknown zone: %v %+v, want no signal", err, recs)
	}
	mustContain(t, "logs", logs.String(), "unknown time zone")
	mustContain(t, "logs", logs.String(), "Customized Time Zone")
	if got := f.Metrics.Total(graph.MetricUnknownTimeZone); got != 1 {
		t.Fatalf("%s = %v, want 1", graph.MetricUnknownTimeZone, got)
	}

	s.UpdateEvent(mailbox, id, map[string]any{"isCancelled": true})
	recs, err = f.Fetch(ctx, fetchRecord(t, mailbox, graph.KindEvents, id, "updated", t0))
	if err != nil || len(recs) != 1 || recs[0].Signal.Status != "canceled" || recs[0].Signal.StartsAt != nil {
		t.Fatalf("cancellation in an unknown zone: %v %+v, want a canceled signal without starts_at", err, recs)
	}
	if got := f.Metrics.Total(graph.MetricUnknownTimeZone); got != 2 {
		t.Fatalf("%s = %v, want 2", graph.MetricUnknownTimeZone, got)
	}
}
