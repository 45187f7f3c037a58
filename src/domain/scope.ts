import type { Mode } from '../db/schema.js';

/** The tenant every query is confined to: one project, one mode. */
export interface Scope {
  readonly projectId: string;
  readonly mode: Mode;
}

export type { Mode };
