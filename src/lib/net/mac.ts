// MAC addresses as Windows writes them: 12 hex digits, optionally separated by '-' or ':' per octet.
export class MacError extends Error {}

/** Returns the canonical form: 12 uppercase hex digits, no separators (how Get-NetVirtualization* shows it). */
export function parseMac(text: string): string {
  const value = text.trim()
  if (/^[0-9a-fA-F]{12}$/.test(value) || /^[0-9a-fA-F]{2}([-:])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$/.test(value)) {
    return value.replace(/[-:]/g, '').toUpperCase()
  }
  throw new MacError(`'${text}' is not a MAC address: write 12 hex digits, e.g. 101010101105 or 10-10-10-10-11-05`)
}

export function isMulticastMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1
}

/** 00:15:5d:00:00:05 — the form `ip link` and Linux tools expect. */
export function macToColon(mac: string): string {
  return mac.toLowerCase().match(/../g)!.join(':')
}
