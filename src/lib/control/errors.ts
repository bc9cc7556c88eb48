// Errors of the engine's runtime and its control socket: the host is not as the policy says (a provider
// address not assigned here, no CAP_NET_ADMIN), no engine answers, an engine already runs. One line that
// says what to do, exit 1.
import {HostError} from '../cli/errors.js'

export class EngineError extends HostError {
  override name = 'EngineError'
}
