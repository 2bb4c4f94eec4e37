// Command schemakv is the schemakv server and its command-line client.
package main

import (
	"os"

	"github.com/schemakv/schemakv/internal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:]))
}
