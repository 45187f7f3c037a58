/**
 * Brings a personal name to the form the matcher compares: Latin letters only, lower case,
 * spelling variants of transliteration folded together, particles dropped. "Aleksandr
 * Kharitonov", "Alexander Charitonow" and "Александр Харитонов" come out close.
 */

const CYRILLIC: Record<string, string> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'i', к: 'k', л: 'l', м: 'm', н: 'n',
  о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch', ъ: '', ы: 'y',
  ь: '', э: 'e', ю: 'yu', я: 'ya', і: 'i', ї: 'i', є: 'e', ґ: 'g', ў: 'u',
};

/** Letters that Unicode decomposition does not reduce to ASCII. */
const LATIN_EXTRA: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i' };

/** Words that come and go between spellings of the same name. */
const PARTICLES = new Set(['al', 'el', 'ul', 'bin', 'ibn', 'bint', 'ben', 'de', 'del', 'da', 'di', 'van', 'von', 'der', 'la', 'le']);

/** Spelling folds, applied in order, for the usual romanisation differences. */
const FOLDS: [RegExp, string][] = [
  [/tch/g, 'ch'],
  [/sch/g, 'sh'],
  [/kh/g, 'h'],
  [/ph/g, 'f'],
  [/ck/g, 'k'],
  [/q/g, 'k'],
  [/x/g, 'ks'],
  [/w/g, 'v'],
  [/[yj]/g, 'i'],
  [/ou|oo/g, 'u'],
  [/ee/g, 'i'],
  [/dh/g, 'd'],
  [/th/g, 't'],
  [/(.)\1+/g, '$1'],
];

function foldToken(token: string): string {
  return FOLDS.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), token);
}

/** Prefixes written as a word of their own or joined to the next ("Abdul Aziz", "Abdulaziz"): always joined. */
const JOINED_PREFIXES = new Set(['abd', 'abdul', 'abdel', 'abdal', 'abdol', 'abdoul']);

/**
 * A particle is dropped only before another word, and only while two words remain: "Nguyen
 * Van Le" keeps its "Le", a surname, and a short name never shrinks to a single word.
 */
function dropParticles(tokens: string[]): string[] {
  const kept = tokens.filter((token, i) => !(PARTICLES.has(token) && i < tokens.length - 1));
  return kept.length >= 2 ? kept : tokens;
}

function joinPrefixes(tokens: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const next = tokens[i + 1];
    if (JOINED_PREFIXES.has(token) && next !== undefined) {
      joined.push(token + next);
      i++;
    } else {
      joined.push(token);
    }
  }
  return joined;
}

/** The name's tokens, normalised and folded, in their original order. */
export function nameTokens(name: string): string[] {
  const latin = [...name.toLowerCase()].map((ch) => CYRILLIC[ch] ?? LATIN_EXTRA[ch] ?? ch).join('');
  const words = latin
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^a-z]+/g, ' ')
    .trim()
    .split(' ')
    .filter((token) => token.length > 0);
  return joinPrefixes(dropParticles(words)).map(foldToken);
}
