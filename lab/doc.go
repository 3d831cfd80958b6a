// Package lab holds the network detection lab: one directory per scenario
// with a capture that triggers the scenario's built-in detections
// (attack.pcap) and one of similar, harmless traffic that triggers none
// (benign.pcap). The captures are written by `go run ./lab/gen`; the test
// decodes each through collectors/pcap and runs the built-in rule pack over
// the events, as the engine would.
package lab
