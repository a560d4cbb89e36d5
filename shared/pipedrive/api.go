package pipedrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

const (
	pageLimit       = 500 // the v2 maximum
	searchPageLimit = 100
	maxPages        = 1000
)

// GetDeal returns a deal: GET /api/v2/deals/{id} (token cost 1).
func (c *Client) GetDeal(ctx context.Context, id int64) (Deal, error) {
	if id <= 0 {
		return Deal{}, fmt.Errorf("pipedrive %s: invalid deal id %d", opGetDeal.ID, id)
	}
	env, err := c.do(ctx, call{op: opGetDeal, id: id, attrs: []slog.Attr{slog.Int64("deal_id", id)}})
	if err != nil {
		return Deal{}, err
	}
	return decodeData[Deal](opGetDeal, env)
}

// UpdateDeal patches a deal: PATCH /api/v2/deals/{id} (token cost 5). Only
// the set fields of p are sent. It is retried on 429 only; a 5xx or network
// error is returned at once (ErrServer / ErrNetwork: the change may or may
// not have been applied — re-read the deal). An unknown stage id is reported
// by IsUnknownStage.
func (c *Client) UpdateDeal(ctx context.Context, id int64, p DealPatch) (Deal, error) {
	if id <= 0 {
		return Deal{}, fmt.Errorf("pipedrive %s: invalid deal id %d", opUpdateDeal.ID, id)
	}
	if err := p.validate(); err != nil {
		return Deal{}, fmt.Errorf("pipedrive %s id=%d: invalid patch: %s: %w", opUpdateDeal.ID, id, err, ErrBadRequest)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return Deal{}, fmt.Errorf("pipedrive %s: encoding patch: %w", opUpdateDeal.ID, err)
	}
	attrs := []slog.Attr{slog.Int64("deal_id", id)}
	if p.StageID != nil {
		attrs = append(attrs, slog.Int64("stage_id", *p.StageID))
	}
	if p.Status != nil {
		attrs = append(attrs, slog.String("deal_status", *p.Status))
	}
	env, err := c.do(ctx, call{op: opUpdateDeal, id: id, body: body, attrs: attrs})
	if err != nil {
		return Deal{}, err
	}
	return decodeData[Deal](opUpdateDeal, env)
}

// ListPipelines returns all pipelines: GET /api/v2/pipelines, following
// cursors (token cost 5 per page).
func (c *Client) ListPipelines(ctx context.Context) ([]Pipeline, error) {
	return listAll[Pipeline](ctx, c, opGetPipelines, url.Values{}, nil)
}

// ListStages returns the stages of a pipeline (pipelineID 0: all
// pipelines): GET /api/v2/stages, following cursors (token cost 5 per page).
func (c *Client) ListStages(ctx context.Context, pipelineID int64) ([]Stage, error) {
	if pipelineID < 0 {
		return nil, fmt.Errorf("pipedrive %s: invalid pipeline id %d", opGetStages.ID, pipelineID)
	}
	q := url.Values{}
	var attrs []slog.Attr
	if pipelineID > 0 {
		q.Set("pipeline_id", strconv.FormatInt(pipelineID, 10))
		attrs = append(attrs, slog.Int64("pipeline_id", pipelineID))
	}
	return listAll[Stage](ctx, c, opGetStages, q, attrs)
}

// ListOpenDealsByPerson returns the open deals linked to a person:
// GET /api/v2/deals?person_id=&status=open, following cursors (token cost
// 10 per page).
func (c *Client) ListOpenDealsByPerson(ctx context.Context, personID int64) ([]Deal, error) {
	if personID <= 0 {
		return nil, fmt.Errorf("pipedrive %s: invalid person id %d", opGetDeals.ID, personID)
	}
	q := url.Values{}
	q.Set("person_id", strconv.FormatInt(personID, 10))
	q.Set("status", StatusOpen)
	return listAll[Deal](ctx, c, opGetDeals, q, []slog.Attr{slog.Int64("person_id", personID)})
}

// SearchPersonsByEmail returns the persons whose email matches exactly (not
// case sensitive): GET /api/v2/persons/search?term=&fields=email&exact_match=true
// (token cost 20 per page; search has its own burst limit).
func (c *Client) SearchPersonsByEmail(ctx context.Context, email string) ([]Person, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, fmt.Errorf("pipedrive %s: empty email", opSearchPersons.ID)
	}
	q := url.Values{}
	q.Set("term", email)
	q.Set("fields", "email")
	q.Set("exact_match", "true")
	q.Set("limit", strconv.Itoa(searchPageLimit))

	type searchItem struct {
		Item struct {
			Person
			Owner *struct {
				ID int64 `json:"id"`
			} `json:"owner"`
			Organization *struct {
				ID int64 `json:"id"`
			} `json:"organization"`
		} `json:"item"`
	}
	var out []Person
	err := paginate(ctx, c, opSearchPersons, q, nil, func(env *envelope) error {
		var data struct {
			Items []searchItem `json:"items"`
		}
		if len(env.Data) > 0 && string(env.Data) != "null" {
			if err := json.Unmarshal(env.Data, &data); err != nil {
				return err
			}
		}
		for _, it := range data.Items {
			p := it.Item.Person
			if it.Item.Owner != nil {
				p.OwnerID = it.Item.Owner.ID
			}
			if it.Item.Organization != nil {
				p.OrgID = it.Item.Organization.ID
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// ListOpenDealsByOrg returns the open deals linked to an organization:
// GET /api/v2/deals?org_id=&status=open, following cursors (token cost 10
// per page).
func (c *Client) ListOpenDealsByOrg(ctx context.Context, orgID int64) ([]Deal, error) {
	if orgID <= 0 {
		return nil, fmt.Errorf("pipedrive %s: invalid organization id %d", opGetDeals.ID, orgID)
	}
	q := url.Values{}
	q.Set("org_id", strconv.FormatInt(orgID, 10))
	q.Set("status", StatusOpen)
	return listAll[Deal](ctx, c, opGetDeals, q, []slog.Attr{slog.Int64("org_id", orgID)})
}

// GetOrganization returns an organization: GET /api/v2/organizations/{id}
// (token cost 1).
func (c *Client) GetOrganization(ctx context.Context, id int64) (Organization, error) {
	if id <= 0 {
		return Organization{}, fmt.Errorf("pipedrive %s: invalid organization id %d", opGetOrg.ID, id)
	}
	env, err := c.do(ctx, call{op: opGetOrg, id: id, attrs: []slog.Attr{slog.Int64("org_id", id)}})
	if err != nil {
		return Organization{}, err
	}
	return decodeData[Organization](opGetOrg, env)
}

// SearchOrganizations searches organizations:
// GET /api/v2/organizations/search?term=&fields=&exact_match= (token cost
// 20; search has its own burst limit). Only the first page is read (one
// request): results come best score first and a caller wants the top few,
// not every fuzzy match.
func (c *Client) SearchOrganizations(ctx context.Context, s OrgSearch) ([]OrgSearchHit, error) {
	term := strings.TrimSpace(s.Term)
	minLen := 2
	if s.ExactMatch {
		minLen = 1
	}
	if len([]rune(term)) < minLen {
		return nil, fmt.Errorf("pipedrive %s: search term must be at least %d characters", opSearchOrgs.ID, minLen)
	}
	switch s.Field {
	case "", OrgFieldName, OrgFieldAddress, OrgFieldNotes, OrgFieldCustomFields:
	default:
		return nil, fmt.Errorf("pipedrive %s: unsupported search field %q", opSearchOrgs.ID, s.Field)
	}
	limit := s.Limit
	if limit <= 0 {
		limit = 10
	}
	if limit > pageLimit {
		limit = pageLimit
	}
	q := url.Values{}
	q.Set("term", term)
	if s.Field != "" {
		q.Set("fields", string(s.Field))
	}
	if s.ExactMatch {
		q.Set("exact_match", "true")
	}
	q.Set("limit", strconv.Itoa(limit))
	env, err := c.do(ctx, call{op: opSearchOrgs, query: q})
	if err != nil {
		return nil, err
	}
	var data struct {
		Items []struct {
			Score float64 `json:"result_score"`
			Item  struct {
				OrgSearchHit
				Owner *struct {
					ID int64 `json:"id"`
				} `json:"owner"`
			} `json:"item"`
		} `json:"items"`
	}
	if len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, &data); err != nil {
			return nil, fmt.Errorf("pipedrive %s: decoding data: %w", opSearchOrgs.ID, err)
		}
	}
	out := make([]OrgSearchHit, 0, len(data.Items))
	for _, it := range data.Items {
		h := it.Item.OrgSearchHit
		h.Score = it.Score
		if it.Item.Owner != nil {
			h.OwnerID = it.Item.Owner.ID
		}
		out = append(out, h)
	}
	return out, nil
}

// decodeData decodes env.data as T.
func decodeData[T any](op operation, env *envelope) (T, error) {
	var v T
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return v, fmt.Errorf("pipedrive %s: response has no data", op.ID)
	}
	if err := json.Unmarshal(env.Data, &v); err != nil {
		return v, fmt.Errorf("pipedrive %s: decoding data: %w", op.ID, err)
	}
	return v, nil
}

// listAll follows cursors of a list endpoint whose data is an array.
func listAll[T any](ctx context.Context, c *Client, op operation, q url.Values, attrs []slog.Attr) ([]T, error) {
	q.Set("limit", strconv.Itoa(pageLimit))
	var out []T
	err := paginate(ctx, c, op, q, attrs, func(env *envelope) error {
		if len(env.Data) == 0 || string(env.Data) == "null" {
			return nil
		}
		var page []T
		if err := json.Unmarshal(env.Data, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	})
	return out, err
}

// paginate calls op page by page (cursor paging) and hands each envelope to
// fn.
func paginate(ctx context.Context, c *Client, op operation, q url.Values, attrs []slog.Attr, fn func(*envelope) error) error {
	seen := map[string]bool{}
	cursor := ""
	for page := 0; page < maxPages; page++ {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		if cursor != "" {
			pq.Set("cursor", cursor)
		}
		env, err := c.do(ctx, call{op: op, query: pq, attrs: attrs})
		if err != nil {
			return err
		}
		if err := fn(env); err != nil {
			return fmt.Errorf("pipedrive %s: decoding page %d: %w", op.ID, page+1, err)
		}
		next := env.nextCursor()
		if next == "" {
			return nil
		}
		if seen[next] {
			return fmt.Errorf("pipedrive %s: cursor %q repeated", op.ID, next)
		}
		seen[next] = true
		cursor = next
	}
	return errors.New("pipedrive " + op.ID + ": too many pages")
}
