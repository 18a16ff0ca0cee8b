package streams

import "time"

// Within is within, for the tests.
var Within = within

// ReportEvery sets how often connectors report, for the tests, and
// returns what puts it back.
func ReportEvery(d time.Duration) (restore func()) {
	old := reportEvery
	reportEvery = d
	return func() { reportEvery = old }
}
