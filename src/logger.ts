/** Structured logging (pino); one root logger made from config, children per component. */
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** Creates the process's root logger. */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, name = 'quorum'): Logger {
  return pino({ name, level: config.LOG_LEVEL });
}
