import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { jaroWinkler } from '../../src/compliance/sanctions/jaro-winkler.js';
import { createSanctionsMatcher, type WatchlistEntry } from '../../src/compliance/sanctions/matcher.js';
import { nameTokens } from '../../src/compliance/sanctions/normalize-name.js';
import { readWatchlistFile } from '../../src/compliance/sanctions/watchlist-file.js';

/**
 * The sanctions matcher against the bundled sample watchlist (fictional people). A labelled set
 * is generated here, deterministically: for every listed name, the spellings a customer might
 * really type (reordered, shortened, a typo, accents, capitals, another transliteration,
 * Cyrillic, joined or split tokens) must be flagged, and 1,000 everyday names drawn from pools
 * of common names must mostly not be. Recall and the false-positive rate are printed; the
 * thresholds in matcher.ts were set on these figures.
 */

const WATCHLIST = fileURLToPath(new URL('../../data/compliance/watchlist.jsonl', import.meta.url));
const entries = readWatchlistFile(WATCHLIST);
const matcher = createSanctionsMatcher(entries);

/** mulberry32: a tiny seeded PRNG, so that the labelled set is the same on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

// ---------------------------------------------------------------------------------------------
// Variants of a listed name
// ---------------------------------------------------------------------------------------------

interface Variant {
  entryId: string;
  kind: string;
  text: string;
}

const words = (name: string) => name.split(/\s+/).filter((w) => w.length > 0);

/** Korean, Chinese and Vietnamese names written as syllables: no middle name to drop. */
const isSyllabic = (name: string) => words(name).every((w) => w.replace(/\P{L}/gu, '').length <= 5);

/** One character changed, dropped or swapped with its neighbour, never the first letter. */
function typo(rng: Rng, name: string): string {
  const tokens = words(name);
  const candidates = tokens.map((w, i) => [w, i] as const).filter(([w]) => /^\p{L}{4,}$/u.test(w));
  const fallback = tokens.map((w, i) => [w, i] as const).sort((a, b) => b[0].length - a[0].length);
  const [token, index] = candidates.length > 0 ? pick(rng, candidates) : fallback[0]!;
  const chars = [...token];
  const at = 1 + Math.floor(rng() * (chars.length - 1));
  const op = pick(rng, ['substitute', 'delete', 'transpose'] as const);
  if (op === 'substitute') {
    const letters = [...'abcdefghijklmnopqrstuvwxyz'].filter((c) => c !== chars[at]!.toLowerCase());
    chars[at] = pick(rng, letters);
  } else if (op === 'delete') {
    chars.splice(at, 1);
  } else {
    const i = Math.min(at, chars.length - 2);
    [chars[i], chars[i + 1]] = [chars[i + 1]!, chars[i]!];
  }
  tokens[index] = chars.join('');
  return tokens.join(' ');
}

const ACCENTED: Record<string, string> = { a: 'á', e: 'é', i: 'í', o: 'ö', u: 'ü', c: 'ç', s: 'ş', n: 'ñ' };

function withDiacritics(rng: Rng, name: string): string {
  const chars = [...name];
  const plain = chars.filter((c) => ACCENTED[c] !== undefined);
  if (plain.length === 0) return name;
  const surely = pick(rng, plain);
  return chars.map((c) => (ACCENTED[c] !== undefined && (c === surely || rng() < 0.4) ? ACCENTED[c] : c)).join('');
}

/** Romanisation differences: each rule is applied everywhere, or (`once`) at one place. */
const TRANSLITERATIONS: { rule: string; pattern: RegExp; to: string; once?: boolean }[] = [
  { rule: 'ks→x', pattern: /ks/gi, to: 'x' },
  { rule: 'x→ks', pattern: /x/gi, to: 'ks' },
  { rule: 'kh→h', pattern: /kh/gi, to: 'h' },
  { rule: 'kh→ch', pattern: /kh/gi, to: 'ch' },
  { rule: 'h→kh', pattern: /\bh(?=[aeiou])/gi, to: 'kh' },
  { rule: 'y→i', pattern: /y/gi, to: 'i' },
  { rule: 'i→y', pattern: /(?<=[aeiou])i|i(?=[aeiou]|\b)/gi, to: 'y' },
  { rule: 'y→j', pattern: /y/gi, to: 'j' },
  { rule: 'j→y', pattern: /j/gi, to: 'y' },
  { rule: 'w→v', pattern: /w/gi, to: 'v' },
  { rule: 'v→w', pattern: /v/gi, to: 'w' },
  { rule: 'ou→u', pattern: /ou/gi, to: 'u' },
  { rule: 'u→ou', pattern: /(?<![aeiou])u/gi, to: 'ou' },
  { rule: 'q→k', pattern: /q/gi, to: 'k' },
  { rule: 'double', pattern: /(?<=[aeiou])([bdfgklmnprst])(?=[aeiou])/gi, to: '$1$1', once: true },
  { rule: 'undouble', pattern: /(\p{Ll})\1/giu, to: '$1', once: true },
];

function transliterate(rng: Rng, name: string, rule: (typeof TRANSLITERATIONS)[number]): string {
  // The replacement keeps the case of the letter it replaces: "Kh" → "H", "kh" → "h".
  const replace = (match: string, groups: unknown[]) => {
    const to = rule.to.replace(/\$(\d)/g, (_, n: string) => String(groups[Number(n) - 1] ?? ''));
    return match[0] === match[0]!.toUpperCase() ? to[0]!.toUpperCase() + to.slice(1) : to;
  };
  if (!rule.once) return name.replace(rule.pattern, (match, ...rest) => replace(match, rest));
  const place = pick(rng, [...name.matchAll(rule.pattern)]);
  return name.slice(0, place.index) + replace(place[0], place.slice(1)) + name.slice(place.index + place[0].length);
}

const CYRILLIC_OF: [string, string][] = [
  ['shch', 'щ'], ['lj', 'ль'], ['nj', 'нь'], ['zh', 'ж'], ['kh', 'х'], ['ts', 'ц'], ['ch', 'ч'], ['sh', 'ш'],
  ['yu', 'ю'], ['ya', 'я'], ['yo', 'ё'], ['ye', 'е'], ['a', 'а'], ['b', 'б'], ['v', 'в'], ['g', 'г'], ['d', 'д'],
  ['e', 'е'], ['z', 'з'], ['i', 'и'], ['j', 'й'], ['k', 'к'], ['l', 'л'], ['m', 'м'], ['n', 'н'], ['o', 'о'],
  ['p', 'п'], ['r', 'р'], ['s', 'с'], ['t', 'т'], ['u', 'у'], ['f', 'ф'], ['h', 'х'], ['c', 'ц'], ['w', 'в'],
  ['x', 'кс'], ['q', 'к'], ['y', 'ы'],
];

/** A Slavic name as a Russian clerk would write it in Cyrillic (roughly: -iy → -ий, vowel+i → й, -ić → -ич). */
function toCyrillic(name: string): string {
  return words(name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase())
    .map((word) => {
      const w = word.replace(/iy$/, 'ий').replace(/yy$/, 'ый').replace(/([aeou])i$/, '$1й').replace(/ic$/, 'ич');
      let out = '';
      for (let i = 0; i < w.length; ) {
        const [latin, cyrillic] = CYRILLIC_OF.find(([l]) => w.startsWith(l, i)) ?? [w[i]!, w[i]!];
        out += cyrillic;
        i += latin.length;
      }
      return out[0]!.toUpperCase() + out.slice(1);
    })
    .join(' ');
}

const isSlavic = (entry: WatchlistEntry) =>
  words(entry.name).some((w) => /(?:ovich|evich|avich|ovna|evna|ivna|ovych)$/i.test(w)) ||
  entry.aliases.some((a) => /\p{Script=Cyrillic}/u.test(a));

/** Tokens written together or apart: "Abdulrahman" / "Abdul Rahman", "Kay-Khosrow" / "Kaykhosrow". */
function spacingVariants(name: string): string[] {
  const tokens = words(name);
  const out: string[] = [];
  tokens.forEach((token, i) => {
    const abd = /^(Abd(?:ul|el|al|ol|i)?)(\p{L}{3,})$/iu.exec(token);
    if (abd) {
      const split = `${abd[1]} ${abd[2]![0]!.toUpperCase()}${abd[2]!.slice(1)}`;
      out.push([...tokens.slice(0, i), split, ...tokens.slice(i + 1)].join(' '));
    }
    if (/^Abd(?:ul|el|al)?$/i.test(token) && tokens[i + 1]) {
      out.push([...tokens.slice(0, i), token + tokens[i + 1]!.toLowerCase(), ...tokens.slice(i + 2)].join(' '));
    }
    if (token.includes('-')) {
      const joined = token.split('-').map((part, j) => (j === 0 ? part : part.toLowerCase())).join('');
      out.push([...tokens.slice(0, i), joined[0]!.toUpperCase() + joined.slice(1), ...tokens.slice(i + 1)].join(' '));
    }
  });
  // Korean given names: "Kwang Myong", "Kwangmyong".
  if (tokens.length === 3 && isSyllabic(name)) out.push(`${tokens[0]} ${tokens[1]}${tokens[2]!.toLowerCase()}`);
  return out;
}

function variantsOf(entry: WatchlistEntry, rng: Rng): Variant[] {
  const name = entry.name;
  const tokens = words(name);
  const out: [string, string][] = [
    ['exact', name],
    ['swapped', [tokens.at(-1)!, ...tokens.slice(0, -1)].join(' ')],
    // Two typos per name: the class where fuzzy matching is really at work.
    ['typo', typo(rng, name)],
    ['typo', typo(rng, name)],
    ['diacritics', withDiacritics(rng, name)],
    ['upper', name.toUpperCase()],
  ];
  if (tokens.length >= 3 && !isSyllabic(name)) out.push(['dropped middle', `${tokens[0]} ${tokens.at(-1)}`]);
  const rules = TRANSLITERATIONS.filter((r) => new RegExp(r.pattern.source, r.pattern.flags).test(name));
  for (let i = 0; i < 2 && rules.length > 0; i++) {
    const rule = rules.splice(Math.floor(rng() * rules.length), 1)[0]!;
    out.push([`transliteration ${rule.rule}`, transliterate(rng, name, rule)]);
  }
  if (isSlavic(entry)) out.push(['cyrillic', toCyrillic(name)]);
  for (const spaced of spacingVariants(name)) out.push(['spacing', spaced]);
  return out.map(([kind, text]) => ({ entryId: entry.id, kind, text }));
}

// ---------------------------------------------------------------------------------------------
// Everyday names that are not on the list
// ---------------------------------------------------------------------------------------------

const FIRST_NAMES = [
  // English
  'James', 'John', 'Robert', 'Michael', 'William', 'David', 'Richard', 'Joseph', 'Thomas', 'Charles', 'Mary', 'Patricia',
  'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen', 'Emily', 'Daniel', 'Matthew',
  'Andrew', 'Christopher', 'Laura', 'Rachel', 'Olivia', 'Emma', 'Sophie', 'George', 'Harry', 'Jack', 'Oliver',
  'Charlotte', 'Amelia', 'Alexander', 'Kevin', 'Brian', 'Nancy',
  // Spanish, Portuguese
  'José', 'Juan', 'Carlos', 'Luis', 'Miguel', 'Javier', 'Antonio', 'Francisco', 'Pedro', 'Alejandro', 'Lucía', 'Carmen',
  'Ana', 'Isabel', 'Sofía', 'Valentina', 'Camila', 'Gabriela', 'Diego', 'Pablo', 'João', 'Paulo', 'Mariana', 'Beatriz',
  // German, Dutch, Nordic
  'Hans', 'Peter', 'Stefan', 'Andreas', 'Jürgen', 'Monika', 'Sabine', 'Katrin', 'Lukas', 'Jonas', 'Anna', 'Lena', 'Lars',
  'Sven', 'Ingrid', 'Astrid', 'Jan', 'Pieter', 'Sanne', 'Erik',
  // French, Italian
  'Jean', 'Pierre', 'Michel', 'Philippe', 'Nicolas', 'Camille', 'Claire', 'Julien', 'Marco', 'Giuseppe', 'Giovanni',
  'Francesca', 'Giulia', 'Alessandro', 'Luca', 'Chiara',
  // Slavic
  'Ivan', 'Dmitri', 'Sergei', 'Andrei', 'Olga', 'Tatiana', 'Natalia', 'Elena', 'Irina', 'Mikhail', 'Nikolai', 'Pavel',
  'Piotr', 'Katarzyna', 'Tomasz', 'Agnieszka', 'Marek', 'Petra', 'Milan', 'Oksana',
  // Arabic, Persian, Turkish
  'Mohammed', 'Ahmed', 'Ali', 'Omar', 'Fatima', 'Aisha', 'Mariam', 'Yusuf', 'Ibrahim', 'Hassan', 'Hussein', 'Khalid',
  'Mustafa', 'Layla', 'Nour', 'Zainab', 'Karim', 'Rania', 'Tarek', 'Reza', 'Mehdi', 'Maryam', 'Sara', 'Ahmet', 'Mehmet',
  'Emre', 'Elif', 'Zeynep', 'Fatma', 'Burak',
  // South Asian
  'Rahul', 'Priya', 'Amit', 'Sunita', 'Arjun', 'Deepak', 'Anjali', 'Vikram', 'Imran', 'Ayesha', 'Sanjay', 'Kavita',
  // East and South-East Asian
  'Wei', 'Jun', 'Ming', 'Hiroshi', 'Yuki', 'Takeshi', 'Haruka', 'Kenji', 'Min-jun', 'Ji-woo', 'Seo-yeon', 'Hyun-woo',
  'Thanh', 'Linh', 'Minh', 'Siti', 'Budi',
  // African
  'Kwame', 'Kofi', 'Ama', 'Chinedu', 'Ngozi', 'Amara', 'Fatou', 'Moussa', 'Ibrahima', 'Aminata', 'Tunde', 'Emeka', 'Abena',
  'Thabo', 'Sipho', 'Zanele', 'Wanjiru', 'Baraka', 'Tendai', 'Chiamaka', 'Kelechi', 'Adaeze',
  // Given names of two words, which a matcher may take for two listed tokens
  'Abdul Rahman', 'Abdul Aziz', 'Mohammad Reza', 'Ali Reza', 'José Luis', 'María José', 'Jean-Pierre', 'Anne-Marie',
  'Văn Minh', 'Thị Lan',
];

const LAST_NAMES = [
  // English, Irish
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Miller', 'Davis', 'Wilson', 'Anderson', 'Taylor', 'Thomas', 'Moore',
  'Martin', 'Jackson', 'Thompson', 'White', 'Harris', 'Clark', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King',
  'Wright', 'Scott', 'Green', 'Baker', 'Adams', 'Nelson', 'Hill', 'Campbell', 'Mitchell', 'Roberts', 'Carter', 'Evans',
  'Turner', 'Collins', 'Murphy', "O'Brien", 'Kelly',
  // Spanish, Portuguese
  'García', 'Rodríguez', 'Martínez', 'Hernández', 'López', 'González', 'Pérez', 'Sánchez', 'Ramírez', 'Torres', 'Flores',
  'Rivera', 'Gómez', 'Díaz', 'Morales', 'Ortiz', 'Castillo', 'Romero', 'Vargas', 'Mendoza', 'Silva', 'Santos', 'Oliveira',
  'Costa', 'Pereira', 'Ferreira',
  // German, Dutch, Nordic
  'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Hoffmann', 'Schulz', 'Koch',
  'Richter', 'Klein', 'Wolf', 'de Vries', 'Jansen', 'Bakker', 'Visser', 'Andersson', 'Johansson', 'Nielsen', 'Hansen',
  // French, Italian, Greek
  'Bernard', 'Dubois', 'Durand', 'Lefebvre', 'Moreau', 'Laurent', 'Rossi', 'Russo', 'Ferrari', 'Esposito', 'Bianchi',
  'Romano', 'Colombo', 'Ricci', 'Papadopoulos', 'Georgiou',
  // Slavic
  'Ivanov', 'Smirnov', 'Kuznetsov', 'Popov', 'Sokolov', 'Petrov', 'Volkov', 'Novak', 'Kowalski', 'Nowak', 'Wiśniewski',
  'Kovalenko', 'Shevchenko', 'Bondarenko', 'Horvat', 'Jovanović', 'Petrović', 'Novotný',
  // Arabic, Persian, Turkish
  'Ahmed', 'Hassan', 'Ali', 'Mahmoud', 'Ibrahim', 'Abdullah', 'Khalil', 'Haddad', 'Nasser', 'Mansour', 'Hosseini',
  'Mohammadi', 'Rezaei', 'Karimi', 'Ahmadi', 'Jafari', 'Yılmaz', 'Kaya', 'Demir', 'Şahin', 'Çelik', 'Yıldız', 'Öztürk',
  'Aydın', 'Arslan',
  // South Asian
  'Patel', 'Sharma', 'Singh', 'Kumar', 'Gupta', 'Khan', 'Reddy', 'Iyer', 'Chowdhury', 'Rahman', 'Hussain', 'Malik',
  // East and South-East Asian
  'Wang', 'Li', 'Zhang', 'Liu', 'Chen', 'Yang', 'Huang', 'Zhao', 'Wu', 'Zhou', 'Kim', 'Lee', 'Park', 'Choi', 'Jung',
  'Tanaka', 'Suzuki', 'Sato', 'Watanabe', 'Nguyen', 'Tran', 'Le', 'Pham', 'Santoso', 'Wijaya',
  // African
  'Mensah', 'Owusu', 'Boateng', 'Okafor', 'Okeke', 'Adeyemi', 'Ogunleye', 'Diallo', 'Traoré', 'Coulibaly', 'Ndiaye',
  'Diop', 'Kamau', 'Otieno', 'Mwangi', 'Dlamini', 'Nkosi', 'Moyo', 'Banda', 'Abebe',
  // Surnames with a particle
  'Lê', 'dos Santos', 'da Costa', 'van Dijk', 'El Amrani', 'Al-Sayed', 'Di Stefano',
];

const listedKeys = new Set(entries.flatMap((e) => [e.name, ...e.aliases]).map((n) => nameTokens(n).join(' ')));

/** First and last name, a fifth of them with a middle name; never a listed spelling. */
function randomNames(rng: Rng, count: number): string[] {
  const names: string[] = [];
  while (names.length < count) {
    const first = pick(rng, FIRST_NAMES);
    const middle = rng() < 0.2 ? pick(rng, FIRST_NAMES) : undefined;
    const name = [first, middle !== first ? middle : undefined, pick(rng, LAST_NAMES)].filter(Boolean).join(' ');
    if (!listedKeys.has(nameTokens(name).join(' '))) names.push(name);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------

describe('sanctions matcher on the bundled sample watchlist', () => {
  it('reads the bundled list: fictional SAMPLE ids, unique, about 80 entries', () => {
    expect(entries.length).toBeGreaterThanOrEqual(80);
    expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);
    for (const entry of entries) {
      expect(entry.id).toMatch(/^SAMPLE-\d{4}$/);
      expect(entry.aliases.length).toBeLessThanOrEqual(3);
    }
    expect(matcher.size).toBe(entries.length);
  });

  it('flags variants of listed names (recall ≥ 0.95) and few everyday names (false positives ≤ 1%)', () => {
    const rng = prng(20240611);
    const variants = entries.flatMap((entry) => variantsOf(entry, rng));
    const missed = variants.filter((v) => matcher.screen(v.text)?.entryId !== v.entryId);
    const recall = 1 - missed.length / variants.length;

    const randoms = randomNames(prng(7), 1000);
    const started = performance.now();
    const flagged = randoms.flatMap((name) => {
      const hit = matcher.screen(name);
      return hit ? [`${name} → ${hit.listedName} (${hit.score.toFixed(3)})`] : [];
    });
    const msPerName = (performance.now() - started) / randoms.length;
    const falsePositiveRate = flagged.length / randoms.length;

    console.log(
      `sanctions matcher: recall ${recall.toFixed(3)} on ${variants.length} variants of ${entries.length} listed names`,
    );
    console.log(
      `sanctions matcher: false positives ${(falsePositiveRate * 100).toFixed(1)}% on ${randoms.length} names ` +
        `(${msPerName.toFixed(3)} ms per name)`,
    );
    const show = (items: string[]) => items.slice(0, 30).join('\n  ');
    const misses = missed.map((v) => `${v.entryId} ${v.kind}: ${v.text}`);
    expect(recall, `missed:\n  ${show(misses)}`).toBeGreaterThanOrEqual(0.95);
    expect(falsePositiveRate, `flagged:\n  ${show(flagged)}`).toBeLessThanOrEqual(0.01);
    expect(msPerName).toBeLessThan(5);
  });

  it('flags every listed spelling as itself, and nothing for an empty name', () => {
    for (const entry of entries) {
      for (const listed of [entry.name, ...entry.aliases]) {
        expect(matcher.screen(listed)?.entryId, listed).toBe(entry.id);
      }
    }
    expect(matcher.screen('')).toBeUndefined();
    expect(matcher.screen(' -- 42 ')).toBeUndefined();
  });
});

describe('nameTokens', () => {
  it.each([
    ['Aleksandr Kharitonov', ['aleksandr', 'haritonov']],
    ['Александр Харитонов', ['aleksandr', 'haritonov']],
    ['Alexander Charitonow', ['aleksander', 'charitonov']],
    ['José María Núñez', ['iose', 'maria', 'nunez']],
    ['Abd al-Rahman ibn Yusuf', ['abdrahman', 'iusuf']],
    ['Müller-Lüdenscheidt', ['muler', 'ludensheidt']],
    ['Hendrik van der Berg', ['hendrik', 'berg']],
    ['Abdul Aziz Khalil', ['abdulaziz', 'halil']],
    ['Nguyen Van Le', ['nguien', 'le']],
    ['Le Van', ['le', 'van']],
    ['  -- 42 --  ', []],
  ])('%s → %j', (name, tokens) => {
    expect(nameTokens(name)).toEqual(tokens);
  });
});

describe('jaroWinkler', () => {
  it.each([
    ['martha', 'marhta', 0.961],
    ['dwayne', 'duane', 0.84],
    ['dixon', 'dicksonx', 0.813],
    ['abc', 'abc', 1],
    ['abc', 'xyz', 0],
    ['', 'abc', 0],
  ])('%s ~ %s = %s', (a, b, expected) => {
    expect(jaroWinkler(a, b)).toBeCloseTo(expected, 3);
    expect(jaroWinkler(b, a)).toBeCloseTo(expected, 3);
  });
});

describe('readWatchlistFile', () => {
  it('fails on a malformed line, naming file and line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'watchlist-'));
    try {
      const file = path.join(dir, 'list.jsonl');
      const write = (...lines: string[]) => writeFileSync(file, lines.join('\n'));
      write('# comment', '{"id":"X-1","name":"Test Person","aliases":[]}', '', '{"id":"X-2","name":42}');
      expect(() => readWatchlistFile(file)).toThrow(`${file}:4:`);
      write('{"id":"X-1","name":"Test Person"}', '{"id":"X-2","name":"Other", "aliases":["A", 1]}');
      expect(() => readWatchlistFile(file)).toThrow(`${file}:2:`);
      write('# comment', '{"id":"X-1","name":"Test Person"}', 'not json');
      expect(() => readWatchlistFile(file)).toThrow(`${file}:3:`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads entries, defaulting aliases to none and skipping comments and blank lines', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'watchlist-'));
    try {
      const file = path.join(dir, 'list.jsonl');
      const lines = ['# comment', '', '{"id":"X-1","name":"Test Person"}', '{"id":"X-2","name":"Other","aliases":["A"]}', ''];
      writeFileSync(file, lines.join('\n'));
      expect(readWatchlistFile(file)).toEqual([
        { id: 'X-1', name: 'Test Person', aliases: [] },
        { id: 'X-2', name: 'Other', aliases: ['A'] },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
