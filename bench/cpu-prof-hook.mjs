// Loaded with NODE_OPTIONS=--import (where --cpu-prof is not allowed) by bench/profile.ts --cpu-prof: profiles
// the whole process with the inspector and writes <HNV_CPU_PROF_DIR>/<pid>.cpuprofile when it exits.
import {Session} from 'node:inspector'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

const dir = process.env.HNV_CPU_PROF_DIR
if (dir) {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', {interval: 500})
  session.post('Profiler.start')
  process.on('exit', () => {
    // Same-thread sessions answer synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile))
    })
  })
}
