/**
 * session.ts reaches into acme-client's private internals (client.http,
 * client.api and the HttpClient's request/getNonce/signedRequest/
 * getResourceUrl, maxBadNonceRetries, accountKey, directoryCache and
 * directoryTimestamp). package.json pins acme-client to exactly 5.4.0; this
 * test fails when an upgrade changes the shape or the behaviour session.ts
 * relies on: that an instance override of request()/getNonce() is what the
 * prototype's signedRequest() calls, that a badNonce answer is retried with
 * that answer's nonce up to maxBadNonceRetries, that a KeyObject works as the
 * account key, that a filled directory cache is used without a request, and
 * that api.createAccount goes through the instance's signedRequest and takes
 * the account URL from Location. No network.
 */
import t from 'tap';
import { createPrivateKey, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as acme from 'acme-client';
import { generateKeyPair } from '../pki/keys.js';
import { repoPath } from '../lib/repo-root.js';

type Raw = { status: number; headers: Record<string, string>; data: unknown };
interface Internals {
  request(
    url: string,
    method: string,
    opts?: { data?: unknown; headers?: Record<string, string> },
  ): Promise<Raw>;
  getNonce(): Promise<string>;
  getResourceUrl(resource: string): Promise<string>;
  signedRequest(
    url: string,
    payload: unknown,
    opts?: { kid?: string | null; nonce?: string | null },
    attempts?: number,
  ): Promise<Raw>;
  getDirectory(): Promise<Record<string, unknown>>;
  maxBadNonceRetries: number;
  accountKey: Buffer | KeyObject;
  directoryCache: unknown;
  directoryTimestamp: number;
}

const require = createRequire(import.meta.url);
const pkgFile = require.resolve('acme-client/package.json');
const key = await generateKeyPair('prime256v1');

function internals(): {
  client: acme.Client;
  http: Internals;
  api: { createAccount(d: object): Promise<Raw> };
} {
  const client = new acme.Client({ directoryUrl: 'https://127.0.0.1:1/dir', accountKey: key.privateKeyPem });
  const c = client as unknown as { http: Internals; api: { createAccount(d: object): Promise<Raw> } };
  return { client, http: c.http, api: c.api };
}

const b64json = (s: string) =>
  JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;

t.test('the installed acme-client is the pinned 5.4.0', async (t) => {
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string };
  t.equal(pkg.version, '5.4.0');
  const own = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  t.equal(own.dependencies['acme-client'], '5.4.0', 'package.json pins the exact version (no range)');
});

t.test('the private members session.ts uses exist with their types', async (t) => {
  const { client, http, api } = internals();
  t.type(http, 'object', 'client.http');
  for (const m of ['request', 'getNonce', 'getResourceUrl', 'signedRequest', 'getDirectory'] as const)
    t.type((http as unknown as Record<string, unknown>)[m], 'function', `http.${m}()`);
  t.type(Object.getPrototypeOf(http).signedRequest, 'function', 'signedRequest lives on the prototype');
  t.type(http.maxBadNonceRetries, 'number', 'http.maxBadNonceRetries');
  t.ok('accountKey' in http, 'http.accountKey');
  t.equal(http.directoryCache, null, 'http.directoryCache starts empty');
  t.type(http.directoryTimestamp, 'number', 'http.directoryTimestamp');
  t.type(api, 'object', 'client.api');
  t.type((api as unknown as Record<string, unknown>).createAccount, 'function', 'api.createAccount()');
  for (const m of [
    'getAccountUrl',
    'createOrder',
    'getAuthorizations',
    'finalizeOrder',
    'waitForValidStatus',
    'getCertificate',
    'getChallengeKeyAuthorization',
    'completeChallenge',
    'revokeCertificate',
  ] as const)
    t.type((client as unknown as Record<string, unknown>)[m], 'function', `client.${m}()`);
});

t.test(
  'instance overrides are what signedRequest calls; badNonce retried with the answer nonce; KeyObject key',
  async (t) => {
    const { http } = internals();
    http.accountKey = createPrivateKey(key.privateKeyPem);
    http.maxBadNonceRetries = 1;
    http.directoryCache = { newNonce: 'https://ca.test/nonce', newAccount: 'https://ca.test/acct' };
    http.directoryTimestamp = Math.floor(Date.now() / 1000);
    t.equal(await http.getResourceUrl('newAccount'), 'https://ca.test/acct', 'the filled cache answers');
    const sent: {
      method: string;
      nonce: unknown;
      jws: { protected: string; payload: string; signature: string };
    }[] = [];
    let nonces = 0;
    http.getNonce = async () => `fresh-${++nonces}`;
    http.request = async (url, method, opts = {}) => {
      const jws = opts.data as { protected: string; payload: string; signature: string };
      sent.push({ method, nonce: b64json(jws.protected).nonce, jws });
      t.equal(url, 'https://ca.test/acct');
      // Every answer is badNonce: the retries stop at maxBadNonceRetries.
      return {
        status: 400,
        headers: { 'replay-nonce': `from-answer-${sent.length}` },
        data: { type: 'urn:ietf:params:acme:error:badNonce' },
      };
    };
    const resp = await Object.getPrototypeOf(http).signedRequest.call(
      http,
      'https://ca.test/acct',
      { a: 1 },
      {},
    );
    t.equal((resp as Raw).status, 400, 'the last answer is returned');
    t.same(
      sent.map((s) => [s.method, s.nonce]),
      [
        ['post', 'fresh-1'],
        ['post', 'from-answer-1'],
      ],
      'our getNonce first, then the nonce of the badNonce answer, one retry as set',
    );
    const first = sent[0]!.jws;
    const header = b64json(first.protected);
    t.equal(header.alg, 'ES256');
    t.ok(
      verify(
        'sha256',
        Buffer.from(`${first.protected}.${first.payload}`),
        { key: createPublicKey(key.privateKeyPem), dsaEncoding: 'ieee-p1363' },
        Buffer.from(first.signature, 'base64url'),
      ),
      'signed with the KeyObject given as accountKey',
    );
  },
);

t.test(
  'api.createAccount goes through the instance signedRequest and takes Location as the account URL',
  async (t) => {
    const { client, http, api } = internals();
    http.directoryCache = { newNonce: 'https://ca.test/nonce', newAccount: 'https://ca.test/acct' };
    http.directoryTimestamp = Math.floor(Date.now() / 1000);
    const calls: unknown[] = [];
    http.signedRequest = async (url, payload) => {
      calls.push([url, payload]);
      return { status: 201, headers: { location: 'https://ca.test/acct/7' }, data: {} };
    };
    await api.createAccount({ termsOfServiceAgreed: true });
    t.same(calls, [['https://ca.test/acct', { termsOfServiceAgreed: true }]]);
    t.equal(client.getAccountUrl(), 'https://ca.test/acct/7');
  },
);
