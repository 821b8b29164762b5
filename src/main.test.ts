import t from 'tap';

// Importing the entry module must run nothing: no help printed, no exit, no listener.
const printed: unknown[] = [];
const log = console.log;
const error = console.error;
console.log = (...a: unknown[]) => void printed.push(a);
console.error = (...a: unknown[]) => void printed.push(a);
const { failure, parseBoxArgs, UsageError } = await import('./main.js').finally(() => {
  console.log = log;
  console.error = error;
});

t.same(printed, [], 'importing main.ts prints nothing (it does not run)');

const usage = (argv: string[]) => {
  try {
    parseBoxArgs(argv, {});
  } catch (err) {
    return failure(err);
  }
  return undefined;
};

t.test('--box-id takes the whole range 1-65535 the README names', async (t) => {
  for (const id of ['1', '150', '4097', '65535']) {
    const o = parseBoxArgs(['--box-id', id], {});
    t.equal(o !== 'help' && o.boxId, Number(id), `--box-id ${id}`);
    t.equal(o !== 'help' && o.hostname, `gigavue-${id}`, 'and the default hostname follows it');
  }
});

t.test('bad options: one line, exit code 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--box-id', '0'], /--box-id must be a number from 1 to 65535, got "0"/],
    [['--box-id', '65536'], /--box-id must be a number from 1 to 65535, got "65536"/],
    [['--box-id', '1e3'], /--box-id must be a number/],
    [['--ssh-port', '70000'], /--ssh-port must be a port number 0-65535/],
    [['--address', 'nowhere'], /--address must be an IPv4 or IPv6 address/],
    [['--crypto-mode', 'weak'], /--crypto-mode must be one of classic, secure-crypto, fips/],
    [['--hostname=-bad'], /--hostname must be 1-63 letters/],
    [['--admin-password', ''], /--admin-password may not be empty/],
    [['--no-such-option'], /Unknown option '--no-such-option'/],
  ];
  for (const [argv, msg] of cases) {
    const f = usage(argv);
    t.equal(f?.code, 2, `${argv.join(' ')}: exit 2`);
    t.match(f?.line, msg);
    t.match(f?.line, /^gvos-sim: [^\n]+$/, 'one line');
  }
});

t.test('help, defaults, and a failure that is not usage exits 1', async (t) => {
  t.equal(parseBoxArgs(['--help'], {}), 'help');
  const o = parseBoxArgs([], { GVOS_ADMIN_PASSWORD: 'x' });
  t.match(o, { boxId: 1, address: '127.0.0.1', ports: { ssh: 22, cli: 23, https: 443, http: 80 } });
  t.equal(o !== 'help' && o.adminPassword, 'x', 'the password from the environment');
  t.same(failure(new Error('cannot listen\nsecond line')), { code: 1, line: 'gvos-sim: cannot listen' });
  t.equal(failure(new UsageError('x')).code, 2);
});
