// @ts-check
/* global document, sessionStorage, fetch, setTimeout, clearTimeout, AbortController, TextDecoder, HTMLElement, HTMLFormElement, HTMLInputElement, HTMLSelectElement, HTMLButtonElement */
/**
 * The box's web GUI: login, and the ACME certificate page (what
 * "show crypto acme client info" shows, the web certificate, and forms for
 * issue, renew, revoke and clear). It only talks to the REST API under
 * /api/v1 with a session token; every check is the box's own, and its
 * problem+json `detail` is shown to the user as is, so the page says exactly
 * what the CLI would say after "% ".
 *
 * No framework and no build step: the Content-Security-Policy allows only
 * scripts and styles from the box, and everything is written with
 * textContent, so nothing the box returns is ever parsed as markup.
 */

const API = '/api/v1';
const TOKEN_KEY = 'gvos-sim.token';
/** How long to wait before opening the status stream again after it ended. */
const RECONNECT_MS = 1000;

/**
 * @typedef {{ domain: string, acmeCaUrl: string, algorithm: string, certName: string, firstIssued: string|null,
 *   nextRenew: string|null, expiry: string|null, renewDays: number|null, lastSuccessRenew: string|null,
 *   lastFailedRenew: string|null, status: string }} IssuedCert
 * @typedef {{ domainName: string, acmeCaUrl: string, type: string, status: string, startedAt: string|null,
 *   finishedAt: string|null }} AcmeRequest
 * @typedef {{ boxId: number, clusterName: string, issuedCert: IssuedCert|null, lastAcmeRequest: AcmeRequest|null }} AcmeStatus
 * @typedef {{ certName: string, acmeManaged: boolean, certificate: { subject: string, issuer: string, serial: string,
 *   notAfter: string|null, subjectAltNames: string[] } }} WebCertificate
 * @typedef {{ detail?: string, code?: string, errors?: { path: string, message: string }[] }} Problem
 */

/** An answer of the API that is not 2xx, with the box's own words. */
class ApiError extends Error {
  /** @param {number} status @param {Problem} problem */
  constructor(status, problem) {
    super(problem.detail || `The box answered ${status}.`);
    this.status = status;
    this.code = problem.code || '';
  }
}

/**
 * running: an operation is In Progress on the box; watching: the Type of Request this page started and
 * waits to report the outcome of.
 * stream: the open status stream (GET /acme/events), aborted on logout; reconnect: its pending reopening.
 * @type {{ token: string|null, role: string, user: string, stream: AbortController|undefined,
 *   reconnect: ReturnType<typeof setTimeout>|undefined, running: boolean, watching: string|null }}
 */
const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  role: '',
  user: '',
  stream: undefined,
  reconnect: undefined,
  running: false,
  watching: null,
};

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function el(id, type) {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`page element #${id} is missing`);
  return e;
}
/** @param {string} id */
const any = (id) => el(id, HTMLElement);

/**
 * Call the API. Resolves the parsed JSON (undefined for 204); rejects with
 * ApiError carrying the problem's detail. A 401 on any call but login ends
 * the session and shows the login form with the reason.
 * @param {string} method @param {string} path @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, {
      detail: `Cannot reach the box (${e instanceof Error ? e.message : String(e)}); check the connection and retry.`,
    });
  }
  const text = await res.text();
  /** @type {any} */
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (res.ok) return data;
  const err = new ApiError(res.status, data && typeof data === 'object' ? data : {});
  if (res.status === 401 && path !== '/login') showLogin(err.message);
  throw err;
}

// ------------------------------------------------------------------ formatting

/** Local time as the CLI prints it: YYYY/MM/DD HH:MM:SS; n/a when absent. @param {string|null|undefined} iso */
function cliDate(iso) {
  if (!iso) return 'n/a';
  const d = new Date(iso);
  const p = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Fill a <dl> with label/value rows, as text.
 * @param {HTMLElement} dl @param {[string, string, string?][]} rows label, value, optional class of the value
 */
function fillList(dl, rows) {
  dl.replaceChildren(
    ...rows.flatMap(([label, value, cls]) => {
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      dd.textContent = value;
      // The label names the value for tests and assistive tools alike.
      dd.dataset.field = label;
      if (cls) dd.className = cls;
      return [dt, dd];
    }),
  );
}

/** A CSS class for a Request-Status. @param {string} status */
function statusClass(status) {
  if (status === 'Success') return 'st-success';
  if (status === 'In Progress') return 'st-progress';
  if (status.startsWith('Failed')) return 'st-failed';
  return '';
}

/** "Issuance in progress..." as the CLI says it. @param {string} type */
function progressText(type) {
  const noun =
    {
      Issue: 'Issuance',
      Renew: 'Renewal',
      'Auto-Renew': 'Automatic renewal',
      Revoke: 'Revocation',
      Clear: 'Clear',
    }[type] || type;
  return `${noun} in progress...`;
}

// ------------------------------------------------------------------ messages

/** @param {string} text */
function showError(text) {
  const e = any('op-error');
  e.textContent = text;
  e.hidden = false;
  any('op-ok').hidden = true;
}
/** @param {string} text */
function showOk(text) {
  const e = any('op-ok');
  e.textContent = text;
  e.hidden = false;
  any('op-error').hidden = true;
}
function clearMessages() {
  any('op-error').hidden = true;
  any('op-ok').hidden = true;
}

// ------------------------------------------------------------------ views

/** Show the login form, with a reason when a session ended. @param {string} [reason] */
function showLogin(reason) {
  stopWatching();
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  any('cert-view').hidden = true;
  any('user-info').hidden = true;
  any('login-view').hidden = false;
  const e = any('login-error');
  e.textContent = reason || '';
  e.hidden = !reason;
  el('login-password', HTMLInputElement).value = '';
  el('login-user', HTMLInputElement).focus();
}

/** After login: who we are, what the mode allows, then the status. */
async function showCertificates() {
  const session = await api('GET', '/session');
  state.user = session.user;
  state.role = session.role;
  any('user-name').textContent = session.user;
  any('user-role').textContent = session.role;
  any('user-info').hidden = false;

  const mode = await api('GET', '/system/crypto-mode');
  const select = el('issue-algorithm', HTMLSelectElement);
  select.replaceChildren(
    ...mode.algorithms.map((/** @type {string} */ a, /** @type {number} */ i) => {
      const o = document.createElement('option');
      o.value = a;
      o.textContent = i === 0 ? `${a} (default)` : a;
      return o;
    }),
  );
  const note = any('role-note');
  // Seed: only admin users may issue, renew, revoke and delete certificates; the box refuses the others anyway.
  note.textContent =
    state.role === 'admin'
      ? ''
      : `Issue, renew, revoke and clear need the admin role; you are logged in as ${state.role}.`;
  note.hidden = state.role === 'admin';
  await refresh();
  // Shown once filled, so the page never flashes empty values.
  any('login-view').hidden = true;
  any('cert-view').hidden = false;
  watchStatus();
}

/**
 * Follow the box's status stream (server-sent events over fetch, since the
 * session token travels in a header): each `acme` event means the status
 * changed, from this page or from anywhere else (CLI, REST, the lab, the
 * renewal timer), and the page reads and shows it. When the stream ends
 * (the box reloads, or its 10 minutes are up) it is opened again.
 */
function watchStatus() {
  stopWatching();
  const ctl = new AbortController();
  state.stream = ctl;
  const again = () => {
    if (state.stream !== ctl || ctl.signal.aborted) return;
    state.reconnect = setTimeout(watchStatus, RECONNECT_MS);
  };
  (async () => {
    const res = await fetch(`${API}/acme/events`, {
      headers: { Accept: 'text/event-stream', Authorization: `Bearer ${state.token}` },
      cache: 'no-store',
      signal: ctl.signal,
    });
    if (res.status === 401) return showLogin('Your session ended; log in again.');
    if (!res.ok || !res.body) return again();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (/^event: acme$/m.test(message)) await refresh();
      }
    }
    again();
  })().catch(() => again());
}

function stopWatching() {
  clearTimeout(state.reconnect);
  state.reconnect = undefined;
  state.stream?.abort();
  state.stream = undefined;
}

/** Read the ACME status and the web certificate and render them (the status stream calls it after each change). */
async function refresh() {
  /** @type {[AcmeStatus, WebCertificate]} */
  const [acme, web] = await Promise.all([api('GET', '/acme'), api('GET', '/web/certificate')]);
  renderAcme(acme);
  renderWeb(web);
  const r = acme.lastAcmeRequest;
  state.running = !!r && r.status === 'In Progress';
  if (!state.running && state.watching) {
    // The operation this page started has ended: say how, in the box's words.
    if (r && r.type === state.watching) {
      if (r.status === 'Success') showOk(`${r.type}: Success.`);
      else showError(`${r.type}: ${r.status}`);
    }
    state.watching = null;
  }
  updateForms();
}

/** @param {AcmeStatus} s */
function renderAcme(s) {
  any('st-box-id').textContent = String(s.boxId);
  const i = s.issuedCert;
  any('st-no-cert').hidden = !!i;
  any('st-issued').hidden = !i;
  if (i) {
    fillList(any('st-issued'), [
      ['Domain', i.domain],
      ['Cert Name', i.certName],
      ['Acme-Server', i.acmeCaUrl],
      ['First-Issued', cliDate(i.firstIssued)],
      ['Next Renewal', cliDate(i.nextRenew)],
      ['Expires', cliDate(i.expiry)],
      ['Renewal Days', i.renewDays === null ? 'System Computed' : String(i.renewDays)],
      // The device's own spelling: managers parse it.
      ['Last Succesful Renewal', cliDate(i.lastSuccessRenew)],
      ['Last Failed Renewal', cliDate(i.lastFailedRenew)],
      ['Key Algorithm', i.algorithm],
      ['Certificate Status', i.status, i.status === 'Active' ? 'st-success' : 'st-failed'],
    ]);
  }
  const r = s.lastAcmeRequest;
  any('st-no-request').hidden = !!r;
  any('st-request').hidden = !r;
  if (r) {
    fillList(any('st-request'), [
      ['Domain', r.domainName],
      ['Acme-Server', r.acmeCaUrl],
      ['Request-Status', r.status, statusClass(r.status)],
      ['Type of Request', r.type],
    ]);
  }
  const progress = any('acme-progress');
  progress.hidden = !(r && r.status === 'In Progress');
  if (r && r.status === 'In Progress')
    any('acme-progress-text').textContent = `${progressText(r.type)} Started ${cliDate(r.startedAt)}.`;

  // Renew and revoke name the issued domain; a re-issue starts from the issued domain and server.
  if (i) {
    for (const id of ['renew-domain', 'revoke-domain']) {
      const input = el(id, HTMLInputElement);
      if (!input.value) input.value = i.domain;
    }
    for (const [id, v] of [
      ['issue-domain', i.domain],
      ['issue-server', i.acmeCaUrl],
    ]) {
      const input = el(id, HTMLInputElement);
      if (!input.value) input.value = v;
    }
  }
}

/** @param {WebCertificate} w */
function renderWeb(w) {
  const c = w.certificate;
  fillList(any('web-cert'), [
    ['Name', w.certName + (w.acmeManaged ? ' (managed by ACME)' : '')],
    ['Subject', c.subject],
    ['Issuer', c.issuer],
    ['Serial', c.serial],
    ['Alt Names', c.subjectAltNames.join(', ') || 'n/a'],
    ['Expires', cliDate(c.notAfter)],
  ]);
}

/** Forms are usable by admins while nothing runs (the box would say "already in progress"). */
function updateForms() {
  const allowed = state.role === 'admin' && !state.running;
  for (const id of ['issue-form', 'renew-form', 'revoke-form', 'clear-form']) {
    for (const c of el(id, HTMLFormElement).elements) {
      if (c instanceof HTMLInputElement || c instanceof HTMLSelectElement || c instanceof HTMLButtonElement)
        c.disabled = !allowed;
    }
  }
}

/** @param {unknown} e */
function reportError(e) {
  if (e instanceof ApiError && e.status === 401) return; // showLogin already said why
  showError(e instanceof Error ? e.message : String(e));
}

// ------------------------------------------------------------------ operations

/** @param {string} id */
const value = (id) => el(id, HTMLInputElement).value.trim();

/**
 * Start an ACME operation: POST it and say it started; the status stream shows its progress and outcome.
 * @param {'issue'|'renew'|'revoke'|'clear'} op @param {Record<string, unknown>} body
 */
async function startOperation(op, body) {
  clearMessages();
  await api('POST', `/acme/${op}`, body);
  const type = `${op[0].toUpperCase()}${op.slice(1)}`;
  // Clear is done when the box answers; the others run on and refresh() reports their outcome.
  state.watching = op === 'clear' ? null : type;
  showOk(op === 'clear' ? 'Clear done: web is back on the default certificate.' : `${type} started.`);
  await refresh();
}

/**
 * Wire a form: prevent the page from navigating, run `action`, show errors in words.
 * @param {string} id @param {() => Promise<void>} action
 */
function onSubmit(id, action) {
  el(id, HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    action().catch(reportError);
  });
}

function wire() {
  onSubmit('login-form', async () => {
    const username = value('login-user');
    const password = el('login-password', HTMLInputElement).value;
    try {
      const r = await api('POST', '/login', { username, password });
      state.token = r.token;
      sessionStorage.setItem(TOKEN_KEY, r.token);
      await showCertificates();
    } catch (e) {
      // Until the certificate page is up, the login form is where errors can be seen.
      const err = any('login-error');
      err.textContent = e instanceof Error ? e.message : String(e);
      err.hidden = false;
    }
  });

  onSubmit('issue-form', async () => {
    const days = value('issue-renew-days');
    // Blank = System Computed. Anything else goes to the box, which checks the range with the CLI's words;
    // only text that is not a number at all is stopped here, since JSON could not carry it as one.
    if (days !== '' && !/^\d+$/.test(days)) {
      showError(
        `Invalid renewal days "${days.slice(0, 20)}": give a whole number from 1 to 365, or leave it empty for System Computed.`,
      );
      return;
    }
    await startOperation('issue', {
      domain: value('issue-domain'),
      acmeServerUrl: value('issue-server'),
      algorithm: el('issue-algorithm', HTMLSelectElement).value,
      ...(days === '' ? {} : { renewDays: Number(days) }),
    });
  });
  onSubmit('renew-form', () => startOperation('renew', { domain: value('renew-domain') }));
  onSubmit('revoke-form', async () => {
    await startOperation('revoke', { domain: value('revoke-domain') });
    el('revoke-confirm', HTMLInputElement).checked = false;
  });
  onSubmit('clear-form', async () => {
    await startOperation('clear', {});
    el('clear-confirm', HTMLInputElement).checked = false;
  });

  any('refresh').addEventListener('click', () => {
    clearMessages();
    refresh().catch(reportError);
  });
  any('logout').addEventListener('click', () => {
    api('POST', '/logout')
      .catch(() => undefined)
      .finally(() => showLogin());
  });
}

wire();
if (state.token) {
  // A token kept from earlier in this tab: use it if it is still good (a 401 shows the login form with the reason).
  showCertificates().catch((e) => {
    if (!(e instanceof ApiError && e.status === 401)) showLogin(e instanceof Error ? e.message : String(e));
  });
} else {
  showLogin();
}
