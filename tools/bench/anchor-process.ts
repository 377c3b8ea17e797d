/**
 * Child entry of `npm run bench`: an anchor serving the same GraphQL response JSON the gateway serves,
 * so the gateway's figures can be read as ratios measured in the same run on the same machine.
 *
 * ANCHOR_KIND=raw     node:http answering every request with the recorded response bytes.
 * ANCHOR_KIND=apollo  bare Apollo Server 5 (`startStandaloneServer`) on the gateway's own SDL
 *                     (schema.graphql), with one static resolver for `Query.session` returning the
 *                     recorded `data.session`; every other field resolves by default.
 * ANCHOR_RESPONSE_FILE is the recorded response; ANCHOR_SCHEMA_FILE the SDL (apollo only).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { serveParent } from './child';

async function main(): Promise<void> {
  const kind = process.env.ANCHOR_KIND;
  const responseFile = process.env.ANCHOR_RESPONSE_FILE;
  if (!responseFile) throw new Error('ANCHOR_RESPONSE_FILE is not set');
  const responseBody = fs.readFileSync(responseFile);

  if (kind === 'raw') {
    const contentType = process.env.ANCHOR_CONTENT_TYPE ?? 'application/json; charset=utf-8';
    const server = http.createServer((req, res) => {
      // Read the request as any server must, then answer with the recorded bytes.
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': contentType, 'content-length': responseBody.length });
        res.end(responseBody);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    serveParent(
      { url: `http://127.0.0.1:${port}` },
      {
        stop: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      },
    );
    return;
  }

  if (kind === 'apollo') {
    const schemaFile = process.env.ANCHOR_SCHEMA_FILE;
    if (!schemaFile) throw new Error('ANCHOR_SCHEMA_FILE is not set');
    const recorded = JSON.parse(responseBody.toString('utf8')) as { data: { session: unknown } };
    const apollo = new ApolloServer({
      typeDefs: fs.readFileSync(schemaFile, 'utf8'),
      resolvers: { Query: { session: () => recorded.data.session } },
    });
    const { url } = await startStandaloneServer(apollo, { listen: { port: 0, host: '127.0.0.1' } });
    serveParent({ url: url.replace(/\/$/, '') }, { stop: () => apollo.stop() });
    return;
  }

  throw new Error(`ANCHOR_KIND must be raw or apollo, got "${kind}"`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench anchor could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
