package evaluator

import (
	"context"
	"strings"

	"github.com/stagemover/stagemover/shared/pipedrive"
)

// PersonAPI is what resolving an email to deals needs.
type PersonAPI interface {
	SearchPersonsByEmail(ctx context.Context, email string) ([]pipedrive.Person, error)
	ListOpenDealsByPerson(ctx context.Context, personID int64) ([]pipedrive.Deal, error)
}

// PipedriveResolver finds a person by exact email and lists their open deals.
type PipedriveResolver struct{ API PersonAPI }

// OpenDealsFor implements Resolver.
func (r PipedriveResolver) OpenDealsFor(ctx context.Context, email string) ([]int64, error) {
	persons, err := r.API.SearchPersonsByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var ids []int64
	for _, p := range persons {
		if !hasEmail(p, email) {
			continue // search can be fuzzier than we want; only an exact address counts
		}
		deals, err := r.API.ListOpenDealsByPerson(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range deals {
			if !seen[d.ID] && d.Status == pipedrive.StatusOpen {
				seen[d.ID] = true
				ids = append(ids, d.ID)
			}
		}
	}
	return ids, nil
}

func hasEmail(p pipedrive.Person, email string) bool {
	for _, e := range p.Emails {
		if strings.EqualFold(strings.TrimSpace(e), email) {
			return true
		}
	}
	return false
}
