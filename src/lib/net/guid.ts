// GUIDs (routing domain and customer IDs) are written with or without braces; we store them braced, lowercase.
export class GuidError extends Error {}

const GUID = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/

export function parseGuid(text: string): string {
  const value = text.trim()
  const match = GUID.exec(value)
  if (!match || value.startsWith('{') !== value.endsWith('}')) {
    throw new GuidError(`'${text}' is not a GUID: write {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx} (braces optional)`)
  }
  return `{${match[1].toLowerCase()}}`
}
