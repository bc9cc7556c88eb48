// Turning what a user typed (or a JSON document holds) into a property's canonical value, with one error
// line that names the parameter, the value and what is allowed.
import {AddressError, parseIp, parsePrefix} from '../net/ip.js'
import {GuidError, parseGuid} from '../net/guid.js'
import {MacError, parseMac} from '../net/mac.js'
import {PolicyError} from '../cli/errors.js'
import type {PropertySpec, Value} from './types.js'

export function paramName(property: PropertySpec): string {
  return property.param ?? property.name
}

export function parseValue(property: PropertySpec, raw: unknown): Value {
  if (raw === null || raw === undefined) return null
  const type = property.type
  const text = typeof raw === 'string' ? raw.trim() : String(raw)
  const bad = (allowed: string) => new PolicyError(`-${paramName(property)} '${text}' is not valid: ${allowed}`)
  try {
    switch (type.kind) {
      case 'ip':
        return parseIp(text).text
      case 'prefix':
        return parsePrefix(text).text
      case 'mac':
        return parseMac(text)
      case 'guid':
        return parseGuid(text)
      case 'string':
        return text
      case 'bool': {
        const value = parseBool(raw)
        if (value === null) throw bad('use $true or $false (also true/false, 1/0)')
        return value
      }
      case 'uint': {
        if (!/^\d+$/.test(text) || Number(text) < type.min || Number(text) > type.max) {
          throw bad(`use a whole number from ${type.min} to ${type.max}`)
        }
        return Number(text)
      }
      case 'enum': {
        const match = type.values.find((v) => v.toLowerCase() === text.toLowerCase())
        if (!match) throw bad(`use one of ${type.values.join(', ')}`)
        return match
      }
    }
  } catch (error) {
    if (error instanceof AddressError || error instanceof MacError || error instanceof GuidError) {
      throw new PolicyError(`-${paramName(property)}: ${error.message}`)
    }
    throw error
  }
}

export function parseBool(raw: unknown): boolean | null {
  if (typeof raw === 'boolean') return raw
  const text = String(raw).trim().toLowerCase()
  if (['true', '$true', '1'].includes(text)) return true
  if (['false', '$false', '0'].includes(text)) return false
  return null
}

/** PowerShell wildcards (* and ?) apply to text filters. */
export function hasWildcard(text: string): boolean {
  return /[*?]/.test(text)
}

export function isTextType(property: PropertySpec): boolean {
  return ['ip', 'prefix', 'mac', 'guid', 'string'].includes(property.type.kind)
}

/** A wildcard pattern as SQL LIKE (case-insensitive for ASCII), escaping LIKE's own metacharacters. */
export function wildcardToLike(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%').replace(/\?/g, '_')
}

/** How a value is shown in tables and lists: PowerShell prints booleans as True/False. */
export function displayValue(value: Value): string {
  if (value === null) return ''
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  return String(value)
}
