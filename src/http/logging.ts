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

/** Buffered lines reach stdout at least this often, so an idle server's log is never stale. */
const FLUSH_EVERY_MS = 1_000;

/**
 * Without a destination, logs go to stdout in writes of 4 KiB, or every second, or on
 * shutdown, whichever comes first: a write per line costs a busy server more than the request
 * it logs.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  if (destination) return pino(loggerOptions(level), destination);
  const logger = pino(loggerOptions(level), pino.destination({ dest: 1, sync: false, minLength: 4096 }));
  setInterval(() => logger.flush(), FLUSH_EVERY_MS).unref();
  return logger;
}

/** Flushes a buffered logger; called on shutdown so the last lines are not lost. */
export function flushLogger(log: Logger): void {
  log.flush();
}
