// Package projectors holds edgesync's pure rules: Edge event plus what the
// partner already has gives partner operations; partner event plus Edge
// state gives Edge write commands. No clock, network or database in here:
// everything a rule needs is passed in, so the table tests read like the
// seed sentences they implement. The partner bodies the rules make are
// each partner's own (connectors/podium/podiumapi,
// connectors/clientbook/clientbookapi), beside its client.
package projectors
