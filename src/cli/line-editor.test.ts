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
