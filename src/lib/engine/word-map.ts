// Immutable hash maps from keys of 1 to 5 uint32 words to small non-negative integers, in typed arrays:
// the compiled table's CA, MAC, VSID and PA indices (DESIGN §2: numbers, not strings, as keys).
//
// A JS Map would do for keys below 2^31, but a per-VSID MAC (index, hi16, lo32) or an IPv4 CA under a
// routing-domain index (index * 2^32 + address) is a double, and passing a double to Map.prototype.get
// boxes it: one allocation per lookup. Here a key is its words (an IPv4 CA is [domain, address], an
// IPv6 CA [domain, w0, w1, w2, w3], a MAC [vsidIndex, hi16, lo32]); open addressing with linear probing
// at a load factor of at most 1/2; `get1`..`get5` hash and compare the words without allocating.
//
// Words are kept as int32 (an address above 2^31 is stored by its bits): an int32 argument is a small
// integer to V8 and crosses a call unboxed, where a uint32 above 2^31 would be a heap number. Callers on
// the hot path pass `x | 0`; the getters accept uint32 too (they take `| 0` themselves).
//
// Built once by WordMapBuilder (control path), which reports duplicate keys to the compiler.

export const MISSING = -1

const SEED = 0x2545f491

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x9e3779b1)
  return h ^ (h >>> 15)
}

function finish(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return h ^ (h >>> 16)
}

export class WordMap {
  private readonly mask: number
  /** Words per slot: the value, then the key's words (one cache line per probe). */
  private readonly stride: number

  /** Use WordMapBuilder. `slots` holds [value, key words...] per slot; the value is MISSING when empty. */
  constructor(
    readonly width: number,
    private readonly slots: Int32Array,
    /** Number of keys. */
    readonly size: number,
  ) {
    this.stride = width + 1
    this.mask = slots.length / this.stride - 1
  }

  get1(a: number): number {
    a |= 0
    const {slots, mask} = this
    for (let i = finish(mix(SEED, a)) & mask; ; i = (i + 1) & mask) {
      const k = i << 1
      const v = slots[k]
      if (v < 0 || slots[k + 1] === a) return v
    }
  }

  get2(a: number, b: number): number {
    a |= 0
    b |= 0
    const {slots, mask} = this
    for (let i = finish(mix(mix(SEED, a), b)) & mask; ; i = (i + 1) & mask) {
      const k = i * 3
      const v = slots[k]
      if (v < 0 || (slots[k + 1] === a && slots[k + 2] === b)) return v
    }
  }

  get3(a: number, b: number, c: number): number {
    a |= 0
    b |= 0
    c |= 0
    const {slots, mask} = this
    for (let i = finish(mix(mix(mix(SEED, a), b), c)) & mask; ; i = (i + 1) & mask) {
      const k = i << 2
      const v = slots[k]
      if (v < 0 || (slots[k + 1] === a && slots[k + 2] === b && slots[k + 3] === c)) return v
    }
  }

  get5(a: number, b: number, c: number, d: number, e: number): number {
    a |= 0
    b |= 0
    c |= 0
    d |= 0
    e |= 0
    const {slots, mask} = this
    for (let i = finish(mix(mix(mix(mix(mix(SEED, a), b), c), d), e)) & mask; ; i = (i + 1) & mask) {
      const k = i * 6
      const v = slots[k]
      if (v < 0 || (slots[k + 1] === a && slots[k + 2] === b && slots[k + 3] === c && slots[k + 4] === d && slots[k + 5] === e)) return v
    }
  }

  /** Any width, from an array (control path: tests, tools). */
  get(key: ArrayLike<number>): number {
    switch (this.width) {
      case 1:
        return this.get1(key[0])
      case 2:
        return this.get2(key[0], key[1])
      case 3:
        return this.get3(key[0], key[1], key[2])
      default:
        return this.get5(key[0], key[1], key[2], key[3], key[4])
    }
  }
}

export class WordMapBuilder {
  private readonly byText = new Map<string, number>()
  private readonly entries: {key: number[]; value: number}[] = []

  constructor(readonly width: 1 | 2 | 3 | 5) {}

  /** Adds key -> value unless the key is there; returns the value already there, or MISSING. */
  add(key: readonly number[], value: number): number {
    if (key.length !== this.width) throw new RangeError(`a key of this map has ${this.width} words, not ${key.length}`)
    if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`map value ${value} is not a non-negative int32`)
    const words = key.map((w) => w | 0)
    const text = words.join(':')
    const existing = this.byText.get(text)
    if (existing !== undefined) return existing
    this.byText.set(text, value)
    this.entries.push({key: words, value})
    return MISSING
  }

  build(): WordMap {
    const width = this.width
    const stride = width + 1
    let capacity = 4
    while (capacity < this.entries.length * 2) capacity *= 2
    const slots = new Int32Array(capacity * stride)
    for (let i = 0; i < capacity; i++) slots[i * stride] = MISSING
    const mask = capacity - 1
    for (const {key, value} of this.entries) {
      // The slot get() reaches: hash as get does, walk to the first empty one.
      let h = SEED
      for (const w of key) h = mix(h, w)
      let i = finish(h) & mask
      while (slots[i * stride] >= 0) i = (i + 1) & mask
      slots[i * stride] = value
      slots.set(key, i * stride + 1)
    }
    return new WordMap(width, slots, this.entries.length)
  }
}
