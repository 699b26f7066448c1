package testcluster

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// RunMain runs a package's tests from its TestMain with one member started for the
// runnable examples, whose endpoints it passes to setEndpoints first. Without
// $CORRAL_BIN only the Test functions run (the integration ones skip themselves)
// and the examples are left out.
func RunMain(m *testing.M, setEndpoints func([]string)) int {
	return RunMainSetup(m, func(t T) { setEndpoints(Start(t, 1).Endpoints()) })
}

// RunMainSetup is RunMain with setup starting what the package's examples need
// (members are stopped after the tests).
func RunMainSetup(m *testing.M, setup func(t T)) int {
	if os.Getenv("CORRAL_BIN") == "" {
		flag.Parse()
		if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" {
			_ = flag.Set("test.run", "^Test")
		}
		fmt.Fprintln(os.Stderr, "CORRAL_BIN is not set: examples and integration tests skipped")
		return m.Run()
	}
	mt := Main()
	defer mt.Close()
	setup(mt)
	return m.Run()
}
