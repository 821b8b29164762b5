// Fill a topology template from the environment, so one compose file serves
// every machine: ${NAME} is replaced by the variable's value, ${NAME:-text}
// by the value or `text` when unset or empty, ${NAME:?text} by the value or
// an error naming NAME and `text`. Nothing else in the file changes.
//   node docker/render-topology.mjs <template> <output>
// Exit 2 with one line per missing variable; the output is written 0600.
import { readFileSync, writeFileSync } from 'node:fs';

const [template, output] = process.argv.slice(2);
if (!template || !output) {
  console.error('usage: node render-topology.mjs <template> <output>');
  process.exit(2);
}
const missing = [];
const text = readFileSync(template, 'utf8').replace(
  /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g,
  (_, name, op, arg) => {
    const value = process.env[name];
    if (value !== undefined && value !== '') return value;
    if (op === '-') return arg;
    missing.push(`${name}${op === '?' && arg ? `: ${arg}` : ' is not set'}`);
    return '';
  },
);
if (missing.length > 0) {
  for (const m of missing) console.error(`topology ${template}: ${m}`);
  process.exit(2);
}
writeFileSync(output, text, { mode: 0o600 });
console.log(`topology: ${output} (from ${template})`);
