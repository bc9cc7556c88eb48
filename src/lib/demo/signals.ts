// Ctrl-C, SIGTERM and a closed output (`hnv demo | head`) as an AbortSignal: long steps (pings, ip, engine
// starts) stop, and the caller's `finally` tears down what was built instead of the process dying with
// namespaces left behind.
export function abortOnSignals(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']): {signal: AbortSignal; dispose(): void} {
  const controller = new AbortController()
  const abort = (signal: NodeJS.Signals): void => controller.abort(new Error(`interrupted by ${signal}`))
  // A write to a closed pipe fails with EPIPE on the stream; unhandled, it would kill the process mid-build.
  const outputClosed = (error: Error): void => controller.abort(new Error(`output closed (${(error as NodeJS.ErrnoException).code ?? error.message})`))
  for (const signal of signals) process.on(signal, abort)
  process.stdout.on('error', outputClosed)
  process.stderr.on('error', outputClosed)
  return {
    signal: controller.signal,
    dispose: () => {
      for (const signal of signals) process.off(signal, abort)
      process.stdout.off('error', outputClosed)
      process.stderr.off('error', outputClosed)
    },
  }
}
