import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Webhook URLs are chosen by API users, so the server must never be made to call into a private
 * network. The guard runs at registration and again at delivery, where it returns the one address
 * the HTTP client connects to: a DNS answer that changes between check and connect cannot matter.
 */

/** Every A/AAAA address of the host, as text. */
export type Resolver = (hostname: string) => Promise<string[]>;

/**
 * The operating system's view (hosts file included), as the HTTP client would see it. A name that
 * does not exist has no address; any other failure (a DNS timeout) is thrown, so that a delivery
 * can be retried instead of the URL being refused.
 */
export const systemResolver: Resolver = async (hostname) => {
  try {
    return (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw error;
  }
};

export class UrlRefused extends Error {
  override readonly name = 'UrlRefused';
  /** Safe to show the API user: it never contains a resolved address. */
  readonly reason: string;

  constructor(reason: string) {
    super(`webhook URL refused: ${reason}`);
    this.reason = reason;
  }
}

export interface GuardOptions {
  /** OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK=1, for tests that run a receiver on this machine. */
  allowHttpLoopback: boolean;
}

const MAX_LENGTH = 2048;
const LOOPBACK = 'a loopback address';

type Target = { kind: 'address'; address: string; family: 4 | 6 } | { kind: 'localhost' } | { kind: 'name'; name: string };

/** Parses and checks the URL's shape without DNS: scheme, credentials, port, host form. Returns the normalized URL. */
export function checkWebhookUrl(raw: string, options: GuardOptions): URL {
  return inspect(raw, options).url;
}

/** Resolves the URL's host and checks every address; returns the address to connect to (the first allowed, all must be allowed). */
export async function resolveTarget(url: URL, resolve: Resolver, options: GuardOptions): Promise<{ address: string; family: 4 | 6 }> {
  // Checked again in full: the URL may have been built or changed since registration.
  const { target } = inspect(url.href, options);
  if (target.kind === 'address') return { address: target.address, family: target.family };
  // RFC 6761: localhost names are this machine whatever DNS says, so they are never resolved.
  if (target.kind === 'localhost') return { address: '127.0.0.1', family: 4 };
  const addresses = await resolve(target.name);
  if (addresses.length === 0) throw new UrlRefused('host does not resolve to any address');
  for (const address of addresses) {
    const reason = refusal(address, options);
    if (reason) throw new UrlRefused(`resolves to ${reason}`);
  }
  const address = addresses[0]!;
  return { address, family: isIP(address) as 4 | 6 };
}

/** Why an IP address may not be called, or undefined when it may. */
export function forbiddenAddressReason(address: string): string | undefined {
  const family = isIP(address);
  const value = family === 4 ? parseIpv4(address) : family === 6 ? parseIpv6(address) : undefined;
  if (value === undefined) return 'an invalid IP address';
  return family === 4 ? ipv4Reason(value) : ipv6Reason(value);
}

function inspect(raw: string, options: GuardOptions): { url: URL; target: Target } {
  if (raw.length > MAX_LENGTH) throw new UrlRefused(`is longer than ${MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefused('is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UrlRefused('must use https');
  if (url.username || url.password) throw new UrlRefused('must not contain a username or password');
  if (url.hostname === '') throw new UrlRefused('has no host');
  if (url.port === '0') throw new UrlRefused('port must be between 1 and 65535');
  // A fragment is never sent over HTTP; dropping it keeps the stored URL to what is called.
  url.hash = '';
  if (url.href.length > MAX_LENGTH) throw new UrlRefused(`is longer than ${MAX_LENGTH} characters`);

  const target = targetOf(url.hostname);
  const reason = target.kind === 'address' ? forbiddenAddressReason(target.address) : target.kind === 'localhost' ? LOOPBACK : undefined;
  const allowedLoopback = options.allowHttpLoopback && reason === LOOPBACK;
  if (reason && !allowedLoopback) throw new UrlRefused(`host is ${reason}`);
  if (url.protocol === 'http:' && !allowedLoopback) throw new UrlRefused('must use https');
  return { url, target };
}

function targetOf(hostname: string): Target {
  // The URL parser has already turned every IPv4 spelling (2130706433, 0x7f.1, 0177.0.0.1, 127.1) into dotted decimal.
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const family = isIP(host);
  if (family === 4 || family === 6) return { kind: 'address', address: host, family };
  // Trailing dots make a name absolute, not different: "localhost." is still this machine.
  const name = host.replace(/\.+$/, '');
  return name === 'localhost' || name.endsWith('.localhost') ? { kind: 'localhost' } : { kind: 'name', name: host };
}

function refusal(address: string, options: GuardOptions): string | undefined {
  const reason = forbiddenAddressReason(address);
  return options.allowHttpLoopback && reason === LOOPBACK ? undefined : reason;
}

interface Range {
  readonly base: bigint;
  readonly bits: number;
  readonly reason: string | ((address: bigint) => string | undefined);
}

function range(cidr: string, reason: Range['reason']): Range {
  const [text = '', bits = ''] = cidr.split('/');
  const base = text.includes(':') ? parseIpv6(text) : parseIpv4(text);
  if (base === undefined) throw new Error(`bad range ${cidr}`);
  return { base, bits: Number(bits), reason };
}

const IPV4: readonly Range[] = [
  range('255.255.255.255/32', 'the broadcast address'),
  range('0.0.0.0/8', 'an unspecified address'),
  range('10.0.0.0/8', 'a private address'),
  range('100.64.0.0/10', 'a shared (carrier-grade NAT) address'),
  range('127.0.0.0/8', LOOPBACK),
  range('169.254.0.0/16', 'a link-local address'),
  range('172.16.0.0/12', 'a private address'),
  range('192.0.0.0/24', 'a reserved address'),
  range('192.0.2.0/24', 'a documentation address'),
  range('192.168.0.0/16', 'a private address'),
  range('198.18.0.0/15', 'a benchmarking address'),
  range('198.51.100.0/24', 'a documentation address'),
  range('203.0.113.0/24', 'a documentation address'),
  range('224.0.0.0/4', 'a multicast address'),
  range('240.0.0.0/4', 'a reserved address'),
];

/** Addresses that carry an IPv4 address the network will end up calling: judged by that address. */
const embedded =
  (label: string, shift: bigint) =>
  (address: bigint): string | undefined => {
    const reason = ipv4Reason((address >> shift) & 0xffff_ffffn);
    return reason && `${reason} (${label})`;
  };

// First match wins: ::/128 and ::1/128 come before the ::/96 they sit in.
const IPV6: readonly Range[] = [
  range('::/128', 'an unspecified address'),
  range('::1/128', LOOPBACK),
  range('::ffff:0:0/96', embedded('IPv4-mapped', 0n)),
  range('::/96', 'a deprecated IPv4-compatible address'),
  range('64:ff9b::/96', embedded('NAT64', 0n)),
  // RFC 8215 local-use NAT64: its translator is a private one, whatever IPv4 address it carries.
  range('64:ff9b:1::/48', 'a local-use NAT64 address'),
  range('2002::/16', embedded('6to4', 80n)),
  range('2001:db8::/32', 'a documentation address'),
  range('fe80::/10', 'a link-local address'),
  // Deprecated site-local, still routed inside some networks.
  range('fec0::/10', 'a site-local address'),
  range('fc00::/7', 'a private address'),
  range('ff00::/8', 'a multicast address'),
];

function ipv4Reason(address: bigint): string | undefined {
  return reasonIn(IPV4, 32, address);
}

function ipv6Reason(address: bigint): string | undefined {
  return reasonIn(IPV6, 128, address);
}

function reasonIn(ranges: readonly Range[], width: number, address: bigint): string | undefined {
  const found = ranges.find(({ base, bits }) => (address ^ base) >> BigInt(width - bits) === 0n);
  if (!found) return undefined;
  return typeof found.reason === 'string' ? found.reason : found.reason(address);
}

/** Strict dotted decimal (what isIP accepts as family 4) as a 32-bit number. */
function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)) return undefined;
  return parts.reduce((value, part) => (value << 8n) | BigInt(part), 0n);
}

/** Eight 16-bit groups as a 128-bit number; "::" compression and a trailing dotted IPv4 are expanded, a zone id is refused. */
function parseIpv6(text: string): bigint | undefined {
  const lastColon = text.lastIndexOf(':');
  let hex = text;
  if (text.includes('.')) {
    const ipv4 = parseIpv4(text.slice(lastColon + 1));
    if (ipv4 === undefined) return undefined;
    hex = `${text.slice(0, lastColon + 1)}${(ipv4 >> 16n).toString(16)}:${(ipv4 & 0xffffn).toString(16)}`;
  }
  const halves = hex.split('::');
  if (halves.length > 2) return undefined;
  const groups = halves.map((half) => (half === '' ? [] : half.split(':')));
  if (!groups.flat().every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return undefined;
  const [head = [], tail = []] = groups;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  return [...head, ...Array<string>(missing).fill('0'), ...tail].reduce((value, group) => (value << 16n) | BigInt(`0x${group}`), 0n);
}
