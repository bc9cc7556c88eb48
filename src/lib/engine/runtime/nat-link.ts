// TranslationMethodNat on a real host: which provider addresses of the store are NAT PAs (owned by the
// engine, never configured on the host: io/physical-link.ts), and the physical interface they live on.
import {parseIp} from '../../net/ip.js'
import {EngineError} from '../../control/errors.js'
import {NONE, Translation, type ForwardingTable} from '../table.js'
import {listLocalAddresses, type LocalAddress, type StoreProviderAddress} from './host.js'

/** The canonical texts of this host's PAs that a TranslationMethodNat record holds. */
export function natProviderAddresses(table: ForwardingTable): Set<string> {
  const out = new Set<string>()
  const {records, pas} = table
  for (let r = 0; r < records.count; r++) {
    const pa = records.pa[r]
    if (records.rule[r] === Translation.NAT && pa !== NONE && pas.local[pa] === 1) out.add(pas.text[pa])
  }
  return out
}

/**
 * The interface a NAT PA is reached on: the one holding an address of the same subnet (the PA's own
 * PrefixLength). The error names the PA and what to add.
 */
export function natInterface(pa: StoreProviderAddress, local: readonly LocalAddress[] = listLocalAddresses()): LocalAddress {
  const address = parseIp(pa.ProviderAddress)
  // On the stack too, the kernel would answer ARP for it and reply to what arrives (RST, echo reply).
  if (local.some((l) => l.address === address.text)) {
    throw new EngineError(
      `TranslationMethodNat provider address ${address.text} is assigned to this host's stack: the engine answers for it itself, so remove it (ip addr del ${address.text}/${pa.PrefixLength} dev <interface>)`,
    )
  }
  const match = local.find((l) => l.family === address.family && sameSubnet(l.bytes, address.bytes, pa.PrefixLength))
  if (match) return match
  throw new EngineError(
    `no interface of this host is on the subnet of TranslationMethodNat provider address ${address.text}/${pa.PrefixLength}: give the physical interface an address of that subnet (the NAT PA itself stays unassigned)`,
  )
}

function sameSubnet(a: ArrayLike<number>, b: ArrayLike<number>, length: number): boolean {
  for (let bit = 0; bit < length; bit += 8) {
    const mask = length - bit >= 8 ? 0xff : (0xff << (8 - (length - bit))) & 0xff
    if ((a[bit >> 3] & mask) !== (b[bit >> 3] & mask)) return false
  }
  return true
}
