package explain

import (
	"context"

	"github.com/stagemover/stagemover/shared/core/stagemap"
)

// StageMap is the mover's cached stage map (*stagemap.Map fits).
type StageMap interface {
	Get(ctx context.Context) (*stagemap.Snapshot, error)
}

// StagesFrom names stage ids from the cached stage map (no request when the
// cache is warm, which it is right after a move).
func StagesFrom(m StageMap) StageNames { return mapNames{m} }

type mapNames struct{ m StageMap }

func (n mapNames) StageName(ctx context.Context, id int64) (string, bool) {
	snap, err := n.m.Get(ctx)
	if err != nil || snap == nil {
		return "", false
	}
	for _, p := range snap.Pipelines {
		if st, _, err := p.StageByID(id); err == nil {
			return st.Name, true
		}
	}
	return "", false
}
