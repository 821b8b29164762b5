import t from 'tap';
import { splitLines, tokenize } from './tokenizer.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

t.test('tokenize', async (t) => {
  const rows: {
    name: string;
    line: string;
    tokens: [string, boolean][];
    openQuote?: boolean;
    trailingSpace?: boolean;
  }[] = [
    { name: 'empty line', line: '', tokens: [], trailingSpace: true },
    { name: 'blanks only', line: ' \t ', tokens: [], trailingSpace: true },
    {
      name: 'words',
      line: 'show version',
      tokens: [
        ['show', false],
        ['version', false],
      ],
      trailingSpace: false,
    },
    {
      name: 'extra blanks and tabs',
      line: '  sh\t ver  ',
      tokens: [
        ['sh', false],
        ['ver', false],
      ],
      trailingSpace: true,
    },
    {
      name: 'quoted value',
      line: 'pem "a b"',
      tokens: [
        ['pem', false],
        ['a b', true],
      ],
      trailingSpace: false,
    },
    {
      name: 'quoted value spanning lines',
      line: `pem "${PEM}"`,
      tokens: [
        ['pem', false],
        [PEM, true],
      ],
    },
    {
      name: 'empty quoted value',
      line: 'password ""',
      tokens: [
        ['password', false],
        ['', true],
      ],
    },
    {
      name: 'quote inside a word is literal',
      line: 'pass ab"c',
      tokens: [
        ['pass', false],
        ['ab"c', false],
      ],
    },
    {
      name: 'closing quote ends the token',
      line: '"a"b',
      tokens: [
        ['a', true],
        ['b', false],
      ],
    },
    {
      name: 'quote right after a closing quote opens one',
      line: '"a""b c"',
      tokens: [
        ['a', true],
        ['b c', true],
      ],
    },
    {
      name: 'unterminated quote',
      line: 'pem "-----BEGIN\nMII',
      tokens: [
        ['pem', false],
        ['-----BEGIN\nMII', true],
      ],
      openQuote: true,
      trailingSpace: false,
    },
    { name: 'trailing blank after a quote', line: '"x" ', tokens: [['x', true]], trailingSpace: true },
    { name: 'question mark is part of a word', line: 'sh?', tokens: [['sh?', false]] },
  ];
  for (const r of rows) {
    const got = tokenize(r.line);
    t.same(
      got.tokens.map((x) => [x.text, x.quoted]),
      r.tokens,
      r.name,
    );
    t.equal(got.openQuote, r.openQuote ?? false, `${r.name}: openQuote`);
    if (r.trailingSpace !== undefined)
      t.equal(got.trailingSpace, r.trailingSpace, `${r.name}: trailingSpace`);
  }
});

t.test('splitLines', async (t) => {
  const rows: { name: string; text: string; lines: string[] }[] = [
    { name: 'one line', text: 'show version', lines: ['show version'] },
    { name: 'LF, CR and CR LF', text: 'a\nb\rc\r\nd', lines: ['a', 'b', 'c', 'd'] },
    { name: 'blank lines dropped', text: '\n\na\n \n', lines: ['a'] },
    {
      name: 'newlines inside a quote stay',
      text: `x pem "${PEM}"\nshow web`,
      lines: [`x pem "${PEM}"`, 'show web'],
    },
    { name: 'open quote runs to the end', text: 'x "abc\nshow web', lines: ['x "abc\nshow web'] },
    { name: 'quote after a closing quote', text: '"a""b\nc"\nd', lines: ['"a""b\nc"', 'd'] },
  ];
  for (const r of rows) t.same(splitLines(r.text), r.lines, r.name);
});
