import type { Mode } from '../../domain/scope.js';

export const TOKEN_TTL_SECONDS = 3600;
export const TOKEN_AUDIENCE = 'oms-api';

/** Who a request acts for, as read from a verified access token. */
export interface Principal {
  projectId: string;
  mode: Mode;
  apiKey: string;
}
