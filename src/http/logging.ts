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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
