// The base of every hnv command: PowerShell argument translation, output format, the one place errors are
// printed and exit codes chosen. Commands implement execute() and return a Result; they never print.
import {Command, Flags, type Interfaces} from '@oclif/core'
import {HostError, PolicyError, StoreError, UsageError} from './errors.js'
import {OUTPUT_FORMATS, type OutputFormat, type Result, render, writeError, writeResult} from './output.js'
import {CMDLET_MARKER, type FlagShape, closest, pascalName, translateArguments} from './powershell.js'
import {readPreferences} from './preferences.js'

export type AnyFlags = Record<string, any>

export abstract class HnvCommand extends Command {
  static override baseFlags: Interfaces.FlagInput = {
    output: Flags.option({options: OUTPUT_FORMATS, char: 'o', helpGroup: 'OUTPUT', description: 'Output format (default: table for topic commands, list for cmdlet names)'})(),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print JSON, same as --output json'}),
  }

  /** PowerShell spellings that are not the Pascal case of the flag (mac-address -> MACAddress). */
  static psNames: Record<string, string> = {}
  /** Flags that take bare values in order when called by cmdlet name (PowerShell's positional parameters). */
  static psPositional: string[] = []

  /** How the user called us: `hnv lookup-record get` or `hnv Get-NetVirtualizationLookupRecord`. */
  protected form: 'topic' | 'cmdlet' = 'topic'

  abstract execute(flags: AnyFlags, args: AnyFlags): Promise<Result | void>

  override async init(): Promise<void> {
    if (this.argv[0] === CMDLET_MARKER) {
      this.form = 'cmdlet'
      const ctor = this.ctor as typeof HnvCommand
      this.argv = translateArguments(this.argv.slice(1), this.flagShapes(), ctor.psNames, ctor.psPositional)
    }
    await super.init()
  }

  async run(): Promise<void> {
    const {flags, args} = await this.parse(this.ctor as typeof HnvCommand)
    const result = await this.execute(flags, args)
    if (result) writeResult(render(result, this.outputFormat(flags)))
  }

  /** Reports PowerShell's non-terminating errors (objects a filter named but nothing matched): exit 1, the rest stands. */
  protected report(notFound: string[]): void {
    for (const message of notFound) writeError(message)
    if (notFound.length > 0) process.exitCode = 1
  }

  private outputFormat(flags: AnyFlags): OutputFormat {
    if (flags.json) return 'json'
    if (flags.output) return flags.output as OutputFormat
    return readPreferences().output ?? (this.form === 'cmdlet' ? 'list' : 'table')
  }

  override async catch(error: Error & {oclif?: {exit?: number}; flags?: string[]}): Promise<void> {
    let code = 1
    let message = error.message
    if (error instanceof UsageError) code = 2
    else if (error instanceof PolicyError || error instanceof StoreError || error instanceof HostError) code = error.exitCode
    else if (error.oclif?.exit !== undefined) {
      // oclif's own parse errors: keep their first line, add a suggestion for a mistyped flag.
      code = error.oclif.exit === 0 ? 0 : 2
      if (code === 0) throw error
      message = error.message.split('\n')[0]
      if (Array.isArray(error.flags) && error.flags.length > 0) {
        const typed = error.flags[0].replace(/^-+/, '').split('=')[0]
        const suggestion = closest(typed, Object.keys(this.flagShapes()))
        if (suggestion) message += `; did you mean --${suggestion}?`
      }
    } else {
      message = `internal error: ${error.message}${process.env.HNV_DEBUG ? `\n${error.stack}` : ' (set HNV_DEBUG=1 for details)'}`
    }
    writeError(this.spellParameters(message))
    process.exitCode = code
    // The error is reported; oclif's development-mode "did not parse its arguments" warning would be noise.
    this.parsed = true
  }

  /** Messages name parameters as PowerShell does; a topic-form user sees the flags they typed instead. */
  private spellParameters(message: string): string {
    if (this.form === 'cmdlet') return message
    const ctor = this.ctor as typeof HnvCommand
    const byPs = new Map(Object.keys(this.flagShapes()).map((flag) => [pascalName(flag, ctor.psNames).toLowerCase(), flag]))
    return message.replace(/(^|[\s(,'])-([A-Z][A-Za-z0-9]*)/g, (whole, before: string, name: string) => {
      const flag = byPs.get(name.toLowerCase())
      return flag ? `${before}--${flag}` : whole
    })
  }

  private flagShapes(): Record<string, FlagShape> {
    const ctor = this.ctor as typeof HnvCommand
    const all = {...ctor.baseFlags, ...ctor.flags} as Record<string, {type: 'boolean' | 'option'; hidden?: boolean; allowNo?: boolean}>
    return Object.fromEntries(Object.entries(all).map(([name, flag]) => [name, {type: flag.type, hidden: flag.hidden, allowNo: flag.allowNo}]))
  }
}
