package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"time"
)

// RejectError is a delivery refused for the sender's fault: the answer's
// status and the reason it may read. Sources return it from Verify and
// Parse; the Handler answers {"error": Reason} with Status.
type RejectError struct {
	Status int    // 400, 401 or 413
	Reason string // the answer's "error": what the sender may know
	// Err is what errors.Is and the log see: Kind wrapped with Reason,
	// or a detail the sender must not read (why a token was refused).
	Err error
	// Challenge, on a 401, is the WWW-Authenticate header to send
	// (Pipedrive's basic auth).
	Challenge string
}

func (e *RejectError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Reason
}

func (e *RejectError) Unwrap() error { return e.Err }

// Reject builds a RejectError whose reason is format with args, wrapping
// kind (a source's sentinel such as ErrSignature or its ErrInvalid; nil for
// none): its Error() is "<kind>: <reason>", its answer just the reason.
func Reject(status int, kind error, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	e := &RejectError{Status: status, Reason: reason}
	if kind != nil {
		e.Err = fmt.Errorf("%w: %s", kind, reason)
	}
	return e
}

// ErrInvalid marks a body that is not a usable POST /signals envelope.
var ErrInvalid = errors.New("invalid signal envelope")

// DecodeJSON decodes body, which must hold exactly one JSON value, into v;
// its error is DescribeJSON's text.
func DecodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return errors.New(DescribeJSON(err))
	}
	if dec.More() {
		return errors.New("body must hold exactly one JSON value")
	}
	return nil
}

// DescribeJSON says what is wrong with JSON input, shortly and without Go
// type names, for a 400 reason.
func DescribeJSON(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return "it has the wrong JSON type (want " + jsonType(typeErr.Type) + ")"
		}
		return fmt.Sprintf("field %q has the wrong type", typeErr.Field)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	}
	var timeErr *time.ParseError
	if errors.As(err, &timeErr) {
		return "times must be RFC 3339, e.g. 2026-03-02T10:00:00Z"
	}
	var numErr *strconv.NumError
	if errors.As(err, &numErr) {
		return "an id is not a number or string"
	}
	switch {
	case errors.Is(err, io.EOF):
		return "body is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "body is truncated"
	}
	return "invalid value"
}

func jsonType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	}
	return "a number"
}
