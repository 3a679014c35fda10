import { AddressClass, classifyAddress, parseAllowCidr, parseAllowHost, WebhookAddressPolicy } from './webhook-address-policy';

describe('webhook address classes', () => {
  const cases: [string, AddressClass][] = [
    ['93.184.216.34', 'public'],
    ['8.8.8.8', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['100.64.0.1', 'carrier-grade-nat'],
    ['100.127.255.255', 'carrier-grade-nat'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['169.254.169.254', 'cloud-metadata'],
    ['169.254.170.2', 'cloud-metadata'],
    ['100.100.100.200', 'cloud-metadata'],
    ['192.0.0.192', 'cloud-metadata'],
    ['168.63.129.16', 'cloud-metadata'],
    ['fd00:ec2::254', 'cloud-metadata'],
    ['fd20:ce::254', 'cloud-metadata'],
    ['::ffff:169.254.169.254', 'cloud-metadata'],
    ['::ffff:127.0.0.1', 'ipv4-mapped'],
    ['::ffff:7f00:1', 'ipv4-mapped'],
    ['::ffff:10.0.0.1', 'ipv4-mapped'],
    ['::ffff:8.8.8.8', 'ipv4-mapped'],
    ['::ffff:0:7f00:1', 'ipv4-mapped'],
    ['::127.0.0.1', 'ipv4-embedded'],
    ['::7f00:1', 'ipv4-embedded'],
    ['64:ff9b::a00:1', 'ipv4-embedded'],
    ['2002:7f00:1::1', 'ipv4-embedded'],
    ['2001:0:4136:e378::1', 'ipv4-embedded'],
    ['example.com', 'not-an-address'],
    ['0x7f.1', 'not-an-address'],
    ['', 'not-an-address'],
  ];

  it.each(cases)('classifies %s as %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe('webhook address policy', () => {
  const strict = new WebhookAddressPolicy();

  it('allows public addresses only, by default', () => {
    expect(strict.checkAddress('93.184.216.34')).toBeNull();
    expect(strict.checkAddress('2606:4700:4700::1111')).toBeNull();
    for (const a of ['127.0.0.1', '10.1.2.3', '169.254.169.254', '::1', '::ffff:127.0.0.1', '100.64.1.1', 'fd00::1', '0.0.0.0', '224.0.0.1', '255.255.255.255']) {
      expect({ a, refused: strict.checkAddress(a) !== null }).toEqual({ a, refused: true });
    }
    expect(strict.checkAddress('10.1.2.3')).toEqual({ class: 'private', reason: 'a private address' });
  });

  it('allows the listed ranges, an IPv4-mapped form of them too, and nothing next to them', () => {
    const policy = new WebhookAddressPolicy({ allowCidrs: ['127.0.0.1', '10.20.0.0/16', 'fd00:1::/32'] });
    expect(policy.checkAddress('127.0.0.1')).toBeNull();
    expect(policy.checkAddress('::ffff:127.0.0.1')).toBeNull();
    expect(policy.checkAddress('127.0.0.2')).not.toBeNull();
    expect(policy.checkAddress('10.20.255.1')).toBeNull();
    expect(policy.checkAddress('10.21.0.1')).not.toBeNull();
    expect(policy.checkAddress('fd00:1:2::3')).toBeNull();
    expect(policy.checkAddress('fd00:2::3')).not.toBeNull();
  });

  it('never allows a cloud metadata address, whatever is listed', () => {
    const policy = new WebhookAddressPolicy({ allowCidrs: ['169.254.0.0/16', '0.0.0.0/0', '::/0'], allowHosts: ['metadata.google.internal'] });
    expect(policy.checkAddress('169.254.169.254')).toEqual({ class: 'cloud-metadata', reason: 'a cloud metadata address' });
    expect(policy.checkAddress('169.254.169.254', true)?.class).toBe('cloud-metadata');
    expect(policy.checkAddress('fd00:ec2::254')?.class).toBe('cloud-metadata');
    expect(policy.checkAddress('169.254.1.1')).toBeNull();
  });

  it('refuses internal and unqualified host names before any lookup, unless listed', () => {
    for (const host of ['localhost', 'LOCALHOST.', 'api.localhost', 'metadata.google.internal', 'printer.local', 'nas.home.arpa', 'metadata.goog', 'kubernetes', 'instance-data']) {
      expect({ host, refused: strict.checkHostName(host)?.class }).toEqual({ host, refused: 'internal-name' });
    }
    expect(strict.checkHostName('hooks.example.com')).toBeNull();
    expect(strict.checkHostName('127.0.0.1')).toBeNull(); // an address: checkAddress's
    const policy = new WebhookAddressPolicy({ allowHosts: ['hooks.corp.internal', '*.svc.local'] });
    expect(policy.checkHostName('hooks.corp.internal')).toBeNull();
    expect(policy.checkHostName('a.svc.local')).toBeNull();
    expect(policy.checkHostName('svc.local')).not.toBeNull();
    expect(policy.isHostAllowListed('HOOKS.corp.internal.')).toBe(true);
    expect(policy.isHostAllowListed('evilhooks.corp.internal')).toBe(false);
  });

  it('refuses allow-list entries it cannot read', () => {
    expect(() => parseAllowCidr('10.0.0.0/33')).toThrow(/not an IP address or CIDR/);
    expect(() => parseAllowCidr('10.0.0.0/x')).toThrow(/not an IP address or CIDR/);
    expect(() => parseAllowCidr('example.com')).toThrow(/not an IP address or CIDR/);
    expect(() => parseAllowCidr('0x7f.1/32')).toThrow(/not an IP address or CIDR/);
    expect(() => parseAllowHost('127.0.0.1')).toThrow(/ALERTS_WEBHOOK_ALLOW_CIDRS/);
    expect(() => parseAllowHost('bad host')).toThrow(/not a host name/);
    expect(parseAllowHost('Hooks.Example.COM.')).toBe('hooks.example.com');
  });
});
