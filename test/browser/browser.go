// Package browser loads pages in headless Chromium (Debian's chromium
// package), for the tests of what a person sees.
package browser

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Require skips t, loudly, when Chromium is not installed.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("*** SKIPPED: headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it when it can)")
	}
}

var markup = regexp.MustCompile(`(?s)<style>.*?</style>|<[^>]*>`)

// Text loads url and returns the text of the page Chromium rendered, its
// white space collapsed.
func Text(t testing.TB, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(), "--dump-dom", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())
	return strings.Join(strings.Fields(markup.ReplaceAllString(string(dom), " ")), " ")
}

// Screenshot saves what Chromium shows of url, window-size wide and high,
// as a PNG at path.
func Screenshot(t testing.TB, url, path, windowSize string) {
	t.Helper()
	cmd := exec.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir="+t.TempDir(),
		"--window-size="+windowSize, "--screenshot="+path, url)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium: %s", out)
}
