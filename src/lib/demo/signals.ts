// Ctrl-C and SIGTERM as an AbortSignal: long steps (pings, ip, engine starts) stop, and the caller's
// `finally` tears down what was built instead of the process dying with namespaces left behind.
export function abortOnSignals(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']): {signal: AbortSignal; dispose(): void} {
  const controller = new AbortController()
  const abort = (signal: NodeJS.Signals): void => controller.abort(new Error(`interrupted by ${signal}`))
  for (const signal of signals) process.on(signal, abort)
  return {
    signal: controller.signal,
    dispose: () => {
      for (const signal of signals) process.off(signal, abort)
    },
  }
}
