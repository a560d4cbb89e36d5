package pipedrivetest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
)

// A test or `stagemover local` starts a sandbox, points the Pipedrive client
// at srv.URL() with srv.Token(), and inspects the sandbox afterwards.
func Example() {
	srv, err := pipedrivetest.Start(pipedrivetest.Options{DemoData: true})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	req, _ := http.NewRequest("PATCH", srv.URL()+"/api/v2/deals/1", strings.NewReader(`{"stage_id":3}`))
	req.Header.Set("x-api-token", srv.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	d, _ := srv.Deal(1)
	fmt.Println(resp.StatusCode, d.StageID, srv.TokenCostSpent(), len(srv.ValidationErrors()))
	// Output: 200 3 5 0
}
