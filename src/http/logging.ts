import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/**
 * Paths pino censors wherever they appear in a log line. Request and response bodies are
 * never logged; these catch credentials and PII that could reach a line through an error
 * object or a future log call.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.apiSecret',
  '*.accessToken',
  '*.secret',
  '*.password',
  '*.birthDate',
  '*.residentialAddress',
  '*.ipAddress',
  '*.identifyingInformation',
  '*.body',
];

export function loggerOptions(level: string): LoggerOptions {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
}

/**
 * Without a destination, logs go to stdout asynchronously: lines written while a write is in
 * flight go out together, so a busy server makes far fewer write calls than it logs lines,
 * and an idle one still shows each line at once. Flushed on shutdown.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(loggerOptions(level), destination ?? pino.destination({ dest: 1, sync: false }));
}

/** Flushes a buffered logger; called on shutdown so the last lines are not lost. */
export function flushLogger(log: Logger): void {
  log.flush();
}
