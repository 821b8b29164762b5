import t from 'tap';
import { LineEditor, type EditorEvent } from './line-editor.js';

function run(
  input: string,
  interactive: boolean,
  maxLineBytes = 1000,
): { events: EditorEvent[]; echo: string; rest: string } {
  const e = new LineEditor({ interactive, maxLineBytes });
  const events: EditorEvent[] = [];
  for (const ch of input) {
    const ev = e.feed(ch);
    if (ev) events.push(ev);
  }
  return { events, echo: e.takeEcho(), rest: e.text };
}

const line = (text: string): EditorEvent => ({ type: 'line', text });

t.test('line endings and editing', async (t) => {
  const rows: {
    name: string;
    input: string;
    interactive?: boolean;
    events: EditorEvent[];
    echo?: string;
    rest?: string;
  }[] = [
    { name: 'LF', input: 'show\n', events: [line('show')] },
    { name: 'CR', input: 'show\r', events: [line('show')] },
    { name: 'CR LF is one end of line', input: 'a\r\nb\r\n', events: [line('a'), line('b')] },
    { name: 'CR NUL (telnet) is one end of line', input: 'a\r\0b\r', events: [line('a'), line('b')] },
    { name: 'LF LF is two', input: 'a\n\n', events: [line('a'), line('')] },
    { name: 'backspace and DEL', input: 'shox\x7f\bow\n', events: [line('show')] },
    { name: 'backspace on empty line', input: '\x7f\x7fa\n', events: [line('a')] },
    { name: 'Ctrl-U erases the line', input: 'junk\x15show\n', events: [line('show')] },
    { name: 'escape sequences are ignored', input: 'sh\x1b[A\x1b[1;5Cow\x1bOB\n', events: [line('show')] },
    {
      name: 'other control characters are ignored',
      input: 's\x01\x02h\x04o\x7fow\x00\n',
      events: [line('show')],
    },
    { name: 'C1 controls are ignored', input: 'a\u0085b\n', events: [line('ab')] },
    { name: 'invalid UTF-8 (U+FFFD) is ignored', input: 'sh\ufffd\ufffdow\n', events: [line('show')] },
    { name: 'Ctrl-C cancels', input: 'show ver\x03', events: [{ type: 'cancel' }], rest: '' },
    { name: 'Ctrl-Z suspends', input: 'conf\x1a', events: [{ type: 'suspend' }], rest: '' },
    {
      name: 'Tab asks for completion',
      input: 'sh\t',
      events: [{ type: 'complete', text: 'sh' }],
      rest: 'sh',
    },
    {
      name: 'interactive ? asks for help',
      input: 'show ?',
      interactive: true,
      events: [{ type: 'help', text: 'show ' }],
      echo: 'show ?',
      rest: 'show ',
    },
    { name: '? is text without a pty', input: 'show ?\n', events: [line('show ?')] },
    {
      name: 'interactive echo with backspace',
      input: 'ab\x7f\r',
      interactive: true,
      events: [line('a')],
      echo: 'ab\b \b',
    },
    { name: 'no echo without a pty', input: 'abc\n', events: [line('abc')], echo: '' },
    { name: 'a quote spans lines', input: 'x pem "a\nb"\n', events: [line('x pem "a\nb"')] },
    { name: 'a quote spans CR LF lines', input: 'x "a\r\nb"\r\n', events: [line('x "a\nb"')] },
    {
      name: 'interactive: newline in a quote echoes CR LF',
      input: 'x "a\rb"\r',
      interactive: true,
      events: [line('x "a\nb"')],
      echo: 'x "a\r\nb"',
    },
    { name: 'no ? help inside a quote', input: 'x "a?"\n', interactive: true, events: [line('x "a?"')] },
    { name: 'no Tab inside a quote', input: 'x "a\tb"\n', events: [line('x "ab"')] },
    { name: 'backspace undoes a closing quote', input: 'x "a"\x7f\nb"\n', events: [line('x "a\nb"')] },
    { name: 'backspace undoes an opening quote', input: 'x "\x7fa\n', events: [line('x a')] },
    {
      name: 'backspace stops at a line inside a quote',
      input: 'x "ab\n\x7f\x7fc"\n',
      events: [line('x "ab\nc"')],
    },
    { name: 'a quote inside a word is literal', input: 'pw a"b\n', events: [line('pw a"b')] },
    { name: 'a quote right after a closing quote opens', input: '"a""b\nc"\n', events: [line('"a""b\nc"')] },
    {
      name: 'Ctrl-C ends an escape sequence',
      input: 'a\x1b[1\x03show\n',
      events: [{ type: 'cancel' }, line('show')],
    },
    { name: 'Ctrl-C leaves a quote', input: 'x "abc\x03show\n', events: [{ type: 'cancel' }, line('show')] },
    { name: 'unicode and surrogate pairs', input: 'é😀\x7f\n', events: [line('é')] },
  ];
  for (const r of rows) {
    const got = run(r.input, r.interactive ?? false);
    t.same(got.events, r.events, `${r.name}: events`);
    if (r.echo !== undefined) t.equal(got.echo, r.echo, `${r.name}: echo`);
    if (r.rest !== undefined) t.equal(got.rest, r.rest, `${r.name}: rest`);
  }
});

t.test('bounded lines', async (t) => {
  const rows: { name: string; input: string; events: EditorEvent[] }[] = [
    { name: 'a line at the limit is kept', input: 'a'.repeat(20) + '\n', events: [line('a'.repeat(20))] },
    {
      name: 'a longer line is reported at its end',
      input: 'a'.repeat(50) + '\nshow\n',
      events: [{ type: 'overflow', inQuote: false }, line('show')],
    },
    {
      name: 'an overflowing quote is dropped up to its closing quote',
      input: 'x "' + 'a\n'.repeat(30) + '" tail\nshow\n',
      events: [{ type: 'overflow', inQuote: true }, line('show')],
    },
    {
      name: 'Ctrl-C ends the discarding',
      input: 'x "' + 'b'.repeat(40) + '\x03show\n',
      events: [{ type: 'cancel' }, line('show')],
    },
    {
      name: 'multi-byte characters count as bytes',
      input: 'é'.repeat(11) + '\n',
      events: [{ type: 'overflow', inQuote: false }],
    },
  ];
  for (const r of rows) t.same(run(r.input, false, 20).events, r.events, r.name);
  const e = new LineEditor({ interactive: true, maxLineBytes: 5 });
  for (const ch of 'abcdefgh') e.feed(ch);
  t.equal(e.takeEcho(), 'abcde', 'echo stops when the line overflows');
  t.ok(e.discarding);
});

// ------------------------------------------------------------------ editing and history

/** Feed keys to an interactive editor (prompt `p> `); returns the events and the editor. */
function keys(
  input: string | string[],
  o: { cols?: number; historySize?: number; interactive?: boolean } = {},
): { e: LineEditor; events: EditorEvent[]; echo: string } {
  const e = new LineEditor({ interactive: o.interactive ?? true, maxLineBytes: 1000, ...o });
  e.setPrompt('p> ');
  const events: EditorEvent[] = [];
  let echo = '';
  for (const chunk of Array.isArray(input) ? input : [input]) {
    for (const ch of chunk) {
      const ev = e.feed(ch);
      if (ev) {
        echo += e.takeEcho();
        events.push(ev);
        if (ev.type === 'line') e.setPrompt('p> ');
      }
    }
    echo += e.takeEcho();
  }
  return { e, events, echo };
}

t.test('editing keys, in the forms terminals send them', async (t) => {
  const L = { csi: '\x1b[D', ss3: '\x1bOD', ctrl: '\x02', mod: '\x1b[1;5D' };
  const R = { csi: '\x1b[C', ss3: '\x1bOC', ctrl: '\x06', mod: '\x1b[1;5C' };
  const HOME = { csi: '\x1b[H', ss3: '\x1bOH', ctrl: '\x01', putty: '\x1b[1~', rxvt: '\x1b[7~' };
  const END = { csi: '\x1b[F', ss3: '\x1bOF', ctrl: '\x05', putty: '\x1b[4~', rxvt: '\x1b[8~' };
  const UP = { csi: '\x1b[A', ss3: '\x1bOA', ctrl: '\x10' };
  const DOWN = { csi: '\x1b[B', ss3: '\x1bOB', ctrl: '\x0e' };
  const rows: { name: string; input: string; line: string }[] = [];
  for (const [form, l] of Object.entries(L))
    rows.push({
      name: `left (${form}) then insert`,
      input: `show vrsion${l.repeat(5)}e\r`,
      line: 'show version',
    });
  for (const [form, r] of Object.entries(R))
    rows.push({ name: `right (${form})`, input: `sow${L.csi.repeat(3)}${r}h\r`, line: 'show' });
  for (const [form, h] of Object.entries(HOME))
    rows.push({ name: `home (${form})`, input: `ow version${h}sh\r`, line: 'show version' });
  for (const [form, en] of Object.entries(END))
    rows.push({ name: `end (${form})`, input: `show${HOME.ctrl}${en} web\r`, line: 'show web' });
  for (const [form, u] of Object.entries(UP))
    rows.push({ name: `up (${form}) recalls`, input: `show web\r${u}\r`, line: 'show web' });
  for (const [form, d] of Object.entries(DOWN))
    rows.push({
      name: `down (${form}) comes back to the draft`,
      input: `show web\rshow ver${UP.csi}${d}sion\r`,
      line: 'show version',
    });
  rows.push(
    { name: 'backspace DEL mid-line', input: `shoxw${L.csi}\x7f\r`, line: 'show' },
    { name: 'backspace BS mid-line', input: `shoxw${L.csi}\b\r`, line: 'show' },
    { name: 'Delete (ESC[3~) under the cursor', input: `shoxw${L.csi.repeat(2)}\x1b[3~\r`, line: 'show' },
    { name: 'Ctrl-D under the cursor', input: `shoxw${L.csi.repeat(2)}\x04\r`, line: 'show' },
    { name: 'Ctrl-D at the end does nothing', input: `show\x04\r`, line: 'show' },
    {
      name: 'Ctrl-W erases the word before',
      input: `show running-config\x17version\r`,
      line: 'show version',
    },
    { name: 'Ctrl-W skips blanks first', input: `show version   \x17web\r`, line: 'show web' },
    { name: 'Ctrl-W mid-line', input: `show junk version${L.csi.repeat(7)}\x17\r`, line: 'show version' },
    {
      name: 'Ctrl-K erases to the end',
      input: `show version junk${L.csi.repeat(5)}\x0b\r`,
      line: 'show version',
    },
    { name: 'Ctrl-U erases before the cursor', input: `junk show${L.csi.repeat(4)}\x15\r`, line: 'show' },
    { name: 'Ctrl-A then Ctrl-K empties', input: `show\x01\x0bshow web\r`, line: 'show web' },
    { name: 'Esc b / Esc f move by words', input: `show vers\x1bbx\x1bf\x1bfion\r`, line: 'show xversion' },
    { name: 'Ctrl-L keeps the line', input: `show\x0c web\r`, line: 'show web' },
    { name: 'unknown CSI sequences are swallowed', input: `sh\x1b[99;99z\x1b[200~ow\r`, line: 'show' },
    { name: 'unknown SS3 sequences are swallowed', input: `sh\x1bOPow\r`, line: 'show' },
    { name: 'an overlong sequence ends', input: `sh\x1b[${'1;'.repeat(40)}\x15show\r`, line: 'show' },
    {
      name: 'a quote inserted mid-line opens a value; Enter in it ends the row',
      input: `x a${L.csi}"\r"\r`,
      line: 'x "a\n"',
    },
    { name: 'surrogate pair moved over whole', input: `a😀${L.csi}b\r`, line: 'ab😀' },
  );
  for (const r of rows) {
    const { events } = keys(r.input);
    t.same(events[events.length - 1], line(r.line), r.name);
  }
  // Split anywhere, a sequence means the same.
  const input = `show vrsion${L.csi.repeat(5)}e${END.putty}\r`;
  for (let cut = 0; cut <= input.length; cut++) {
    const { events } = keys([input.slice(0, cut), input.slice(cut)]);
    t.same(events, [line('show version')], `cut at ${cut}`);
  }
});

t.test('without a pty editing keys stay inert (scripts keep their meaning)', async (t) => {
  const rows: { input: string; line: string }[] = [
    { input: 'sh\x1b[Dow\n', line: 'show' },
    { input: 'show\x01 web\x0b\n', line: 'show web' },
    { input: 'show web\nx\x10\n', line: 'x' },
    { input: 'shox\x7fw\n', line: 'show' },
  ];
  for (const r of rows) {
    const { events } = keys(r.input, { interactive: false });
    t.same(events[events.length - 1], line(r.line), JSON.stringify(r.input));
  }
});

t.test('history: bounded, no duplicates in a row, no multi-line values, draft kept', async (t) => {
  const { e } = keys('a\rb\rb\r\r  \rc\rx pem "1\r2"\r', { historySize: 2 });
  t.same(e.history, ['b', 'c'], 'two kept, oldest dropped, repeats and blanks skipped, PEM not kept');
  const { events } = keys(`one\rtwo\rthree\r${'\x1b[A'.repeat(10)}\r`, { historySize: 2 });
  t.same(events[events.length - 1], line('two'), 'Up stops at the oldest kept line');
  const d = keys(`one\rdraft\x10\x10\x0e\x0e\x0e\r`);
  t.same(d.events[d.events.length - 1], line('draft'), 'Down past the newest brings the draft back');
  const h = keys(`show web\rshow ver?`);
  t.same(h.events[h.events.length - 1], { type: 'help', text: 'show ver' });
  const m = keys(`show ver${'\x1b[D'.repeat(4)}?`);
  t.same(m.events[m.events.length - 1], { type: 'help', text: 'show' }, '? looks before the cursor');
  const c = keys(`sh ver${'\x1b[D'.repeat(4)}\t`);
  t.same(c.events[c.events.length - 1], { type: 'complete', text: 'sh' }, 'Tab looks before the cursor');
  c.e.insert('ow');
  t.equal(c.e.text, 'show ver', 'completion is inserted at the cursor');
});

/**
 * A small terminal: enough of VT100 for what the editor writes (CR, LF, BS,
 * cursor up/down/forward, erase below, clear, home; autowrap with the
 * pending-wrap state of xterm). Returns the screen rows (trimmed) and the cursor.
 */
class Screen {
  rows: string[][] = [[]];
  r = 0;
  c = 0;
  private pending = false;
  constructor(public cols: number) {}
  write(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '\x1b') {
        // eslint-disable-next-line no-control-regex -- the terminal reads escape sequences
        const m = /^\x1b\[(\d*)([ABCJH])|^\x1b\[2J/.exec(s.slice(i));
        if (!m) throw new Error(`unexpected sequence ${JSON.stringify(s.slice(i, i + 6))}`);
        i += m[0].length - 1;
        this.pending = false;
        if (m[0] === '\x1b[2J') {
          this.rows = [[]];
          continue;
        }
        const n = Number(m[1] || '1');
        if (m[2] === 'A') this.r = Math.max(0, this.r - n);
        if (m[2] === 'B') this.r += n;
        if (m[2] === 'C') this.c = Math.min(this.cols - 1, this.c + n);
        if (m[2] === 'H') this.r = this.c = 0;
        if (m[2] === 'J') {
          this.rows[this.r] = (this.rows[this.r] ?? []).slice(0, this.c);
          this.rows.length = this.r + 1;
        }
        continue;
      }
      if (ch === '\r') {
        this.c = 0;
        this.pending = false;
      } else if (ch === '\n') {
        this.r++;
        this.pending = false;
      } else if (ch === '\b') {
        if (this.c > 0) this.c--;
        this.pending = false;
      } else {
        if (this.pending) {
          this.r++;
          this.c = 0;
          this.pending = false;
        }
        const row = (this.rows[this.r] ??= []);
        while (row.length < this.c) row.push(' ');
        row[this.c] = ch;
        if (this.c === this.cols - 1) this.pending = true;
        else this.c++;
      }
      while (this.rows.length <= this.r) this.rows.push([]);
    }
  }
  /** The rows joined (as a wrapped line reads) with trailing blanks removed. */
  get text(): string {
    return this.rows
      .map((r) => r.join('').padEnd(this.cols, ' '))
      .join('')
      .trimEnd();
  }
}

t.test('the screen shows the line and the cursor where the buffer has them', async (t) => {
  const long =
    'crypto certificate acme issue domain gigavue-1.lab.test acme-server https://ca.lab.test:14000/dir';
  const cases: { name: string; cols: number; input: string; text: string; cursor: number }[] = [
    {
      name: 'short line, insert mid-line',
      cols: 80,
      input: 'show vrsion\x1b[D\x1b[D\x1b[D\x1b[D\x1b[De',
      text: 'show version',
      cursor: 7,
    },
    { name: 'a line that wraps', cols: 20, input: long, text: long, cursor: long.length },
    { name: 'exactly at the edge', cols: 20, input: 'x'.repeat(17), text: 'x'.repeat(17), cursor: 17 },
    {
      name: 'edit on an earlier row of a wrapped line',
      cols: 20,
      input: long + '\x01\x1b[C\x1b[C\x04X',
      text: 'crXypto' + long.slice(7).replace(/^/, '').slice(0),
      cursor: 3,
    },
    {
      name: 'backspace across a wrap',
      cols: 20,
      input: 'x'.repeat(18) + '\x7f\x7f\x7f',
      text: 'x'.repeat(15),
      cursor: 15,
    },
    {
      name: 'Ctrl-K on a wrapped line',
      cols: 20,
      input: long + '\x01' + '\x1b[C'.repeat(30) + '\x0b',
      text: long.slice(0, 30),
      cursor: 30,
    },
    {
      name: 'history recall of a long line over a short one',
      cols: 20,
      input: long + '\rab\x1b[A',
      text: long,
      cursor: long.length,
    },
    { name: 'Ctrl-L', cols: 20, input: long + '\x1b[D\x0c', text: long, cursor: long.length - 1 },
  ];
  for (const k of cases) {
    const scr = new Screen(k.cols);
    scr.write('p> ');
    const e = new LineEditor({ interactive: true, maxLineBytes: 1000, cols: k.cols });
    e.setPrompt('p> ');
    for (const ch of k.input) {
      const ev = e.feed(ch);
      scr.write(e.takeEcho());
      if (ev?.type === 'line') {
        scr.write('\r\np> ');
        e.setPrompt('p> ');
      }
    }
    scr.write(e.takeEcho());
    const expected = k.name.startsWith('edit on') ? 'cr' + 'X' + long.slice(3) : k.text;
    t.equal(e.text, expected, `${k.name}: buffer`);
    const lastPrompt = scr.text.lastIndexOf('p> ');
    t.equal(scr.text.slice(lastPrompt), ('p> ' + expected).trimEnd(), `${k.name}: screen`);
    const at = 3 + (k.name.startsWith('edit on') ? 3 : k.cursor);
    const rowsBefore = Math.floor(lastPrompt / k.cols);
    t.same([scr.r - rowsBefore, scr.c], [Math.floor(at / k.cols), at % k.cols], `${k.name}: cursor`);
  }
});

t.test('a resize redraws the line for the new width', async (t) => {
  const long = 'crypto certificate acme issue domain gigavue-1.lab.test acme-server https://ca';
  for (const [from, to] of [
    [80, 20],
    [20, 33],
    [25, 7],
  ] as const) {
    const e = new LineEditor({ interactive: true, maxLineBytes: 1000, cols: from });
    e.setPrompt('p> ');
    for (const ch of long + '\x1b[D'.repeat(10)) e.feed(ch);
    e.takeEcho();
    // The terminal reflows: draw what it shows now at the new width, cursor where it was.
    const scr = new Screen(to);
    scr.write('p> ' + long);
    const at = 3 + long.length - 10;
    scr.write(`\x1b[${Math.ceil((3 + long.length) / to)}A\r`);
    scr.r = Math.floor(at / to);
    scr.c = at % to;
    e.resize(to, true);
    scr.write(e.takeEcho());
    t.equal(scr.text, 'p> ' + long, `${from} -> ${to}: the line reads the same`);
    t.same(
      [scr.r, scr.c],
      [Math.floor(at / to), at % to],
      `${from} -> ${to}: the cursor stays on its character`,
    );
  }
});
