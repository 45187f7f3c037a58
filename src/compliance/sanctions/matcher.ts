import { jaroWinkler } from './jaro-winkler.js';
import { nameTokens } from './normalize-name.js';

export interface WatchlistEntry {
  id: string;
  name: string;
  aliases: string[];
}

export interface SanctionsHit {
  entryId: string;
  /** The listed spelling that matched (list data, not the customer's name). */
  listedName: string;
  score: number;
}

/**
 * Fuzzy screening of a personal name against a watchlist. Both sides are normalised
 * (nameTokens); a listed name matches when its tokens pair up with the customer's, in any
 * order, each pair at least TOKEN_FLOOR similar and the pairs on average at least
 * MATCH_THRESHOLD (Jaro–Winkler). Names written as one word or two ("Abdulrahman", "Abdul
 * Rahman") are also compared with their tokens run together. A customer name with fewer
 * tokens than the listed one matches on the tokens it has, but needs at least two unless the
 * listed name has only one. The thresholds were set on the labelled set in
 * test/compliance/sanctions-matcher.test.ts (recall and false-positive rate printed there).
 */
const MATCH_THRESHOLD = 0.93;
const TOKEN_FLOOR = 0.87;

interface ListedName {
  entryId: string;
  listedName: string;
  tokens: string[];
  joined: string;
}

export interface SanctionsMatcher {
  screen(name: string): SanctionsHit | undefined;
  readonly size: number;
}

export function createSanctionsMatcher(entries: readonly WatchlistEntry[]): SanctionsMatcher {
  const listed: ListedName[] = entries.flatMap((entry) =>
    [entry.name, ...entry.aliases].map((listedName) => {
      const tokens = nameTokens(listedName);
      return { entryId: entry.id, listedName, tokens, joined: tokens.join('') };
    }),
  ).filter((n) => n.tokens.length > 0);

  return {
    size: entries.length,
    screen(name) {
      const tokens = nameTokens(name);
      if (tokens.length === 0) return undefined;
      const joined = [tokens.join(''), [...tokens].reverse().join('')];
      let best: SanctionsHit | undefined;
      for (const candidate of listed) {
        const score = Math.max(tokenPairScore(tokens, candidate.tokens), ...joined.map((j) => jaroWinkler(j, candidate.joined)));
        if (score >= MATCH_THRESHOLD && (!best || score > best.score)) {
          best = { entryId: candidate.entryId, listedName: candidate.listedName, score };
        }
      }
      return best;
    },
  };
}

/** Pairs each token of the shorter name with its best unused partner in the longer one. */
function tokenPairScore(query: string[], listed: string[]): number {
  const [short, long] = query.length <= listed.length ? [query, listed] : [listed, query];
  // The customer's name must carry two of the listed tokens, or all of a one-word listed name.
  if (query.length < Math.min(2, listed.length)) return 0;
  const used = new Set<number>();
  let total = 0;
  for (const token of [...short].sort((a, b) => b.length - a.length)) {
    let bestScore = 0;
    let bestIndex = -1;
    long.forEach((other, index) => {
      if (used.has(index)) return;
      const score = jaroWinkler(token, other);
      if (score > bestScore) [bestScore, bestIndex] = [score, index];
    });
    if (bestScore < TOKEN_FLOOR) return 0;
    used.add(bestIndex);
    total += bestScore;
  }
  return total / short.length;
}
