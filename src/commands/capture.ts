import {closeSync, openSync, writeSync} from 'node:fs'
import {resolve} from 'node:path'
import {Flags} from '@oclif/core'
import {PolicyCommand} from '../lib/cli/policy-command.js'
import type {AnyFlags} from '../lib/cli/base.js'
import {UsageError} from '../lib/cli/errors.js'
import {writeBytes, writeNote} from '../lib/cli/output.js'
import {readPreferences} from '../lib/cli/preferences.js'
import {controlRequest} from '../lib/control/client.js'
import {controlSocketPath} from '../lib/control/protocol.js'
import {defaultStorePath} from '../lib/policy/store.js'
import {PcapWriter} from '../lib/wire/pcap.js'

export default class Capture extends PolicyCommand {
  static override summary = 'Capture what the running engine sees on a port, a virtual subnet or the underlay, as pcap (a file, or stdout for tshark -i -)'
  static override description =
    'Ports and VSIDs give Ethernet frames (a VSID: its ports in and out, and the inner frames of its NVGRE); the underlay gives the GRE packets ' +
    'with their outer IPv4/IPv6 header (raw IP link type). Streams until --count packets, --duration seconds, or Ctrl-C. Needs the engine running; costs it nothing when no capture runs.'
  static override examples = [
    '<%= config.bin %> capture --port hnv-blue1 --count 10 -w blue1.pcap',
    '<%= config.bin %> capture --underlay --duration 5 -w - | tshark -r - -Y gre',
  ]
  static override flags = {
    port: Flags.string({description: 'The TAP (InterfaceName) of a VM network adapter', exclusive: ['vsid', 'underlay']}),
    vsid: Flags.integer({min: 0, max: 16_777_215, description: 'A virtual subnet ID', exclusive: ['port', 'underlay']}),
    underlay: Flags.boolean({description: 'The NVGRE traffic on the provider addresses', exclusive: ['port', 'vsid']}),
    write: Flags.string({char: 'w', default: '-', description: 'The pcap file to write; - for standard output'}),
    count: Flags.integer({char: 'c', min: 1, max: 1_000_000, description: 'Stop after this many packets'}),
    duration: Flags.integer({min: 1, max: 86_400, description: 'Stop after this many seconds'}),
    socket: Flags.string({description: 'Control socket (default: the one of the store)'}),
  }

  async execute(flags: AnyFlags): Promise<void> {
    const target = flags.port !== undefined ? 'port' : flags.vsid !== undefined ? 'vsid' : flags.underlay ? 'underlay' : null
    if (target === null) throw new UsageError('give what to capture: --port <TAP>, --vsid <VSID> or --underlay')
    if (flags.write === '-' && process.stdout.isTTY) throw new UsageError('pcap is binary: write it to a file with -w FILE, or pipe it (e.g. | tshark -r -)')
    const store = resolve(flags.store ?? readPreferences().store ?? defaultStorePath())
    const toFile = flags.write !== '-'
    const fd = toFile ? openSync(flags.write, 'w') : -1
    let writer: PcapWriter | null = null
    let packets = 0
    let pending: Promise<void> = Promise.resolve()
    const sink = (buf: Buffer, off: number, len: number): void => {
      if (toFile) writeSync(fd, buf, off, len)
      else {
        const copy = Buffer.from(buf.subarray(off, off + len))
        pending = pending.then(() => writeBytes(copy))
      }
    }
    const stop = (): void => {
      controller.abort()
    }
    const controller = new AbortController()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    try {
      await controlRequest(flags.socket ?? controlSocketPath(store), 'capture', {
        timeoutMs: 0,
        context: `for store ${store}`,
        signal: controller.signal,
        params: {target, name: flags.port, vsid: flags.vsid, count: flags.count, durationMs: flags.duration === undefined ? undefined : flags.duration * 1000},
        onEvent: (event) => {
          const e = event as {linkType?: number; time?: number; data?: string}
          if (e.linkType !== undefined) {
            writer ??= new PcapWriter(sink, e.linkType)
            writeNote(`capturing ${target === 'port' ? 'port ' + flags.port : target === 'vsid' ? 'VSID ' + flags.vsid : 'the underlay'} (Ctrl-C to stop)`)
            return
          }
          if (writer === null || e.data === undefined || e.time === undefined) return
          const data = Buffer.from(e.data, 'base64')
          writer.write(data, 0, data.length, Math.floor(e.time / 1e6), e.time % 1e6)
          packets++
        },
      })
      await pending
      writeNote(`${packets} packet${packets === 1 ? '' : 's'} captured${toFile ? ` to ${flags.write}` : ''}`)
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      if (toFile) closeSync(fd)
    }
  }
}
