// Debian's python3-scapy: the packet tool nobody here wrote, which the wire and engine tests compare against.
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'

export const PYTHON = '/usr/bin/python3'

/**
 * Whether `/usr/bin/python3` imports `module` (scapy by default); when it does not, warns once naming the
 * test file and what it skips, so a skipped check is never silent.
 */
export function scapyAvailable(testFile: string, skipped: string, module = 'scapy'): boolean {
  let available = existsSync(PYTHON)
  if (available) {
    try {
      execFileSync(PYTHON, ['-c', `import ${module}`], {stdio: 'ignore'})
    } catch {
      available = false
    }
  }
  if (!available) console.warn(`${testFile}: ${skipped} skipped, ${PYTHON} with python3-scapy is missing`)
  return available
}
