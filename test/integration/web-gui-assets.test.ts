/**
 * The GUI's files as the box serves them: the page, its script and style
 * from the box itself under a Content-Security-Policy that allows no inline
 * script or style and nothing from elsewhere; the markup has nothing inline
 * that the policy would block; and the hand-written script type-checks
 * (strict, against the DOM library) like the project's TypeScript.
 */
import t from 'tap';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { CONTENT_SECURITY_POLICY } from '../../src/web/app.js';
import { escapeHtml, guiAssetDir } from '../../src/web/gui/gui-router.js';
import { WebServer } from '../../src/web/server.js';
import { dashboardDir } from '../../src/lab/dashboard/files.js';
import { makeTestBox } from '../harness/boxes.js';

const dir = guiAssetDir();

t.test('the box serves the page and its files with a strict CSP, over verified TLS', async (t) => {
  const { box } = await makeTestBox({ clock: new SystemClock(), hostname: 'hc2-lab', boxId: 3 });
  const web = new WebServer({ box, address: '127.0.0.1', httpsPort: 0, httpPort: 0, logger: silentLogger });
  const { https } = await web.listen();
  t.teardown(() => web.close());
  const get = (path: string) =>
    new Promise<{ status: number; type: string; csp: string; body: string }>((resolve, reject) => {
      request(
        { host: '127.0.0.1', port: https, path, ca: box.webCredentials().certPem, agent: false },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              type: String(res.headers['content-type']),
              csp: String(res.headers['content-security-policy']),
              body,
            }),
          );
        },
      )
        .once('error', reject)
        .end();
    });

  const page = await get('/');
  t.equal(page.status, 200);
  t.match(page.type, /^text\/html/);
  t.equal(page.csp, CONTENT_SECURITY_POLICY);
  t.notMatch(page.csp, /unsafe-inline|unsafe-eval|\*/, 'no inline, no eval, no wildcard');
  t.match(page.csp, /script-src 'self'/);
  t.match(page.body, '<title>hc2-lab - GigaVUE-OS</title>');
  t.match(page.body, '<span id="box-id">3</span>');
  t.notMatch(page.body, /\{\{/, 'every placeholder filled');

  for (const [path, type] of [
    ['/gui/app.js', /^text\/javascript/],
    ['/gui/style.css', /^text\/css/],
    ['/gui/favicon.svg', /^image\/svg\+xml/],
  ] as const) {
    const r = await get(path);
    t.equal(r.status, 200, path);
    t.match(r.type, type, path);
    t.equal(r.csp, CONTENT_SECURITY_POLICY, `${path}: CSP`);
  }
  t.equal((await get('/gui/../app.ts')).status, 404);
  t.equal((await get('/gui/nope.js')).status, 404);
  t.equal((await get('/api/v1/acme')).csp, CONTENT_SECURITY_POLICY, 'API answers carry it too');
});

t.test('the markup has nothing the policy would block', async (t) => {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  t.ok(scripts.length >= 1);
  for (const [, attrs, content] of scripts) {
    t.match(attrs!, /\bsrc="\/gui\//, 'scripts come from the box');
    t.equal(content!.trim(), '', 'no inline script');
  }
  t.notMatch(html, /\sstyle\s*=/i, 'no style attributes');
  t.notMatch(html, /<style\b/i, 'no style elements');
  t.notMatch(html, /\son[a-z]+\s*=/i, 'no inline event handlers');
  t.notMatch(html, /(src|href)="(https?:)?\/\//i, 'nothing from elsewhere');
  const js = readFileSync(join(dir, 'app.js'), 'utf8');
  t.notMatch(
    js,
    /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/,
    'the script writes text, never markup',
  );
  t.notMatch(
    readFileSync(join(dir, 'style.css'), 'utf8'),
    /url\(\s*['"]?(https?:)?\/\//,
    'the style loads nothing from elsewhere',
  );
});

for (const [name, file] of [
  ['app.js', join(dir, 'app.js')],
  ['the lab dashboard.js', join(dashboardDir(), 'dashboard.js')],
] as const) {
  t.test(`${name} type-checks (strict, DOM library)`, async (t) => {
    const program = ts.createProgram([file], {
      allowJs: true,
      checkJs: true,
      noEmit: true,
      strict: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ES2022,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      types: [],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where =
        d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      return `${where ? `${name}:${where.line + 1}:${where.character + 1} ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    t.same(diagnostics, []);
  });
}

t.test(
  'the lab dashboard: nothing inline, nothing from elsewhere, text never parsed as markup',
  async (t) => {
    const html = readFileSync(join(dashboardDir(), 'index.html'), 'utf8');
    for (const [, attrs, content] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
      t.match(attrs!, /\bsrc="\/dashboard\//, 'scripts come from the control plane');
      t.equal(content!.trim(), '', 'no inline script');
    }
    t.notMatch(html, /\sstyle\s*=|<style\b|\son[a-z]+\s*=/i, 'no inline style or handlers');
    t.notMatch(html, /(src|href)="(https?:)?\/\//i, 'nothing from elsewhere');
    const js = readFileSync(join(dashboardDir(), 'dashboard.js'), 'utf8');
    t.notMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, 'text only');
    // No polling loop: a timer may redraw the page (relative times), never ask the lab for anything.
    const timers = [...js.matchAll(/setInterval\(\(\) => \{([\s\S]*?)\n\}, [\d_]+\);/g)];
    t.equal(
      timers.length,
      js.match(/setInterval\(/g)?.length ?? 0,
      'every interval timer is one this test reads',
    );
    for (const [, body] of timers)
      t.notMatch(
        body!,
        /\bapi\(|fetch\(|EventSource|XMLHttpRequest/,
        'an interval timer asks the lab nothing',
      );
  },
);

t.test('escapeHtml', async (t) => {
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});
