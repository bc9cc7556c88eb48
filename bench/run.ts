// `npm run bench`: every benchmark in a process of its own (so one's heap and JIT state do not colour
// another's), in order; each prints its figures and writes bench/results/<name>.json.
import {existsSync} from 'node:fs'
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'

const BENCHES = [
  {name: 'wire', root: false},
  {name: 'pipeline', root: false},
  {name: 'offload', root: false},
  {name: 'cli', root: false},
  {name: 'reload', root: false},
  {name: 'overlay', root: true},
]

let failed = 0
for (const bench of BENCHES) {
  const file = join(import.meta.dirname, `${bench.name}.ts`)
  if (!existsSync(file)) continue
  if (bench.root && process.getuid?.() !== 0) {
    console.log(`${bench.name}: skipped (needs root to build network namespaces)`)
    continue
  }
  console.log(`\n== ${bench.name}`)
  const run = spawnSync(process.execPath, ['--import', 'tsx', file], {stdio: 'inherit'})
  if (run.status !== 0) failed++
}
process.exitCode = failed > 0 ? 1 : 0
