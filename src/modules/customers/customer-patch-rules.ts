import { validationError } from '../../domain/errors.js';
import type { IdentifyingDocumentInput } from './customers.schemas.js';

/** Pure merge rules of spec 2.3, shared by POST (over nothing) and PATCH (over the stored customer). */

/** Appends; an entry with the type and issuingCountry of an existing one replaces it in place. */
export function mergeIdentifyingInformation(
  existing: readonly IdentifyingDocumentInput[],
  incoming: readonly IdentifyingDocumentInput[],
): IdentifyingDocumentInput[] {
  const merged = [...existing];
  for (const doc of incoming) {
    const at = merged.findIndex((d) => d.type === doc.type && d.issuingCountry === doc.issuingCountry);
    if (at === -1) merged.push(doc);
    else merged[at] = doc;
  }
  return merged;
}

export const METADATA_MAX_KEYS = 50;

/** Given keys are set, a key set to null is removed (spec 1.9). */
export function mergeMetadata(
  existing: Readonly<Record<string, string>>,
  patch: Readonly<Record<string, string | null>>,
): Record<string, string> {
  const merged: Record<string, string> = { ...existing };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  if (Object.keys(merged).length > METADATA_MAX_KEYS) {
    throw validationError('/metadata', `would hold more than ${METADATA_MAX_KEYS} keys`);
  }
  return merged;
}
