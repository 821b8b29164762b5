/**
 * The error of a topology file that cannot be used. Its own module, without
 * the YAML parser and the schema: `gvos-sim lab <verb>` recognises it at the
 * edge (exit code 2, one problem per line) without loading what `lab up`
 * alone needs.
 */

/** Every problem of a topology file, one `<file>:<line>: <path>: <message>` per line. */
export class TopologyError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'TopologyError';
  }
}
