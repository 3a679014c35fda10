import { newPriceVersions, parsePriceCatalog } from './pricing';

const all = (usd: string) => ({ USD: usd, VND: '1000', JPY: '100' });

describe('price catalog', () => {
  it('refuses a catalog that leaves a SKU or the storage without a price in some currency, naming what is missing', () => {
    expect(() => parsePriceCatalog({ gpu: { 'h100-1x': { USD: '2.50', JPY: '380' } }, storagePerGbHour: all('0.0002') })).toThrow(/gpu\.h100-1x has no price in VND/);
    expect(() => parsePriceCatalog({ gpu: { 'h100-1x': all('2.50') }, storagePerGbHour: { USD: '0.0002' } })).toThrow(/storagePerGbHour has no price in VND, JPY/);
    expect(() => parsePriceCatalog({ gpu: { 'h100-1x': all('2.50') } })).toThrow(/storagePerGbHour/);
  });

  it('refuses a version that drops a SKU an earlier version priced, or two versions at one instant', () => {
    const v = (from: string, gpu: object) => ({ effectiveFrom: from, gpu, storagePerGbHour: all('0') });
    expect(() => parsePriceCatalog({ versions: [v('2026-01-01T00:00:00Z', { a: all('1'), b: all('2') }), v('2027-01-01T00:00:00Z', { a: all('1') })] })).toThrow(/drops SKU b/);
    expect(() => parsePriceCatalog({ versions: [v('2026-01-01T00:00:00Z', { a: all('1') }), v('2026-01-01T00:00:00.000Z', { a: all('2') })] })).toThrow(/two price versions/);
    expect(() => parsePriceCatalog({ versions: [v('tomorrow', { a: all('1') })] })).toThrow(/effectiveFrom/);
  });

  it('prices each instant at the version in force, and a SKU added later at its first price before that', () => {
    const v = (from: string, gpu: object) => ({ effectiveFrom: from, gpu, storagePerGbHour: all('0') });
    const book = parsePriceCatalog({ versions: [v('2026-01-01T00:00:00Z', { a: all('1') }), v('2027-01-01T00:00:00Z', { a: all('2'), b: all('5') })] });
    expect(book.gpuRatePerHour('a', 'USD', Date.parse('2026-06-01T00:00:00Z')).toFixed()).toBe('1');
    expect(book.gpuRatePerHour('a', 'USD', Date.parse('2027-01-01T00:00:00Z')).toFixed()).toBe('2');
    expect(book.gpuRatePerHour('b', 'USD', Date.parse('2026-06-01T00:00:00Z')).toFixed()).toBe('5');
    expect(book.knows('b')).toBe(true);
    expect(book.knows('c')).toBe(false);
  });
});

describe('price history', () => {
  const v = (from: number, usd: string) => parsePriceCatalog({ versions: [{ effectiveFrom: new Date(from).toISOString(), gpu: { a: all(usd) }, storagePerGbHour: all('0') }] }).versions[0];
  const now = Date.parse('2026-12-01T00:00:00Z');

  it('records a new version only if it takes effect after the notice, and never changes a recorded one', () => {
    const old = v(now - 86_400_000, '1');
    expect(newPriceVersions([], [old], now, 60_000)).toEqual([old]);
    expect(newPriceVersions([old], [old, v(now + 120_000, '2')], now, 60_000).map((x) => x.effectiveFromMs)).toEqual([now + 120_000]);
    expect(() => newPriceVersions([old], [v(now - 86_400_000, '1.5')], now, 60_000)).toThrow(/differs from the one already in use/);
    expect(() => newPriceVersions([old], [v(now + 10_000, '2')], now, 60_000)).toThrow(/less than 60 s from now/);
    const legacy = parsePriceCatalog({ gpu: { a: all('3') }, storagePerGbHour: all('0') }).versions[0];
    expect(() => newPriceVersions([old], [legacy], now, 60_000)).toThrow(/since always/);
  });
});
