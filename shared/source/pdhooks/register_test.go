package pdhooks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
)

func TestRegisterTwiceNoDuplicates(t *testing.T) {
	e := setup(t)
	client, err := pipedrive.New(pipedrive.Config{BaseURL: e.sb.URL() + "/api/v2", Token: pipedrive.StaticToken(e.sb.Token())})
	if err != nil {
		t.Fatal(err)
	}
	r := &pdhooks.Registrar{API: client, URL: e.url, Auth: pdhooks.Credentials{User: hookUser, Password: hookPass}}
	first, err := r.Ensure(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Ensure(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	subs := e.sb.Subscriptions()
	if len(subs) != len(pdhooks.DefaultSubscriptions) {
		t.Fatalf("subscriptions = %d, want %d: %+v", len(subs), len(pdhooks.DefaultSubscriptions), subs)
	}
	for i := range first {
		if first[i].Done != "created" || second[i].Done != "kept" || first[i].WebhookID != second[i].WebhookID {
			t.Fatalf("first %+v second %+v", first[i], second[i])
		}
	}
	for _, s := range subs {
		if s.Version != "2.0" || s.User != hookUser || s.Password != hookPass || s.URL != e.url {
			t.Fatalf("subscription %+v", s)
		}
	}
	// rotated password: replaced, still one per event
	r.Auth.Password = hookPass + "-rotated"
	third, err := r.Ensure(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if subs := e.sb.Subscriptions(); len(subs) != len(pdhooks.DefaultSubscriptions) || subs[0].Password != hookPass+"-rotated" || third[0].Done != "replaced" {
		t.Fatalf("after rotation: %+v %+v", subs, third)
	}
	// the registered webhook delivers to the handler (with the rotated pair the handler must know)
	e.h.Key = pdhooks.Key(func(context.Context) (pdhooks.Credentials, error) {
		return pdhooks.Credentials{User: hookUser, Password: hookPass + "-rotated"}, nil
	})
	id := e.sb.AddDeal(pipedrivetest.Deal{StageID: stQualified})
	if err := e.sb.MoveDealAsUser(id, stContact, human); err != nil {
		t.Fatal(err)
	}
	e.wait()
	if ds, err := e.st.GetDealState(e.ctx, id); err != nil || ds.StageID != stContact {
		t.Fatalf("mirror via registered webhook: %+v %v", ds, err)
	}
	// errors never carry the token or the password
	wrong, err := pipedrive.New(pipedrive.Config{BaseURL: e.sb.URL(), Token: pipedrive.StaticToken("wrong-token-123")})
	if err != nil {
		t.Fatal(err)
	}
	bad := &pdhooks.Registrar{API: wrong, URL: e.url, Auth: r.Auth}
	if _, err := bad.Ensure(e.ctx, nil); err == nil || strings.Contains(err.Error(), "wrong-token-123") {
		t.Fatalf("bad token: %v", err)
	}
}
