// Package main checks histories recorded by Corral's fault-injection traffic: KV
// linearizability (with porcupine), watch streams (no gap, no duplicate, no phantom)
// and lock fencing tokens.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Outcome of an operation as the client saw it.
const (
	OutcomeOK      = "ok"      // completed; its result is known
	OutcomeFail    = "fail"    // certainly not applied
	OutcomeUnknown = "unknown" // may or may not have been applied
)

// Record is one line of a history file.
type Record struct {
	Kind    string `json:"kind"` // "kv", "event" or "lock"
	Client  int    `json:"client"`
	Op      string `json:"op,omitempty"` // put, get, cas, delete
	Key     string `json:"key,omitempty"`
	Value   string `json:"value,omitempty"` // put/cas: new value; get: value read
	From    string `json:"from,omitempty"`  // cas: expected value
	Call    int64  `json:"call,omitempty"`  // invocation, ns
	Ret     int64  `json:"ret,omitempty"`   // completion, ns (absent if unknown)
	Outcome string `json:"outcome,omitempty"`
	Found   bool   `json:"found,omitempty"`     // get: key present
	Success bool   `json:"succeeded,omitempty"` // cas: swapped; delete: deleted
	// Revision of a write, or of an event.
	Revision int64 `json:"revision,omitempty"`
	// Watch events.
	Watch int64  `json:"watch,omitempty"`
	Start int64  `json:"start,omitempty"` // event: the watch's start revision
	Type  string `json:"type,omitempty"`  // event: CREATED, UPDATED, DELETED
	// Locks.
	Token    int64 `json:"token,omitempty"`
	Acquired int64 `json:"acquired,omitempty"` // when Lock returned, ns
	Released int64 `json:"released,omitempty"` // when Unlock was called, ns
}

// ReadHistory parses JSON lines.
func ReadHistory(r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}
