// Every command's id, cmdlet alias and flags, from the oclif manifest: the CLI's surface as a contract.
// `npm run snapshot` rewrites test/fixtures/command-snapshot.json after a deliberate change.
import {readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

export interface CommandSnapshot {
  command: string
  aliases: string[]
  flags: string[]
}

export function commandSnapshot(manifestPath = 'oclif.manifest.json'): CommandSnapshot[] {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {commands: Record<string, {aliases: string[]; flags: Record<string, unknown>}>}
  return Object.entries(manifest.commands)
    .map(([id, command]) => ({command: id, aliases: command.aliases, flags: Object.keys(command.flags).sort()}))
    .sort((a, b) => a.command.localeCompare(b.command))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync('test/fixtures/command-snapshot.json', JSON.stringify(commandSnapshot(), null, 2) + '\n')
}
