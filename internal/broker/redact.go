package broker

import (
	"net/url"
	"regexp"
	"strings"
)

// redactURL hides user:password in NATS URLs so they never reach logs.
func redactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unparsable URL)" // it might hold a password
			continue
		}
		if u.User == nil {
			continue
		}
		u.User = url.User("REDACTED")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// userinfo is the user:password@ part of any URL in a text.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s"']*@`)

// RedactError returns err with its text freed of the secrets it may
// quote: each of secrets (a URL list, a password) and the user:password
// part of any URL. errors.Is and errors.As still see the original.
func RedactError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				msg = strings.ReplaceAll(msg, part, "REDACTED")
			}
		}
	}
	msg = userinfo.ReplaceAllString(msg, "${1}REDACTED@")
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
