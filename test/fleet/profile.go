package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// CPUProfiles takes a CPU profile of d from every process of a fleet
// started with Options.Pprof, all over the same d, and writes each to
// dir/<process>.pprof for `go tool pprof`. It returns the files written.
func (f *Fleet) CPUProfiles(ctx context.Context, dir string, d time.Duration) ([]string, error) {
	if len(f.profiles) == 0 {
		return nil, errors.New("cpu profiles: the fleet was started without Options.Pprof")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cpu profiles: %w", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		files []string
		errs  []error
	)
	for name, addr := range f.profiles {
		wg.Go(func() {
			path := filepath.Join(dir, name+".pprof")
			err := fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())), path)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("cpu profile of %s: %w", name, err))
				return
			}
			files = append(files, path)
		})
	}
	wg.Wait()
	sort.Strings(files)
	return files, errors.Join(errs...)
}

func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
