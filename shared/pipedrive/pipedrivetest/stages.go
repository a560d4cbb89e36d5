package pipedrivetest

// Pipelines and stages: the sandbox's state and GET /api/v2/stages,
// /stages/{id}, /pipelines and /pipelines/{id}.

import (
	"net/url"
	"sort"
	"strings"
	"time"
)

// Stage is a pipeline stage.
type Stage struct {
	ID              int64
	PipelineID      int64
	Name            string
	OrderNr         int
	DealProbability int
	IsDeleted       bool
	RotEnabled      bool
	DaysToRotten    *int
	AddTime         time.Time
	UpdateTime      time.Time
}

// Pipeline is a sales pipeline.
type Pipeline struct {
	ID                     int64
	Name                   string
	OrderNr                int
	IsDeleted              bool
	DealProbabilityEnabled bool
	AddTime, UpdateTime    time.Time
}

// Ids of the stages of the default "Sales" pipeline (id 1) that New adds.
const (
	StageQualified           = 1
	StageContactMade         = 2
	StageDemoScheduled       = 3
	StageProposalMade        = 4
	StageNegotiationsStarted = 5
)

// AddPipeline adds a pipeline with the given stages (order_nr 1..n).
func (s *Sandbox) AddPipeline(name string, stageNames ...string) (pipelineID int64, stageIDs []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	order := 1
	for _, p := range s.pipelines {
		if p.OrderNr >= order {
			order = p.OrderNr + 1
		}
	}
	p := &Pipeline{ID: s.nextPipe, Name: name, OrderNr: order, AddTime: now, UpdateTime: now}
	s.nextPipe++
	s.pipelines[p.ID] = p
	for i, sn := range stageNames {
		st := &Stage{ID: s.nextStage, PipelineID: p.ID, Name: sn, OrderNr: i + 1, DealProbability: 100, AddTime: now, UpdateTime: now}
		s.nextStage++
		s.stages[st.ID] = st
		stageIDs = append(stageIDs, st.ID)
	}
	s.log.Info("pipeline added", "pipeline_id", p.ID, "name", name, "stages", strings.Join(stageNames, " → "))
	return p.ID, stageIDs
}

// AddStage adds a stage to a pipeline. orderNr <= 0 appends it; otherwise
// stages at or after orderNr move one place down.
func (s *Sandbox) AddStage(pipelineID int64, name string, orderNr int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	maxOrder := 0
	for _, st := range s.stages {
		if st.PipelineID == pipelineID && !st.IsDeleted && st.OrderNr > maxOrder {
			maxOrder = st.OrderNr
		}
	}
	if orderNr <= 0 || orderNr > maxOrder {
		orderNr = maxOrder + 1
	} else {
		for _, st := range s.stages {
			if st.PipelineID == pipelineID && !st.IsDeleted && st.OrderNr >= orderNr {
				st.OrderNr++
				st.UpdateTime = now
			}
		}
	}
	st := &Stage{ID: s.nextStage, PipelineID: pipelineID, Name: name, OrderNr: orderNr, DealProbability: 100, AddTime: now, UpdateTime: now}
	s.nextStage++
	s.stages[st.ID] = st
	s.log.Info("stage added", "stage_id", st.ID, "pipeline_id", pipelineID, "name", name, "order_nr", orderNr)
	return st.ID
}

// RenameStage renames a stage.
func (s *Sandbox) RenameStage(id int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stages[id]; ok {
		s.log.Info("stage renamed", "stage_id", id, "from", st.Name, "to", name)
		st.Name = name
		st.UpdateTime = s.now()
	}
}

// DeleteStage marks a stage deleted: it disappears from GET /stages and can
// no longer be a PATCH target. Deals in it keep their stage_id.
func (s *Sandbox) DeleteStage(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stages[id]; ok {
		st.IsDeleted = true
		st.UpdateTime = s.now()
		s.log.Info("stage deleted", "stage_id", id, "name", st.Name)
	}
}

// Stages returns a snapshot of the (non-deleted) stages of a pipeline in order.
func (s *Sandbox) Stages(pipelineID int64) []Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Stage
	for _, st := range s.stages {
		if st.PipelineID == pipelineID && !st.IsDeleted {
			out = append(out, *st)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].OrderNr < out[j].OrderNr || (out[i].OrderNr == out[j].OrderNr && out[i].ID < out[j].ID)
	})
	return out
}

// firstStageLocked returns the first non-deleted stage of a pipeline.
func (s *Sandbox) firstStageLocked(pipelineID int64) *Stage {
	var best *Stage
	for _, st := range s.stages {
		if st.PipelineID != pipelineID || st.IsDeleted {
			continue
		}
		if best == nil || st.OrderNr < best.OrderNr || (st.OrderNr == best.OrderNr && st.ID < best.ID) {
			best = st
		}
	}
	return best
}

func stageJSON(st *Stage) map[string]any {
	var rot any
	if st.DaysToRotten != nil {
		rot = *st.DaysToRotten
	}
	return map[string]any{
		"id":                  st.ID,
		"order_nr":            st.OrderNr,
		"name":                st.Name,
		"is_deleted":          st.IsDeleted,
		"deal_probability":    st.DealProbability,
		"pipeline_id":         st.PipelineID,
		"is_deal_rot_enabled": st.RotEnabled,
		"days_to_rotten":      rot,
		"add_time":            fmtTime(st.AddTime),
		"update_time":         fmtTime(st.UpdateTime),
	}
}

func pipelineJSON(p *Pipeline) map[string]any {
	return map[string]any{
		"id":                          p.ID,
		"name":                        p.Name,
		"order_nr":                    p.OrderNr,
		"is_deleted":                  p.IsDeleted,
		"is_deal_probability_enabled": p.DealProbabilityEnabled,
		"add_time":                    fmtTime(p.AddTime),
		"update_time":                 fmtTime(p.UpdateTime),
	}
}

func (s *Sandbox) opListStages(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	pipe, pipeSet, aerr := queryInt(q, "pipeline_id")
	if aerr != nil {
		return nil, aerr
	}
	return s.listSorted(q, func(sortBy string) (items []pageItem) {
		for _, st := range s.stages {
			if st.IsDeleted || (pipeSet && st.PipelineID != pipe) {
				continue
			}
			key := timeOrIDKey(sortBy, st.ID, st.AddTime, st.UpdateTime)
			if sortBy == "order_nr" {
				key = sortInt(int64(st.OrderNr))
			}
			items = append(items, pageItem{key: key, id: st.ID, v: stageJSON(st)})
		}
		return items
	})
}

// listSorted answers a sort_by/sort_direction/limit/cursor list call with
// the items collect gathers (under the sandbox lock).
func (s *Sandbox) listSorted(q url.Values, collect func(sortBy string) []pageItem) (*response, *apiError) {
	sortBy := orDefault(q.Get("sort_by"), "id")
	dir := orDefault(q.Get("sort_direction"), "asc")
	limit, aerr := pageLimit(q)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	items := collect(sortBy)
	s.mu.Unlock()
	page, next, aerr := paginate(items, sortBy, dir, limit, q.Get("cursor"))
	if aerr != nil {
		return nil, aerr
	}
	return ok(page, additional(next)), nil
}

// timeOrIDKey is the page key for sort_by update_time, add_time or
// (otherwise) id.
func timeOrIDKey(sortBy string, id int64, add, update time.Time) string {
	switch sortBy {
	case "update_time":
		return sortTime(update)
	case "add_time":
		return sortTime(add)
	default:
		return sortInt(id)
	}
}

func (s *Sandbox) opGetStage(c *call) (*response, *apiError) {
	id, aerr := pathID(c)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, found := s.stages[id]
	if !found {
		return nil, errNotFound()
	}
	return ok(stageJSON(st), nil), nil
}

func (s *Sandbox) opListPipelines(c *call) (*response, *apiError) {
	return s.listSorted(c.r.URL.Query(), func(sortBy string) (items []pageItem) {
		for _, p := range s.pipelines {
			if p.IsDeleted {
				continue
			}
			key := timeOrIDKey(sortBy, p.ID, p.AddTime, p.UpdateTime)
			items = append(items, pageItem{key: key, id: p.ID, v: pipelineJSON(p)})
		}
		return items
	})
}

func (s *Sandbox) opGetPipeline(c *call) (*response, *apiError) {
	id, aerr := pathID(c)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, found := s.pipelines[id]
	if !found {
		return nil, errNotFound()
	}
	return ok(pipelineJSON(p), nil), nil
}
