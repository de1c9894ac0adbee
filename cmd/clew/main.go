// Command clew is Clew's single binary: the all-in-one tracing server and
// its tools. See `clew help`.
package main

import (
	"os"

	"github.com/clew-dev/clew/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
