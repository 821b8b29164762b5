/**
 * net-snmp's command-line tools (Debian `snmp`: snmpget, snmpwalk) as the
 * tests run them: no MIB files (numeric OIDs, -On), one retry of 1 s, and
 * asynchronously, because the agent under test may run in the test's own
 * process and must not be blocked while the tool waits for it.
 */
import { execFile } from 'node:child_process';

/** Run `tool` with `args`; resolves its stdout and stderr, with " (failed)" appended on a non-zero exit. */
export function netSnmpTool(tool: 'snmpget' | 'snmpwalk', args: string[]): Promise<string> {
  return new Promise((resolve) =>
    execFile(
      tool,
      ['-M', '/nonexistent', '-m', '', '-On', '-t', '1', '-r', '1', ...args],
      (err, out, errOut) => resolve(out + errOut + (err ? ' (failed)' : '')),
    ),
  );
}
