// V8's inlining budget for the engine's per-packet path. TurboFan inlines a call only while the
// bytecode already inlined into the function being optimised stays under 920 bytes
// (--max-inlined-bytecode-size-cumulative); the batch loop (Engine.portBatch: forward, FlowCache.fromPort,
// the packet's checks, the verdict, encap, toUnderlay) is past it, so the last steps of a frame's path
// stayed real calls. With 3000, bench/pipeline.ts's encapsulation of 1024 cached flows went from about
// 215 to 155 ns a frame in one process, same machine (interleaved runs). The flag is read when a function
// is optimised, so setting it when the engine's modules load is in time: nothing of the engine is hot yet.
// It costs some code size and compile time in the process, none per packet.
import {setFlagsFromString} from 'node:v8'

setFlagsFromString('--max-inlined-bytecode-size-cumulative=3000')
