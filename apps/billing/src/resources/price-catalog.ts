import { existsSync, readFileSync } from 'fs';
import path from 'path';
import { parsePriceCatalog, PriceCatalog } from '@billing/domain';

/** The catalog shipped with the project (`config/price-catalog.json`); `PRICE_CATALOG` names another file. */
export function defaultPriceCatalogPath(): string {
  // The same from the sources (tests) and from dist/: the folder that holds package.json.
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'config', 'price-catalog.json');
}

export function loadPriceCatalog(file: string): PriceCatalog {
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
