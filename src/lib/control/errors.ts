// Errors of the engine's runtime and its control socket: the host is not as the policy says (a provider
// address not assigned here, no CAP_NET_ADMIN), no engine answers, an engine already runs. One line that
// says what to do, exit 1. It is a PolicyError only so the base command prints it as such; the
// distinction matters to nobody but a reader.
import {PolicyError} from '../cli/errors.js'

export class EngineError extends PolicyError {
  override name = 'EngineError'
}
