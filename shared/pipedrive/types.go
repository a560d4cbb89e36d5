package pipedrive

import (
	"errors"
	"time"
)

// Deal is the subset of the v2 deal object (UpsertDealResponseData /
// GetDealsResponse items) the project uses. Ids that Pipedrive sends as null
// (a deal without a person or organization, although the spec does not mark
// them nullable) decode as 0. Times are the strings Pipedrive sends
// (RFC 3339 in v2); null times decode as "". Use ParseTime to convert.
type Deal struct {
	ID                int64    `json:"id"`
	Title             string   `json:"title"`
	OwnerID           int64    `json:"owner_id"`
	PersonID          int64    `json:"person_id"`
	OrgID             int64    `json:"org_id"`
	PipelineID        int64    `json:"pipeline_id"`
	StageID           int64    `json:"stage_id"`
	Value             float64  `json:"value"`
	Currency          string   `json:"currency"`
	Status            string   `json:"status"` // open|won|lost|deleted
	IsArchived        bool     `json:"is_archived"`
	IsDeleted         bool     `json:"is_deleted"`
	Probability       *float64 `json:"probability"` // nullable
	LostReason        string   `json:"lost_reason"` // nullable
	AddTime           string   `json:"add_time"`
	UpdateTime        string   `json:"update_time"`
	StageChangeTime   string   `json:"stage_change_time"`
	CloseTime         string   `json:"close_time"` // nullable
	WonTime           string   `json:"won_time"`
	LostTime          string   `json:"lost_time"`
	ExpectedCloseDate string   `json:"expected_close_date"` // YYYY-MM-DD
	LabelIDs          []int64  `json:"label_ids"`
	Origin            string   `json:"origin"`
	VisibleTo         int      `json:"visible_to"`
}

// Deal statuses accepted by UpdateDeal.
const (
	StatusOpen = "open"
	StatusWon  = "won"
	StatusLost = "lost"
)

// DealPatch is the body of PATCH /api/v2/deals/{id}. Only non-nil fields are
// sent. A stage id implies its pipeline, so PipelineID is rarely needed.
type DealPatch struct {
	StageID           *int64   `json:"stage_id,omitempty"`
	PipelineID        *int64   `json:"pipeline_id,omitempty"`
	Status            *string  `json:"status,omitempty"` // open|won|lost
	LostReason        *string  `json:"lost_reason,omitempty"`
	Title             *string  `json:"title,omitempty"`
	OwnerID           *int64   `json:"owner_id,omitempty"`
	Value             *float64 `json:"value,omitempty"`
	Currency          *string  `json:"currency,omitempty"`
	ExpectedCloseDate *string  `json:"expected_close_date,omitempty"` // YYYY-MM-DD
}

func (p DealPatch) empty() bool {
	return p.StageID == nil && p.PipelineID == nil && p.Status == nil && p.LostReason == nil &&
		p.Title == nil && p.OwnerID == nil && p.Value == nil && p.Currency == nil && p.ExpectedCloseDate == nil
}

func (p DealPatch) validate() error {
	if p.empty() {
		return errors.New("empty patch")
	}
	if p.StageID != nil && *p.StageID <= 0 {
		return errors.New("stage_id must be positive")
	}
	if p.PipelineID != nil && *p.PipelineID <= 0 {
		return errors.New("pipeline_id must be positive")
	}
	if p.OwnerID != nil && *p.OwnerID <= 0 {
		return errors.New("owner_id must be positive")
	}
	if p.Status != nil {
		switch *p.Status {
		case StatusOpen, StatusWon, StatusLost:
		default:
			return errors.New("status must be open, won or lost")
		}
	}
	if p.ExpectedCloseDate != nil {
		if _, err := time.Parse(time.DateOnly, *p.ExpectedCloseDate); err != nil {
			return errors.New("expected_close_date must be YYYY-MM-DD")
		}
	}
	return nil
}

// Ptr returns a pointer to v, for building a DealPatch.
func Ptr[T any](v T) *T { return &v }

// Stage is a v2 StageItem.
type Stage struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	PipelineID      int64  `json:"pipeline_id"`
	OrderNr         int    `json:"order_nr"`
	IsDeleted       bool   `json:"is_deleted"`
	DealProbability int    `json:"deal_probability"`
	AddTime         string `json:"add_time"`
	UpdateTime      string `json:"update_time"`
}

// Pipeline is a v2 pipeline.
type Pipeline struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	OrderNr    int    `json:"order_nr"`
	IsDeleted  bool   `json:"is_deleted"`
	AddTime    string `json:"add_time"`
	UpdateTime string `json:"update_time"`
}

// Person is a persons/search result item.
type Person struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name"`
	Emails  []string `json:"emails"`
	Phones  []string `json:"phones"`
	OrgID   int64    `json:"org_id,omitempty"`   // organization.id, 0 if none
	OwnerID int64    `json:"owner_id,omitempty"` // owner.id
}

// ParseTime parses a Pipedrive time string: RFC 3339 (v2) or the
// "YYYY-MM-DD HH:MM:SS" UTC form v1 and webhooks use. "" is an error.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("pipedrive: empty time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateTime, s, time.UTC)
	if err != nil {
		return time.Time{}, errors.New("pipedrive: unrecognised time " + s)
	}
	return t, nil
}

// Organization is the subset of the v2 organization object
// (GET /api/v2/organizations/{id}, UpsertOrganizationResponseData) the
// project uses. Website is null in Pipedrive when unset and decodes as "".
// CustomFields is keyed by the 40-character field key.
type Organization struct {
	ID           int64          `json:"id"`
	Name         string         `json:"name"`
	OwnerID      int64          `json:"owner_id"`
	IsDeleted    bool           `json:"is_deleted"`
	Website      string         `json:"website"` // nullable
	Address      OrgAddress     `json:"address"`
	CustomFields map[string]any `json:"custom_fields"`
	AddTime      string         `json:"add_time"`
	UpdateTime   string         `json:"update_time"`
}

// OrgAddress is the v2 OrganizationItemAddress (only the full address).
type OrgAddress struct {
	Value string `json:"value"`
}

// OrgSearchField is a value of the organizations/search "fields" parameter.
// The spec declares it as one enum value, so the client sends one field.
type OrgSearchField string

// Searchable organization fields (openapi-v2.yaml, searchOrganization).
const (
	OrgFieldName         OrgSearchField = "name"
	OrgFieldAddress      OrgSearchField = "address"
	OrgFieldNotes        OrgSearchField = "notes"
	OrgFieldCustomFields OrgSearchField = "custom_fields"
)

// OrgSearch is a query for SearchOrganizations.
type OrgSearch struct {
	Term string
	// Field restricts the search to one field; "" searches all of them.
	Field OrgSearchField
	// ExactMatch returns only full, case-insensitive matches of Term.
	ExactMatch bool
	// Limit is the number of results wanted (first page only, best score
	// first); 0 means 10, at most 500.
	Limit int
}

// OrgSearchHit is an organizations/search result item.
type OrgSearchHit struct {
	ID           int64    `json:"id"`
	Name         string   `json:"name"`
	Address      string   `json:"address"`
	OwnerID      int64    `json:"-"`
	CustomFields []string `json:"custom_fields"`
	Score        float64  `json:"-"` // result_score
}
