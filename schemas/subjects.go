package schemas

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
)

// Subject prefixes of the two event families.
const (
	EdgePrefix    = "edge"
	PartnerPrefix = "partner"
)

// EdgeSubject is the parsed form of edge.<entity>.<store>.<id>.
type EdgeSubject struct {
	Entity Entity
	Store  string
	ID     string
}

// String returns the subject.
func (s EdgeSubject) String() string {
	return EdgePrefix + "." + string(s.Entity) + "." + s.Store + "." + s.ID
}

// EdgeSubjectFor returns the subject of the aggregate with the given Edge key.
// Edge keys start with the three-digit store ("001-000652"); the rest of the
// key, with its dashes, is the id token.
func EdgeSubjectFor(entity Entity, key string) (EdgeSubject, error) {
	store, id, ok := strings.Cut(key, "-")
	if !ok {
		return EdgeSubject{}, fmt.Errorf("edge key %q: want <store>-<id>", key)
	}
	s := EdgeSubject{Entity: entity, Store: store, ID: id}
	return s, s.validate()
}

// ParseEdgeSubject parses edge.<entity>.<store>.<id>.
func ParseEdgeSubject(subject string) (EdgeSubject, error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != EdgePrefix {
		return EdgeSubject{}, fmt.Errorf("subject %q: want edge.<entity>.<store>.<id>", subject)
	}
	s := EdgeSubject{Entity: Entity(parts[1]), Store: parts[2], ID: parts[3]}
	return s, s.validate()
}

// Key returns the Edge key the subject names ("001-000652").
func (s EdgeSubject) Key() string { return s.Store + "-" + s.ID }

func (s EdgeSubject) validate() error {
	if !s.Entity.Valid() {
		return fmt.Errorf("unknown entity %q", s.Entity)
	}
	if len(s.Store) != 3 || strings.Trim(s.Store, "0123456789") != "" {
		return fmt.Errorf("store %q: want three digits", s.Store)
	}
	return CheckToken("id", s.ID)
}

// PartnerSubject is the parsed form of partner.<partner>.<entity>.<id>.
type PartnerSubject struct {
	Partner string
	Entity  string
	ID      string
}

// String returns the subject.
func (s PartnerSubject) String() string {
	return PartnerPrefix + "." + s.Partner + "." + s.Entity + "." + s.ID
}

// NewPartnerSubject builds and checks a partner subject. Partner ids such as
// emails may hold characters that NATS reserves; callers pass an id that is
// already a single token (a uid, a hash).
func NewPartnerSubject(partner, entity, id string) (PartnerSubject, error) {
	s := PartnerSubject{Partner: partner, Entity: entity, ID: id}
	return s, s.validate()
}

// ParsePartnerSubject parses partner.<partner>.<entity>.<id>.
func ParsePartnerSubject(subject string) (PartnerSubject, error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != PartnerPrefix {
		return PartnerSubject{}, fmt.Errorf("subject %q: want partner.<partner>.<entity>.<id>", subject)
	}
	s := PartnerSubject{Partner: parts[1], Entity: parts[2], ID: parts[3]}
	return s, s.validate()
}

func (s PartnerSubject) validate() error {
	for _, f := range []struct{ name, v string }{{"partner", s.Partner}, {"entity", s.Entity}, {"id", s.ID}} {
		if err := CheckToken(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// MaxTokenLen bounds one subject token. A NATS server closes a client's
// connection whose protocol line (the subject with its reply inbox and
// sizes) exceeds its max_control_line, 4 KiB by default: one unbounded id
// from a partner or an Edge row would cut a role off for good. Every real
// id (a Podium uid, an Edge key, a Clientbook id) is far shorter.
const MaxTokenLen = 256

// CheckToken rejects what NATS cannot carry in one subject token.
func CheckToken(name, v string) error {
	if v == "" {
		return fmt.Errorf("%s is empty", name)
	}
	if len(v) > MaxTokenLen {
		return fmt.Errorf("%s %q... is %d bytes long; at most %d fit a subject token", name, v[:32], len(v), MaxTokenLen)
	}
	if i := strings.IndexAny(v, ".*> \t\r\n"); i >= 0 {
		return fmt.Errorf("%s %q: character %q is not allowed in a subject token", name, v, v[i])
	}
	return nil
}

// EdgeFilter returns the subject filter for one entity in all stores
// ("edge.customer.>"), or for every entity when entity is empty.
func EdgeFilter(entity Entity) string {
	if entity == "" {
		return EdgePrefix + ".>"
	}
	return EdgePrefix + "." + string(entity) + ".>"
}

// CustomerOf is the key of the Edge customer an Edge event belongs to: the
// customer's own for a customer event, the customer its aggregate names
// otherwise (a sale's, a note's, a sold item's buyer), and the subject
// when it names none (a cash sale, an item in stock, a delete, a body that
// does not decode). A connector handling events concurrently keys them by
// it, so a customer's sale is never sent before the customer.
func CustomerOf(subject string, body []byte) string {
	s, err := ParseEdgeSubject(subject)
	if err != nil {
		return subject
	}
	if s.Entity == EntityCustomer {
		return s.Key()
	}
	var e struct {
		Data struct {
			CustomerKey       string `json:"customerKey"`
			SoldToCustomerKey string `json:"soldToCustomerKey"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &e) != nil {
		return subject
	}
	return cmp.Or(e.Data.CustomerKey, e.Data.SoldToCustomerKey, subject)
}
