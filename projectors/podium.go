package projectors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/edgesync/edgesync/schemas"
)

// PartnerPodium is the origin and link namespace of the Podium connector.
const PartnerPodium = "podium"

// PodiumOptions are the per-install settings the Podium rules read.
type PodiumOptions struct {
	// Locations maps an Edge store ("001") to its Podium location uid.
	Locations map[string]string
}

// PodiumAddress is Podium's contact address.
type PodiumAddress struct {
	AddressLine1 string `json:"addressLine1,omitempty"`
	AddressLine2 string `json:"addressLine2,omitempty"`
	City         string `json:"city,omitempty"`
	State        string `json:"state,omitempty"`
	PostalCode   string `json:"postalCode,omitempty"`
	Country      string `json:"country,omitempty"`
}

// PodiumContact is the contact body edgesync sends: the fields Edge owns.
type PodiumContact struct {
	Name        string         `json:"name"`
	Locations   []string       `json:"locations,omitempty"`
	PhoneNumber string         `json:"phoneNumber,omitempty"`
	Email       string         `json:"email,omitempty"`
	Address     *PodiumAddress `json:"address,omitempty"`
}

// PodiumOpKind says what to do with a contact.
type PodiumOpKind int

// Podium contact operations.
const (
	PodiumSkip   PodiumOpKind = iota // nothing to send; Reason says why
	PodiumCreate                     // POST /v4/contacts (an upsert by phone or email)
	PodiumUpdate                     // PATCH /v4/contacts/{Identifier}
)

// PodiumOp is one operation on Podium.
type PodiumOp struct {
	Kind       PodiumOpKind
	Identifier string // for updates: the linked contact
	Contact    PodiumContact
	Hash       string // of Contact; stored once applied so an unchanged customer sends nothing
	Reason     string // for skips
}

// PodiumPrior is what the connector remembers of a customer.
type PodiumPrior struct {
	Identifier string // linked Podium contact; empty when never pushed
	Hash       string // of the last contact body Podium acknowledged
}

// PodiumCustomer maps one customer event to a Podium contact operation.
// origin is the event's origin: a change edgesync wrote into Edge on behalf
// of Podium is not sent back to Podium.
func PodiumCustomer(origin string, c *schemas.Customer, prior PodiumPrior, opts PodiumOptions) PodiumOp {
	skip := func(format string, a ...any) PodiumOp {
		return PodiumOp{Kind: PodiumSkip, Reason: fmt.Sprintf(format, a...)}
	}
	switch {
	case origin == PartnerPodium:
		return skip("change came from Podium")
	case c == nil:
		return skip("customer deleted in Edge; Podium keeps the contact")
	case !c.SyncEnabled:
		return skip("customer %s is not set to synchronize", c.Key)
	case c.Inactive:
		return skip("customer %s is inactive", c.Key)
	}
	loc, ok := opts.Locations[c.Store]
	if !ok {
		return skip("store %s has no Podium location configured", c.Store)
	}
	body := PodiumContact{Name: fullName(c), Locations: []string{loc}}
	if m := c.Preferred(schemas.MethodPhone); m != nil {
		body.PhoneNumber = E164(m.Value)
	}
	if m := c.Preferred(schemas.MethodEmail); m != nil {
		body.Email = strings.TrimSpace(m.Value)
	}
	if m := c.Preferred(schemas.MethodAddress); m != nil && m.Address != nil {
		a := m.Address
		body.Address = &PodiumAddress{AddressLine1: a.Line1, AddressLine2: a.Line2, City: a.City, State: a.State, PostalCode: a.PostalCode, Country: a.Country}
	}
	if body.PhoneNumber == "" && body.Email == "" {
		return skip("customer %s has no valid phone or email; Podium identifies contacts by one of them", c.Key)
	}
	hash := hashOf(body)
	if prior.Identifier != "" && hash == prior.Hash {
		return skip("unchanged since last push")
	}
	if prior.Identifier != "" {
		return PodiumOp{Kind: PodiumUpdate, Identifier: prior.Identifier, Contact: body, Hash: hash}
	}
	return PodiumOp{Kind: PodiumCreate, Contact: body, Hash: hash}
}

func fullName(c *schemas.Customer) string {
	parts := []string{c.FirstName}
	if c.LastName != "" {
		parts = append(parts, c.LastName)
	}
	return strings.Join(parts, " ")
}

// E164 normalises a North American or international phone number to
// +<digits>, or returns "" when it cannot be one.
func E164(raw string) string {
	var digits strings.Builder
	for _, r := range raw {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	d := digits.String()
	switch {
	case strings.HasPrefix(strings.TrimSpace(raw), "+") && len(d) >= 8 && len(d) <= 15 && d[0] != '0':
		return "+" + d
	case len(d) == 10 && d[0] >= '2':
		return "+1" + d
	case len(d) == 11 && d[0] == '1':
		return "+" + d
	}
	return ""
}

func hashOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
