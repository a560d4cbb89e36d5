// Package resolve finds the Pipedrive deal a buyer's email address belongs
// to, for signals that carry an address instead of a deal id.
//
// Order (issue 4, point 5):
//
//  1. Person by exact email: GET /api/v2/persons/search?term=&fields=email&exact_match=true
//     (token cost 20, search burst window of 10 requests per 2 s). Only
//     persons that really carry the address count.
//  2. That person's open deals: GET /api/v2/deals?person_id=&status=open (cost 10).
//  3. No person: the organization of the address's company domain, never for
//     free-mail domains (FreeMailDomains). API v2's organization search
//     cannot search the standard "website" field (its fields parameter is one
//     of name, address, notes, custom_fields; openapi-v2.yaml,
//     searchOrganization), so candidates are found by search and confirmed
//     by reading them:
//     - default: GET /api/v2/organizations/search?term=<site label>&fields=name
//     (cost 20), e.g. "acme" for jane@eu.acme.co.uk; then each candidate
//     (at most MaxOrgCandidates) with GET /api/v2/organizations/{id}
//     (cost 1), kept only if its website's registrable domain is the
//     address's (acme.co.uk). A name that merely looks alike never links a
//     deal.
//     - with OrgDomainField (the key of a text custom field holding the
//     company's domain or domains): GET /api/v2/organizations/search?term=acme.co.uk&fields=custom_fields
//     (not exact_match, so "acme.co.uk, acme.de" is found too), confirmed
//     the same way (that field, or the website, must hold the domain).
//  4. The organization's open deals: GET /api/v2/deals?org_id=&status=open (cost 10).
//
// One open deal: it is the answer. Several: all are returned as candidates
// for review, unless PreferMostRecentlyUpdated picks the one with the latest
// update_time (a tie is not broken). Resolutions, including "nothing found",
// are cached (StoreCache: one item per address with a TTL) so a busy
// mailbox does not spend the search budget; concurrent lookups of one
// address in one process share one search.
//
// Addresses are personal data: logs carry the domain and a short hash of
// the address, never the address itself.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/pipedrive"
)

// How the deals were found (Result.Via).
const (
	ViaPerson       = "person"
	ViaOrganization = "organization"
	ViaNone         = "none"
)

// Reasons (Result.Reason). The evaluator may record them with an
// unresolved signal.
const (
	ReasonOneDeal      = "one open deal"
	ReasonSeveral      = "several open deals: review"
	ReasonPicked       = "several open deals: picked the most recently updated"
	ReasonPersonNoDeal = "person has no open deal"
	ReasonOrgNoDeal    = "organization has no open deal"
	ReasonFreeMail     = "no person with this email; free-mail domain, no organization lookup"
	ReasonNoOrgLookup  = "no person with this email; domain cannot identify an organization"
	ReasonNoOrg        = "no person with this email and no organization with its domain"
	ReasonInvalidEmail = "not a valid email address"
	ReasonNoDeal       = "no open deal"
)

// Defaults.
const (
	DefaultTTL              = 24 * time.Hour
	DefaultNoneTTL          = time.Hour
	DefaultMaxOrgCandidates = 5
)

// API is the part of the Pipedrive client the resolver calls
// (*pipedrive.Client satisfies it).
type API interface {
	SearchPersonsByEmail(ctx context.Context, email string) ([]pipedrive.Person, error)
	ListOpenDealsByPerson(ctx context.Context, personID int64) ([]pipedrive.Deal, error)
	SearchOrganizations(ctx context.Context, q pipedrive.OrgSearch) ([]pipedrive.OrgSearchHit, error)
	GetOrganization(ctx context.Context, id int64) (pipedrive.Organization, error)
	ListOpenDealsByOrg(ctx context.Context, orgID int64) ([]pipedrive.Deal, error)
}

// Resolver maps email addresses to open deals. Only API is required. Use
// it through a pointer and do not copy it after first use.
type Resolver struct {
	API API
	// Cache keeps resolutions; nil disables caching.
	Cache Cache
	// TTL is how long a resolution that found open deals is reused
	// (default 24 h); NoneTTL how long one that found none is (default 1 h,
	// shorter: a deal may be created any minute).
	TTL     time.Duration
	NoneTTL time.Duration
	// FreeMail lists domains that never lead to an organization; nil means
	// DefaultFreeMail(). Add your own company's domains with
	// DefaultFreeMail().With(...).
	FreeMail *DomainSet
	// PreferMostRecentlyUpdated picks, among several open deals, the one
	// with the latest update_time instead of returning all for review.
	PreferMostRecentlyUpdated bool
	// OrgDomainField is the key of an organization custom field (text)
	// holding the company's domain; "" matches on the standard website.
	OrgDomainField string
	// MaxOrgCandidates bounds how many organizations found by search are
	// read to confirm their domain (default 5; each read costs 1 token).
	MaxOrgCandidates int
	Now              func() time.Time
	Log              *slog.Logger

	flight flight
}

// Result is the outcome of Resolve.
type Result struct {
	// DealIDs is the answer: one deal to use, or the candidates (sorted)
	// when several are open and no rule picked one; empty when none is.
	DealIDs []int64 `json:"deal_ids"`
	// Candidates lists every open deal found (sorted), also when a rule
	// picked one.
	Candidates []int64 `json:"candidates,omitempty"`
	// PersonID is the person with the address (the lowest id if Pipedrive
	// holds duplicates; their deals are all candidates). OrgID is the
	// organization matched by domain, when exactly one matched.
	PersonID int64  `json:"person_id,omitempty"`
	OrgID    int64  `json:"org_id,omitempty"`
	Via      string `json:"via"`
	Reason   string `json:"reason"`
	// Cached is true when the answer came from the cache (no request).
	Cached bool `json:"cached"`
}

// Deal returns the single deal to use, if there is exactly one.
func (r Result) Deal() (int64, bool) {
	if len(r.DealIDs) == 1 {
		return r.DealIDs[0], true
	}
	return 0, false
}

// NeedsReview reports several candidates and no pick.
func (r Result) NeedsReview() bool { return len(r.DealIDs) > 1 }

// OpenDealsFor implements evaluator.Resolver: the deal to use, or the
// candidates (the evaluator files one and records several for review).
func (r *Resolver) OpenDealsFor(ctx context.Context, email string) ([]int64, error) {
	res, err := r.Resolve(ctx, email)
	if err != nil {
		return nil, err
	}
	return res.DealIDs, nil
}

// Resolve finds the open deals for an email address. An address that is
// not valid resolves to nothing (no error: retrying cannot help). Errors
// are Pipedrive failures (retry later); they are never cached. A failing
// cache is logged and bypassed.
func (r *Resolver) Resolve(ctx context.Context, email string) (Result, error) {
	if r.API == nil {
		return Result{}, errors.New("resolve: Resolver.API is nil")
	}
	addr, domain, err := NormalizeEmail(email)
	if err != nil {
		r.log().InfoContext(ctx, "deal resolution skipped", "reason", ReasonInvalidEmail)
		return Result{Via: ViaNone, Reason: ReasonInvalidEmail}, nil
	}
	log := r.log().With("email_domain", domain, "email_hash", emailHash(addr))

	if e, ok := r.cached(ctx, log, addr); ok {
		res := r.result(e)
		res.Cached = true
		log.DebugContext(ctx, "deal resolution from cache", "via", res.Via, "deals", len(res.DealIDs), "reason", res.Reason)
		return res, nil
	}
	e, shared, err := r.flight.do(ctx, addr, func() (Entry, error) {
		// Another lookup may have finished between the check above and
		// this flight: a second cache read is far cheaper than a search.
		if e, ok := r.cached(ctx, log, addr); ok {
			e.fromCache = true
			return e, nil
		}
		e, err := r.lookup(ctx, addr, domain)
		if err != nil {
			return Entry{}, err
		}
		now := r.now()
		e.ResolvedAt = now
		e.ExpiresAt = now.Add(r.ttl(e))
		if r.Cache != nil {
			if err := r.Cache.Put(ctx, addr, e); err != nil {
				log.WarnContext(ctx, "deal resolution not cached", "error", err.Error())
			}
		}
		return e, nil
	})
	if err != nil {
		log.WarnContext(ctx, "deal resolution failed", "error", err.Error())
		return Result{}, err
	}
	res := r.result(e)
	res.Cached = e.fromCache
	log.InfoContext(ctx, "deal resolved", "cached", res.Cached, "via", res.Via, "deals", len(res.DealIDs), "candidates", len(res.Candidates),
		"person_id", res.PersonID, "org_id", res.OrgID, "reason", res.Reason, "shared", shared)
	return res, nil
}

func (r *Resolver) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *Resolver) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Resolver) ttl(e Entry) time.Duration {
	if len(e.Deals) == 0 {
		if r.NoneTTL > 0 {
			return r.NoneTTL
		}
		return DefaultNoneTTL
	}
	if r.TTL > 0 {
		return r.TTL
	}
	return DefaultTTL
}

func (r *Resolver) freeMail() *DomainSet {
	if r.FreeMail == nil {
		return DefaultFreeMail()
	}
	return r.FreeMail
}

// cached returns a live cache entry.
func (r *Resolver) cached(ctx context.Context, log *slog.Logger, addr string) (Entry, bool) {
	if r.Cache == nil {
		return Entry{}, false
	}
	e, ok, err := r.Cache.Get(ctx, addr)
	if err != nil {
		log.WarnContext(ctx, "deal resolution cache unreadable; asking Pipedrive", "error", err.Error())
		return Entry{}, false
	}
	if !ok || !r.now().Before(e.ExpiresAt) {
		return Entry{}, false
	}
	return e, true
}

// lookup asks Pipedrive.
func (r *Resolver) lookup(ctx context.Context, addr, domain string) (Entry, error) {
	persons, err := r.API.SearchPersonsByEmail(ctx, addr)
	if err != nil {
		return Entry{}, fmt.Errorf("resolve: person search: %w", err)
	}
	var ids []int64
	for _, p := range persons {
		if p.ID > 0 && hasEmail(p, addr) && !containsID(ids, p.ID) {
			ids = append(ids, p.ID) // search can be fuzzier than we want: only the exact address counts
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) > 0 {
		e := Entry{Via: ViaPerson, PersonID: ids[0]}
		for _, id := range ids {
			deals, err := r.API.ListOpenDealsByPerson(ctx, id)
			if err != nil {
				return Entry{}, fmt.Errorf("resolve: open deals of person %d: %w", id, err)
			}
			e.addDeals(deals)
		}
		if len(e.Deals) == 0 {
			e.Reason = ReasonPersonNoDeal
		}
		return e, nil
	}
	if r.freeMail().Contains(domain) {
		return Entry{Via: ViaNone, Reason: ReasonFreeMail}, nil
	}
	return r.lookupOrg(ctx, domain)
}

// lookupOrg finds the organizations of a company domain and their open deals.
func (r *Resolver) lookupOrg(ctx context.Context, domain string) (Entry, error) {
	site, ok := Site(domain)
	if !ok {
		return Entry{Via: ViaNone, Reason: ReasonNoOrgLookup}, nil
	}
	maxOrgs := r.MaxOrgCandidates
	if maxOrgs <= 0 {
		maxOrgs = DefaultMaxOrgCandidates
	}
	// Not exact_match: the field may hold "acme.example, acme.de" or a URL;
	// whole-value matches score highest, and every hit is confirmed below.
	q := pipedrive.OrgSearch{Term: site, Field: pipedrive.OrgFieldCustomFields, Limit: maxOrgs}
	if r.OrgDomainField == "" {
		label, _, _ := strings.Cut(site, ".")
		// "umbrella-health" finds "Umbrella Health"; the website decides.
		label = strings.TrimSpace(strings.ReplaceAll(label, "-", " "))
		if len([]rune(label)) < 2 {
			return Entry{Via: ViaNone, Reason: ReasonNoOrgLookup}, nil
		}
		q = pipedrive.OrgSearch{Term: label, Field: pipedrive.OrgFieldName, Limit: maxOrgs}
	}
	hits, err := r.API.SearchOrganizations(ctx, q)
	if err != nil {
		return Entry{}, fmt.Errorf("resolve: organization search: %w", err)
	}
	var orgs []int64
	for i, h := range hits {
		if i >= maxOrgs {
			break
		}
		if h.ID <= 0 || containsID(orgs, h.ID) {
			continue
		}
		o, err := r.API.GetOrganization(ctx, h.ID)
		if errors.Is(err, pipedrive.ErrNotFound) {
			continue // deleted since the search index saw it
		}
		if err != nil {
			return Entry{}, fmt.Errorf("resolve: organization %d: %w", h.ID, err)
		}
		if !o.IsDeleted && r.orgMatches(o, site) {
			orgs = append(orgs, o.ID)
		}
	}
	if len(orgs) == 0 {
		return Entry{Via: ViaNone, Reason: ReasonNoOrg}, nil
	}
	sort.Slice(orgs, func(i, j int) bool { return orgs[i] < orgs[j] })
	e := Entry{Via: ViaOrganization}
	if len(orgs) == 1 {
		e.OrgID = orgs[0]
	}
	for _, id := range orgs {
		deals, err := r.API.ListOpenDealsByOrg(ctx, id)
		if err != nil {
			return Entry{}, fmt.Errorf("resolve: open deals of organization %d: %w", id, err)
		}
		e.addDeals(deals)
	}
	if len(e.Deals) == 0 {
		e.Reason = ReasonOrgNoDeal
	}
	return e, nil
}

// orgMatches confirms that an organization belongs to site: its website,
// or the configured domain custom field (one or more domains separated by
// commas, semicolons or spaces).
func (r *Resolver) orgMatches(o pipedrive.Organization, site string) bool {
	if sameSite(o.Website, site) {
		return true
	}
	if r.OrgDomainField == "" {
		return false
	}
	v, _ := o.CustomFields[r.OrgDomainField].(string)
	for _, part := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ';' || c == ' ' || c == '\n' }) {
		if sameSite(part, site) {
			return true
		}
	}
	return false
}

// addDeals adds open, live deals, keeping Deals sorted by id without duplicates.
func (e *Entry) addDeals(deals []pipedrive.Deal) {
	for _, d := range deals {
		if d.ID <= 0 || d.Status != pipedrive.StatusOpen || d.IsArchived || d.IsDeleted {
			continue
		}
		dup := false
		for _, have := range e.Deals {
			if have.ID == d.ID {
				dup = true
				break
			}
		}
		if !dup {
			e.Deals = append(e.Deals, DealRef{ID: d.ID, UpdateTime: d.UpdateTime})
		}
	}
	sort.Slice(e.Deals, func(i, j int) bool { return e.Deals[i].ID < e.Deals[j].ID })
}

// result applies the one / several / pick rule to an entry.
func (r *Resolver) result(e Entry) Result {
	res := Result{Via: e.Via, PersonID: e.PersonID, OrgID: e.OrgID, Reason: e.Reason}
	ids := make([]int64, 0, len(e.Deals))
	for _, d := range e.Deals {
		ids = append(ids, d.ID)
	}
	switch {
	case len(ids) == 0:
		if res.Reason == "" {
			res.Reason = ReasonNoDeal
		}
		return res
	case len(ids) == 1:
		res.DealIDs, res.Candidates, res.Reason = ids, []int64{ids[0]}, ReasonOneDeal
		return res
	}
	res.Candidates = ids
	if r.PreferMostRecentlyUpdated {
		if id, ok := newest(e.Deals); ok {
			res.DealIDs, res.Reason = []int64{id}, ReasonPicked
			return res
		}
	}
	res.DealIDs, res.Reason = append([]int64(nil), ids...), ReasonSeveral
	return res
}

// newest returns the deal with the latest update_time; false if a time is
// missing or unreadable, or the latest is shared (no guess).
func newest(deals []DealRef) (int64, bool) {
	var (
		best   int64
		bestAt time.Time
		tie    bool
	)
	for i, d := range deals {
		t, err := pipedrive.ParseTime(d.UpdateTime)
		if err != nil {
			return 0, false
		}
		switch {
		case i == 0 || t.After(bestAt):
			best, bestAt, tie = d.ID, t, false
		case t.Equal(bestAt):
			tie = true
		}
	}
	return best, best != 0 && !tie
}

func hasEmail(p pipedrive.Person, addr string) bool {
	for _, e := range p.Emails {
		if strings.EqualFold(strings.TrimSpace(e), addr) {
			return true
		}
	}
	return false
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
