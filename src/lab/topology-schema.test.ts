/**
 * The editors' JSON Schema (topology.schema.json) is generated from the
 * TypeBox schema: the committed file must be exactly what
 * topologyJsonSchemaText() gives (else: `npm run schemas`), and it must
 * accept the example topologies that parseTopology() accepts.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { fieldPaths, topologyJsonSchema, topologyJsonSchemaText } from './topology-schema.js';
import { TOPOLOGY_FIELDS } from './topology.js';
import { repoPath } from '../lib/repo-root.js';
import { MAX_LAB_BOXES } from '../device/limits.js';

t.test('the committed topology.schema.json is the generated one', async (t) => {
  const committed = readFileSync(repoPath('src', 'lab', 'topology.schema.json'), 'utf8');
  t.equal(committed, topologyJsonSchemaText(), 'src/lab/topology.schema.json differs: run `npm run schemas`');
});

t.test('the validator accepts exactly the fields of the schema', async (t) => {
  t.same([...TOPOLOGY_FIELDS], fieldPaths());
  t.ok(TOPOLOGY_FIELDS.includes('boxes.list[].ports.snmp'));
});

t.test('the schema is valid JSON Schema 2020-12 and accepts the example topologies', async (t) => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(topologyJsonSchema());
  // docker/topologies/*.yaml are templates (variables filled in by docker/render-topology.mjs), not topologies.
  const examples = repoPath('examples');
  const files = readdirSync(examples)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `examples/${f}`);
  t.ok(files.length >= 1, files.join(', '));
  for (const f of files) {
    const ok = validate(parse(readFileSync(repoPath(f), 'utf8')));
    t.same(validate.errors ?? [], [], f);
    t.ok(ok, f);
  }
  t.notOk(validate({ boxes: MAX_LAB_BOXES + 1 }), 'more boxes than a lab may have');
  t.notOk(validate({ network: { 'port-base': { ssh: 65000 } } }), 'a port base with no room for the boxes');
});
