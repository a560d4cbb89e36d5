package pipedrivetest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Server is a Sandbox listening on 127.0.0.1.
type Server struct {
	*Sandbox
	srv *http.Server
	ln  net.Listener
	url string
}

// Start builds a sandbox and serves it on 127.0.0.1:0.
func Start(opts Options) (*Server, error) {
	return StartOn("127.0.0.1:0", opts)
}

// StartOn builds a sandbox and serves it on addr (use a loopback address).
func StartOn(addr string, opts Options) (*Server, error) {
	sb, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		sb.Close()
		return nil, err
	}
	s := &Server{
		Sandbox: sb,
		ln:      ln,
		url:     "http://" + ln.Addr().String(),
		srv:     &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second},
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			sb.log.Error("sandbox server stopped", "error", err)
		}
	}()
	sb.log.Info("Pipedrive sandbox listening", "url", s.url, "api_v2", s.url+"/api/v2", "webhooks_v1", s.url+"/v1/webhooks")
	return s, nil
}

// URL is the base URL (no trailing slash); API v2 lives under URL()+"/api/v2".
func (s *Server) URL() string { return s.url }

// Close stops the HTTP server (waiting briefly for in-flight requests) and
// the webhook workers.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	s.Sandbox.Close()
}
