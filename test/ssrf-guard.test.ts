import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, forbiddenAddressReason, resolveTarget, UrlRefused, type GuardOptions, type Resolver } from '../src/net/ssrf-guard.js';

/** The SSRF guard for webhook URLs, as pure rules: DNS is always a fake, nothing is ever connected to. */

const strict: GuardOptions = { allowHttpLoopback: false };
const loopbackAllowed: GuardOptions = { allowHttpLoopback: true };

type Records = Record<string, string[]>;

/** A fake DNS that records what it was asked; an unknown name has no address. */
function fakeDns(records: Records = {}): Resolver & { asked: string[] } {
  const asked: string[] = [];
  return Object.assign(async (hostname: string) => {
    asked.push(hostname);
    return records[hostname] ?? [];
  }, { asked });
}

/** Registration then delivery, the way the server uses the guard. */
async function guard(raw: string, records: Records = {}, options = strict) {
  return resolveTarget(checkWebhookUrl(raw, options), fakeDns(records), options);
}

async function refusalOf(raw: string, records: Records = {}, options = strict): Promise<string | undefined> {
  try {
    await guard(raw, records, options);
    return undefined;
  } catch (error) {
    if (error instanceof UrlRefused) return error.reason;
    throw error;
  }
}

const PUBLIC_V4 = '93.184.216.34';
const PUBLIC_V6 = '2606:4700::1111';

describe('refused URLs', () => {
  it.each<[string, string]>([
    // IPv4 loopback in every spelling the URL parser accepts.
    ['https://127.0.0.1/', 'host is a loopback address'],
    ['https://2130706433/', 'host is a loopback address'],
    ['https://0x7f.1/', 'host is a loopback address'],
    ['https://0x7f000001/', 'host is a loopback address'],
    ['https://0177.0.0.1/', 'host is a loopback address'],
    ['https://127.1/', 'host is a loopback address'],
    ['https://127.0.0.1./', 'host is a loopback address'],
    ['https://%31%32%37.0.0.1/', 'host is a loopback address'],
    ['https://\uff11\uff12\uff17.0.0.1/', 'host is a loopback address'],
    ['https://127.255.255.254:8443/hook', 'host is a loopback address'],
    ['http://2130706433/', 'host is a loopback address'],
    // Every other forbidden IPv4 range.
    ['https://0/', 'host is an unspecified address'],
    ['https://0.0.0.0/', 'host is an unspecified address'],
    ['https://0.255.1.1/', 'host is an unspecified address'],
    ['https://10.0.0.1/', 'host is a private address'],
    ['https://172.16.0.1/', 'host is a private address'],
    ['https://172.31.255.255/', 'host is a private address'],
    ['https://192.168.1.1/', 'host is a private address'],
    ['https://100.64.0.1/', 'host is a shared (carrier-grade NAT) address'],
    ['https://100.127.255.255/', 'host is a shared (carrier-grade NAT) address'],
    ['https://169.254.169.254/latest/meta-data/', 'host is a link-local address'],
    ['https://0xa9fea9fe/', 'host is a link-local address'],
    ['https://192.0.0.170/', 'host is a reserved address'],
    ['https://192.0.2.1/', 'host is a documentation address'],
    ['https://198.18.0.1/', 'host is a benchmarking address'],
    ['https://198.19.255.255/', 'host is a benchmarking address'],
    ['https://198.51.100.7/', 'host is a documentation address'],
    ['https://203.0.113.9/', 'host is a documentation address'],
    ['https://224.0.0.1/', 'host is a multicast address'],
    ['https://239.255.255.250/', 'host is a multicast address'],
    ['https://240.0.0.1/', 'host is a reserved address'],
    ['https://255.255.255.255/', 'host is the broadcast address'],
    // IPv6 literals, including the ones that carry an IPv4 address.
    ['https://[::1]/', 'host is a loopback address'],
    ['https://[0:0:0:0:0:0:0:1]/', 'host is a loopback address'],
    ['https://[::]/', 'host is an unspecified address'],
    ['https://[::ffff:127.0.0.1]/', 'host is a loopback address (IPv4-mapped)'],
    ['https://[::ffff:7f00:1]/', 'host is a loopback address (IPv4-mapped)'],
    ['https://[::ffff:169.254.169.254]/', 'host is a link-local address (IPv4-mapped)'],
    ['https://[::ffff:a9fe:a9fe]/', 'host is a link-local address (IPv4-mapped)'],
    ['https://[64:ff9b::7f00:1]/', 'host is a loopback address (NAT64)'],
    ['https://[64:ff9b::10.0.0.1]/', 'host is a private address (NAT64)'],
    ['https://[64:ff9b:1::5db8:d822]/', 'host is a local-use NAT64 address'],
    ['https://[2002:7f00:1::]/', 'host is a loopback address (6to4)'],
    ['https://[2002:c0a8:101::1]/', 'host is a private address (6to4)'],
    ['https://[::127.0.0.1]/', 'host is a deprecated IPv4-compatible address'],
    ['https://[::5db8:d822]/', 'host is a deprecated IPv4-compatible address'],
    ['https://[fe80::1]/', 'host is a link-local address'],
    ['https://[febf:ffff::1]/', 'host is a link-local address'],
    ['https://[fec0::1]/', 'host is a site-local address'],
    ['https://[fc00::1]/', 'host is a private address'],
    ['https://[fd00:ec2::254]/', 'host is a private address'],
    ['https://[ff02::1]/', 'host is a multicast address'],
    ['https://[2001:db8::1]/', 'host is a documentation address'],
    // Shape.
    ['http://93.184.216.34/', 'must use https'],
    ['http://example.com/', 'must use https'],
    ['ftp://example.com/', 'must use https'],
    ['javascript:alert(1)', 'must use https'],
    ['file:///etc/passwd', 'must use https'],
    ['data:text/plain,hello', 'must use https'],
    ['ws://example.com/', 'must use https'],
    ['https://user:secret@example.com/', 'must not contain a username or password'],
    ['https://user@example.com/', 'must not contain a username or password'],
    ['https://:secret@example.com/', 'must not contain a username or password'],
    ['not a url', 'is not a valid URL'],
    ['https://', 'is not a valid URL'],
    ['https://example.com:65536/', 'is not a valid URL'],
    ['https://[fe80::1%25eth0]/', 'is not a valid URL'],
    ['https://example.com:0/', 'port must be between 1 and 65535'],
    [`https://example.com/${'a'.repeat(2048)}`, 'is longer than 2048 characters'],
    // Localhost names are loopback without asking DNS.
    ['https://localhost/', 'host is a loopback address'],
    ['https://LOCALHOST./', 'host is a loopback address'],
    ['https://localhost../', 'host is a loopback address'],
    ['https://foo.localhost/', 'host is a loopback address'],
    ['https://Foo.LocalHost./', 'host is a loopback address'],
    ['http://localhost:3000/', 'host is a loopback address'],
  ])('%s: %s', async (raw, reason) => {
    expect(await refusalOf(raw)).toBe(reason);
  });

  it.each<[string, string[], string]>([
    ['https://internal.example/', ['10.1.2.3'], 'resolves to a private address'],
    ['https://metadata.example/', ['169.254.169.254'], 'resolves to a link-local address'],
    ['https://mixed.example/', [PUBLIC_V4, '127.0.0.1'], 'resolves to a loopback address'],
    ['https://mixed.example/', ['127.0.0.1', PUBLIC_V4], 'resolves to a loopback address'],
    ['https://mixed.example/', [PUBLIC_V6, 'fd00::1'], 'resolves to a private address'],
    ['https://mapped.example/', ['::ffff:127.0.0.1'], 'resolves to a loopback address (IPv4-mapped)'],
    ['https://aws.example/', ['fd00:ec2::254'], 'resolves to a private address'],
    ['https://nothing.example/', [], 'host does not resolve to any address'],
    ['https://zone.example/', ['fe80::1%eth0'], 'resolves to an invalid IP address'],
    ['https://garbage.example/', ['not-an-address'], 'resolves to an invalid IP address'],
  ])('%s resolving to %j: %s', async (raw, addresses, reason) => {
    expect(await refusalOf(raw, { [new URL(raw).hostname]: addresses })).toBe(reason);
  });

  it('refuses a name the resolver has never heard of', async () => {
    expect(await refusalOf('https://unknown.example/')).toBe('host does not resolve to any address');
  });

  it('checks the URL again at delivery, even one that was never registered or was changed since', async () => {
    const dns = fakeDns({ 'example.com': [PUBLIC_V4] });
    await expect(resolveTarget(new URL('https://10.0.0.1/'), dns, strict)).rejects.toThrow(UrlRefused);
    const url = checkWebhookUrl('https://example.com/hook', strict);
    url.hostname = '127.0.0.1';
    await expect(resolveTarget(url, dns, strict)).rejects.toMatchObject({ reason: 'host is a loopback address' });
  });

  it('lets a DNS failure through as itself, so that a delivery is retried rather than the URL refused', async () => {
    const failing: Resolver = () => Promise.reject(new Error('queryA EAI_AGAIN example.com'));
    await expect(resolveTarget(checkWebhookUrl('https://example.com/', strict), failing, strict)).rejects.toThrow('EAI_AGAIN');
  });

  it('never puts the resolved address in the error', async () => {
    const error = await guard('https://internal.example/', { 'internal.example': ['10.1.2.3'] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UrlRefused);
    expect((error as UrlRefused).message).not.toContain('10.1.2.3');
  });
});

describe('allowed URLs', () => {
  it.each<[string, { address: string; family: 4 | 6 }]>([
    [`https://${PUBLIC_V4}/hook`, { address: PUBLIC_V4, family: 4 }],
    [`https://[${PUBLIC_V6}]/hook`, { address: PUBLIC_V6, family: 6 }],
    [`https://[::ffff:${PUBLIC_V4}]/`, { address: '::ffff:5db8:d822', family: 6 }],
    [`https://[64:ff9b::${PUBLIC_V4}]/`, { address: '64:ff9b::5db8:d822', family: 6 }],
    ['https://[2002:5db8:d822::1]/', { address: '2002:5db8:d822::1', family: 6 }],
    // Just outside a forbidden range.
    ['https://9.255.255.255/', { address: '9.255.255.255', family: 4 }],
    ['https://11.0.0.0/', { address: '11.0.0.0', family: 4 }],
    ['https://100.128.0.1/', { address: '100.128.0.1', family: 4 }],
    ['https://126.255.255.255/', { address: '126.255.255.255', family: 4 }],
    ['https://128.0.0.0/', { address: '128.0.0.0', family: 4 }],
    ['https://169.253.255.255/', { address: '169.253.255.255', family: 4 }],
    ['https://172.15.255.255/', { address: '172.15.255.255', family: 4 }],
    ['https://172.32.0.0/', { address: '172.32.0.0', family: 4 }],
    ['https://198.20.0.1/', { address: '198.20.0.1', family: 4 }],
    ['https://223.255.255.255/', { address: '223.255.255.255', family: 4 }],
    ['https://[fbff:ffff::1]/', { address: 'fbff:ffff::1', family: 6 }],
    ['https://[2001:db9::1]/', { address: '2001:db9::1', family: 6 }],
  ])('%s', async (raw, target) => {
    const dns = fakeDns();
    expect(await resolveTarget(checkWebhookUrl(raw, strict), dns, strict)).toEqual(target);
    expect(dns.asked).toEqual([]);
  });

  it('connects to the first resolved address once every address is allowed', async () => {
    const dns = fakeDns({ 'example.com': [PUBLIC_V4, PUBLIC_V6] });
    const url = checkWebhookUrl('https://example.com:8443/hooks/oms?x=1', strict);
    expect(await resolveTarget(url, dns, strict)).toEqual({ address: PUBLIC_V4, family: 4 });
    expect(dns.asked).toEqual(['example.com']);
  });

  it('reports family 6 for an IPv6 answer', async () => {
    expect(await guard('https://example.com/', { 'example.com': [PUBLIC_V6, PUBLIC_V4] })).toEqual({ address: PUBLIC_V6, family: 6 });
  });

  it('accepts any port from 1 to 65535', async () => {
    expect(checkWebhookUrl('https://example.com:1/', strict).port).toBe('1');
    expect(checkWebhookUrl('https://example.com:65535/', strict).port).toBe('65535');
  });

  it('drops the fragment, which HTTP never sends', () => {
    expect(checkWebhookUrl('https://example.com/hook?a=1#section', strict).href).toBe('https://example.com/hook?a=1');
  });

  it('accepts a URL of exactly 2048 characters', () => {
    const raw = `https://example.com/${'a'.repeat(2048 - 'https://example.com/'.length)}`;
    expect(checkWebhookUrl(raw, strict).href).toBe(raw);
  });
});

describe('with OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK', () => {
  it.each<[string, { address: string; family: 4 | 6 }]>([
    ['http://127.0.0.1:3000/hook', { address: '127.0.0.1', family: 4 }],
    ['http://127.0.0.2:3000/hook', { address: '127.0.0.2', family: 4 }],
    ['http://[::1]:3000/hook', { address: '::1', family: 6 }],
    ['http://localhost:3000/hook', { address: '127.0.0.1', family: 4 }],
    ['http://LOCALHOST.:3000/hook', { address: '127.0.0.1', family: 4 }],
    ['https://localhost/hook', { address: '127.0.0.1', family: 4 }],
    ['https://127.0.0.1/hook', { address: '127.0.0.1', family: 4 }],
  ])('allows %s without asking DNS', async (raw, target) => {
    const dns = fakeDns();
    expect(await resolveTarget(checkWebhookUrl(raw, loopbackAllowed), dns, loopbackAllowed)).toEqual(target);
    expect(dns.asked).toEqual([]);
  });

  it('allows an https name that resolves to loopback', async () => {
    expect(await guard('https://receiver.test/', { 'receiver.test': ['127.0.0.1'] }, loopbackAllowed)).toEqual({ address: '127.0.0.1', family: 4 });
  });

  it.each<[string, Records, string]>([
    [`http://${PUBLIC_V4}/`, {}, 'must use https'],
    ['http://example.com/', { 'example.com': [PUBLIC_V4] }, 'must use https'],
    // Plain http needs a host that is loopback as written, not one DNS says is.
    ['http://receiver.test/', { 'receiver.test': ['127.0.0.1'] }, 'must use https'],
    ['http://[::ffff:127.0.0.1]/', {}, 'host is a loopback address (IPv4-mapped)'],
    ['https://10.0.0.1/', {}, 'host is a private address'],
    ['https://169.254.169.254/', {}, 'host is a link-local address'],
    ['https://0.0.0.0/', {}, 'host is an unspecified address'],
    ['https://[fd00:ec2::254]/', {}, 'host is a private address'],
    ['https://internal.example/', { 'internal.example': ['127.0.0.1', '10.0.0.1'] }, 'resolves to a private address'],
  ])('still refuses %s', async (raw, records, reason) => {
    expect(await refusalOf(raw, records, loopbackAllowed)).toBe(reason);
  });
});

describe('DNS rebinding', () => {
  it('resolves again at delivery and refuses when the answer has turned private', async () => {
    const answers = [[PUBLIC_V4], ['127.0.0.1']];
    let calls = 0;
    const rebinding: Resolver = async () => answers[calls++] ?? [];
    const url = checkWebhookUrl('https://rebind.example/hook', strict);

    expect(await resolveTarget(url, rebinding, strict)).toEqual({ address: PUBLIC_V4, family: 4 });
    await expect(resolveTarget(url, rebinding, strict)).rejects.toMatchObject({ reason: 'resolves to a loopback address' });
    expect(calls).toBe(2);
  });
});

describe('forbiddenAddressReason', () => {
  it.each(['', 'example.com', '[::1]', '127.1', '0177.0.0.1', '1.2.3.256', '1::2::3', '1:2:3:4::5:6:7:8', 'fe80::1%eth0', '::ffff:1.2.3'])('refuses %j as invalid', (text) => {
    expect(forbiddenAddressReason(text)).toBe('an invalid IP address');
  });

  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
  const dotted = ([a, b, c, d]: [number, number, number, number]) => `${a}.${b}.${c}.${d}`;
  const hex16 = (high: number, low: number) => ((high << 8) | low).toString(16);

  it('judges an IPv4-mapped address, in either notation, by the IPv4 address it carries', () => {
    fc.assert(
      fc.property(ipv4, (octets) => {
        const [a, b, c, d] = octets;
        const inner = forbiddenAddressReason(dotted(octets));
        const expected = inner && `${inner} (IPv4-mapped)`;
        expect(forbiddenAddressReason(`::ffff:${dotted(octets)}`)).toBe(expected);
        expect(forbiddenAddressReason(`::ffff:${hex16(a, b)}:${hex16(c, d)}`)).toBe(expected);
        expect(forbiddenAddressReason(`0:0:0:0:0:ffff:${dotted(octets)}`)).toBe(expected);
      }),
    );
  });

  it('judges a URL host written as one 32-bit number like its dotted form', () => {
    fc.assert(
      fc.property(fc.nat(0xffff_ffff), (n) => {
        const text = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
        const reason = forbiddenAddressReason(text);
        for (const raw of [`https://${n}/`, `https://0x${n.toString(16)}/`]) {
          let refused: string | undefined;
          try {
            checkWebhookUrl(raw, strict);
          } catch (error) {
            refused = (error as UrlRefused).reason;
          }
          expect(refused).toBe(reason && `host is ${reason}`);
        }
      }),
    );
  });

  it('reads IPv6 the same written out in full or compressed as the URL parser writes it', () => {
    const group = fc.oneof(fc.constant(0), fc.nat(0xffff));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
        const compressed = new URL(`https://[${full}]/`).hostname.slice(1, -1);
        expect(forbiddenAddressReason(compressed)).toBe(forbiddenAddressReason(full));
      }),
    );
  });

  it('refuses every unique-local and link-local IPv6 address', () => {
    const rest = fc.array(fc.nat(0xffff), { minLength: 7, maxLength: 7 });
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0xfc00, max: 0xfdff }), fc.integer({ min: 0xfe80, max: 0xfebf })), rest, (first, groups) => {
        expect(forbiddenAddressReason([first, ...groups].map((g) => g.toString(16)).join(':'))).toMatch(/^a (private|link-local) address$/);
      }),
    );
  });
});
