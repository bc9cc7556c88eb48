// Prints the functions with the most self time in .cpuprofile files: node bench/profile-top.mjs <files...>
import {readFileSync} from 'node:fs'

for (const file of process.argv.slice(2)) {
  const p = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map()
  let total = 0
  p.samples.forEach((id, i) => {
    const n = byId.get(id)
    const t = p.timeDeltas[i] ?? 0
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + t)
    total += t
  })
  const busy = total - (self.get('(idle) :0') ?? 0)
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(2)} s busy`)
  for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 22)) console.log(`${((t / busy) * 100).toFixed(1).padStart(6)}% ${k}`)
}
