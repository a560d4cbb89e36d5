package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/source/ingest"
)

func init() {
	commands["sign"] = command{"re-sign an API Gateway v2 event (e.g. events/ingest-generic.json) at the current time", runSign}
}

// runSign implements `stagemover sign --secret S [--now] FILE|-`: it reads an
// API Gateway HTTP API (payload 2.0) event, signs its body with ingest.Sign
// at the current time (or --at), sets the X-Stagemover-Timestamp and
// X-Stagemover-Signature headers and requestContext.time/timeEpoch, and
// writes the event to stdout with its fields in their original order, ready
// for `sam local invoke -e` or a Lambda test event.
func runSign(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("secret", "", "the ingest HMAC secret (default: $STAGEMOVER_INGEST_SECRET)")
	fs.Bool("now", true, "sign at the current time (the default; see --at)")
	at := fs.String("at", "", "sign at this time instead of now: RFC 3339 or unix seconds")
	setUsage(fs, "stagemover sign --secret S [--now | --at TIME] FILE|-")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	key := *secret
	if key == "" {
		key = os.Getenv("STAGEMOVER_INGEST_SECRET")
	}
	if key == "" {
		fmt.Fprintln(stderr, "stagemover sign: --secret (or STAGEMOVER_INGEST_SECRET) is required")
		return 2
	}
	when := time.Now()
	if *at != "" {
		t, err := parseSignTime(*at)
		if err != nil {
			fmt.Fprintln(stderr, "stagemover sign: --at:", err)
			return 2
		}
		when = t
	}
	var in []byte
	var err error
	if name := fs.Arg(0); name == "-" {
		in, err = io.ReadAll(os.Stdin)
	} else {
		in, err = os.ReadFile(name)
	}
	if err != nil {
		fmt.Fprintln(stderr, "stagemover sign:", err)
		return 1
	}
	out, err := resignEvent(in, []byte(key), when)
	if err != nil {
		fmt.Fprintf(stderr, "stagemover sign: %s: %v\n", fs.Arg(0), err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintln(stderr, "stagemover sign:", err)
		return 1
	}
	return 0
}

func parseSignTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339 (2026-03-02T09:41:20Z) or unix seconds")
	}
	return t, nil
}

// resignEvent re-signs an API Gateway v2 event's body at now.
func resignEvent(event, secret []byte, now time.Time) ([]byte, error) {
	root, err := parseObject(event)
	if err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if v, ok := root.get("version"); !ok || string(v) != `"2.0"` {
		return nil, errors.New(`not an API Gateway HTTP API event (want "version": "2.0")`)
	}
	var body []byte
	if raw, ok := root.get("body"); ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errors.New("body must be a string")
		}
		body = []byte(s)
		if raw, ok := root.get("isBase64Encoded"); ok && string(raw) == "true" {
			if body, err = base64.StdEncoding.DecodeString(s); err != nil {
				return nil, errors.New("isBase64Encoded is true but body is not base64")
			}
		}
	}
	ts, sig := ingest.Sign(secret, now, body)

	headers := object{}
	if raw, ok := root.get("headers"); ok && string(raw) != "null" {
		if headers, err = parseObject(raw); err != nil {
			return nil, fmt.Errorf("headers: %w", err)
		}
	}
	headers.setFold(strings.ToLower(ingest.HeaderTimestamp), jsonString(ts))
	headers.setFold(strings.ToLower(ingest.HeaderSignature), jsonString(sig))
	root.set("headers", headers.marshal())

	if raw, ok := root.get("requestContext"); ok {
		rc, err := parseObject(raw)
		if err != nil {
			return nil, fmt.Errorf("requestContext: %w", err)
		}
		if _, ok := rc.get("time"); ok {
			rc.set("time", jsonString(now.UTC().Format("02/Jan/2006:15:04:05 -0700")))
		}
		if _, ok := rc.get("timeEpoch"); ok {
			rc.set("timeEpoch", json.RawMessage(strconv.FormatInt(now.UnixMilli(), 10)))
		}
		root.set("requestContext", rc.marshal())
	}

	var out bytes.Buffer
	if err := json.Indent(&out, root.marshal(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// object is a JSON object that keeps its members' order.
type object []member

type member struct {
	key   string
	value json.RawMessage
}

func parseObject(b []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("want an object")
	}
	var o object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o = append(o, member{key, v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the object")
	}
	return o, nil
}

func (o object) get(key string) (json.RawMessage, bool) {
	for _, m := range o {
		if m.key == key {
			return m.value, true
		}
	}
	return nil, false
}

func (o *object) set(key string, v json.RawMessage) {
	for i := range *o {
		if (*o)[i].key == key {
			(*o)[i].value = v
			return
		}
	}
	*o = append(*o, member{key, v})
}

// setFold replaces every member whose key equals key case-insensitively
// (header names) with one member named key, or appends it.
func (o *object) setFold(key string, v json.RawMessage) {
	out := (*o)[:0]
	done := false
	for _, m := range *o {
		if strings.EqualFold(m.key, key) {
			if done {
				continue
			}
			m = member{key, v}
			done = true
		}
		out = append(out, m)
	}
	if !done {
		out = append(out, member{key, v})
	}
	*o = out
}

func (o object) marshal() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonString(m.key))
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
