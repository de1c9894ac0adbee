// Package cli is the `clew` command line: the all-in-one server by default
// and subcommands beside it. Each subcommand lives in its own file and adds
// itself to the table with register in an init function.
package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	// Run executes the command with the arguments after its name and
	// returns the process exit code.
	Run func(args []string, env Env) int
}

// Env is what a command gets from the process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

var commands = map[string]Command{}

func register(c Command) {
	if _, dup := commands[c.Name]; dup {
		panic("BUG: duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

// Main runs the command line and returns the exit code.
func Main(args []string) int {
	env := Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	return run(args, env)
}

func run(args []string, env Env) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name := args[0]
		if name == "help" {
			usage(env.Stdout)
			return 0
		}
		c, ok := commands[name]
		if !ok {
			fmt.Fprintf(env.Stderr, "clew: unknown command %q\n\n", name)
			usage(env.Stderr)
			return 2
		}
		return c.Run(args[1:], env)
	}
	// No subcommand: the all-in-one server.
	return commands["serve"].Run(args, env)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "clew — distributed tracing in one binary.\n\nUsage:\n  clew [flags]            run the all-in-one server (same as clew serve)\n  clew COMMAND [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun clew COMMAND --help for a command's flags; clew --help for the server's settings.\n")
}
