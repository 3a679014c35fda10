import { Currency, CURRENCIES, isCurrency } from './currency';
import { Decimal } from './money';

/** Prices per hour: per GPU SKU and per GB of persistent storage, in each billing currency. */
export interface PriceCatalog {
  readonly gpu: ReadonlyMap<string, ReadonlyMap<Currency, Decimal>>;
  readonly storagePerGbHour: ReadonlyMap<Currency, Decimal>;
}

const PRICE = /^(0|[1-9][0-9]*)(\.[0-9]{1,8})?$/;

function prices(where: string, value: unknown): Map<Currency, Decimal> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be an object of currency -> price`);
  const out = new Map<Currency, Decimal>();
  for (const [currency, price] of Object.entries(value)) {
    if (!isCurrency(currency)) throw new Error(`${where}: unknown currency ${currency} (known: ${CURRENCIES.join(', ')})`);
    if (typeof price !== 'string' || !PRICE.test(price)) throw new Error(`${where}.${currency} must be a decimal string with at most 8 decimals, got ${JSON.stringify(price)}`);
    out.set(currency, new Decimal(price));
  }
  return out;
}

/** Reads `{ "gpu": { sku: { USD: "2.50", ... } }, "storagePerGbHour": { USD: "0.0002", ... } }`; throws on anything else. */
export function parsePriceCatalog(json: unknown): PriceCatalog {
  if (typeof json !== 'object' || json === null) throw new Error('price catalog must be a JSON object');
  const { gpu, storagePerGbHour } = json as { gpu?: unknown; storagePerGbHour?: unknown };
  if (typeof gpu !== 'object' || gpu === null || Array.isArray(gpu)) throw new Error('price catalog needs "gpu": { sku: { currency: price } }');
  const skus = new Map<string, Map<Currency, Decimal>>();
  for (const [sku, p] of Object.entries(gpu)) skus.set(sku, prices(`gpu.${sku}`, p));
  return { gpu: skus, storagePerGbHour: prices('storagePerGbHour', storagePerGbHour) };
}

export function gpuRatePerHour(catalog: PriceCatalog, sku: string, currency: Currency): Decimal | null {
  return catalog.gpu.get(sku)?.get(currency) ?? null;
}

export function storageRatePerGbHour(catalog: PriceCatalog, currency: Currency): Decimal | null {
  return catalog.storagePerGbHour.get(currency) ?? null;
}
