import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/**
 * Country of an IP address from a table of `network,country` lines (CIDR, IPv4 or IPv6;
 * `#` comments). Ranges are kept sorted and searched by bisection, so a full GeoIP export of
 * a few hundred thousand lines costs one sort at start and a few comparisons per lookup.
 */
export interface IpCountryTable {
  countryOf(ip: string): string | undefined;
  readonly size: number;
}

interface Range {
  start: bigint;
  end: bigint;
  country: string;
}

function parseIpCountryTable(text: string, source: string): IpCountryTable {
  const ranges: Range[] = [];
  text.split('\n').forEach((line, index) => {
    const entry = line.trim();
    if (entry === '' || entry.startsWith('#')) return;
    const range = parseLine(entry);
    if (!range) throw new Error(`${source}:${index + 1}: expected "network/prefix,CC"`);
    ranges.push(range);
  });
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return {
    size: ranges.length,
    countryOf(ip) {
      const value = ipToBigInt(ip);
      if (value === undefined) return undefined;
      let low = 0;
      let high = ranges.length - 1;
      let found: Range | undefined;
      while (low <= high) {
        const mid = (low + high) >> 1;
        const range = ranges[mid]!;
        if (range.start <= value) {
          found = range;
          low = mid + 1;
        } else {
          high = mid - 1;
        }
      }
      return found && value <= found.end ? found.country : undefined;
    },
  };
}

export function readIpCountryFile(file: string): IpCountryTable {
  return parseIpCountryTable(readFileSync(file, 'utf8'), file);
}

function parseLine(line: string): Range | undefined {
  const [network, country] = line.split(',').map((part) => part.trim());
  if (!network || !country || !/^[A-Z]{2}$/.test(country)) return undefined;
  const [address = '', prefixText] = network.split('/');
  const start = ipToBigInt(address);
  if (start === undefined) return undefined;
  const width = isIP(address) === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) return undefined;
  const hostBits = BigInt(width - prefix);
  const base = (start >> hostBits) << hostBits;
  return { start: base, end: base + (1n << hostBits) - 1n, country };
}

/** Where IPv4 lives in the IPv6 space (::ffff:0:0/96), so both kinds share one ordering. */
const IPV4_MAPPED = 0xffff_0000_0000n;

/**
 * An address as a 128-bit number, IPv4 at its IPv4-mapped place: 192.0.2.1 and
 * ::ffff:192.0.2.1 are the same host, and look up the same.
 */
function ipToBigInt(ip: string): bigint | undefined {
  const version = isIP(ip);
  if (version === 4) return IPV4_MAPPED | ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
  if (version !== 6) return undefined;
  const [head = '', tail = ''] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const groups = (part: string) => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ipv4Groups(g) : [g])));
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

/** The two 16-bit groups of a dotted IPv4 tail (::ffff:192.0.2.1). */
function ipv4Groups(dotted: string): string[] {
  const n = dotted.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  return [Math.floor(n / 65536).toString(16), (n % 65536).toString(16)];
}
