/**
 * Reads the common JSON body straight from its bytes, without decoding it to text and without
 * `JSON.parse`: one flat object (no nested object or array) whose keys are ASCII without `.` or
 * escape, and whose strings are well-formed UTF-8. Only the values of the fields asked for are
 * built; every other value is checked and skipped.
 *
 * Invariants (silver's outcome must not depend on which reader read a body):
 * - A body it accepts is valid JSON, and each value is exactly what `JSON.parse` then `bodyFields`
 *   (flatten.ts) give for that name: strings identical (escapes decoded), numbers the same double
 *   (`-0` included), `true`/`false`/`null`, `undefined` when absent; a key given twice keeps its
 *   last value, as `JSON.parse` does.
 * - Anything else returns `false` and the caller reads the body as before: bytes that are not
 *   well-formed UTF-8 (the decoder gives their quarantine message), a byte-order mark, a key outside
 *   ASCII, with a `.` or with an escape (both may flatten to another name), a nested object or
 *   array, and every body `JSON.parse` rejects (trailing commas, leading zeros, `+1`, `.5`, `1.`,
 *   control characters in strings, bad escapes, text after the object, …). So every quarantine
 *   reason and message stays that of the `JSON.parse` path.
 * The property test in flat-json.spec.ts holds both readers to this on random bodies.
 *
 * A name may be read as a number (`NumberText`): a string value that is plain decimal text then
 * comes as the double `Number` reads from it instead of as the text, and any other value as above.
 * The caller asks it only for a value whose text and number mean the same to it (the long and
 * double casts of cast.ts), so that no row, and no quarantine message, depends on it.
 */

const TAB = 0x09;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const SLASH = 0x2f;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const UPPER_E = 0x45;
const BACKSLASH = 0x5c;
const LOWER_E = 0x65;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const ASCII_END = 0x80;

/**
 * Plain values shorter than this are remembered per name (`shortText`): repeated ones are mostly
 * short (codes, names, ids of a few devices), and longer ones mostly unique (times, ids).
 */
const SHORT_TEXT_MAX = 12;

/** Short texts remembered per name (a power of two). */
const RECENT_TEXTS = 256;

/** Longest escaped or non-ASCII value (in bytes as sent) whose text is remembered by its bytes. */
const RECALLED_RAW_BYTES = 64;

/** Whole numbers of at most this many digits are exact as they are summed digit by digit. */
const EXACT_INTEGER_DIGITS = 15;

/**
 * Exact powers of ten: a whole number below 2^53 divided by one of them is rounded once, so it is
 * the double nearest the decimal, the one `Number` reads (the exact case of Clinger's reading).
 */
const POWERS_OF_TEN = Array.from({ length: EXACT_INTEGER_DIGITS + 1 }, (_, k) => 10 ** k);

/**
 * Which string values of a name are read as numbers: `whole`, `-?digits` (a long's text);
 * `decimal`, `-?digits(.digits)?` (a double's text); each of at most 15 digits, so exact. Any other
 * text stays text.
 */
export type NumberText = 'whole' | 'decimal';

/** 1 for the bytes a string holds as they are: ASCII from the space up, but for the quote and the backslash. */
const PLAIN_TEXT = byteClass((c) => c >= SPACE && c < ASCII_END && c !== QUOTE && c !== BACKSLASH);
/** 1 for the bytes of a key read here: plain text without `.`. */
const PLAIN_KEY = byteClass((c) => c >= SPACE && c < ASCII_END && c !== QUOTE && c !== BACKSLASH && c !== DOT);

function byteClass(member: (c: number) => boolean): Uint8Array {
  const table = new Uint8Array(256);
  for (let c = 0; c < 256; c++) table[c] = member(c) ? 1 : 0;
  return table;
}

/** Node's Latin-1 decoding of `bytes[start, end)` (for ASCII, the text itself), for any Uint8Array. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;
/** Node's UTF-8 decoding of `bytes[start, end)`, for any Uint8Array (exact for well-formed UTF-8). */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Uint8Array, start: number, end: number): string }).utf8Slice;

/** The fields of flat JSON bodies, by the index of their name in `names`. */
export class FlatJsonFields {
  private readonly names: readonly Uint8Array[];
  /** Per name, whether its bytes are all `PLAIN_KEY` bytes, so a key equal to it needs no other check. */
  private readonly plain: readonly boolean[];
  /** The index after the last field found: bodies list their fields in the same order. */
  private next = 0;
  /** Per name, short texts read lately (see `shortText`). */
  private readonly recent: (string | undefined)[][];
  /** Per name, escaped or non-ASCII texts read lately with their bytes as sent (see `decodedText`), made at first use. */
  private readonly recentRaw: (RecalledRaw | undefined)[][];
  /** Per name, 0 for text, 1 for `whole` and 2 for `decimal` number text (see `NumberText`). */
  private readonly numberText: Uint8Array;

  /**
   * `names`: the field names to read (names outside ASCII are never found: their keys take the other path).
   * `numbers`: per name, the number text read as a number (`undefined`: every string value is text).
   */
  constructor(names: readonly string[], numbers: readonly (NumberText | undefined)[] = []) {
    this.names = names.map((name) => Buffer.from(name, 'latin1'));
    this.plain = this.names.map((bytes) => bytes.every((c) => PLAIN_KEY[c] === 1));
    this.recent = names.map(() => new Array<string | undefined>(RECENT_TEXTS).fill(undefined));
    this.recentRaw = names.map(() => []);
    this.numberText = Uint8Array.from(names, (_, i) => (numbers[i] === 'whole' ? 1 : numbers[i] === 'decimal' ? 2 : 0));
  }

  /**
   * Sets `values[i]` to the value of `names[i]` in the body (`undefined` when absent) and returns
   * true; returns false, with `values` undefined to use, when the body is outside the subset read here.
   */
  read(body: Uint8Array, values: unknown[]): boolean {
    const names = this.names;
    for (let i = 0; i < names.length; i++) values[i] = undefined;
    const n = body.length;
    let at = skipSpace(body, 0);
    if (at >= n || body[at] !== OPEN_BRACE) return false;
    at = skipSpace(body, at + 1);
    if (at < n && body[at] === CLOSE_BRACE) return skipSpace(body, at + 1) === n;
    for (;;) {
      // A key: plain ASCII without escape or `.`.
      if (at >= n || body[at] !== QUOTE) return false;
      const keyStart = at + 1;
      let keyEnd: number;
      let slot = this.next;
      const expected = this.names[slot];
      // Most often the key is the name after the last one found: compared in place, without a scan.
      if (expected !== undefined && this.plain[slot] === true && sameBytes(expected, body, keyStart, keyStart + expected.length) && body[keyStart + expected.length] === QUOTE) {
        keyEnd = keyStart + expected.length;
        this.next = slot + 1 < this.names.length ? slot + 1 : 0;
      } else {
        keyEnd = keyStart;
        while (keyEnd < n && PLAIN_KEY[body[keyEnd] as number] === 1) keyEnd++;
        if (keyEnd >= n || body[keyEnd] !== QUOTE) return false;
        slot = this.slotOf(body, keyStart, keyEnd);
      }
      at = skipSpace(body, keyEnd + 1);
      if (at >= n || body[at] !== COLON) return false;
      at = skipSpace(body, at + 1);
      if (at >= n) return false;
      const first = body[at] as number;
      let value: unknown;
      if (first === QUOTE) {
        const start = at + 1;
        let end = start;
        let escaped = false;
        let ascii = true;
        for (;;) {
          while (end < n && PLAIN_TEXT[body[end] as number] === 1) end++;
          if (end >= n) return false;
          const c = body[end] as number;
          if (c === QUOTE) break;
          if (c === BACKSLASH) {
            const length = escapeLength(body, end + 1);
            if (length === 0) return false;
            escaped = true;
            end += 1 + length;
          } else {
            // Text outside ASCII: one well-formed UTF-8 sequence, or the body is left to the decoder.
            const length = c >= ASCII_END ? utf8SequenceLength(body, end) : 0;
            if (length === 0) return false;
            ascii = false;
            end += length;
          }
        }
        if (slot >= 0) {
          const kind = this.numberText[slot] as number;
          if (kind !== 0 && !escaped && ascii) value = numberTextValue(body, start, end, kind === 2);
          if (value !== undefined) {
            // Read as a number.
          } else if (escaped || !ascii) value = this.decodedText(slot, body, start, end, escaped);
          else if (end - start <= SHORT_TEXT_MAX) value = this.shortText(slot, body, start, end);
          else value = latin1Slice.call(body, start, end);
        }
        at = end + 1;
      } else if (first === MINUS || (first >= ZERO && first <= NINE)) {
        const end = numberEnd(body, at);
        if (end < 0) return false;
        if (slot >= 0) value = numberValue(body, at, end);
        at = end;
      } else {
        const end = literalEnd(body, at);
        if (end < 0) return false;
        if (slot >= 0) value = first === 0x74 ? true : first === 0x66 ? false : null;
        at = end;
      }
      if (slot >= 0) values[slot] = value;
      at = skipSpace(body, at);
      if (at >= n) return false;
      const separator = body[at];
      if (separator === CLOSE_BRACE) return skipSpace(body, at + 1) === n;
      if (separator !== COMMA) return false;
      at = skipSpace(body, at + 1);
    }
  }

  /**
   * The short text `body[start, end)`: the one seen last under its hash for this name when the
   * same, so rows share the strings of repeated values (carriers, airports, device ids) instead of
   * each holding a copy. A new one is decoded alone: no text of the whole body is made.
   */
  private shortText(slot: number, body: Uint8Array, start: number, end: number): string {
    const hash = bytesHash(body, start, end);
    const recent = this.recent[slot] as (string | undefined)[];
    const index = hash & (RECENT_TEXTS - 1);
    const seen = recent[index];
    if (seen !== undefined && seen.length === end - start) {
      let same = true;
      for (let i = 0; same && i < seen.length; i++) same = seen.charCodeAt(i) === body[start + i];
      if (same) return seen;
    }
    const fresh = latin1Slice.call(body, start, end);
    recent[index] = fresh;
    return fresh;
  }

  /**
   * The text of the escaped or non-ASCII value `body[start, end)`: the one read last under its
   * hash for this name when its bytes as sent are the same (the same bytes always decode to the
   * same text), so rows share repeated values (place names, quoted labels) instead of each
   * decoding its own copy.
   */
  private decodedText(slot: number, body: Uint8Array, start: number, end: number, escaped: boolean): string {
    const length = end - start;
    if (length > RECALLED_RAW_BYTES) return escaped ? unescaped(body, start, end) : utf8Slice.call(body, start, end);
    const hash = bytesHash(body, start, end);
    const recent = this.recentRaw[slot] as (RecalledRaw | undefined)[];
    const index = hash & (RECENT_TEXTS - 1);
    let seen = recent[index];
    if (seen !== undefined && seen.length === length) {
      const bytes = seen.bytes;
      let same = true;
      for (let i = 0; same && i < length; i++) same = bytes[i] === body[start + i];
      if (same) return seen.text;
    }
    const text = escaped ? unescaped(body, start, end) : (utf8Slice.call(body, start, end) as string);
    seen ??= recent[index] = { bytes: new Uint8Array(RECALLED_RAW_BYTES), length: 0, text: '' };
    for (let i = 0; i < length; i++) seen.bytes[i] = body[start + i] as number;
    seen.length = length;
    seen.text = text;
    return text;
  }

  /** The index of the name `body[start, end)`, or −1. */
  private slotOf(body: Uint8Array, start: number, end: number): number {
    const names = this.names;
    const count = names.length;
    const expected = this.next;
    for (let k = 0; k < count; k++) {
      const i = expected + k < count ? expected + k : expected + k - count;
      if (sameBytes(names[i] as Uint8Array, body, start, end)) {
        this.next = i + 1 < count ? i + 1 : 0;
        return i;
      }
    }
    return -1;
  }
}

/** A value's bytes as sent (the first `length` of `bytes`, copied) and its text. */
interface RecalledRaw {
  readonly bytes: Uint8Array;
  length: number;
  text: string;
}

/** A hash of `body[start, end)` (with its length), to find a value read before under its name. */
function bytesHash(body: Uint8Array, start: number, end: number): number {
  let hash = end - start;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + (body[i] as number)) | 0;
  return hash;
}

function sameBytes(name: Uint8Array, body: Uint8Array, start: number, end: number): boolean {
  if (name.length !== end - start) return false;
  for (let i = 0; i < name.length; i++) if (name[i] !== body[start + i]) return false;
  return true;
}

/** JSON whitespace only: space, tab, line feed, carriage return. */
function skipSpace(body: Uint8Array, from: number): number {
  let at = from;
  while (at < body.length) {
    const c = body[at];
    if (c !== SPACE && c !== LINE_FEED && c !== CARRIAGE_RETURN && c !== TAB) break;
    at++;
  }
  return at;
}

/** The bytes after the backslash of a valid escape at `at` (1, or 5 for `\uXXXX`), or 0. */
function escapeLength(body: Uint8Array, at: number): number {
  if (at >= body.length) return 0;
  switch (body[at]) {
    case QUOTE:
    case BACKSLASH:
    case SLASH:
    case 0x62: // b
    case 0x66: // f
    case 0x6e: // n
    case 0x72: // r
    case 0x74: // t
      return 1;
    case 0x75: // u
      for (let i = 1; i <= 4; i++) if (hexDigit(body[at + i]) < 0) return 0;
      return 5;
    default:
      return 0;
  }
}

function hexDigit(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= ZERO && c <= NINE) return c - ZERO;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The text of a string's content with escapes (checked already), as `JSON.parse` gives it: `\uXXXX` is that UTF-16 unit, paired or not. */
function unescaped(body: Uint8Array, start: number, end: number): string {
  let text = '';
  let from = start;
  for (let at = start; at < end; at++) {
    if (body[at] !== BACKSLASH) continue;
    text += utf8Slice.call(body, from, at);
    const kind = body[at + 1] as number;
    if (kind === 0x75) {
      text += String.fromCharCode((hexDigit(body[at + 2]) << 12) | (hexDigit(body[at + 3]) << 8) | (hexDigit(body[at + 4]) << 4) | hexDigit(body[at + 5]));
      at += 5;
    } else {
      text += kind === 0x62 ? '\b' : kind === 0x66 ? '\f' : kind === 0x6e ? '\n' : kind === 0x72 ? '\r' : kind === 0x74 ? '\t' : String.fromCharCode(kind);
      at += 1;
    }
    from = at + 1;
  }
  return text + utf8Slice.call(body, from, end);
}

/**
 * The length of the well-formed UTF-8 sequence at `at` (Unicode's table 3-7: no overlong form, no
 * surrogate, nothing past U+10FFFF), or 0: the strict decoder silver uses rejects exactly the rest.
 */
function utf8SequenceLength(body: Uint8Array, at: number): number {
  const lead = body[at] as number;
  const second = body[at + 1];
  if (second === undefined) return 0;
  let low = 0x80;
  let high = 0xbf;
  let length: number;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    else if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    else if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (second < low || second > high) return 0;
  for (let i = 2; i < length; i++) {
    const next = body[at + i];
    if (next === undefined || next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}

/** The end of the JSON number at `start`, or −1 when its grammar is broken (`-`, `01`, `1.`, `.5`, `1e`, …). */
function numberEnd(body: Uint8Array, start: number): number {
  const n = body.length;
  let at = start;
  if (body[at] === MINUS) at++;
  if (at >= n) return -1;
  const first = body[at] as number;
  if (first === ZERO) at++;
  else if (first > ZERO && first <= NINE) at = digitsEnd(body, at + 1);
  else return -1;
  if (at < n && body[at] === DOT) {
    const digits = at + 1;
    at = digitsEnd(body, digits);
    if (at === digits) return -1;
  }
  if (at < n && (body[at] === LOWER_E || body[at] === UPPER_E)) {
    let digits = at + 1;
    if (digits < n && (body[digits] === PLUS || body[digits] === MINUS)) digits++;
    at = digitsEnd(body, digits);
    if (at === digits) return -1;
  }
  // `01` leaves a digit here: JSON does not allow it, so neither does the separator check after.
  return at;
}

function digitsEnd(body: Uint8Array, from: number): number {
  let at = from;
  while (at < body.length) {
    const c = body[at] as number;
    if (c < ZERO || c > NINE) break;
    at++;
  }
  return at;
}

/** The double `JSON.parse` reads from a valid JSON number: short whole numbers summed exactly, the rest by Number's (correctly rounded) reading. */
function numberValue(body: Uint8Array, start: number, end: number): number {
  return numberTextValue(body, start, end, false) ?? Number(latin1Slice.call(body, start, end));
}

/**
 * The number of the text `body[start, end)` when it is `-?digits` (or, with `fraction`,
 * `-?digits.digits`) of at most 15 digits in all, exactly as `Number` reads that text (`-0` too);
 * `undefined` for any other text.
 */
function numberTextValue(body: Uint8Array, start: number, end: number, fraction: boolean): number | undefined {
  const negative = body[start] === MINUS;
  let at = negative ? start + 1 : start;
  let whole = 0;
  let digits = 0;
  let point = -1;
  for (; at < end; at++) {
    const c = body[at] as number;
    if (c >= ZERO && c <= NINE) {
      whole = whole * 10 + (c - ZERO);
      digits++;
    } else if (c === DOT && fraction && point < 0 && digits > 0) point = digits;
    else return undefined;
  }
  // At least one digit on each side of a point, as `digits.digits` has.
  if (digits === 0 || digits > EXACT_INTEGER_DIGITS || point === digits) return undefined;
  const value = point < 0 ? whole : whole / (POWERS_OF_TEN[digits - point] as number);
  return negative ? -value : value;
}

/** The end of `true`, `false` or `null` at `start`, or −1. */
function literalEnd(body: Uint8Array, start: number): number {
  const literal = body[start] === 0x74 ? TRUE : body[start] === 0x66 ? FALSE : body[start] === 0x6e ? NULL : undefined;
  if (literal === undefined) return -1;
  return sameBytes(literal, body, start, Math.min(start + literal.length, body.length)) ? start + literal.length : -1;
}

const TRUE = Buffer.from('true', 'latin1');
const FALSE = Buffer.from('false', 'latin1');
const NULL = Buffer.from('null', 'latin1');
