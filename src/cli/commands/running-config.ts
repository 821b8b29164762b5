/**
 * `show running-config`: the header, then each section's lines as the
 * command entries render them (an entry renders its own lines, so a new
 * configuration command brings its running-config lines with it). Secrets are
 * masked by the entries; private keys and PEM bodies are never part of it.
 */
import type { Box } from '../../device/box.js';
import { formatLocalTime } from '../format.js';
import type { CommandSpec } from '../tree.js';

/** The running config of `box` from the `render` of every entry, grouped by section in entry order. */
export function renderRunningConfig(box: Box, specs: readonly CommandSpec[]): string[] {
  const sections = new Map<string, string[]>();
  for (const spec of specs) {
    if (!spec.render) continue;
    const lines = spec.render(box);
    if (lines.length === 0) continue;
    const name = spec.section ?? 'Other';
    sections.set(name, [...(sections.get(name) ?? []), ...lines]);
  }
  // EMULATION: the header follows the Onyx family ("##" comment lines).
  const out = [
    '##',
    `## Running configuration of box-id ${box.boxId} (${box.hostname})`,
    `## Product release: ${box.image.version}`,
    `## Generated at ${formatLocalTime(box.clock.now())}`,
    ...(box.hasUnsavedChanges ? ['## Unsaved changes: use "write memory" to keep them across reload'] : []),
    '##',
  ];
  for (const [name, lines] of sections) out.push('', '##', `## ${name}`, '##', ...lines);
  return out;
}
