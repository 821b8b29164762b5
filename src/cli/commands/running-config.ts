/**
 * `show running-config`: the header, then each section's lines as the
 * command entries render them (an entry renders its own lines, so a new
 * configuration command brings its running-config lines with it). Secrets are
 * masked by the entries; private keys and PEM bodies are never part of it.
 */
import type { Box } from '../../device/box.js';
import { formatLocalTime } from '../format.js';
import type { CommandSpec } from '../tree.js';

/**
 * The prefix length printed with the management address.
 * EMULATION: the box knows its address only; the simulator prints /8 for a
 * 127.x address (the loopback net it is on), /64 for IPv6 and /24 otherwise.
 */
function managementPrefix(address: string): number {
  if (address.includes(':')) return 64;
  return address.startsWith('127.') ? 8 : 24;
}

/**
 * The running config of `box` from the `render` of every entry, grouped by
 * section in entry order. The header carries the lines collectors read
 * (Netshot: `## Hostname:`, `## Generated at`, dropped before diffing); the
 * management interface comes as an `interface eth0` block (real-device.md
 * section 3). `full` (`show running-config full`) also lists the settings
 * at their defaults (the entries decide: `cli default paging enable`).
 */
export function renderRunningConfig(box: Box, specs: readonly CommandSpec[], full = false): string[] {
  const sections = new Map<string, string[]>();
  for (const spec of specs) {
    if (!spec.render) continue;
    const lines = spec.render(box, full);
    if (lines.length === 0) continue;
    const name = spec.section ?? 'Other';
    sections.set(name, [...(sections.get(name) ?? []), ...lines]);
  }
  // EMULATION: the header follows the Onyx family ("##" comment lines).
  const out = [
    '##',
    `## Running configuration of box-id ${box.boxId} (${box.hostname})${full ? ', defaults included' : ''}`,
    `## Generated at ${formatLocalTime(box.clock.now())}`,
    `## Hostname: ${box.hostname}`,
    `## Product release: ${box.image.version}`,
    ...(box.hasUnsavedChanges ? ['## Unsaved changes: use "write memory" to keep them across reload'] : []),
    '##',
  ];
  // EMULATION: the block's layout (three-space indent, comment, exit) follows the framework's
  // sub-modes; it comes first, as in the framework. It is read-only here: the address is the
  // one the box's listeners bind, so the block is not a command to replay.
  const all = new Map<string, string[]>([
    [
      'Network interface configuration',
      [
        'interface eth0',
        '   comment "management"',
        `   ip address ${box.address} /${managementPrefix(box.address)}`,
        '   no shutdown',
        '   exit',
      ],
    ],
    ...sections,
  ]);
  for (const [name, lines] of all) out.push('', '##', `## ${name}`, '##', ...lines);
  return out;
}
