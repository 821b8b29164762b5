// @ts-check
/* global document, window, fetch, EventSource, setTimeout, performance, HTMLElement, HTMLInputElement, HTMLSelectElement, HTMLFormElement, HTMLAnchorElement, HTMLTableRowElement */
/**
 * The lab dashboard: every box of the lab in one table that updates itself,
 * the lab's event and trap feed, and the presenter's actions (fleet ACME,
 * faults, box clock, stop/start/kill/reload). It talks only to the control
 * plane that served it: a session cookie (HttpOnly: the script never sees
 * it) and, on every change, the session's CSRF token in a header.
 *
 * Live without polling: one EventSource on GET /v1/events, opened after the
 * snapshot (GET /v1/dashboard/boxes says the last event it includes); an event that
 * names a box marks that box stale, and the stale rows are read back in one
 * request (GET /v1/dashboard/boxes?ids=...) once the burst has settled for a
 * moment (coalesced: a hundred renewals a second cost ten reads a second).
 * Changed cells flash. The table draws only the rows in view (a thousand
 * boxes scroll smoothly). Everything is written with textContent.
 */

const ROW_HEIGHT = 30;
/** Rows drawn beyond the visible ones, above and below. */
const OVERSCAN = 10;
/** How long a changed cell stays highlighted (the CSS animation's length). */
const FLASH_MS = 3000;
/** Stale rows are read back this long after the first event that made them stale. */
const COALESCE_MS = 100;
/** Events kept in the feed. */
const FEED_MAX = 300;
const FAULTS = ['acme-unreachable', 'acme-slow', 'acme-drop', 'challenge-wrong', 'snmp-muted'];

/**
 * @typedef {{ boxId: number, hostname: string, address: string, model: string, cryptoMode: string, firmware: string,
 *   state: string, certificate: string, serial: string|null, expires: string|null, nextRenewal: string|null,
 *   lastRequest: string|null, lastRequestAt: string|null, clockOffsetMs: number, faults: string[], guiUrl: string }} Row
 * @typedef {{ seq: number, time: string, type: string, boxId: number|null, hostname: string|null, [k: string]: unknown }} LabEvent
 */

/** @type {{ csrf: string, rows: Map<number, Row>, order: number[], shown: number[], selected: number|null,
 *   changed: Map<string, number>, stale: Set<number>, staleTimer: ReturnType<typeof setTimeout>|undefined,
 *   events: EventSource|undefined, lastSeq: number, snapshotSeq: number }} */
const state = {
  csrf: '',
  rows: new Map(),
  order: [],
  shown: [],
  selected: null,
  changed: new Map(),
  stale: new Set(),
  staleTimer: undefined,
  events: undefined,
  lastSeq: 0,
  snapshotSeq: 0,
};

/**
 * @template {HTMLElement} T
 * @param {string} id @param {new () => T} type @returns {T}
 */
function el(id, type) {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`page element #${id} is missing`);
  return e;
}
/** @param {string} id */
const any = (id) => el(id, HTMLElement);

/** An answer that is not 2xx, with the control plane's one-line detail. */
class PlaneError extends Error {
  /** @param {number} status @param {string} detail */
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/**
 * Call the control plane. Resolves the parsed JSON (the last line of an
 * NDJSON answer); rejects with PlaneError. A 401 shows the login form.
 * @param {string} method @param {string} path @param {unknown} [body] @returns {Promise<any>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new PlaneError(0, `the lab does not answer (${e instanceof Error ? e.message : String(e)})`);
  }
  const text = await res.text();
  const type = res.headers.get('content-type') || '';
  const seq = res.headers.get('X-Lab-Event-Seq');
  if (seq) state.snapshotSeq = Number(seq);
  /** @type {any} */
  let data;
  try {
    if (type.includes('ndjson')) {
      const lines = text.trim().split('\n');
      data = JSON.parse(lines[lines.length - 1] || 'null');
    } else data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (res.ok) return data;
  const detail = data && typeof data.detail === 'string' ? data.detail : `HTTP ${res.status}`;
  if (res.status === 401 && path !== '/v1/session') showLogin(detail);
  throw new PlaneError(res.status, detail);
}

/** @param {unknown} err */
function toast(err) {
  const t = any('toast');
  t.textContent = err instanceof Error ? err.message : String(err);
  t.hidden = false;
  setTimeout(() => (t.hidden = true), 6000);
}

// ------------------------------------------------------------------ formatting

/** @param {number} n */
const two = (n) => String(n).padStart(2, '0');
/** Date and time, short (the year only when it is not this one): 12-05 07:12. @param {string|null} iso */
function when(iso) {
  if (!iso) return '-';
  const d = new Date(iso);
  const year = d.getFullYear() === new Date().getFullYear() ? '' : `${d.getFullYear()}-`;
  return `${year}${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}
/** @param {string} iso */
function clockTime(iso) {
  const d = new Date(iso);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
/** A clock offset: 0, +61d, +2h, +5m. @param {number} ms */
function offset(ms) {
  if (!ms) return '0';
  const sign = ms > 0 ? '+' : '-';
  const a = Math.abs(ms);
  if (a >= 86400000) return `${sign}${Math.round(a / 86400000)}d`;
  if (a >= 3600000) return `${sign}${Math.round(a / 3600000)}h`;
  return `${sign}${Math.round(a / 60000)}m`;
}

/**
 * The cells of a row: [field, text, class, title]. The field names the
 * cell for highlighting and tests (data-field).
 * @param {Row} r @returns {[string, string, string, string][]}
 */
function cells(r) {
  const req = r.lastRequest || '-';
  return [
    ['boxId', String(r.boxId), 'num', ''],
    ['hostname', r.hostname, '', ''],
    ['address', r.address, 'mono', ''],
    ['model', r.model.replace(/^GigaVUE-/, ''), '', r.model],
    ['cryptoMode', r.cryptoMode, '', ''],
    ['firmware', r.firmware, '', ''],
    ['state', r.state, `st-${r.state}`, ''],
    ['certificate', r.certificate, `cert-${r.certificate}`, ''],
    ['serial', r.serial ? r.serial.slice(-10) : '-', 'mono', r.serial || ''],
    ['expires', when(r.expires), 'num', r.expires || ''],
    ['nextRenewal', when(r.nextRenewal), 'num', r.nextRenewal || ''],
    [
      'lastRequest',
      req,
      /Failed/.test(req) ? 'req-failed' : '',
      r.lastRequestAt ? `${req} at ${r.lastRequestAt}` : req,
    ],
    ['clockOffsetMs', offset(r.clockOffsetMs), 'num', ''],
    ['faults', r.faults.join(', ') || '-', r.faults.length ? 'faulty' : '', ''],
  ];
}

// ------------------------------------------------------------------ the table

/** The rows the filter lets through, by box-id. */
function applyFilter() {
  const f = el('filter-state', HTMLSelectElement).value;
  const q = el('filter-text', HTMLInputElement).value.trim().toLowerCase();
  state.shown = state.order.filter((id) => {
    const r = state.rows.get(id);
    if (!r) return false;
    if (f === 'faulty' && r.faults.length === 0) return false;
    if (f.startsWith('cert:') && r.certificate !== f.slice(5)) return false;
    if (f && f !== 'faulty' && !f.startsWith('cert:') && r.state !== f) return false;
    if (!q) return true;
    return [String(r.boxId), r.hostname, r.address, r.serial || ''].some((v) => v.toLowerCase().includes(q));
  });
  any('shown').textContent =
    state.shown.length === state.order.length
      ? `${state.order.length} boxes`
      : `${state.shown.length} of ${state.order.length} boxes`;
  draw();
}

/** A spacer row of `px` height (the rows not drawn). @param {number} px */
function spacer(px) {
  const tr = document.createElement('tr');
  tr.className = 'spacer';
  const td = document.createElement('td');
  td.colSpan = 14;
  td.style.height = `${px}px`;
  tr.append(td);
  return tr;
}

/** Draw the rows in view (and a few around them). */
function draw() {
  const wrap = any('table-wrap');
  const body = any('rows');
  const first = Math.max(0, Math.floor(wrap.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const count = Math.ceil(wrap.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
  const last = Math.min(state.shown.length, first + count);
  const now = performance.now();
  /** @type {HTMLTableRowElement[]} */
  const trs = [];
  for (let i = first; i < last; i++) {
    const r = state.rows.get(/** @type {number} */ (state.shown[i]));
    if (r) trs.push(rowElement(r, now));
  }
  body.replaceChildren(
    ...(first > 0 ? [spacer(first * ROW_HEIGHT)] : []),
    ...trs,
    ...(last < state.shown.length ? [spacer((state.shown.length - last) * ROW_HEIGHT)] : []),
  );
}

/** @param {Row} r @param {number} now */
function rowElement(r, now) {
  const tr = document.createElement('tr');
  tr.className = r.boxId === state.selected ? 'box selected' : 'box';
  tr.dataset.boxId = String(r.boxId);
  for (const [field, text, cls, title] of cells(r)) {
    const td = document.createElement('td');
    td.dataset.field = field;
    td.textContent = text;
    if (title) td.title = title;
    const since = state.changed.get(`${r.boxId}/${field}`);
    const age = since === undefined ? FLASH_MS : now - since;
    // A redraw keeps the flash where it was: the animation starts back in time by the cell's age.
    if (age < FLASH_MS) {
      td.className = `${cls} chg`;
      td.style.animationDelay = `-${Math.round(age)}ms`;
    } else if (cls) td.className = cls;
    tr.append(td);
  }
  return tr;
}

/**
 * Take new rows: remember which cells changed (they flash), keep the order by
 * box-id, redraw. @param {Row[]} rows @param {boolean} whole the whole fleet (boxes not in it are gone)
 */
function takeRows(rows, whole) {
  const now = performance.now();
  if (whole) {
    const ids = new Set(rows.map((r) => r.boxId));
    for (const id of state.rows.keys()) if (!ids.has(id)) state.rows.delete(id);
  }
  for (const r of rows) {
    const old = state.rows.get(r.boxId);
    if (old) {
      const before = cells(old);
      cells(r).forEach(([field, text], i) => {
        if (before[i]?.[1] !== text) state.changed.set(`${r.boxId}/${field}`, now);
      });
    }
    state.rows.set(r.boxId, r);
  }
  for (const [k, t] of state.changed) if (now - t > FLASH_MS) state.changed.delete(k);
  state.order = [...state.rows.keys()].sort((a, b) => a - b);
  summarize();
  applyFilter();
  if (state.selected !== null) showSelected();
}

function summarize() {
  /** @type {Record<string, number>} */
  const n = {};
  for (const r of state.rows.values()) {
    n[r.state] = (n[r.state] || 0) + 1;
    n[`cert-${r.certificate}`] = (n[`cert-${r.certificate}`] || 0) + 1;
  }
  any('summary').textContent =
    `${state.rows.size} boxes: ${n.running || 0} running, ${n['cert-valid'] || 0} certificates valid` +
    (n['cert-failed'] ? `, ${n['cert-failed']} failed` : '') +
    (n['cert-expired'] ? `, ${n['cert-expired']} expired` : '');
}

/** Read the whole fleet again. */
async function loadAll() {
  takeRows(await api('GET', '/v1/dashboard/boxes'), true);
}

/** Mark a box stale; its row is read back shortly with the others of the burst. @param {number} id */
function stale(id) {
  state.stale.add(id);
  if (state.staleTimer === undefined) state.staleTimer = setTimeout(() => void readStale(), COALESCE_MS);
}

async function readStale() {
  state.staleTimer = undefined;
  const ids = [...state.stale];
  state.stale.clear();
  if (ids.length === 0) return;
  try {
    // Many at once (a fleet operation): the whole table costs about as much as a long id list.
    if (ids.length > 200) await loadAll();
    else takeRows(await api('GET', `/v1/dashboard/boxes?ids=${ids.join(',')}`), false);
  } catch (e) {
    toast(e);
  }
}

// ------------------------------------------------------------------ selection and actions

function showSelected() {
  const r = state.selected === null ? undefined : state.rows.get(state.selected);
  any('sel-actions').hidden = !r;
  any('sel-hint').hidden = !!r;
  any('sel-id').textContent = r ? String(r.boxId) : '-';
  any('sel-name').textContent = r ? r.hostname : '';
  if (!r) return;
  el('sel-gui', HTMLAnchorElement).href = r.guiUrl;
  const box = any('sel-faults');
  for (const f of FAULTS) {
    let input = /** @type {HTMLInputElement|null} */ (box.querySelector(`input[data-fault="${f}"]`));
    if (!input) {
      const label = document.createElement('label');
      label.className = 'check';
      input = document.createElement('input');
      input.type = 'checkbox';
      input.dataset.fault = f;
      input.addEventListener('change', onFaultToggle);
      label.append(input, ` ${f}`);
      box.append(label);
    }
    input.checked = r.faults.includes(f);
  }
}

/** @param {Event} ev */
function onFaultToggle(ev) {
  const input = /** @type {HTMLInputElement} */ (ev.target);
  const id = state.selected;
  if (id === null) return;
  api('POST', '/v1/faults', { fault: input.dataset.fault, on: input.checked, boxes: [id] })
    .then(() => stale(id))
    .catch((e) => {
      input.checked = !input.checked;
      toast(e);
    });
}

/** The box-ids a form's scope names. @param {string} scope @returns {number[]|'all'} */
function scopeBoxes(scope) {
  if (scope === 'all') return 'all';
  if (state.selected === null) throw new Error('select a box first (click its row), or choose all boxes');
  return [state.selected];
}

async function onAcme() {
  const op = el('acme-op', HTMLSelectElement).value;
  const out = any('acme-result');
  /** @type {Record<string, unknown>} */
  const body = { boxes: scopeBoxes(el('acme-scope', HTMLSelectElement).value) };
  const url = el('acme-url', HTMLInputElement).value.trim();
  const alg = el('acme-alg', HTMLSelectElement).value;
  const days = el('acme-days', HTMLInputElement).value;
  if (url) body.acmeServerUrl = url;
  if (alg) body.algorithm = alg;
  if (days) body.renewDays = Number(days);
  out.textContent = `${op}...`;
  const done = await api('POST', `/v1/acme/${op}`, body);
  /** @type {{ ok: boolean, result: string }[]} */
  const results = (done && done.results) || [];
  const ok = results.filter((r) => r.ok).length;
  const firstBad = results.find((r) => !r.ok);
  out.textContent = `${op}: ${ok} of ${results.length} succeeded${firstBad ? `; ${firstBad.result}` : ''}`;
}

async function onClock() {
  const ms =
    Number(el('clock-amount', HTMLInputElement).value) * Number(el('clock-unit', HTMLSelectElement).value);
  if (!(ms > 0)) throw new Error('advance by a positive amount');
  await api('POST', '/v1/time/advance', {
    ms,
    boxes: scopeBoxes(el('clock-scope', HTMLSelectElement).value),
    keep: el('clock-keep', HTMLInputElement).checked,
  });
}

// ------------------------------------------------------------------ the event feed

/** One line for an event. @param {LabEvent} e */
function describe(e) {
  const who = e.boxId === null ? 'lab' : `box ${e.boxId}${e.hostname ? ` (${e.hostname})` : ''}`;
  /** @param {string} k */
  const s = (k) => (e[k] === undefined || e[k] === null ? '' : String(e[k]));
  switch (e.type) {
    case 'auto-renewal-done':
      return `${who}: auto-renewal done, serial ${s('serial')}`;
    case 'auto-renewal-failed':
      return `${who}: auto-renewal FAILED: ${s('reason')}`;
    case 'acme-requested':
      return `${who}: ${s('op')} requested for ${s('domain')}`;
    case 'acme-finished':
      return `${who}: ${s('op')} ${s('result')}${e.reason ? `: ${s('reason')}` : ''}`;
    case 'fault':
      return `${who}: fault ${s('fault')} ${e.on ? 'on' : 'off'}`;
    case 'clock-moved':
      return `${who}: clock moved by ${offset(Number(e.byMs))}, now ${offset(Number(e.offsetMs))}`;
    case 'trap':
      return `trap ${s('name')} from ${s('source')}${e.boxId !== null ? ` (${who})` : ''}`;
    default:
      return `${who}: ${e.type.replace(/-/g, ' ')}${e.reason ? `: ${s('reason')}` : ''}`;
  }
}

/** @param {LabEvent} e */
function feed(e) {
  const li = document.createElement('li');
  const t = document.createElement('span');
  t.className = 't';
  t.textContent = clockTime(e.time) + ' ';
  const text = document.createElement('span');
  text.textContent = describe(e);
  if (e.type === 'trap') text.className = 'trap';
  else if (/failed|killed/.test(e.type) || e.result === 'Failed') text.className = 'bad';
  li.append(t, text);
  const list = any('feed');
  list.prepend(li);
  while (list.childElementCount > FEED_MAX) list.lastElementChild?.remove();
}

/** Events shown from before the page opened. */
const HISTORY = 50;

/**
 * Open the event stream after the snapshot's last event (a few before it,
 * for the feed); the browser reconnects by itself, with Last-Event-ID.
 */
function connect() {
  state.events?.close();
  const since = Math.max(0, state.snapshotSeq - HISTORY);
  state.lastSeq = since;
  const es = new EventSource(`/v1/events?since=${since}`);
  state.events = es;
  const live = any('live');
  es.addEventListener('open', () => {
    live.classList.add('on');
    any('live-text').textContent = 'live';
  });
  es.addEventListener('error', () => {
    live.classList.remove('on');
    any('live-text').textContent = 'reconnecting';
  });
  /** @param {MessageEvent} m */
  const onEvent = (m) => {
    /** @type {LabEvent} */
    const e = JSON.parse(String(m.data));
    // A gap (the lab's ring dropped events we never saw): read everything again.
    if (e.seq > state.lastSeq + 1 && state.lastSeq > 0) void loadAll().catch(toast);
    state.lastSeq = Math.max(state.lastSeq, e.seq);
    feed(e);
    // Events the snapshot already includes only go to the feed.
    if (e.seq > state.snapshotSeq && e.boxId !== null && e.boxId !== undefined) stale(e.boxId);
  };
  es.addEventListener('message', onEvent);
  es.addEventListener('lab-event', onEvent);
}

// ------------------------------------------------------------------ login and start

/** @param {string} [why] */
function showLogin(why) {
  state.events?.close();
  state.events = undefined;
  any('main-view').hidden = true;
  any('logout').hidden = true;
  any('login-view').hidden = false;
  const err = any('login-error');
  err.textContent = why || '';
  err.hidden = !why;
}

async function showMain() {
  any('login-view').hidden = true;
  any('main-view').hidden = false;
  any('logout').hidden = false;
  const info = await api('GET', '/v1/info');
  any('lab-name').textContent = String(info.name);
  document.title = `${info.name} - gvos-sim lab`;
  await loadAll();
  connect();
}

async function start() {
  try {
    const s = await api('GET', '/v1/session');
    state.csrf = s.csrfToken;
  } catch {
    showLogin();
    return;
  }
  await showMain();
}

el('login-form', HTMLFormElement).addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = el('login-token', HTMLInputElement).value;
  const body = token
    ? { token }
    : {
        user: el('login-user', HTMLInputElement).value,
        password: el('login-password', HTMLInputElement).value,
      };
  api('POST', '/v1/session', body)
    .then(async (s) => {
      state.csrf = s.csrfToken;
      el('login-password', HTMLInputElement).value = '';
      el('login-token', HTMLInputElement).value = '';
      await showMain();
    })
    .catch((e) => showLogin(e instanceof Error ? e.message : String(e)));
});
any('logout').addEventListener('click', () => {
  void api('DELETE', '/v1/session').finally(() => showLogin('Logged out.'));
});
any('table-wrap').addEventListener('scroll', () => draw(), { passive: true });
window.addEventListener('resize', () => draw());
el('filter-state', HTMLSelectElement).addEventListener('change', applyFilter);
el('filter-text', HTMLInputElement).addEventListener('input', applyFilter);
any('rows').addEventListener('click', (ev) => {
  const tr = ev.target instanceof HTMLElement ? ev.target.closest('tr.box') : null;
  if (!(tr instanceof HTMLTableRowElement)) return;
  state.selected = Number(tr.dataset.boxId);
  draw();
  showSelected();
});
for (const b of document.querySelectorAll('[data-box-verb]')) {
  b.addEventListener('click', () => {
    const id = state.selected;
    const verb = b instanceof HTMLElement ? b.dataset.boxVerb : '';
    if (id === null || !verb) return;
    api('POST', `/v1/boxes/${id}/${verb}`)
      .then(() => stale(id))
      .catch(toast);
  });
}
el('acme-form', HTMLFormElement).addEventListener('submit', (ev) => {
  ev.preventDefault();
  onAcme().catch((e) => {
    any('acme-result').textContent = '';
    toast(e);
  });
});
el('clock-form', HTMLFormElement).addEventListener('submit', (ev) => {
  ev.preventDefault();
  onClock().catch(toast);
});
void start().catch(toast);
