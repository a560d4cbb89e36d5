package pipedrivetest

import (
	"fmt"
	"testing"
)

func TestCursorPagingStages(t *testing.T) {
	srv := start(t, Options{})
	names := []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7"}
	pipe, ids := srv.AddPipeline("Long", names...)
	for _, tc := range []struct {
		name  string
		query string
		want  []int64
	}{
		{"by id", fmt.Sprintf("pipeline_id=%d&limit=3", pipe), ids},
		{"by order_nr desc", fmt.Sprintf("pipeline_id=%d&limit=3&sort_by=order_nr&sort_direction=desc", pipe), reverse(ids)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			pages := 0
			cur := ""
			for {
				r := doReq(t, srv, "GET", "/api/v2/stages?"+tc.query+cur, nil)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				pages++
				for _, s := range r.json["data"].([]any) {
					m := s.(map[string]any)
					if num(m["pipeline_id"]) != pipe {
						t.Errorf("stage of other pipeline: %v", m)
					}
					got = append(got, num(m["id"]))
				}
				next, _ := r.json["additional_data"].(map[string]any)["next_cursor"].(string)
				if next == "" {
					break
				}
				cur = "&cursor=" + next
				if pages > 5 {
					t.Fatal("paging does not end")
				}
			}
			if pages != 3 || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pages %d, got %v want %v", pages, got, tc.want)
			}
		})
	}
	r := doReq(t, srv, "GET", "/api/v2/stages?cursor=garbage", nil)
	if r.status != 400 {
		t.Errorf("bad cursor: %d", r.status)
	}
	r = doReq(t, srv, "GET", "/api/v2/stages?limit=501", nil)
	if r.status != 400 {
		t.Errorf("limit 501: %d", r.status)
	}
	noValidationErrors(t, srv)
}

func reverse(in []int64) []int64 {
	out := make([]int64, len(in))
	for i, v := range in {
		out[len(in)-1-i] = v
	}
	return out
}
