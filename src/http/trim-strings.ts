/** Trims every string value in a parsed JSON body (keys are left alone), in place. */
export function trimStrings(value: unknown): unknown {
  if (typeof value === 'string') return value.trim();
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = trimStrings(value[i]);
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = trimStrings(record[key]);
  }
  return value;
}
