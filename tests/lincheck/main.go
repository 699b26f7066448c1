package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

// Report is what the checker prints (JSON).
type Report struct {
	KVOperations  int      `json:"kv_operations"`
	KVResult      string   `json:"kv_result"`
	WatchEvents   int      `json:"watch_events"`
	WatchProblems []string `json:"watch_problems"`
	LockHolds     int      `json:"lock_holds"`
	LockProblems  []string `json:"lock_problems"`
}

func main() {
	history := flag.String("history", "", "history file (JSON lines)")
	timeout := flag.Duration("timeout", 2*time.Minute, "linearizability check time limit")
	flag.Parse()
	if *history == "" {
		fmt.Fprintln(os.Stderr, "lincheck: --history FILE is required")
		os.Exit(2)
	}
	f, err := os.Open(*history)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lincheck: %v\n", err)
		os.Exit(2)
	}
	recs, err := ReadHistory(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "lincheck: %s: %v\n", *history, err)
		os.Exit(2)
	}
	rep := Check(recs, *timeout)
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
	if !rep.OK() {
		os.Exit(1)
	}
}

// Check runs every check over a history.
func Check(recs []Record, timeout time.Duration) Report {
	res, n := CheckKV(recs, timeout)
	rep := Report{KVOperations: n, KVResult: string(res), WatchProblems: CheckWatches(recs), LockProblems: CheckLocks(recs)}
	for _, r := range recs {
		switch r.Kind {
		case "event":
			rep.WatchEvents++
		case "lock":
			rep.LockHolds++
		}
	}
	if rep.WatchProblems == nil {
		rep.WatchProblems = []string{}
	}
	if rep.LockProblems == nil {
		rep.LockProblems = []string{}
	}
	return rep
}

// OK is true when no check found a violation. A linearizability check that ran out of
// time ("Unknown") is not OK: it proved nothing.
func (r Report) OK() bool {
	return r.KVResult == "Ok" && len(r.WatchProblems) == 0 && len(r.LockProblems) == 0
}
