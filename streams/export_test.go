package streams

import "time"

// Within is within, for the tests.
var Within = within

// ReportEvery sets how often connectors report, for the tests, and
// returns what puts it back.
func SetReportEvery(d time.Duration) (restore func()) {
	old := reportEvery
	reportEvery = d
	return func() { reportEvery = old }
}

// SetProgressEvery sets how often a consumer with a backlog logs its
// progress, for the tests, and returns what puts it back.
func SetProgressEvery(d time.Duration) (restore func()) {
	old := progressEvery
	progressEvery = d
	return func() { progressEvery = old }
}
