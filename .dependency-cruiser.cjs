// Import rules of the architecture (README "Architecture"), checked in CI by
// `npm run deps` (dependency-cruiser). A wrong import fails `npm test`.
//
// Layers:
//   core       src/device/ (domain), src/lib/ and src/pki/ (leaf libraries)
//   features   src/acme, src/snmp, src/web, src/cli, src/firmware, src/store
//   composition src/main.ts, src/host/, src/lab/ (they wire features together)
//   harnesses  test/, bench/ and *.test.ts files (may import anything)
//
// Test files beside the code (src/**/*.test.ts) are exempt from the layer
// rules but are the unit tier (`npm run test:unit`): they may not import the
// harnesses that start a real peer (see the last rule).

/** A source module, not a test beside it and not the contract suite tests share. */
const SOURCE = '\\.test\\.ts$|\\.contract\\.ts$';
const FEATURES = ['acme', 'snmp', 'web', 'cli', 'firmware', 'store'];

/**
 * The modules that hold concrete implementations of the device's ports or
 * of a transport. Only the composition layer and the harnesses construct
 * them; everything else depends on the interfaces (device/ports.ts,
 * store/store.ts, ...).
 */
const CONCRETE = [
  '^src/store/lowdb-store\\.ts$',
  '^src/store/memory-store\\.ts$',
  '^src/store/config-file-url\\.ts$',
  '^src/snmp/net-snmp-sender\\.ts$',
  '^src/snmp/notifier\\.ts$',
  '^src/acme/agent\\.ts$',
  '^src/firmware/catalog\\.ts$',
  '^src/web/server\\.ts$',
  '^src/cli/transports/(ssh|tcp)\\.ts$',
];

/**
 * Temporary exceptions, each with its reason and who removes it. Empty is the
 * goal; an entry here is a known debt, not a rule. `rule` names the rule below,
 * `from` and `to` are path regexes of the one import it lets through.
 */
const TEMPORARY_EXCEPTIONS = [];

const asList = (x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/**
 * A rule with its temporary exceptions carved out: the rule itself no longer
 * looks at an excepted `from`, and a copy of it looks at that `from` with the
 * excepted `to` left out (so every other import of that module is still checked).
 */
function withExceptions(rule) {
  const ex = TEMPORARY_EXCEPTIONS.filter((e) => e.rule === rule.name);
  if (ex.length === 0) return [rule];
  return [
    { ...rule, from: { ...rule.from, pathNot: [...asList(rule.from.pathNot), ...ex.map((e) => e.from)] } },
    ...ex.map((e) => ({
      ...rule,
      comment: `${rule.comment} (temporary exception: ${e.reason})`,
      from: { ...rule.from, path: e.from },
      to: { ...rule.to, pathNot: [...asList(rule.to.pathNot), e.to] },
    })),
  ];
}

module.exports = {
  forbidden: [
    {
      name: 'device-imports-only-lib-and-pki',
      comment:
        'The domain core knows no transport and no feature: src/device/ imports only src/lib/, src/pki/ and itself. ' +
        'What it needs from outside it declares as a port in device/ports.ts.',
      severity: 'error',
      from: { path: '^src/device/', pathNot: SOURCE },
      to: {
        path: '^src/',
        pathNot: ['^src/(device|lib|pki)/'],
      },
    },
    {
      name: 'edges-hold-a-box-not-its-core',
      comment:
        "The Box is the device's one command layer: outside src/device/, nothing imports the shared state " +
        '(box-core.ts) or a concern module (box-*.ts); they are reached through the Box, which keeps the core private.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/device/', SOURCE] },
      to: { path: '^src/device/box-[a-z]+\\.ts$' },
    },
    {
      name: 'only-host-and-acme-hold-the-agent-port',
      comment:
        'What only the ACME agent may do is on the AcmeAgentPort (device/acme-agent-port.ts): the host makes it ' +
        '(Box.create) and hands it to the agent; the CLI, the REST API, SNMP and the lab never name it.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(device|host|acme)/', SOURCE] },
      to: { path: '^src/device/acme-agent-port\\.ts$' },
    },
    {
      name: 'lib-and-pki-import-no-feature',
      comment:
        'src/lib/ and src/pki/ are leaf libraries with no domain knowledge: they import only each other ' +
        '(pki may use lib), never device/, a feature or the composition layer.',
      severity: 'error',
      from: { path: '^src/(lib|pki)/', pathNot: SOURCE },
      to: { path: '^src/', pathNot: ['^src/(lib|pki)/'] },
    },
    {
      name: 'lib-imports-only-lib',
      comment: 'src/lib/ is the lowest layer: it imports nothing of the project outside itself.',
      severity: 'error',
      from: { path: '^src/lib/', pathNot: SOURCE },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    ...FEATURES.map((f) => ({
      name: `feature-${f}-imports-no-other-feature`,
      comment:
        `Features never import each other: src/${f}/ talks to the others only through device events and ports; ` +
        'the composition layer (main.ts, host/, lab/) wires them together.',
      severity: 'error',
      from: { path: `^src/${f}/`, pathNot: SOURCE },
      to: {
        path: `^src/(${FEATURES.filter((o) => o !== f).join('|')})/`,
      },
    })),
    {
      name: 'nothing-imports-the-composition-layer',
      comment:
        'main.ts, host/ and lab/ are the composition root: the core and the features never import them ' +
        '(lab/ may use host/, main.ts may use both).',
      severity: 'error',
      from: { path: '^src/(device|lib|pki|acme|snmp|web|cli|firmware|store)/', pathNot: SOURCE },
      to: { path: '^src/(host/|lab/|main\\.ts$)' },
    },
    {
      name: 'only-composition-constructs-concrete-classes',
      comment:
        'The concrete implementation modules (store, SNMP sender and notifier, ACME agent, firmware catalog, ' +
        'servers, CLI transports) are imported only by main.ts, host/, lab/, test/, bench/ and tests; ' +
        'everything else depends on the interfaces.',
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: ['^src/(main\\.ts$|host/|lab/)', SOURCE],
      },
      to: { path: CONCRETE },
    },
    {
      name: 'src-imports-no-harness',
      comment: 'Shipped code never imports test/ or bench/ (they are not built into the package).',
      severity: 'error',
      from: { path: '^src/', pathNot: SOURCE },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'unit-tier-starts-no-peer',
      comment:
        'src/**/*.test.ts is the unit tier (`npm run test:unit`): it needs no real peer, so it does not import ' +
        'the harnesses that start Pebble, snmptrapd, a box process or Chromium. Such tests live in test/.',
      severity: 'error',
      from: { path: '^src/.+\\.test\\.ts$' },
      to: { path: ['^test/harness/(pebble|snmptrapd|box-process)\\.ts$', 'playwright-core', '^test/e2e/'] },
    },
    {
      name: 'no-circular',
      comment:
        'A cycle makes module order matter at start-up; break it with a port or an event. ' +
        'Type-only imports vanish when compiled, so a cycle through them is allowed.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ].flatMap(withExceptions),
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|\\.tap|test-artifacts)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
