import {Flags} from '@oclif/core'
import {HnvCommand, type AnyFlags} from '../lib/cli/base.js'
import {type Result, render, writeNote} from '../lib/cli/output.js'
import {EngineError} from '../lib/control/errors.js'
import {DEMO_PREFIX, runDemo} from '../lib/demo/demo.js'
import {abortOnSignals} from '../lib/demo/signals.js'
import {removeKept} from '../lib/demo/topology.js'
import {requireNetworkCapabilities} from '../lib/engine/runtime/host.js'

export default class Demo extends HnvCommand {
  static override summary = 'Build the classic two-host, two-tenant HNV topology in network namespaces, show it working, and remove it'
  static override description =
    'Two hosts with their own store and engine, Blue and Red VMs sharing 10.0.0.5 and 10.0.0.7 (reference §6): shows the policy, ' +
    'pings across hosts, shows Blue cannot reach Red, prints the engines\' counters, then removes everything (also on Ctrl-C). Needs root.'
  static override flags = {
    keep: Flags.boolean({description: 'Leave the topology up and print the commands to explore it', exclusive: ['down']}),
    down: Flags.boolean({description: 'Remove demos left up by --keep'}),
  }

  async execute(flags: AnyFlags): Promise<Result> {
    requireNetworkCapabilities('demo', 'it creates network namespaces, TAP interfaces and raw GRE sockets')
    if (flags.down) {
      const {removed, problems} = await removeKept(DEMO_PREFIX)
      if (problems.length > 0) throw new EngineError(`could not remove everything: ${problems.join('; ')}`)
      return {rows: removed.map((prefix) => ({Removed: `${prefix}-*`})), columns: ['Removed']}
    }
    const interrupt = abortOnSignals()
    try {
      const {checks} = await runDemo({
        keep: flags.keep,
        signal: interrupt.signal,
        report: {
          line: (text) => writeNote(text),
          section: (title, result) => writeNote(`\n${title}\n${render(result, 'table').trimEnd()}`),
        },
      })
      const failed = checks.filter((c) => !c.Passed)
      if (failed.length > 0) throw new EngineError(`${failed.length} of ${checks.length} checks failed: ${failed.map((c) => `${c.Check} (${c.Observed})`).join('; ')}`)
      return {rows: checks, columns: ['Check', 'Expected', 'Observed', 'Passed']}
    } finally {
      interrupt.dispose()
    }
  }
}
