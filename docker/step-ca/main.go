// step-ca built from Debian 12's Go sources (golang-github-smallstep-certificates-dev
// 0.19.0), which ship the CA as a library without its command: this is the
// command, as upstream's cmd/step-ca/main.go wires it (scripts/build-step-ca.sh).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"
	"go.step.sm/cli-utils/command"
	"go.step.sm/cli-utils/step"

	// The CA signs with its own intermediate key (no cloud KMS, no remote CAS).
	_ "github.com/smallstep/certificates/cas/softcas"
)

func main() {
	step.Set("Smallstep CA", "0.19.0-debian", "gvos-sim")
	app := cli.NewApp()
	app.Name = "step-ca"
	app.Usage = "step-ca <ca.json> [--resolver ip:port]"
	app.Flags = commands.AppCommand.Flags
	app.Commands = command.Retrieve()
	app.Action = func(_ *cli.Context) error {
		// As upstream: run the top action as a subcommand (Run skips the first argument).
		set := flag.NewFlagSet(app.Name, flag.ContinueOnError)
		if err := set.Parse(os.Args); err != nil {
			return err
		}
		return commands.AppCommand.Run(cli.NewContext(app, set, nil))
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
