// Reading a column of values that SQLite joined into one string (group_concat with a separator), field by
// field, without making a string or an object per field: the engine's store reader (policy-source.ts)
// gets 100k lookup records as a handful of strings and parses them here with char-code loops.
//
// The fast parsers accept only the canonical text the policy store writes (a strict dotted quad, 12
// upper-case hex digits, a braced lower-case GUID, a decimal integer) and return the same value the
// general parsers in src/lib/net would; anything else (IPv6, other spellings, garbage) is refused with -1
// or null and nothing consumed, so the caller can hand the field's text (`next()`) to the general parser.
//
// A value that contains the separator shifts every later field; `aligned()` tells whether exactly the
// expected number of fields was read and the text ended with the last one, so a caller can throw the
// whole read away instead of trusting it.

const DOT = 0x2e
const SLASH = 0x2f
const DIGIT_0 = 0x30
const DASH = 0x2d
const BRACE_OPEN = 0x7b
const BRACE_CLOSE = 0x7d
/** `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` */
const GUID_LEN = 38

export class FieldReader {
  /** Where the next field starts; end + 1 once the last field has been read. */
  private pos = 0
  private readonly end: number
  /** A read was attempted after the last field. */
  private overrun = false
  /** After mac(): the upper 16 and lower 32 bits. */
  hi = 0
  lo = 0
  /** After prefix4(): the prefix length. */
  length = 0
  /** Where the last field read started and ended (for its text, only when it is needed). */
  lastStart = 0
  lastEnd = 0

  private readonly separatorText: string

  constructor(
    private readonly text: string,
    private readonly separator: number,
  ) {
    this.end = text.length
    this.separatorText = String.fromCharCode(separator)
  }

  /** Exactly the fields there were have been read (call with the number of rows read; 0 rows: empty text). */
  aligned(rows: number): boolean {
    return rows === 0 ? this.end === 0 : !this.overrun && this.pos === this.end + 1
  }

  /** The text of the next field; moves past it. */
  next(): string {
    const start = this.pos
    if (start > this.end) {
      this.overrun = true
      return ''
    }
    let p = this.text.indexOf(this.separatorText, start)
    if (p < 0) p = this.end
    this.close(start, p)
    return this.text.slice(start, p)
  }

  /** Moves past the next field (its span: lastStart, lastEnd). */
  skip(): void {
    const start = this.pos
    if (start > this.end) {
      this.overrun = true
      return
    }
    let p = this.text.indexOf(this.separatorText, start)
    if (p < 0) p = this.end
    this.close(start, p)
  }

  /** The text of the field read last. */
  lastText(): string {
    return this.text.slice(this.lastStart, this.lastEnd)
  }

  /** A decimal integer of at most 15 digits, or -1 (nothing consumed). */
  uint(): number {
    const s = this.text
    const start = this.pos
    let p = start
    let value = 0
    for (;;) {
      const d = s.charCodeAt(p) - DIGIT_0
      if (!(d >= 0 && d <= 9)) break
      value = value * 10 + d
      p++
    }
    if (p === start || p - start > 15 || !this.closes(p)) return -1
    this.close(start, p)
    return value
  }

  /** A strict dotted quad (0-255, no leading zeros: what parseIp accepts for IPv4) as a uint32, or -1. */
  ipv4(): number {
    const start = this.pos
    const value = this.quad(start)
    if (value < 0 || !this.closes(this.at)) return -1
    this.close(start, this.at)
    return value
  }

  /**
   * A canonical IPv4 prefix (strict dotted quad, '/', a length 0-32 without leading zeros, no host bits):
   * the network as a uint32 and `length`, or -1.
   */
  prefix4(): number {
    const s = this.text
    const start = this.pos
    const value = this.quad(start)
    if (value < 0 || s.charCodeAt(this.at) !== SLASH) return -1
    let p = this.at + 1
    const d0 = s.charCodeAt(p) - DIGIT_0
    if (!(d0 >= 0 && d0 <= 9)) return -1
    let length = d0
    p++
    const d1 = s.charCodeAt(p) - DIGIT_0
    if (d1 >= 0 && d1 <= 9) {
      if (d0 === 0) return -1
      length = length * 10 + d1
      p++
    }
    if (length > 32 || !this.closes(p)) return -1
    // Host bits set: parsePrefix names the network meant; leave it to it.
    if (length < 32 && value % 2 ** (32 - length) !== 0) return -1
    this.length = length
    this.close(start, p)
    return value
  }

  /** 12 upper-case hex digits (the store's MAC form) into `hi`/`lo`; false (nothing consumed) otherwise. */
  mac(): boolean {
    const s = this.text
    const start = this.pos
    let hi = 0
    let lo = 0
    for (let i = 0; i < 12; i++) {
      const h = hexUpper(s.charCodeAt(start + i))
      if (h < 0) return false
      if (i < 4) hi = hi * 16 + h
      else lo = lo * 16 + h
    }
    if (!this.closes(start + 12)) return false
    this.hi = hi
    this.lo = lo
    this.close(start, start + 12)
    return true
  }

  /** A braced lower-case GUID (what parseGuid returns), or null (nothing consumed). */
  guid(): string | null {
    const s = this.text
    const start = this.pos
    if (s.charCodeAt(start) !== BRACE_OPEN || s.charCodeAt(start + GUID_LEN - 1) !== BRACE_CLOSE || !this.closes(start + GUID_LEN)) return null
    for (let i = 1; i < GUID_LEN - 1; i++) {
      const c = s.charCodeAt(start + i)
      if (i === 9 || i === 14 || i === 19 || i === 24) {
        if (c !== DASH) return null
      } else if (hexLower(c) < 0) return null
    }
    this.close(start, start + GUID_LEN)
    return s.slice(start, start + GUID_LEN)
  }

  // ---- internals ----

  /** Set by quad(): where the dotted quad ended. */
  private at = 0

  private quad(p: number): number {
    const s = this.text
    let value = 0
    for (let octet = 0; octet < 4; octet++) {
      if (octet > 0) {
        if (s.charCodeAt(p) !== DOT) return -1
        p++
      }
      const d0 = s.charCodeAt(p) - DIGIT_0
      if (!(d0 >= 0 && d0 <= 9)) return -1
      let n = d0
      p++
      if (d0 !== 0) {
        for (let k = 0; k < 2; k++) {
          const d = s.charCodeAt(p) - DIGIT_0
          if (!(d >= 0 && d <= 9)) break
          n = n * 10 + d
          p++
        }
        if (n > 255) return -1
      }
      value = value * 256 + n
    }
    this.at = p
    return value
  }

  /** Whether a field may end at p: the separator or the end of the text, and not past the last field. */
  private closes(p: number): boolean {
    if (this.pos > this.end) {
      this.overrun = true
      return false
    }
    return p === this.end || this.text.charCodeAt(p) === this.separator
  }

  private close(start: number, p: number): void {
    this.lastStart = start
    this.lastEnd = p
    this.pos = p + 1
  }
}

function hexUpper(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}

function hexLower(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}
