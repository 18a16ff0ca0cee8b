package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// probeCmd is the containers' healthcheck: the images hold nothing but the
// binary, so there is no curl to ask /readyz.
type probeCmd struct {
	URL     string        `arg:"" help:"URL to ask, e.g. http://127.0.0.1:9090/readyz."`
	Timeout time.Duration `min:"1ms" help:"How long to wait for the answer." default:"3s"`
}

func (c *probeCmd) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprint(os.Stdout, string(body))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("probe %s: %s: %s", c.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
