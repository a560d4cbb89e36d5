package pdhooks

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// sample is a deal stage change in the webhooks v2 shape (Pipedrive's
// "Guide for Webhooks v2"; the sandbox sends the same): ids in meta are
// strings, previous holds only the changed fields.
const sample = `{"data":{"id":4217,"title":"Northwind – 40 seats","owner_id":1001,"pipeline_id":1,"stage_id":3,"status":"open","person_id":88,"value":12000,"currency":"EUR"},
"meta":{"action":"change","entity":"deal","entity_id":"4217","id":"7f1c2a4e-0b9d-4c3e-9a51-2d8e6f0b7c19","correlation_id":"b3f0d6a2-5c1e-4f8a-9d27-6e4c1b0a8f35","is_bulk_edit":false,"user_id":"1001","change_source":"app","attempt":1,"timestamp":"2026-03-05T09:12:44.000Z","type":"general","version":"2.0","company_id":"1","host":"acme.pipedrive.com","permitted_user_ids":["1001","1000"],"webhook_id":"12","webhook_owner_id":"1000"},
"previous":{"stage_id":4,"stage_change_time":"2026-03-03T10:00:00Z"}}`

func TestParseSample(t *testing.T) {
	ev, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Meta.EntityID != 4217 || ev.Meta.UserID != 1001 || ev.Meta.ID == "" || ev.Meta.Attempt != 1 || ev.Meta.ChangeSource != "app" {
		t.Fatalf("meta = %+v", ev.Meta)
	}
	if ev.Deal == nil || ev.Deal.StageID != 3 || ev.Deal.PipelineID != 1 || ev.Deal.Status != "open" || ev.Deal.PersonID != 88 {
		t.Fatalf("deal = %+v", ev.Deal)
	}
	if !ev.StageChanged() || ev.PrevStageID != 4 || ev.StatusChanged() {
		t.Fatalf("previous = %+v", ev)
	}
}

func TestParseRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        `nope`,
		"no meta":         `{"data":{}}`,
		"no id":           strings.Replace(sample, `"id":"7f1c2a4e-0b9d-4c3e-9a51-2d8e6f0b7c19"`, `"id":""`, 1),
		"bad action":      strings.Replace(sample, `"action":"change"`, `"action":"updated"`, 1),
		"bad entity id":   strings.Replace(sample, `"entity_id":"4217"`, `"entity_id":"x"`, 1),
		"no timestamp":    strings.Replace(sample, `"timestamp":"2026-03-05T09:12:44.000Z"`, `"timestamp":""`, 1),
		"id mismatch":     strings.Replace(sample, `"id":4217`, `"id":4218`, 1),
		"bad status":      strings.Replace(sample, `"status":"open"`, `"status":"gone"`, 1),
		"bad prev stage":  strings.Replace(sample, `"previous":{"stage_id":4`, `"previous":{"stage_id":"four"`, 1),
		"bad user":        strings.Replace(sample, `"user_id":"1001"`, `"user_id":"-5"`, 1),
		"data not object": strings.Replace(sample, `"data":{"id":4217`, `"data":[{"id":4217`, 1),
	} {
		if _, err := Parse([]byte(body)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// a null stage_id in previous is present (changed from none) and parses as 0
	ev, err := Parse([]byte(strings.Replace(sample, `"previous":{"stage_id":4`, `"previous":{"stage_id":null`, 1)))
	if err != nil || !ev.StageChanged() || ev.PrevStageID != 0 {
		t.Fatalf("null previous stage: %+v %v", ev, err)
	}
	// numbers in meta are tolerated
	if ev, err := Parse([]byte(strings.Replace(sample, `"entity_id":"4217"`, `"entity_id":4217`, 1))); err != nil || ev.Meta.EntityID != 4217 {
		t.Fatalf("numeric entity_id: %v", err)
	}
}

// A v2 delete carries no data; the deal is in "previous". It parses as the
// deal with status deleted, wherever it stood.
func TestParseDealDelete(t *testing.T) {
	body := `{"meta":{"action":"delete","entity":"deal","entity_id":"4217","id":"d-1","is_bulk_edit":false,"user_id":"1001","change_source":"app","attempt":1,"timestamp":"2026-03-05T09:12:44.000Z","version":"2.0"},
"data":null,"previous":{"id":4217,"stage_id":3,"pipeline_id":1,"status":"open","person_id":88,"owner_id":1001,"title":"Northwind"}}`
	ev, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Deal == nil || ev.Deal.ID != 4217 || ev.Deal.Status != "deleted" || ev.Deal.StageID != 3 || ev.Deal.PipelineID != 1 || ev.Deal.PersonID != 88 {
		t.Fatalf("deal = %+v", ev.Deal)
	}
	// no previous at all: still the deal, deleted
	ev, err = Parse([]byte(strings.Replace(body, `"previous":{"id":4217,"stage_id":3,"pipeline_id":1,"status":"open","person_id":88,"owner_id":1001,"title":"Northwind"}`, `"previous":null`, 1)))
	if err != nil || ev.Deal == nil || ev.Deal.ID != 4217 || ev.Deal.Status != "deleted" {
		t.Fatalf("delete without previous: %+v %v", ev.Deal, err)
	}
	// previous naming another deal is refused
	if _, err := Parse([]byte(strings.Replace(body, `"previous":{"id":4217`, `"previous":{"id":4218`, 1))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("previous.id mismatch: %v", err)
	}
}

// A webhooks v1 delivery (top-level current/previous/event, meta.v 1,
// numeric meta.timestamp) is named as such, with what to do about it,
// rather than as a type error in one of its fields.
func TestParseV1PayloadSaysRegisterV2(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "deal-v1-updated.json"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "this is a Pipedrive webhooks v1 payload; register the webhook with version 2.0"
	for name, body := range map[string]string{
		"v1 deal update": string(v1),
		"v1 deal delete": `{"v":1,"meta":{"v":1,"action":"deleted","object":"deal","id":7,"timestamp":1741165964},"current":null,"previous":{"id":7},"event":"deleted.deal","retry":0}`,
		"only meta.v 1":  `{"meta":{"v":1,"action":"updated","object":"deal","id":7}}`,
		"only current":   `{"current":{"id":7},"previous":null}`,
	} {
		_, err := Parse([]byte(body))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want ErrInvalid saying %q", name, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "wrong type") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// a v2 body stays a v2 body
	if _, err := Parse([]byte(sample)); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	if v1, err := os.ReadFile(filepath.Join("testdata", "deal-v1-updated.json")); err == nil {
		f.Add(v1)
	}
	f.Add([]byte(strings.Replace(sample, `"entity":"deal"`, `"entity":"stage"`, 1)))
	f.Add([]byte(`{"meta":{"action":"delete","entity":"deal","entity_id":"1","id":"x","timestamp":"2026-01-01T00:00:00Z"},"data":null,"previous":{"stage_id":1}}`))
	f.Add([]byte(`{"meta":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if !utf8.ValidString(err.Error()) && utf8.Valid(body) {
				t.Fatalf("error text is not UTF-8: %q", err.Error())
			}
			return
		}
		if ev.Meta.ID == "" || ev.Meta.EntityID <= 0 || !actions[ev.Meta.Action] || ev.Meta.Timestamp.IsZero() {
			t.Fatalf("accepted an incomplete event: %+v", ev.Meta)
		}
		if ev.Deal != nil && ev.Deal.ID != ev.Meta.EntityID {
			t.Fatalf("deal id %d != entity id %d", ev.Deal.ID, ev.Meta.EntityID)
		}
		if ev.StageChanged() != ev.Previous["stage_id"] {
			t.Fatal("StageChanged disagrees with previous")
		}
		var v any
		if json.Unmarshal(body, &v) != nil {
			t.Fatal("accepted invalid JSON")
		}
	})
}

func TestCheckBasic(t *testing.T) {
	want := Credentials{User: "u", Password: "p:w"}
	ok := "Basic dTpwOnc=" // u:p:w
	if err := checkBasic(ok, want); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"", "Basic", "Bearer dTpwOnc=", "Basic !!!", "Basic dTpw", "Basic dTpwOnd4"} {
		if checkBasic(h, want) == nil {
			t.Errorf("%q accepted", h)
		}
	}
	if checkBasic(ok, Credentials{}) == nil {
		t.Error("empty configured credentials accepted")
	}
}
