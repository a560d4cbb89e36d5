package graph

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/store"
)

func seedFiles(f *testing.F, prefix string) {
	f.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", prefix+"*.json"))
	for _, p := range paths {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseNotifications: any body is either a usable notification
// collection or rejected with ErrMalformed and a reason; never a panic.
func FuzzParseNotifications(f *testing.F) {
	seedFiles(f, "notification-")
	for _, s := range []string{
		`{"value":[{"subscriptionId":"s","changeType":"created","resource":"Users/u/Messages/m","clientState":"x"}]}`,
		`{"value":[{"subscriptionId":"s","lifecycleEvent":"missed"}]}`,
		`{"value":[{"subscriptionId":"s","changeType":"created","lifecycleEvent":"missed"}]}`,
		`{"value":[]}`, `{"value":null}`, `{"value":[null]}`, `[]`, `null`, ``, `{"value":[{"subscriptionId":"\u0000"}]}`,
		`{"value":[{"subscriptionId":"s","changeType":"updated","resource":"r","resourceData":null}]} x`,
	} {
		f.Add([]byte(s))
	}
	received := time.Date(2026, 3, 2, 9, 41, 20, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		ns, err := ParseNotifications(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || err.Error() == ErrMalformed.Error() {
				t.Fatalf("rejection without ErrMalformed and a reason: %v", err)
			}
			return
		}
		if len(ns) == 0 || len(ns) > maxNotifications {
			t.Fatalf("%d notifications accepted", len(ns))
		}
		for _, n := range ns {
			if n.SubscriptionID == "" || (n.ChangeType == "") == (n.LifecycleEvent == "") {
				t.Fatalf("accepted an incomplete notification %+v", n)
			}
			if !n.IsLifecycle() && strings.TrimSpace(n.Resource) == "" {
				t.Fatalf("accepted a change without a resource: %+v", n)
			}
			id := NotificationID(n, received)
			if len(id) != 40 || strings.Trim(id, "0123456789abcdef") != "" || id != NotificationID(n, received) {
				t.Fatalf("notification id %q", id)
			}
			if FetchResource(n) == "" {
				t.Fatalf("no fetch resource for %+v", n)
			}
			kind := []string{"", KindMessages, KindEvents}[len(n.SubscriptionID)%3]
			p, err := DecodePayload(EncodePayload(n, kind))
			if err != nil {
				t.Fatalf("payload does not round-trip: %v", err)
			}
			want := n
			want.ClientState = ""
			if !reflect.DeepEqual(p.Notification, want) || p.Kind != kind {
				t.Fatalf("payload round trip:\n got %+v\nwant %+v", p.Notification, want)
			}
			if n.ClientState != "" && strings.Contains(EncodePayload(n, kind), `"clientState"`) {
				t.Fatal("the payload keeps the clientState")
			}
		}
	})
}

// FuzzParseResource: any resource string parses into a user and a kind,
// or is refused; never a panic.
func FuzzParseResource(f *testing.F) {
	for _, s := range []string{
		"Users/5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f@84bd8158-6d4d-4958-8b9f-9d6445542f95/Messages/AAMkADhMGAAA=",
		"users/sam@acme.example/events", "/users/x/mailFolders('Inbox')/messages/id", "Users('abc')/Events/id", "Users('sam@acme.example')/Messages('AAMk=')",
		"v1.0/users/a/messages/b", "users//messages/x", "me/messages", "users/a/contacts/b", "users/a/messages/b/c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rp, ok := ParseResource(s)
		if !ok {
			return
		}
		if rp.User == "" || (rp.Kind != KindMessages && rp.Kind != KindEvents) {
			t.Fatalf("%q parsed into %+v", s, rp)
		}
	})
}

// FuzzItemToSignal: any Graph message or event JSON either becomes a
// valid signal about an outside person or is skipped with a reason.
func FuzzItemToSignal(f *testing.F) {
	seedFiles(f, "message-")
	seedFiles(f, "event-")
	f.Add([]byte(`{"from":{"emailAddress":{"address":"@"}},"toRecipients":[{"emailAddress":{"address":"a@b"}}]}`))
	f.Add([]byte(`{"start":{"dateTime":"2026-13-40T99:00:00","timeZone":"Mars/Olympus"},"organizer":{"emailAddress":{"address":"x@y.example"}}}`))
	f.Add([]byte(`{"start":{"dateTime":"2026-03-10T08:00:00.0000000","timeZone":"Pacific Standard Time"},"organizer":{"emailAddress":{"address":"x@y.example"}}}`))
	f.Add([]byte(`{"start":{"dateTime":"2026-03-10T08:00:00.0000000","timeZone":"Customized Time Zone"},"organizer":{"emailAddress":{"address":"x@y.example"}}}`))
	now := time.Date(2026, 3, 7, 8, 0, 0, 0, time.UTC)
	fe := &Fetcher{Now: func() time.Time { return now }, InternalDomains: []string{"acme-routing.io"}}
	rec := store.FetchRecord{Source: Source, Mailbox: "sam.ortega@acme-routing.io"}
	check := func(t *testing.T, r store.SignalRecord, skip string) {
		t.Helper()
		if skip != "" {
			return
		}
		if err := r.Signal.Validate(); err != nil {
			t.Fatalf("invalid signal accepted: %v", err)
		}
		if !strings.Contains(r.PersonEmail, "@") || r.EventID == "" || r.Source != Source {
			t.Fatalf("record %+v", r)
		}
		if strings.HasSuffix(r.PersonEmail, "@acme-routing.io") || r.PersonEmail == rec.Mailbox {
			t.Fatalf("the counterpart %q is internal", r.PersonEmail)
		}
		if len(r.Signal.Body) > maxBody {
			t.Fatalf("body of %d bytes", len(r.Signal.Body))
		}
		// a booking without a start would count as booked for the future
		if r.Signal.Kind == "meeting" && r.Signal.Status != "canceled" && r.Signal.StartsAt == nil {
			t.Fatalf("a %s meeting without starts_at", r.Signal.Status)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		if json.Unmarshal(data, &m) == nil {
			r, skip := fe.messageSignal(rec, &m)
			check(t, r, skip)
		}
		var e Event
		if json.Unmarshal(data, &e) == nil {
			for _, ct := range []string{ChangeCreated, ChangeUpdated} {
				r, skip := fe.eventSignal(context.Background(), slog.New(slog.DiscardHandler), rec, &e, ct)
				check(t, r, skip)
			}
		}
	})
}
