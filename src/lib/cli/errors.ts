// The errors the control path throws. Only the base command prints them and picks the exit code.
// Messages name parameters in PowerShell spelling (-CustomerAddress); the base command rewrites them to
// --customer-address when the user typed the topic form.

/** A bad value or a rule of the policy: exit 1, nothing written. */
export class PolicyError extends Error {
  readonly exitCode: number = 1
}

/** The command line itself is wrong (unknown parameter, missing value, no TTY): exit 2. */
export class UsageError extends Error {
  readonly exitCode: number = 2
}

/** The host cannot do what was asked (a provider address not assigned here, no CAP_NET_ADMIN, no engine answering): exit 1. */
export class HostError extends Error {
  readonly exitCode: number = 1
}

/** The store file cannot be used (not an hnv store, newer schema, unreadable): exit 1. */
export class StoreError extends Error {
  readonly exitCode: number = 1
}
