// @ts-check
/* global document, window, fetch, EventSource, setTimeout, setInterval, requestAnimationFrame, performance, HTMLElement, HTMLInputElement, HTMLSelectElement, HTMLFormElement, HTMLAnchorElement, HTMLTableRowElement */
/**
 * The lab dashboard: every box of the lab in one table that updates itself,
 * the lab's event and trap feed, and the presenter's actions (fleet ACME,
 * faults, box clock, stop/start/kill/reload). It talks only to the control
 * plane that served it: a session cookie (HttpOnly: the script never sees
 * it) and, on every change, the session's CSRF token in a header.
 *
 * Live without polling: one EventSource on GET /v1/dashboard/stream, which
 * sends every box's row first, then (at most every 50 ms) only the fields
 * that changed and the events for the feed (src/lab/dashboard/stream.ts):
 * an event costs the page no request. Messages are applied at once and drawn
 * in the next animation frame: the rows in view that changed are replaced,
 * the rest of the table is left alone (the whole view is drawn again only on
 * scroll, a filter, or boxes coming and going). Changed cells flash. The
 * table draws only the rows in view (a thousand boxes scroll smoothly).
 * Everything is written with textContent. A reconnect gets the whole fleet
 * again, so nothing missed while away stays wrong.
 */

const ROW_HEIGHT = 30;
/** Rows drawn beyond the visible ones, above and below. */
const OVERSCAN = 10;
/** How long a changed cell stays highlighted (the CSS animation's length). */
const FLASH_MS = 3000;
/** Events kept in the feed. */
const FEED_MAX = 300;
const FAULTS = ['acme-unreachable', 'acme-slow', 'acme-drop', 'challenge-wrong', 'snmp-muted'];
/** Short names of the faults in the table (the cell's title has the full ones; 1024 px must show every column). */
const FAULT_SHORT = /** @type {Record<string, string>} */ ({
  'acme-unreachable': 'unreach',
  'acme-slow': 'slow',
  'acme-drop': 'drop',
  'challenge-wrong': 'chall',
  'snmp-muted': 'mute',
});
/** Crypto modes as the table shows them. */
const CRYPTO_SHORT = /** @type {Record<string, string>} */ ({ 'secure-crypto': 'secure', fips: 'FIPS' });

/**
 * @typedef {{ boxId: number, hostname: string, address: string, model: string, cryptoMode: string, firmware: string,
 *   state: string, certificate: string, serial: string|null, expires: string|null, nextRenewal: string|null,
 *   lastRequest: string|null, lastRequestAt: string|null, clockOffsetMs: number, faults: string[], guiUrl: string }} Row
 * @typedef {{ seq: number, time: string, type: string, boxId: number|null, hostname: string|null, [k: string]: unknown }} LabEvent
 */

/**
 * @typedef {{ seq: number, whole: boolean, rows: (Partial<Row> & { boxId: number })[], removed: number[],
 *   events: LabEvent[], skipped: number }} StreamMessage
 */

/** @type {{ csrf: string, rows: Map<number, Row>, order: number[], shown: number[], selected: number|null,
 *   changed: Map<string, number>, drawn: Map<number, HTMLTableRowElement>, dirty: Set<number>,
 *   relayout: boolean, feedQueue: LabEvent[], frame: boolean, events: EventSource|undefined }} */
const state = {
  csrf: '',
  rows: new Map(),
  order: [],
  shown: [],
  selected: null,
  changed: new Map(),
  // The rows drawn now, by box-id (a patch replaces only these).
  drawn: new Map(),
  // Boxes changed since the last frame; relayout: the set of boxes or their order changed.
  dirty: new Set(),
  relayout: false,
  feedQueue: [],
  frame: false,
  events: undefined,
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
/**
 * How far ahead a time of the box's clock is, by the box's clock now: 90d,
 * 5h, 12m, now; -2d when past (the cell's title has the time itself).
 * @param {string|null} iso @param {number} clockOffsetMs
 */
function fromNow(iso, clockOffsetMs) {
  if (!iso) return '-';
  const ms = Date.parse(iso) - (Date.now() + clockOffsetMs);
  const a = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (a >= 2 * 86400000) return `${sign}${Math.floor(a / 86400000)}d`;
  if (a >= 2 * 3600000) return `${sign}${Math.floor(a / 3600000)}h`;
  if (a >= 60000) return `${sign}${Math.floor(a / 60000)}m`;
  return 'now';
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
    ['hostname', r.hostname, '', r.hostname],
    ['address', r.address, 'mono', r.address],
    ['model', r.model.replace(/^GigaVUE-/, ''), '', r.model],
    ['cryptoMode', CRYPTO_SHORT[r.cryptoMode] || r.cryptoMode, '', r.cryptoMode],
    ['firmware', r.firmware, '', r.firmware],
    ['state', r.state, `st-${r.state}`, r.state],
    ['certificate', r.certificate, `cert-${r.certificate}`, r.certificate],
    ['serial', r.serial ? r.serial.slice(-8) : '-', 'mono', r.serial || ''],
    ['expires', fromNow(r.expires, r.clockOffsetMs), 'num', r.expires || ''],
    ['nextRenewal', fromNow(r.nextRenewal, r.clockOffsetMs), 'num', r.nextRenewal || ''],
    [
      'lastRequest',
      req,
      /Failed/.test(req) ? 'req-failed' : '',
      r.lastRequestAt ? `${req} at ${r.lastRequestAt}` : req,
    ],
    ['clockOffsetMs', offset(r.clockOffsetMs), 'num', `box clock ${offset(r.clockOffsetMs)} from the lab's`],
    [
      'faults',
      r.faults.map((f) => FAULT_SHORT[f] || f).join(' ') || '-',
      r.faults.length ? 'faulty' : '',
      r.faults.join(', '),
    ],
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

/** Draw the rows in view (and a few around them), all of them anew. */
function draw() {
  const wrap = any('table-wrap');
  const body = any('rows');
  const first = Math.max(0, Math.floor(wrap.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const count = Math.ceil(wrap.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
  const last = Math.min(state.shown.length, first + count);
  const now = performance.now();
  /** @type {HTMLTableRowElement[]} */
  const trs = [];
  state.drawn.clear();
  for (let i = first; i < last; i++) {
    const r = state.rows.get(/** @type {number} */ (state.shown[i]));
    if (!r) continue;
    const tr = rowElement(r, now);
    state.drawn.set(r.boxId, tr);
    trs.push(tr);
  }
  body.replaceChildren(
    ...(first > 0 ? [spacer(first * ROW_HEIGHT)] : []),
    ...trs,
    ...(last < state.shown.length ? [spacer((state.shown.length - last) * ROW_HEIGHT)] : []),
  );
}

/** Replace the drawn rows of these boxes (the rest of the view stays). @param {Iterable<number>} ids */
function redrawRows(ids) {
  const now = performance.now();
  for (const id of ids) {
    const old = state.drawn.get(id);
    const r = state.rows.get(id);
    if (!old || !r) continue;
    const tr = rowElement(r, now);
    old.replaceWith(tr);
    state.drawn.set(id, tr);
  }
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
 * Take a message of the stream: rows whole or patched, boxes removed, events
 * for the feed; remember which cells changed (they flash); draw in the next
 * frame. @param {StreamMessage} m
 */
function takeMessage(m) {
  const now = performance.now();
  if (m.whole) {
    const ids = new Set(m.rows.map((r) => r.boxId));
    for (const id of state.rows.keys()) if (!ids.has(id)) state.rows.delete(id);
    state.relayout = true;
  }
  for (const id of m.removed) state.rows.delete(id);
  if (m.removed.length) state.relayout = true;
  for (const p of m.rows) {
    const old = state.rows.get(p.boxId);
    const r = /** @type {Row} */ (old ? { ...old, ...p } : p);
    if (old) {
      const before = cells(old);
      cells(r).forEach(([field, text], i) => {
        if (before[i]?.[1] !== text) state.changed.set(`${r.boxId}/${field}`, now);
      });
    } else state.relayout = true;
    state.rows.set(r.boxId, r);
    state.dirty.add(r.boxId);
  }
  if (m.skipped) state.feedQueue.push(skippedEvent(m.skipped));
  state.feedQueue.push(...m.events);
  schedule();
}

/** Draw what changed once, in the next frame (a hidden page: soon, its timers are slowed anyway). */
function schedule() {
  if (state.frame) return;
  state.frame = true;
  if (document.hidden) setTimeout(render, 100);
  else requestAnimationFrame(render);
}

function render() {
  state.frame = false;
  const now = performance.now();
  for (const [k, t] of state.changed) if (now - t > FLASH_MS) state.changed.delete(k);
  const filtered = !!(
    el('filter-state', HTMLSelectElement).value || el('filter-text', HTMLInputElement).value.trim()
  );
  if (state.relayout) {
    state.order = [...state.rows.keys()].sort((a, b) => a - b);
    // The ID column as wide as the largest box-id (1 to 5 digits): what it does not take, last request gets.
    const digits = Math.max(2, String(state.order[state.order.length - 1] ?? 0).length);
    const col = document.querySelector('col.c-id');
    if (col instanceof HTMLElement) col.style.width = `calc(${digits}ch + 0.6em)`;
  }
  // A filter may take a changed box in or out: filter again; otherwise only the changed rows in view change.
  if (state.relayout || (filtered && state.dirty.size)) applyFilter();
  else redrawRows(state.dirty);
  if (state.dirty.size || state.relayout) summarize();
  if (state.selected !== null && (state.relayout || state.dirty.has(state.selected))) showSelected();
  state.relayout = false;
  state.dirty.clear();
  flushFeed();
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
  api('POST', '/v1/faults', { fault: input.dataset.fault, on: input.checked, boxes: [id] }).catch((e) => {
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

/** The feed's line for events a burst had too many of. @param {number} n @returns {LabEvent} */
function skippedEvent(n) {
  return {
    seq: 0,
    time: new Date().toISOString(),
    type: 'events-skipped',
    boxId: null,
    hostname: null,
    reason: `${n} not shown`,
  };
}

/** @param {LabEvent} e */
function feedLine(e) {
  const li = document.createElement('li');
  const t = document.createElement('span');
  t.className = 't';
  t.textContent = clockTime(e.time) + ' ';
  const text = document.createElement('span');
  text.textContent = describe(e);
  if (e.type === 'trap') text.className = 'trap';
  else if (/failed|killed/.test(e.type) || e.result === 'Failed') text.className = 'bad';
  li.append(t, text);
  return li;
}

/** Put the events that came since the last frame at the top of the feed (newest first), keep FEED_MAX. */
function flushFeed() {
  const q = state.feedQueue.splice(0).slice(-FEED_MAX);
  if (q.length === 0) return;
  const list = any('feed');
  list.prepend(...q.reverse().map(feedLine));
  while (list.childElementCount > FEED_MAX) list.lastElementChild?.remove();
}

/**
 * Open the dashboard stream: the whole fleet, then changes. The browser
 * reconnects by itself (with Last-Event-ID: the feed goes on from there; the
 * rows come whole again).
 */
function connect() {
  state.events?.close();
  const es = new EventSource('/v1/dashboard/stream');
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
  es.addEventListener('dashboard', (m) =>
    takeMessage(JSON.parse(String(/** @type {MessageEvent} */ (m).data))),
  );
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
  // The stream first: the rows are what the presenter waits for; the lab's name comes alongside.
  connect();
  const info = await api('GET', '/v1/info');
  any('lab-name').textContent = String(info.name);
  document.title = `${info.name} - gvos-sim lab`;
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
// Expiry and next renewal read as how far ahead they are: the rows in view are drawn again each minute
// (in the page only; nothing is asked of the lab).
setInterval(() => {
  if (!document.hidden && state.rows.size) draw();
}, 60_000);
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
    api('POST', `/v1/boxes/${id}/${verb}`).catch(toast);
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
