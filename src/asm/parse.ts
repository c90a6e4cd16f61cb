// The assembly language's lexer and statement parser (docs/asm.md is the reference).
// Produces statements with token positions; src/asm/assemble.ts gives them meaning.
//
// Lexical rules:
//  - `;` or `#` starts a comment to the end of the line (outside strings).
//  - One statement per line. After an `=` (a tensor initialiser), newlines inside open
//    brackets `[...]` / `(...)` do not end the statement, so long literal lists may span lines.
//  - Identifiers: [A-Za-z_][A-Za-z0-9_.-]*  (so `ADD.fp32`, `MEM.W0`, `VXM.0`, `tsp-v1` are one
//    token); directives: `.` followed by an identifier; numbers: decimal (with fraction and
//    exponent) or 0x hex, unsigned (a sign is its own token); strings: JSON double-quoted.
import { SfError, at } from '../util/errors.js';

export type TokenKind = 'ident' | 'num' | 'str' | 'punct' | 'directive';

export interface Token {
  kind: TokenKind;
  /** Source text (for strings: the decoded value). */
  text: string;
  line: number;
  col: number;
}

export interface Pos {
  line: number;
  col: number;
}

export interface DirectiveStmt {
  kind: 'directive';
  name: Token;
  args: Token[];
  /** Position just past the last token (for "missing ..." errors). */
  end: Pos;
}

export interface InstrStmt {
  kind: 'instr';
  /** The `@` token and the cycle number token, when the statement starts with `@<cycle>`. */
  atTok: Token | null;
  cycleTok: Token | null;
  /** The mnemonic token as written, e.g. `ADD.fp32`. */
  mnemonic: Token;
  /** Operands split at top-level commas; each is a non-empty token list. */
  operands: Token[][];
  end: Pos;
}

export type Stmt = DirectiveStmt | InstrStmt;

const IDENT_START = /[A-Za-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_.\-]/;
const NUMBER = /^(?:0[xX][0-9A-Fa-f]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;
const PUNCT = '[](),:@=+-';

/** Split source text into lines of tokens (statements); see the lexical rules above. */
export function tokenize(source: string, file: string): { tokens: Token[]; end: Pos }[] {
  const out: { tokens: Token[]; end: Pos }[] = [];
  let cur: Token[] = [];
  let depth = 0;
  let sawEq = false;
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const n = source.length;
  const endOf = (): Pos => {
    const last = cur[cur.length - 1];
    if (!last) return { line, col: i - lineStart + 1 };
    return { line: last.line, col: last.col + (last.kind === 'str' ? JSON.stringify(last.text).length : last.text.length) };
  };
  const flush = () => {
    if (cur.length) out.push({ tokens: cur, end: endOf() });
    cur = [];
    depth = 0;
    sawEq = false;
  };
  while (i < n) {
    const c = source[i]!;
    const col = i - lineStart + 1;
    if (c === '\n') {
      if (!(sawEq && depth > 0)) flush();
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === ';' || c === '#') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      // a string ends on its line: a backslash does not escape the line end
      while (j < n && source[j] !== '"' && source[j] !== '\n') j += source[j] === '\\' && source[j + 1] !== '\n' ? 2 : 1;
      if (j >= n || source[j] !== '"') throw new SfError('unterminated string', at(file, line, col));
      const raw = source.slice(i, j + 1);
      let text: string;
      try {
        text = JSON.parse(raw) as string;
      } catch {
        // control characters shown escaped: the message stays one line
        const shown = raw.replace(/[\x00-\x1f\x7f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
        throw new SfError(`bad string ${shown} (use JSON escapes)`, at(file, line, col));
      }
      cur.push({ kind: 'str', text, line, col });
      i = j + 1;
      continue;
    }
    if (c === '.' && i + 1 < n && IDENT_START.test(source[i + 1]!)) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(source[j]!)) j++;
      cur.push({ kind: 'directive', text: source.slice(i, j), line, col });
      i = j;
      continue;
    }
    if (/[0-9.]/.test(c)) {
      const m = NUMBER.exec(source.slice(i, i + 400));
      let j = i + (m ? m[0].length : 0);
      if (!m || (j < n && /[A-Za-z0-9_.]/.test(source[j]!))) {
        while (j < n && /[A-Za-z0-9_.]/.test(source[j]!)) j++;
        throw new SfError(`bad number "${source.slice(i, Math.max(j, i + 1))}"`, at(file, line, col));
      }
      cur.push({ kind: 'num', text: m[0], line, col });
      i = j;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(source[j]!)) j++;
      cur.push({ kind: 'ident', text: source.slice(i, j), line, col });
      i = j;
      continue;
    }
    if (PUNCT.includes(c)) {
      if (c === '=') sawEq = true;
      if (c === '[' || c === '(') depth++;
      if ((c === ']' || c === ')') && depth > 0) depth--;
      cur.push({ kind: 'punct', text: c, line, col });
      i++;
      continue;
    }
    throw new SfError(`unexpected character ${JSON.stringify(c)}`, at(file, line, col));
  }
  flush();
  return out;
}

/** Parse source text into statements. Directive arguments stay raw tokens (see TokenCursor). */
export function parse(source: string, file: string): Stmt[] {
  const stmts: Stmt[] = [];
  for (const { tokens, end } of tokenize(source, file)) {
    const first = tokens[0]!;
    if (first.kind === 'directive') {
      stmts.push({ kind: 'directive', name: first, args: tokens.slice(1), end });
      continue;
    }
    let k = 0;
    let atTok: Token | null = null;
    let cycleTok: Token | null = null;
    if (first.kind === 'punct' && first.text === '@') {
      atTok = first;
      const c = tokens[1];
      if (!c || c.kind !== 'num') {
        throw new SfError('expected a cycle number after "@"', c ? at(file, c.line, c.col) : at(file, end.line, end.col));
      }
      cycleTok = c;
      k = 2;
    }
    const mn = tokens[k];
    if (!mn) throw new SfError('expected an instruction after the @cycle', at(file, end.line, end.col));
    if (mn.kind !== 'ident') {
      throw new SfError(`expected an instruction or a directive, got ${describe(mn)}`, at(file, mn.line, mn.col));
    }
    const operands: Token[][] = [];
    const rest = tokens.slice(k + 1);
    if (rest.length) {
      let group: Token[] = [];
      let depth = 0;
      let commaPos: Pos = { line: mn.line, col: mn.col };
      for (const t of rest) {
        if (t.kind === 'punct' && (t.text === '[' || t.text === '(')) depth++;
        if (t.kind === 'punct' && (t.text === ']' || t.text === ')') && depth > 0) depth--;
        if (t.kind === 'punct' && t.text === ',' && depth === 0) {
          if (!group.length) throw new SfError('missing operand before ","', at(file, t.line, t.col));
          operands.push(group);
          group = [];
          commaPos = { line: t.line, col: t.col };
          continue;
        }
        group.push(t);
      }
      if (!group.length) throw new SfError('missing operand after ","', at(file, commaPos.line, commaPos.col));
      operands.push(group);
    }
    stmts.push({ kind: 'instr', atTok, cycleTok, mnemonic: mn, operands, end });
  }
  return stmts;
}

/** How a token reads in an error message. */
export function describe(t: Token | undefined): string {
  if (!t) return 'end of line';
  if (t.kind === 'str') return `string ${JSON.stringify(t.text)}`;
  return `"${t.text}"`;
}

/** A number read from tokens: optional sign, then a number or (if allowed) inf / nan. */
export interface NumLit {
  value: number;
  /** Written without a fraction, exponent or inf/nan (hex or plain decimal digits). */
  integral: boolean;
  tok: Token;
}

/** Sequential reader over a token list with positioned errors. */
export class TokenCursor {
  i = 0;
  constructor(
    readonly tokens: Token[],
    readonly file: string,
    readonly end: Pos,
  ) {}

  peek(o = 0): Token | undefined {
    return this.tokens[this.i + o];
  }

  done(): boolean {
    return this.i >= this.tokens.length;
  }

  where(t: Token | undefined): string {
    return t ? at(this.file, t.line, t.col) : at(this.file, this.end.line, this.end.col);
  }

  fail(msg: string, t: Token | undefined = this.peek()): never {
    throw new SfError(msg, this.where(t));
  }

  next(what: string): Token {
    const t = this.peek();
    if (!t) this.fail(`expected ${what}, got end of line`);
    this.i++;
    return t;
  }

  isPunct(p: string, o = 0): boolean {
    const t = this.peek(o);
    return !!t && t.kind === 'punct' && t.text === p;
  }

  eatPunct(p: string): boolean {
    if (this.isPunct(p)) {
      this.i++;
      return true;
    }
    return false;
  }

  expectPunct(p: string, what = `"${p}"`): Token {
    const t = this.peek();
    if (!t || t.kind !== 'punct' || t.text !== p) this.fail(`expected ${what}, got ${describe(t)}`);
    this.i++;
    return t;
  }

  expectIdent(what: string): Token {
    const t = this.peek();
    if (!t || t.kind !== 'ident') this.fail(`expected ${what}, got ${describe(t)}`);
    this.i++;
    return t;
  }

  expectString(what: string): Token {
    const t = this.peek();
    if (!t || t.kind !== 'str') this.fail(`expected ${what}, got ${describe(t)}`);
    this.i++;
    return t;
  }

  expectEnd(): void {
    const t = this.peek();
    if (t) this.fail(`unexpected ${describe(t)}`);
  }

  /** A signed number; `special` allows inf and nan. */
  number(what: string, special = false): NumLit {
    const first = this.peek();
    let sign = 1;
    if (this.isPunct('-') || this.isPunct('+')) {
      if (this.peek()!.text === '-') sign = -1;
      this.i++;
    }
    const t = this.peek();
    if (t && t.kind === 'num') {
      this.i++;
      return { value: sign * Number(t.text), integral: !/[.eE]/.test(t.text) || /^0[xX]/.test(t.text), tok: first! };
    }
    if (special && t && t.kind === 'ident') {
      const w = t.text.toLowerCase();
      if (w === 'inf' || w === 'nan') {
        this.i++;
        return { value: w === 'inf' ? sign * Infinity : NaN, integral: false, tok: first! };
      }
    }
    this.fail(`expected ${what}, got ${describe(t)}`, t ?? first);
  }

  /** A signed integer (decimal or 0x hex) within [min, max]. */
  integer(what: string, min = -(2 ** 31), max = 2 ** 31 - 1): NumLit {
    const n = this.number(what);
    if (!n.integral || !Number.isSafeInteger(n.value)) this.fail(`expected ${what} (an integer), got ${numText(this, n)}`, n.tok);
    if (n.value < min || n.value > max) this.fail(`${what} ${n.value} is out of range ${min}..${max}`, n.tok);
    return n;
  }
}

function numText(c: TokenCursor, n: NumLit): string {
  const k = c.tokens.indexOf(n.tok);
  const toks = c.tokens.slice(k, c.i).map((t) => t.text);
  return `"${toks.join('')}"`;
}
