package stagemap

import (
	"context"
	"sort"

	"github.com/stagemover/stagemover/shared/pipedrive"
)

// PipedriveAPI is what fetching the map needs.
type PipedriveAPI interface {
	ListPipelines(ctx context.Context) ([]pipedrive.Pipeline, error)
	ListStages(ctx context.Context, pipelineID int64) ([]pipedrive.Stage, error)
}

// FromPipedrive fetches the map with two listings (pipelines, then all stages).
type FromPipedrive struct{ API PipedriveAPI }

// Fetch implements Source.
func (f FromPipedrive) Fetch(ctx context.Context) (Snapshot, error) {
	pls, err := f.API.ListPipelines(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	sts, err := f.API.ListStages(ctx, 0)
	if err != nil {
		return Snapshot{}, err
	}
	byPipeline := map[int64][]Stage{}
	for _, st := range sts {
		if !st.IsDeleted {
			byPipeline[st.PipelineID] = append(byPipeline[st.PipelineID], Stage{ID: st.ID, Name: st.Name, OrderNr: st.OrderNr})
		}
	}
	var snap Snapshot
	for _, p := range pls {
		if p.IsDeleted {
			continue
		}
		stages := byPipeline[p.ID]
		// Position, not id, says what "forward" means.
		sort.SliceStable(stages, func(i, j int) bool { return stages[i].OrderNr < stages[j].OrderNr })
		snap.Pipelines = append(snap.Pipelines, Pipeline{ID: p.ID, Name: p.Name, Stages: stages})
	}
	return snap, nil
}
