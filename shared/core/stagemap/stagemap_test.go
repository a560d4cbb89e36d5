package stagemap_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/core/stagemap"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

func setup(t *testing.T) (*pipedrivetest.Server, *pipedrive.Client, *store.Store) {
	t.Helper()
	sb, err := pipedrivetest.Start(pipedrivetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	client, err := pipedrive.New(pipedrive.Config{BaseURL: sb.URL(), Token: pipedrive.StaticToken(sb.Token())})
	if err != nil {
		t.Fatal(err)
	}
	tbl := ddblocal.ForTest(t)
	return sb, client, store.New(tbl.DB, tbl.Name)
}

func TestResolvesByNameInOrder(t *testing.T) {
	sb, client, st := setup(t)
	renewals, _ := sb.AddPipeline("Renewals", "Up for renewal", "Quote sent", "Signed")
	m := stagemap.New(stagemap.FromPipedrive{API: client}, st, time.Hour, nil)
	snap, err := m.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sales, err := snap.Pipeline(1)
	if err != nil || sales.Name != "Sales" || len(sales.Stages) != 5 {
		t.Fatalf("Sales = %+v, %v", sales, err)
	}
	st4, pos, err := sales.StageByName("  proposal   MADE ")
	if err != nil || st4.ID != 4 || pos != 3 {
		t.Fatalf("StageByName = %+v %d %v", st4, pos, err)
	}
	if _, _, err := sales.StageByName("Signed"); !errors.Is(err, stagemap.ErrUnknown) {
		t.Fatalf("a stage of another pipeline resolved: %v", err)
	}
	p, err := snap.Pipeline(renewals)
	if err != nil || p.Stages[2].Name != "Signed" {
		t.Fatalf("Renewals = %+v, %v", p, err)
	}
	if _, err := snap.Pipeline(999); !errors.Is(err, stagemap.ErrUnknown) {
		t.Fatalf("unknown pipeline: %v", err)
	}
}

func TestCachedInMemoryAndAcrossColdStarts(t *testing.T) {
	sb, client, st := setup(t)
	ctx := context.Background()
	warm := stagemap.New(stagemap.FromPipedrive{API: client}, st, time.Hour, nil)
	if _, err := warm.Get(ctx); err != nil {
		t.Fatal(err)
	}
	fetch := len(sb.Requests())
	if fetch != 2 {
		t.Fatalf("a fetch made %d requests, want 2 (pipelines, stages)", fetch)
	}
	if _, err := warm.Get(ctx); err != nil {
		t.Fatal(err)
	}
	cold := stagemap.New(stagemap.FromPipedrive{API: client}, st, time.Hour, nil) // a new Lambda instance
	if _, err := cold.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(sb.Requests()); n != fetch {
		t.Fatalf("warm and cold-start reads made %d more requests, want 0", n-fetch)
	}

	// A renamed stage shows after Refresh, and the refreshed map is shared.
	sb.RenameStage(4, "Proposal Sent")
	snap, err := cold.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sales, _ := snap.Pipeline(1)
	if _, _, err := sales.StageByName("Proposal Sent"); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	other := stagemap.New(stagemap.FromPipedrive{API: client}, st, time.Hour, nil)
	snap, _ = other.Get(ctx)
	sales, _ = snap.Pipeline(1)
	if _, _, err := sales.StageByName("Proposal Sent"); err != nil {
		t.Fatalf("another instance did not get the refreshed map: %v", err)
	}
}

func TestExpiredMapIsFetchedAgain(t *testing.T) {
	sb, client, _ := setup(t)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	m := stagemap.New(stagemap.FromPipedrive{API: client}, nil, time.Minute, clock)
	ctx := context.Background()
	if _, err := m.Get(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := m.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(sb.Requests()); n != 4 {
		t.Fatalf("requests = %d, want 4 (two fetches)", n)
	}
}

func TestInvalidateMakesEveryMapRefetch(t *testing.T) {
	sb, client, st := setup(t)
	ctx := context.Background()
	// nothing cached: nothing to mark, nothing written
	if err := stagemap.Invalidate(ctx, st); err != nil {
		t.Fatal(err)
	}
	var snap stagemap.Snapshot
	if _, err := st.GetStageMap(ctx, &snap); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("invalidating an empty cache wrote a map: %v", err)
	}
	m := stagemap.New(stagemap.FromPipedrive{API: client}, st, time.Hour, nil)
	if _, err := m.Get(ctx); err != nil {
		t.Fatal(err)
	}
	fetch := len(sb.Requests())
	if err := stagemap.Invalidate(ctx, st); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetStageMap(ctx, &snap); err != nil || !snap.FetchedAt.IsZero() || len(snap.Pipelines) == 0 {
		t.Fatalf("after Invalidate the cache holds fetched_at %v with %d pipelines, %v; want the map marked stale", snap.FetchedAt, len(snap.Pipelines), err)
	}
	other := stagemap.New(stagemap.FromPipedrive{API: client}, st, time.Hour, nil) // another instance
	if _, err := other.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(sb.Requests()); n != 2*fetch {
		t.Fatalf("a Map reading the stale cache made %d requests, want %d (a refetch)", n-fetch, fetch)
	}
}
