// The process entry: route a cmdlet name (any case) to its command, then let oclif run it.
import {Config, flush, handle, run} from '@oclif/core'
import {routeCmdlet} from './powershell.js'

export async function main(argv: string[], root: string): Promise<void> {
  try {
    const config = await Config.load(root)
    const routed = routeCmdlet(argv, config.commands.map((c) => ({id: c.id, aliases: c.aliases})))
    await run(routed ?? argv, config)
    await flush()
  } catch (error) {
    await handle(error as Error)
  }
}
