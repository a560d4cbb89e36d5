package graphtest

import (
	"mime"
	"net/http"
	"strings"
	"time"
)

// RevokeTokens invalidates every issued token (Graph then answers 401).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]time.Time{}
}

// token implements the client credentials grant and its error responses.
func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		aadErr(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		aadErr(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if err := r.ParseForm(); err != nil {
		aadErr(w, http.StatusBadRequest, "invalid_request", 900144, "The request body is not a valid form.")
		return
	}
	f := r.PostForm
	switch {
	case !strings.EqualFold(tenant, s.TenantID):
		aadErr(w, http.StatusBadRequest, "invalid_request", 90002, "Tenant '"+tenant+"' not found.")
	case f.Get("grant_type") != "client_credentials":
		aadErr(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
	case f.Get("scope") != "https://graph.microsoft.com/.default":
		aadErr(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
	case f.Get("client_id") != s.ClientID:
		aadErr(w, http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier was not found in the directory.")
	case f.Get("client_secret") != s.ClientSecret:
		aadErr(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
	default:
		tok := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + randHex(32)
		s.mu.Lock()
		s.tokens[tok] = s.now().Add(s.tokenLifetime)
		s.mu.Unlock()
		secs := int(s.tokenLifetime / time.Second)
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
	}
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		s.mu.Lock()
		s.unauthorized++
		s.mu.Unlock()
		graphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return false
	}
	s.mu.Lock()
	exp, known := s.tokens[tok]
	now := s.now()
	if !known || !now.Before(exp) {
		s.unauthorized++
	}
	s.mu.Unlock()
	switch {
	case !known:
		graphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return false
	case !now.Before(exp):
		graphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return false
	}
	return true
}
