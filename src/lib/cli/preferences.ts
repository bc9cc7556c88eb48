// CLI preferences (default output format, default store) kept with `conf` by `hnv config`. Never policy.
// Reading happens on every command, so it parses the small JSON file conf writes instead of importing conf
// (conf and its validator take ~200 ms to load here; the file is plain JSON).
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import type {OutputFormat} from './output.js'

export interface Preferences {
  output?: OutputFormat
  store?: string
}

export function preferencesDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'hnv')
}

let cached: Preferences | undefined

export function readPreferences(): Preferences {
  if (cached) return cached
  try {
    cached = JSON.parse(readFileSync(join(preferencesDir(), 'config.json'), 'utf8')) as Preferences
  } catch {
    cached = {}
  }
  return cached
}

export const PREFERENCE_KEYS = ['output', 'store'] as const
export type PreferenceKey = (typeof PREFERENCE_KEYS)[number]

/** Writes go through conf: it validates against the schema and replaces the file atomically. */
export async function writePreference(key: PreferenceKey, value: string | undefined): Promise<Preferences> {
  const {default: Conf} = await import('conf')
  const conf = new Conf<Preferences>({
    projectName: 'hnv',
    cwd: preferencesDir(),
    schema: {
      output: {type: 'string', enum: ['table', 'list', 'json', 'csv']},
      store: {type: 'string', minLength: 1},
    },
  })
  if (value === undefined) conf.delete(key)
  else conf.set(key, value)
  cached = undefined
  return conf.store
}
