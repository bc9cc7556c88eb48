// The prompts the wizard asks through: a small interface, so tests drive the flow with @inquirer/testing's
// render() and the command uses @inquirer/prompts on the terminal. Without a terminal there is no
// Prompter at all, and every answer must come from a flag.
import {PolicyError} from '../cli/errors.js'

export interface Choice<T extends string> {
  name: string
  value: T
  description?: string
}

export interface Prompter {
  input(config: {message: string; default?: string; validate?: (value: string) => boolean | string}): Promise<string>
  select<T extends string>(config: {message: string; choices: Choice<T>[]; default?: T}): Promise<T>
  number(config: {message: string; default?: number; min?: number; max?: number}): Promise<number>
  confirm(config: {message: string; default?: boolean}): Promise<boolean>
}

/** @inquirer/prompts on this process's terminal (loaded only when a wizard really asks). */
export async function terminalPrompter(): Promise<Prompter> {
  const prompts = await import('@inquirer/prompts')
  return {
    input: (config) => cancellable(prompts.input(config)),
    select: (config) => cancellable(prompts.select(config)),
    number: async (config) => (await cancellable(prompts.number({...config, required: true})))!,
    confirm: (config) => cancellable(prompts.confirm(config)),
  }
}

/** Ctrl+C at a prompt: a one-line error, nothing written (the wizard writes only after the last answer). */
async function cancellable<T>(answer: Promise<T>): Promise<T> {
  try {
    return await answer
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError') throw new PolicyError('cancelled at a prompt: nothing was written')
    throw error
  }
}
