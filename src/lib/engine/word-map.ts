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

/**
 * Builds a WordMap by inserting straight into its slots (open addressing, as get*() probes), sized once for
 * the number of keys expected and doubled if more come: no per-key arrays, strings or objects, so a
 * compile of 100k records stays a few milliseconds here. The first value given for a key stays;
 * `add*` returns it for every later add of that key (the compiler reports those duplicates).
 */
export class WordMapBuilder {
  private readonly stride: number
  private slots: Int32Array
  private mask: number
  private count = 0
  private built = false

  /** `expected`: how many keys will probably be added (a bound is fine; the map holds at most twice as many slots). */
  constructor(readonly width: 1 | 2 | 3 | 5, expected = 0) {
    this.stride = width + 1
    const capacity = capacityFor(expected)
    this.slots = emptySlots(capacity, this.stride)
    this.mask = capacity - 1
  }

  get size(): number {
    return this.count
  }

  /** Adds key -> value unless the key is there; returns the value already there, or MISSING. */
  add(key: readonly number[], value: number): number {
    if (key.length !== this.width) throw new RangeError(`a key of this map has ${this.width} words, not ${key.length}`)
    switch (this.width) {
      case 1:
        return this.add1(key[0], value)
      case 2:
        return this.add2(key[0], key[1], value)
      case 3:
        return this.add3(key[0], key[1], key[2], value)
      default:
        return this.add5(key[0], key[1], key[2], key[3], key[4], value)
    }
  }

  add1(a: number, value: number): number {
    this.check(1, value)
    a |= 0
    for (;;) {
      const {slots, mask} = this
      for (let i = finish(mix(SEED, a)) & mask; ; i = (i + 1) & mask) {
        const k = i << 1
        const v = slots[k]
        if (v >= 0) {
          if (slots[k + 1] === a) return v
          continue
        }
        if (this.full()) break
        slots[k] = value
        slots[k + 1] = a
        this.count++
        return MISSING
      }
      this.grow()
    }
  }

  add2(a: number, b: number, value: number): number {
    this.check(2, value)
    a |= 0
    b |= 0
    for (;;) {
      const {slots, mask} = this
      for (let i = finish(mix(mix(SEED, a), b)) & mask; ; i = (i + 1) & mask) {
        const k = i * 3
        const v = slots[k]
        if (v >= 0) {
          if (slots[k + 1] === a && slots[k + 2] === b) return v
          continue
        }
        if (this.full()) break
        slots[k] = value
        slots[k + 1] = a
        slots[k + 2] = b
        this.count++
        return MISSING
      }
      this.grow()
    }
  }

  add3(a: number, b: number, c: number, value: number): number {
    this.check(3, value)
    a |= 0
    b |= 0
    c |= 0
    for (;;) {
      const {slots, mask} = this
      for (let i = finish(mix(mix(mix(SEED, a), b), c)) & mask; ; i = (i + 1) & mask) {
        const k = i << 2
        const v = slots[k]
        if (v >= 0) {
          if (slots[k + 1] === a && slots[k + 2] === b && slots[k + 3] === c) return v
          continue
        }
        if (this.full()) break
        slots[k] = value
        slots[k + 1] = a
        slots[k + 2] = b
        slots[k + 3] = c
        this.count++
        return MISSING
      }
      this.grow()
    }
  }

  add5(a: number, b: number, c: number, d: number, e: number, value: number): number {
    this.check(5, value)
    a |= 0
    b |= 0
    c |= 0
    d |= 0
    e |= 0
    for (;;) {
      const {slots, mask} = this
      for (let i = finish(mix(mix(mix(mix(mix(SEED, a), b), c), d), e)) & mask; ; i = (i + 1) & mask) {
        const k = i * 6
        const v = slots[k]
        if (v >= 0) {
          if (slots[k + 1] === a && slots[k + 2] === b && slots[k + 3] === c && slots[k + 4] === d && slots[k + 5] === e) return v
          continue
        }
        if (this.full()) break
        slots[k] = value
        slots[k + 1] = a
        slots[k + 2] = b
        slots[k + 3] = c
        slots[k + 4] = d
        slots[k + 5] = e
        this.count++
        return MISSING
      }
      this.grow()
    }
  }

  /** The map; the builder cannot be used afterwards (the map owns its slots). */
  build(): WordMap {
    if (this.built) throw new Error('WordMapBuilder.build() was called twice')
    this.built = true
    // Sized for more keys than came: shrink to the size the keys need (load at most 1/2).
    const capacity = capacityFor(this.count)
    if (capacity < this.mask + 1) this.rehash(capacity)
    return new WordMap(this.width, this.slots, this.count)
  }

  private check(width: number, value: number): void {
    if (this.built) throw new Error('WordMapBuilder used after build()')
    if (width !== this.width) throw new RangeError(`a key of this map has ${this.width} words, not ${width}`)
    if ((value | 0) !== value || value < 0) throw new RangeError(`map value ${value} is not a non-negative int32`)
  }

  /** One more key would take the load above 1/2. */
  private full(): boolean {
    return (this.count + 1) * 2 > this.mask + 1
  }

  private grow(): void {
    this.rehash((this.mask + 1) * 2)
  }

  /** Moves every key into `capacity` slots, where get*() will look for it. */
  private rehash(capacity: number): void {
    const {stride, slots: old} = this
    const slots = emptySlots(capacity, stride)
    const mask = capacity - 1
    for (let k = 0; k < old.length; k += stride) {
      if (old[k] < 0) continue
      let h = SEED
      for (let w = 1; w < stride; w++) h = mix(h, old[k + w])
      let i = finish(h) & mask
      while (slots[i * stride] >= 0) i = (i + 1) & mask
      slots.set(old.subarray(k, k + stride), i * stride)
    }
    this.slots = slots
    this.mask = mask
  }
}

/** The smallest power of two (at least 4) that holds `keys` at a load of at most 1/2. */
function capacityFor(keys: number): number {
  let capacity = 4
  while (capacity < keys * 2) capacity *= 2
  return capacity
}

function emptySlots(capacity: number, stride: number): Int32Array {
  const slots = new Int32Array(capacity * stride)
  for (let k = 0; k < slots.length; k += stride) slots[k] = MISSING
  return slots
}
