import t from 'tap';
import { ROLES, roleAllows, type Role } from '../device/roles.js';
import { ALL_COMMANDS, COMMAND_TREES } from './commands/index.js';
import { complete, helpEntries, parseCommand, type ParseResult } from './parser.js';
import { buildTrees, expandSyntax, MODES, type CommandSpec, type Mode, type SyntaxElement } from './tree.js';
import { sampleLine } from '../../test/harness/cli-grammar.js';

const UNRECOGNIZED = (w: string) => [`% Unrecognized command "${w}".`, 'Type "?" for help.'];
const DENIED = ['% Permission denied.'];
const SHOW_VERSION = 'show version [box-id <box-id:int:1-65535>]';

function outcome(r: ParseResult): string | string[] {
  if (r.kind === 'command') return r.command.syntax;
  if (r.kind === 'empty') return 'empty';
  return r.lines;
}

t.test('expandSyntax', async (t) => {
  const show = (p: SyntaxElement[][]) =>
    p.map((path) => path.map((e) => (e.kind === 'keyword' ? e.word : `<${e.name}>`)).join(' '));
  const rows: { name: string; syntax: string; paths: string[] }[] = [
    { name: 'keywords', syntax: 'show version', paths: ['show version'] },
    { name: 'optional', syntax: 'reload [box-id <id:int:1-9>]', paths: ['reload', 'reload box-id <id>'] },
    { name: 'alternatives', syntax: 'crypto mode {a|b c}', paths: ['crypto mode a', 'crypto mode b c'] },
    {
      name: 'nested',
      syntax: 'u [auth {x|y} <p> [priv {d|e} <q>]]',
      paths: [
        'u',
        'u auth x <p>',
        'u auth y <p>',
        'u auth x <p> priv d <q>',
        'u auth x <p> priv e <q>',
        'u auth y <p> priv d <q>',
        'u auth y <p> priv e <q>',
      ],
    },
  ];
  for (const r of rows) t.same(show(expandSyntax(r.syntax)).sort(), r.paths.sort(), r.name);
  t.same(
    expandSyntax('a <n:int:2-5>')[0]![1],
    { kind: 'param', name: 'n', type: { kind: 'int', min: 2, max: 5 } },
    'int range',
  );
  t.throws(() => expandSyntax('a [b'), /expected "\]"/, 'unclosed bracket');
  t.throws(() => expandSyntax('a <n:int>'), /needs a range/, 'int without range');
  t.throws(() => expandSyntax('a <n:float>'), /unknown parameter type/, 'unknown type');
});

t.test('buildTrees refuses malformed entries', async (t) => {
  const run = () => undefined;
  const spec = (syntax: string, help: Record<string, string> = {}): CommandSpec => ({
    syntax,
    modes: ['config'],
    role: 'monitor',
    help,
    run,
  });
  const rows: { name: string; specs: CommandSpec[]; error: RegExp }[] = [
    { name: 'missing help', specs: [spec('frob')], error: /no help text for "frob"/ },
    {
      name: 'two entries end at one place',
      specs: [spec('a', { a: 'x' }), spec('a', { a: 'y' })],
      error: /already ends/,
    },
    {
      name: 'two parameters at one place',
      specs: [spec('a <x>', { a: 'h', '<x>': 'h' }), spec('a <y>', { a: 'h', '<y>': 'h' })],
      error: /clashes/,
    },
    {
      name: 'rest not last',
      specs: [spec('a <r:rest> b', { a: 'h', '<r>': 'h', b: 'h' })],
      error: /must come last/,
    },
  ];
  for (const r of rows) t.throws(() => buildTrees(r.specs, {}), r.error, r.name);
  t.ok(COMMAND_TREES.config.children.length > 10, 'the real trees build');
});

t.test('parse: abbreviations, ambiguity and errors', async (t) => {
  const rows: { name: string; mode: Mode; role?: Role; line: string; want: string | string[] }[] = [
    { name: 'full words', mode: 'standard', line: 'show version', want: SHOW_VERSION },
    { name: 'abbreviation sh ver', mode: 'standard', line: 'sh ver', want: SHOW_VERSION },
    { name: 'abbreviation conf t', mode: 'enable', line: 'conf t', want: 'configure terminal' },
    { name: 'case-insensitive', mode: 'standard', line: 'SHOW Version', want: SHOW_VERSION },
    {
      name: 'mixed-case keyword',
      mode: 'standard',
      line: 'show snmp engineid',
      want: 'show snmp engineID [box-id <box-id:int:1-65535>]',
    },
    { name: 'empty line', mode: 'config', line: '   ', want: 'empty' },
    { name: 'unknown word', mode: 'standard', line: 'foo', want: UNRECOGNIZED('foo') },
    { name: 'unknown second word', mode: 'standard', line: 'show foo', want: UNRECOGNIZED('foo') },
    { name: 'extra word', mode: 'standard', line: 'show version now', want: UNRECOGNIZED('now') },
    {
      name: 'ambiguous s in config: the candidates follow',
      mode: 'config',
      line: 's',
      want: [
        '% Ambiguous command "s".',
        '  show                  Display information',
        '  snmp-server           SNMP notifications',
      ],
    },
    {
      name: 'ambiguous show c',
      mode: 'standard',
      line: 'show c',
      want: '~/^% Ambiguous command "c"\\.,  card .*,  chassis .*,  clock .*,  crypto ',
    },
    {
      name: 'exact word beats longer ones (sha)',
      mode: 'config',
      line: 'snmp-server user u v3 auth sha pass1234',
      want: expect('snmp-server user <snmp-user> v3'),
    },
    {
      name: 'ambiguous s (sha, sha256, sha512)',
      mode: 'config',
      line: 'snmp-server user u v3 auth s pass1234',
      want: [
        '% Ambiguous command "s".',
        '  sha                   HMAC-SHA-1',
        '  sha256                HMAC-SHA-256',
        '  sha512                HMAC-SHA-512',
      ],
    },
    {
      name: 'unique prefix sha2',
      mode: 'config',
      line: 'snmp-server user u v3 auth sha2 pass1234',
      want: expect('snmp-server user <snmp-user> v3'),
    },
    { name: 'incomplete show', mode: 'standard', line: 'show', want: ['% Incomplete command.'] },
    {
      name: 'incomplete host',
      mode: 'config',
      line: 'snmp-server host 10.0.0.1',
      want: ['% Incomplete command.'],
    },
    { name: 'incomplete configure', mode: 'enable', line: 'configure', want: ['% Incomplete command.'] },
    {
      name: 'config command unknown in enable mode',
      mode: 'enable',
      line: 'hostname x',
      want: UNRECOGNIZED('hostname'),
    },
    {
      name: 'int out of range',
      mode: 'standard',
      line: 'cli session terminal length 1000',
      want: ['% Invalid lines "1000": give a whole number from 0 to 999.'],
    },
    {
      name: 'int not a number',
      mode: 'standard',
      line: 'show chassis box-id two',
      want: ['% Invalid box-id "two": give a whole number from 1 to 65535.'],
    },
    {
      name: 'PEM must be quoted',
      mode: 'config',
      line: 'crypto certificate name c public-cert pem abc',
      want: ['% Give the pem in double quotes: ... pem "-----BEGIN ...-----" (it may span lines).'],
    },
    {
      name: 'quoted PEM',
      mode: 'config',
      line: 'crypto certificate name c public-cert pem "a\nb"',
      want: 'crypto certificate name <name> public-cert pem <pem:pem>',
    },
    {
      name: 'a quoted token is never a keyword',
      mode: 'standard',
      line: '"show" version',
      want: UNRECOGNIZED('show'),
    },
    {
      name: 'open quote',
      mode: 'config',
      line: 'crypto certificate name c public-cert pem "abc',
      want: ['% Missing closing quote: a quoted value ends at its closing double quote (").'],
    },
    {
      name: 'hidden csr in full',
      mode: 'config',
      line: 'crypto certificate acme issue csr',
      want: expect('crypto certificate acme issue [box-id <box-id:int:1-65535>] csr'),
    },
    {
      name: 'hidden csr swallows the rest',
      mode: 'config',
      line: 'crypto certificate acme issue box-id 2 csr "x" y',
      want: expect('crypto certificate acme issue [box-id <box-id:int:1-65535>] csr'),
    },
    {
      name: 'hidden csr is not a prefix target',
      mode: 'config',
      line: 'crypto certificate acme issue cs',
      want: UNRECOGNIZED('cs'),
    },
    {
      name: 'options in contract order',
      mode: 'config',
      line: 'crypto cert acme issue domain a.b acme-server https://x/d key ec-p renew 30',
      want: expect(
        'crypto certificate acme issue [box-id <box-id:int:1-65535>] domain <domain> acme-server <url> [key-algorithm',
      ),
    },
    {
      name: 'options in the other order',
      mode: 'config',
      line: 'crypto cert acme issue domain a.b acme-server https://x/d renew 30 key rsa-2048',
      want: expect('renew-days <days:int:1-365> key-algorithm'),
    },
    {
      name: 'monitor: configure is denied',
      mode: 'enable',
      role: 'monitor',
      line: 'configure terminal',
      want: DENIED,
    },
    { name: 'monitor: conf t is denied', mode: 'enable', role: 'monitor', line: 'conf t', want: DENIED },
    {
      name: 'monitor: c means cli (configure is not visible)',
      mode: 'enable',
      role: 'monitor',
      line: 'c session paging enable',
      want: 'cli session paging enable',
    },
    {
      name: 'operator: c is ambiguous',
      mode: 'enable',
      role: 'operator',
      line: 'c',
      want: [
        '% Ambiguous command "c".',
        '  cli                   Settings of the CLI',
        '  configure             Enter configuration mode',
      ],
    },
    {
      name: 'operator: username is denied',
      mode: 'config',
      role: 'operator',
      line: 'username x password y',
      want: DENIED,
    },
    {
      name: 'operator: acme issue is denied',
      mode: 'config',
      role: 'operator',
      line: 'crypto certificate acme issue domain a acme-server https://x',
      want: DENIED,
    },
    {
      name: 'operator: write memory',
      mode: 'enable',
      role: 'operator',
      line: 'write memory',
      want: 'write memory',
    },
    {
      name: 'monitor: write memory is denied',
      mode: 'enable',
      role: 'monitor',
      line: 'write memory',
      want: DENIED,
    },
    {
      name: 'monitor: show running-config',
      mode: 'enable',
      role: 'monitor',
      line: 'show running-config',
      want: 'show running-config [full] [box-id <box-id:int:1-65535>]',
    },
    {
      name: 'show running-config is not in standard mode',
      mode: 'standard',
      line: 'show running-config',
      want: UNRECOGNIZED('running-config'),
    },
    {
      name: 'show acme info in standard mode',
      mode: 'standard',
      role: 'monitor',
      line: 'show crypto acme client info box-id 2',
      want: 'show crypto acme client info [box-id <box-id:int:1-65535>]',
    },
    {
      name: 'long unknown word is clipped',
      mode: 'standard',
      line: 'x'.repeat(100),
      want: UNRECOGNIZED('x'.repeat(40) + '...'),
    },
  ];
  for (const r of rows) {
    const got = outcome(parseCommand(r.line, COMMAND_TREES[r.mode], r.role ?? 'admin'));
    if (typeof r.want === 'string' && r.want.startsWith('~/'))
      t.match(String(got), new RegExp(r.want.slice(2)), r.name);
    else if (typeof r.want === 'string' && r.want.startsWith('~')) t.match(got, r.want.slice(1), r.name);
    else t.same(got, r.want, r.name);
  }
});

/** A want that only needs to contain `s` (for long syntaxes). */
function expect(s: string): string {
  return '~' + s;
}

t.test('parse: args', async (t) => {
  const r = parseCommand(
    'snmp-server host 10.0.0.9 port 1162 informs version 2c "pub lic" rate 5',
    COMMAND_TREES.config,
    'admin',
  );
  t.equal(r.kind, 'command');
  if (r.kind !== 'command') return;
  t.equal(r.args.get('host'), '10.0.0.9');
  t.equal(r.args.optInt('port'), 1162);
  t.equal(r.args.get('community'), 'pub lic', 'quoted word parameter');
  t.ok(r.args.has('informs'));
  t.equal(r.args.which(['1', '2c', '3']), '2c');
  t.equal(r.args.optInt('rate'), 5);
  t.throws(() => r.args.get('nope'), /missing/);
});

t.test('roles: every command, every role, every mode it exists in', async (t) => {
  let checked = 0;
  for (const spec of ALL_COMMANDS) {
    const line = sampleLine(spec);
    for (const mode of MODES) {
      for (const role of ROLES) {
        const got = outcome(parseCommand(line, COMMAND_TREES[mode], role));
        if (!spec.modes.includes(mode)) {
          t.not(got, spec.syntax, `${line} is not a command in ${mode} mode`);
          continue;
        }
        checked++;
        if (roleAllows(role, spec.role))
          t.equal(got, spec.syntax, `${role} may run "${line}" in ${mode} mode`);
        else t.same(got, DENIED, `${role} is refused "${line}" in ${mode} mode`);
      }
    }
  }
  t.ok(checked > 150, `checked ${checked} combinations`);
});

t.test('? help', async (t) => {
  const labels = (line: string, mode: Mode, role: Role = 'admin') => {
    const r = helpEntries(line, COMMAND_TREES[mode], role);
    return 'error' in r ? r.error : r.entries.map((e) => e.label);
  };
  /** What `show ?` offers in standard mode (and `sh ?`, the same). */
  const STANDARD_SHOWS = [
    'version',
    'card',
    'chassis',
    'clock',
    'configuration',
    'history',
    'images',
    'crypto',
    'web',
    'snmp',
  ];
  const rows: { name: string; line: string; mode: Mode; role?: Role; want: string[]; has?: boolean }[] = [
    {
      name: 'show ? in standard mode',
      line: 'show ',
      mode: 'standard',
      want: STANDARD_SHOWS,
    },
    {
      name: 'sh ? works like show ?',
      line: 'sh ',
      mode: 'standard',
      want: STANDARD_SHOWS,
    },
    {
      name: 'show ? in enable mode has running-config',
      line: 'show ',
      mode: 'enable',
      want: ['running-config'],
      has: true,
    },
    { name: 'partial word', line: 'sh', mode: 'standard', want: ['show'] },
    {
      name: 'partial second word',
      line: 'show c',
      mode: 'standard',
      want: ['card', 'chassis', 'clock', 'configuration', 'crypto'],
    },
    { name: 'end of a command', line: 'show history ', mode: 'standard', want: ['<cr>'] },
    { name: 'optional box-id', line: 'show chassis ', mode: 'standard', want: ['box-id', '<cr>'] },
    { name: 'parameter', line: 'show chassis box-id ', mode: 'standard', want: ['<box-id>'] },
    {
      name: 'PEM parameter',
      line: 'crypto certificate name c public-cert pem ',
      mode: 'config',
      want: ['<pem>'],
    },
    {
      name: 'host options',
      line: 'snmp-server host 10.0.0.1 ',
      mode: 'config',
      want: ['port', 'traps', 'informs'],
    },
    {
      name: 'csr is hidden',
      line: 'crypto certificate acme issue ',
      mode: 'config',
      want: ['box-id', 'domain'],
    },
    {
      name: 'monitor sees no configure or write',
      line: '',
      mode: 'enable',
      role: 'monitor',
      want: ['disable', 'exit', 'cli', 'no', 'show', 'terminal', 'quit', 'logout'],
    },
    {
      name: 'operator sees configure and write',
      line: '',
      mode: 'enable',
      role: 'operator',
      want: [
        'disable',
        'configure',
        'exit',
        'cli',
        'no',
        'write',
        'reload',
        'show',
        'terminal',
        'quit',
        'logout',
      ],
    },
    { name: 'unknown word', line: 'foo ', mode: 'standard', want: UNRECOGNIZED('foo') },
    { name: 'unknown partial', line: 'zz', mode: 'standard', want: UNRECOGNIZED('zz') },
  ];
  for (const r of rows) {
    const got = labels(r.line, r.mode, r.role);
    if (r.has) for (const w of r.want) t.ok(got.includes(w), `${r.name}: has ${w}`);
    else t.same([...got].sort(), [...r.want].sort(), r.name);
  }
  const e = helpEntries('show ', COMMAND_TREES.standard, 'admin');
  t.ok('entries' in e && e.entries.every((x) => x.help.length > 0), 'every entry has a help text');
});

t.test('Tab completion', async (t) => {
  const rows: { name: string; line: string; mode: Mode; role?: Role; append: string; choices?: string[] }[] =
    [
      { name: 'unique word', line: 'sh', mode: 'standard', append: 'ow ' },
      { name: 'second word', line: 'show ver', mode: 'standard', append: 'sion ' },
      { name: 'keeps the spelling', line: 'show snmp eng', mode: 'standard', append: 'ineID ' },
      { name: 'common prefix', line: 'snmp-server user u v3 auth s', mode: 'config', append: 'ha' },
      {
        name: 'choices',
        line: 'show c',
        mode: 'standard',
        append: '',
        choices: ['card', 'chassis', 'clock', 'configuration', 'crypto'],
      },
      {
        name: 'next word list',
        line: 'show crypto ',
        mode: 'standard',
        append: '',
        choices: ['certificate', 'acme'],
      },
      { name: 'single next word', line: 'configure ', mode: 'enable', append: 'terminal ' },
      { name: 'a parameter is not completed', line: 'hostname ', mode: 'config', append: '' },
      {
        name: 'hidden words are not completed',
        line: 'crypto certificate acme issue c',
        mode: 'config',
        append: '',
      },
      { name: 'nothing after an error', line: 'foo ba', mode: 'config', append: '' },
      { name: 'monitor: c completes to cli', line: 'c', mode: 'enable', role: 'monitor', append: 'li ' },
    ];
  for (const r of rows) {
    const c = complete(r.line, COMMAND_TREES[r.mode], r.role ?? 'admin');
    t.equal(c.append, r.append, `${r.name}: append`);
    t.same([...c.choices].sort(), [...(r.choices ?? [])].sort(), `${r.name}: choices`);
  }
});
