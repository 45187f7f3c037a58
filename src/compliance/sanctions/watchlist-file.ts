import { readFileSync } from 'node:fs';
import type { WatchlistEntry } from './matcher.js';

/**
 * Reads a watchlist in JSON Lines: one entry per line, `{"id": "...", "name": "...",
 * "aliases": ["..."]}`; blank lines and lines starting with `#` are skipped. A malformed
 * line fails the start, naming the line: screening against half a list is worse than none.
 */
export function readWatchlistFile(file: string): WatchlistEntry[] {
  const entries: WatchlistEntry[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      const text = line.trim();
      if (text === '' || text.startsWith('#')) return;
      const entry = parseEntry(text);
      if (!entry) throw new Error(`${file}:${index + 1}: expected {"id": string, "name": string, "aliases"?: string[]}`);
      entries.push(entry);
    });
  return entries;
}

function parseEntry(text: string): WatchlistEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { id, name, aliases = [] } = value as Record<string, unknown>;
  if (typeof id !== 'string' || typeof name !== 'string' || !Array.isArray(aliases) || !aliases.every((a) => typeof a === 'string')) {
    return undefined;
  }
  return { id, name, aliases: aliases as string[] };
}
