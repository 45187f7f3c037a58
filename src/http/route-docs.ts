import Type from 'typebox';
import { IDEMPOTENCY_HEADER } from './idempotency.js';

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Validation failed (validation_error, idempotency_key_missing)',
  401: 'Missing, invalid or expired credentials',
  404: 'Not found (also another project or mode, or a malformed id)',
  409: 'Conflict (idempotency_key_in_use, conflict)',
  413: 'Body over 1 MiB',
  415: 'Body is not JSON',
  422: 'Business rule refused the request',
  429: 'Rate limited; see Retry-After',
  503: 'The database is unreachable; see Retry-After',
};

/** Response entries for the given error statuses, all with the one error envelope. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, { $ref: 'ErrorResponse#', description: ERROR_DESCRIPTIONS[status] ?? 'Error' }]),
  ) as Record<number, { $ref: string }>;
}

/** Documents the Idempotency-Key header; its presence is checked by the idempotency module. */
export function idempotencyHeaders(required: boolean) {
  return Type.Object({
    [IDEMPOTENCY_HEADER]: Type.Optional(
      Type.String({
        maxLength: 255,
        description: required ? 'Required. Scoped to project and mode, kept 24 hours.' : 'Optional. Replays the first response when reused.',
      }),
    ),
  });
}
