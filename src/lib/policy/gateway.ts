// The conventions of published HNV scripts for each virtual subnet's distributed gateway (reference/hnv.md
// §1-§2): its address is the subnet's first host address, and a lookup record gives the MAC VMs see for it.
import {parseIp, parsePrefix} from '../net/ip.js'

/** The MAC VMs see for their gateway (.1): the record every published script adds. */
export const GATEWAY_MAC = '101010101101'
/** The PA given to gateway records: nothing is ever sent to it (the gateway lives in every host). */
export const GATEWAY_RECORD_PA = '169.254.254.254'

/** The first host address of a prefix: the subnet's distributed gateway (reference/hnv.md §1). */
export function gatewayOf(prefix: string): string {
  const parsed = parsePrefix(prefix)
  const bytes = parseIp(parsed.address).bytes.slice()
  bytes[bytes.length - 1] += 1
  if (parsed.family === 4) return bytes.join('.')
  const words: string[] = []
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] << 8) | bytes[i + 1]).toString(16))
  return parseIp(words.join(':')).text
}
