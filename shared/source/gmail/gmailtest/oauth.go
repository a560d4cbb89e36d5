package gmailtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func (s *Server) certs(w http.ResponseWriter, r *http.Request) {
	if code := s.fault(OpCerts); code != 0 {
		http.Error(w, http.StatusText(code), code)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if s.CertsMaxAge > 0 {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d, must-revalidate, no-transform", int(s.CertsMaxAge.Seconds())))
		w.Header().Set("Expires", s.Now().Add(s.CertsMaxAge).UTC().Format(http.TimeFormat))
	} else {
		w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	}
	_, _ = w.Write(s.Keys.JWKS())
}

// oauthError is the token endpoint's error shape (RFC 6749 section 5.2).
func oauthError(w http.ResponseWriter, code int, errCode, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": errCode, "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if code := s.fault(OpToken); code != 0 {
		oauthError(w, code, "internal_failure", "Backend error")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "Malformed form body")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		s.jwtBearer(w, r.PostForm.Get("assertion"))
	case "refresh_token":
		s.mu.Lock()
		g, ok := s.refreshTokens[r.PostForm.Get("refresh_token")]
		s.mu.Unlock()
		if !ok || g.clientID != r.PostForm.Get("client_id") {
			oauthError(w, 400, "invalid_grant", "Bad Request")
			return
		}
		if g.clientSecret != r.PostForm.Get("client_secret") {
			oauthError(w, 401, "invalid_client", "Unauthorized")
			return
		}
		s.issue(w, g.mailbox, GmailScope)
	default:
		oauthError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
	}
}

// jwtBearer checks an assertion as Google documents it: RS256 signed by a
// key of the service account in iss, aud the token endpoint, exp at most an
// hour after iat, scope set, and sub (the impersonated user) in a domain the
// account is delegated for.
func (s *Server) jwtBearer(w http.ResponseWriter, assertion string) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.(jwt.MapClaims)["iss"].(string)
		s.mu.Lock()
		defer s.mu.Unlock()
		if k, ok := s.serviceAccounts[iss]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("unknown service account")
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(s.TokenURL()), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(s.Now))
	if err != nil {
		oauthError(w, 400, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp.Sub(iat.Time) > time.Hour {
		oauthError(w, 400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	scope, _ := claims["scope"].(string)
	if scope == "" {
		oauthError(w, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	sub, _ := claims["sub"].(string)
	sub = strings.ToLower(sub)
	s.mu.Lock()
	ok := sub != "" && s.delegated[domainOf(sub)]
	s.assertions = append(s.assertions, claims)
	s.mu.Unlock()
	if !ok {
		oauthError(w, 401, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		return
	}
	s.issue(w, sub, scope)
}

func (s *Server) issue(w http.ResponseWriter, mailbox, scope string) {
	tok := "ya29.c." + randomHex(48)
	s.mu.Lock()
	s.accessTokens[tok] = accessToken{mailbox: mailbox, expires: s.Now().Add(time.Hour)}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"expires_in":   3599,
		"scope":        scope,
		"token_type":   "Bearer",
	})
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}
