/**
 * graphql-ws's browser client (`graphql-ws/dist/client.js`, plain ESM), copied here by `npm run build`
 * with the one chunk it imports, and served from /demo/vendor/. Its types are the package's own.
 */
export { createClient } from 'graphql-ws/client';
export type { Client } from 'graphql-ws/client';
