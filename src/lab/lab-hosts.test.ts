/** `lab hosts`: one /etc/hosts line per box, its name at its address. */
import t from 'tap';
import { hostsSnippet } from './lab-command.js';
import type { LabBoxStatus } from './lab.js';

t.test('names at their addresses, lower-case, aligned, with the command to append them', async (t) => {
  const row = (boxId: number, hostname: string, address: string) =>
    ({ boxId, hostname, address }) as LabBoxStatus;
  t.equal(
    hostsSnippet(
      'demo',
      'lab.test',
      [row(1, 'GigaVUE-1', '127.0.0.101'), row(150, 'edge', '127.0.0.250')],
      'npx gvos-sim lab hosts',
    ),
    [
      '# gvos-sim lab demo; add to /etc/hosts with: npx gvos-sim lab hosts | sudo tee -a /etc/hosts',
      '127.0.0.101  gigavue-1.lab.test',
      '127.0.0.250  edge.lab.test',
    ].join('\n'),
  );
});
