// Command schemakv-pprof is the schemakv binary with net/http/pprof on a
// side port, for profiling the server under the benchmark's load without
// changing the product: it runs the same CLI, so
//
//	SCHEMAKV_BENCH_PPROF=127.0.0.1:6060 schemakv-pprof server --node-id ...
//
// behaves like `schemakv server` and also serves /debug/pprof/ on that
// address. schemakv-bench starts it in place of bin/schemakv with
// -schemakv <path> -pprof, giving each node its own port.
package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
	"runtime"

	"github.com/schemakv/schemakv/internal/cli"
)

func main() {
	if addr := os.Getenv("SCHEMAKV_BENCH_PPROF"); addr != "" {
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(100000) // one sample per 100 µs blocked
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
	os.Exit(cli.Execute(os.Args[1:]))
}
