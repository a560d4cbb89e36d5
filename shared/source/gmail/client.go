package gmail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/platform/retry"
)

// GmailBaseURL is the Gmail API's address.
const GmailBaseURL = "https://gmail.googleapis.com"

// Errors of Gmail calls.
var (
	// ErrNotFound is Gmail's 404: a history id too old to list from
	// (https://developers.google.com/gmail/api/guides/sync: "perform a full
	// sync"), or a message deleted since it was listed.
	ErrNotFound = errors.New("gmail: not found")
)

// APIError is a Gmail error answer
// ({"error":{"code","message","errors":[{"domain","reason","message"}],"status"}},
// https://developers.google.com/gmail/api/guides/handle-errors).
type APIError struct {
	Op      string
	Status  int
	Reason  string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("gmail %s: %d %s %s", e.Op, e.Status, e.Reason, e.Message)
}

// Unwrap lets errors.Is find ErrNotFound, or retry.ErrLater for a transient
// failure (429, 5xx, a rate limit): the fetch is retried by the stream.
func (e *APIError) Unwrap() error {
	switch {
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return retry.ErrLater
	case e.Status == http.StatusForbidden && (e.Reason == "rateLimitExceeded" || e.Reason == "userRateLimitExceeded"):
		return retry.ErrLater // Gmail's per-user rate limits also come as 403
	}
	return nil
}

// Client calls the Gmail API for any mailbox its token source can act for.
type Client struct {
	BaseURL string // default GmailBaseURL
	Tokens  TokenSource
	HTTP    *http.Client // default: 15 s timeout
}

// HistoryPage is one page of users.history.list.
type HistoryPage struct {
	History []struct {
		ID            string `json:"id"`
		MessagesAdded []struct {
			Message MessageRef `json:"message"`
		} `json:"messagesAdded"`
	} `json:"history"`
	NextPageToken string `json:"nextPageToken"`
	HistoryID     string `json:"historyId"`
}

// MessageRef is a message as lists return it.
type MessageRef struct {
	ID       string   `json:"id"`
	ThreadID string   `json:"threadId"`
	LabelIDs []string `json:"labelIds,omitempty"`
}

// MessagesPage is one page of users.messages.list.
type MessagesPage struct {
	Messages           []MessageRef `json:"messages"`
	NextPageToken      string       `json:"nextPageToken"`
	ResultSizeEstimate int          `json:"resultSizeEstimate"`
}

// Message is users.messages.get with format=raw.
type Message struct {
	ID           string   `json:"id"`
	ThreadID     string   `json:"threadId"`
	LabelIDs     []string `json:"labelIds"`
	HistoryID    string   `json:"historyId"`
	InternalDate string   `json:"internalDate"` // epoch milliseconds
	SizeEstimate int      `json:"sizeEstimate"`
	Raw          string   `json:"raw"` // base64url RFC 2822 message
}

// WatchRequest is the body of users.watch.
type WatchRequest struct {
	TopicName           string   `json:"topicName"`
	LabelIDs            []string `json:"labelIds,omitempty"`
	LabelFilterBehavior string   `json:"labelFilterBehavior,omitempty"` // INCLUDE or EXCLUDE
}

// WatchResponse is users.watch's answer.
type WatchResponse struct {
	HistoryID  string `json:"historyId"`
	Expiration string `json:"expiration"` // epoch milliseconds
}

// Expires is the watch's expiration time.
func (w WatchResponse) Expires() (time.Time, error) {
	ms, err := strconv.ParseInt(w.Expiration, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, fmt.Errorf("gmail watch: bad expiration %q", w.Expiration)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// HistoryList lists messageAdded history records after startHistoryID
// (GET /gmail/v1/users/{userId}/history).
func (c *Client) HistoryList(ctx context.Context, mailbox string, startHistoryID uint64, pageToken string) (HistoryPage, error) {
	q := url.Values{}
	q.Set("startHistoryId", strconv.FormatUint(startHistoryID, 10))
	q.Set("historyTypes", "messageAdded")
	q.Set("maxResults", "500")
	if pageToken != "" {
		q.Set("pageToken", pageToken)
	}
	var out HistoryPage
	err := c.do(ctx, "history.list", http.MethodGet, mailbox, "/history", q, nil, &out)
	return out, err
}

// MessageGet fetches one message as raw RFC 2822
// (GET /gmail/v1/users/{userId}/messages/{id}?format=raw).
func (c *Client) MessageGet(ctx context.Context, mailbox, id string) (Message, error) {
	q := url.Values{}
	q.Set("format", "raw")
	var out Message
	err := c.do(ctx, "messages.get", http.MethodGet, mailbox, "/messages/"+url.PathEscape(id), q, nil, &out)
	return out, err
}

// MessagesList lists message ids matching a Gmail search query, newest first
// (GET /gmail/v1/users/{userId}/messages?q=).
func (c *Client) MessagesList(ctx context.Context, mailbox, query, pageToken string) (MessagesPage, error) {
	q := url.Values{}
	if query != "" {
		q.Set("q", query)
	}
	q.Set("maxResults", "100")
	if pageToken != "" {
		q.Set("pageToken", pageToken)
	}
	var out MessagesPage
	err := c.do(ctx, "messages.list", http.MethodGet, mailbox, "/messages", q, nil, &out)
	return out, err
}

// Watch sets up or renews push notifications for mailbox
// (POST /gmail/v1/users/{userId}/watch).
func (c *Client) Watch(ctx context.Context, mailbox string, req WatchRequest) (WatchResponse, error) {
	var out WatchResponse
	err := c.do(ctx, "watch", http.MethodPost, mailbox, "/watch", nil, req, &out)
	return out, err
}

// Stop ends push notifications for mailbox (POST /gmail/v1/users/{userId}/stop).
func (c *Client) Stop(ctx context.Context, mailbox string) error {
	return c.do(ctx, "stop", http.MethodPost, mailbox, "/stop", nil, struct{}{}, nil)
}

// maxResponse bounds a Gmail answer (a raw message can be up to 25 MB as
// base64; signals need far less, and such mail is cut in parseMessage).
const maxResponse = 48 << 20

func (c *Client) do(ctx context.Context, op, method, mailbox, path string, q url.Values, in, out any) error {
	base := c.BaseURL
	if base == "" {
		base = GmailBaseURL
	}
	u := strings.TrimRight(base, "/") + "/gmail/v1/users/" + url.PathEscape(mailbox) + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("gmail %s: %w", op, err)
		}
		body = b
	}
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	for attempt := 0; ; attempt++ {
		token, err := c.Tokens.Token(ctx, mailbox)
		if err != nil {
			return fmt.Errorf("gmail %s: %w", op, err)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("gmail %s: %w", op, err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("gmail %s: %w: %s", op, retry.ErrLater, scrubURLError(err))
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			c.Tokens.Invalidate(mailbox) // expired or revoked token: get a new one once
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return apiError(op, resp.StatusCode, data)
		}
		if rerr != nil {
			return fmt.Errorf("gmail %s: %w: reading the answer: %v", op, retry.ErrLater, rerr)
		}
		if len(data) > maxResponse {
			return fmt.Errorf("gmail %s: answer larger than %d bytes", op, maxResponse)
		}
		if out == nil || len(bytes.TrimSpace(data)) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("gmail %s: answer is not the documented JSON", op)
		}
		return nil
	}
}

func apiError(op string, status int, data []byte) error {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
			Status string `json:"status"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &e)
	reason := e.Error.Status
	if len(e.Error.Errors) > 0 && e.Error.Errors[0].Reason != "" {
		reason = e.Error.Errors[0].Reason
	}
	return &APIError{Op: op, Status: status, Reason: safeText(reason), Message: safeText(e.Error.Message)}
}
