import { existsSync, readFileSync } from 'fs';
import path from 'path';
import { Logger } from '@nestjs/common';
import { newPriceVersions, parsePriceCatalog, PriceBook } from '@billing/domain';
import { PriceVersionRepository } from '@billing/persistence';

/** The catalog shipped with the project (`config/price-catalog.json`); `PRICE_CATALOG` names another file. */
export function defaultPriceCatalogPath(): string {
  // The same from the sources (tests) and from dist/: the folder that holds package.json.
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'config', 'price-catalog.json');
}

export function loadPriceCatalog(file: string): PriceBook {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`price catalog ${file} cannot be read: ${(error as Error).message}`);
  }
  try {
    return parsePriceCatalog(json);
  } catch (error) {
    throw new Error(`price catalog ${file}: ${(error as Error).message}`);
  }
}

/**
 * The prices the engine bills with: every version recorded in the database (which has priced
 * usage, or will), plus the new versions of the catalog file, recorded at start. A catalog that
 * would change recorded prices, or make a change apply too soon (it would re-price usage already
 * billed), stops the engine with the reason. Versions recorded by other processes are read again
 * well within the notice a change must give, so every process knows a change before it applies.
 */
export class PriceCatalog {
  private readonly logger = new Logger('PriceCatalog');
  private timer: NodeJS.Timeout | null = null;

  private constructor(private current: PriceBook, private readonly repository: PriceVersionRepository, private readonly reloadIntervalMs: number) {}

  static async open(file: string, repository: PriceVersionRepository, minNoticeMs: number, nowMs = Date.now()): Promise<PriceCatalog> {
    const fromFile = loadPriceCatalog(file);
    let fresh;
    try {
      fresh = newPriceVersions(await repository.all(), fromFile.versions, nowMs, minNoticeMs);
    } catch (error) {
      throw new Error(`price catalog ${file}: ${(error as Error).message}`);
    }
    await repository.record(fresh);
    const recorded = await repository.all();
    // Another process may have recorded a different version at the same instant meanwhile.
    newPriceVersions(recorded, fromFile.versions, nowMs, Number.POSITIVE_INFINITY);
    return new PriceCatalog(new PriceBook(recorded), repository, Math.max(1000, Math.min(60_000, Math.floor(minNoticeMs / 2))));
  }

  get book(): PriceBook {
    return this.current;
  }

  start(): void {
    this.timer = setInterval(() => void this.reload(), this.reloadIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async reload(): Promise<void> {
    try {
      const recorded = await this.repository.all();
      if (recorded.length !== this.current.versions.length) {
        this.current = new PriceBook(recorded);
        this.logger.log({ msg: 'price versions read again', versions: recorded.map((v) => new Date(v.effectiveFromMs).toISOString()) });
      }
    } catch (error) {
      this.logger.warn({ msg: 'price versions not read again; the next try follows', error: String((error as Error)?.message ?? error) });
    }
  }
}
