/** Picks the store adapter the configuration names: PostgreSQL for DATABASE_URL, else SQLite in DATA_DIR. */
import path from 'node:path';
import type { GatewayConfig } from '../../config';
import { openPostgresStore } from './postgres-store';
import { openSqliteStore } from './sqlite-store';
import type { Store } from '../../domain/ports/store';
import type { ChainSealing } from '../../domain/audit/seal';

export async function openStore(config: Pick<GatewayConfig, 'databaseUrl' | 'databasePoolSize' | 'dataDir'> & { webhooks?: Pick<GatewayConfig['webhooks'], 'retryHorizonMillis'> }, sealing: ChainSealing): Promise<Store> {
  const webhookHorizonMillis = config.webhooks?.retryHorizonMillis;
  if (config.databaseUrl) return openPostgresStore({ connectionString: config.databaseUrl, poolSize: config.databasePoolSize, webhookHorizonMillis, sealing });
  return openSqliteStore(path.join(config.dataDir, 'gateway.sqlite'), { webhookHorizonMillis, sealing });
}
