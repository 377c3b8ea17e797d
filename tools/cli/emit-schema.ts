/** `npm run schema`: writes the SDL built from the type-graphql classes to schema.graphql (committed). */
import fs from 'node:fs';
import path from 'node:path';
import { buildGatewaySchema, printGatewaySchema } from '../../src/graphql/schema';

async function main(): Promise<void> {
  const target = path.resolve(__dirname, '../../../schema.graphql');
  fs.writeFileSync(target, printGatewaySchema(await buildGatewaySchema()));
  process.stdout.write(`wrote ${path.relative(process.cwd(), target) || target}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
