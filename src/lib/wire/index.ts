// hnv's packet layer: codecs for every protocol the engine touches, modelled on smoltcp's `wire` module.
// It depends on nothing but Node's Buffer.
//
// Two levels, as in smoltcp. A *view* (`Ipv4View`, `NvgreView` ...) is a reusable object over bytes in a
// buffer: the engine allocates one per protocol and stage, and rebinds it to each frame with
// `wrap(buf, off, end)`, which checks once that the header and the lengths it declares fit in
// `buf[off, end)` and returns 0 or a `WireErrorCode` (a small number; never a throw). After a 0, every
// getter reads `buf[off + FIELD]` directly, never outside the bytes checked, and returns a plain number;
// setters write in place. Nothing in wrap, the getters, the setters, the checksum helpers, `flowHash*`
// or `NvgreEncap.push` allocates. After a non-zero `wrap`, the view must not be read.
//
// A *repr* (`Ipv4Repr` ...) is the small plain value of the fields that matter, for tools, tests and
// replies built off the hot path. `parseXxx(buf, off, end)` validates lengths and meaning (version,
// checksum, options) and throws only `WireError`, whose `code` is the same `WireErrorCode` and whose
// message names the field and value that is wrong. `emitXxx(repr, buf, off)` writes into the caller's
// buffer and returns the bytes it wrote; it cannot fail on a buffer with room for them. Emitters of
// headers whose checksum covers a payload (UDP, TCP) expect that payload already in place; those with a
// checksum take a `ChecksumMode` (compute, leave zero, or partial for offload). Use `wrap`/`parse` on
// input only: a reused output buffer holds stale bytes.
//
// `end` is always exclusive and must not exceed `buf.length`. Field offsets are named once per protocol
// file, quoting their RFC, as an exported `const enum` (`Ipv4.TTL`, `Udp.CHECKSUM`, `EtherType.IPV4`):
// tsc and esbuild replace each use with the literal, so a hot path pays no module-variable load and the
// views' getters stay small enough for V8 to inline them. Plain constants with the same values
// (`IPV4_TTL` ...) are exported too, for callers that prefer them. Names for values live only in
// describe.ts.
//
// Performance notes that shaped the code (measured with bench/wire.ts on these machines): no per-packet
// allocation anywhere on the hot path, including numbers: a uint32 above 2^31 handed to a function V8
// did not inline becomes a new heap number, so flow hashes are 31-bit and NvgreEncap keeps int32 fields;
// straight-line stores beat any copy loop, Buffer.copy or TypedArray.set for headers this small.

export * from './errors.js'
export * from './address.js'
export * from './checksum.js'
export * from './ip.js'
export * from './ethernet.js'
export * from './arp.js'
export * from './ipv4.js'
export * from './ipv6.js'
export * from './icmpv4.js'
export * from './icmpv6.js'
export * from './udp.js'
export * from './tcp.js'
export * from './nvgre.js'
export * from './dhcp.js'
export * from './flow-hash.js'
export * from './pcap.js'
export * from './describe.js'
