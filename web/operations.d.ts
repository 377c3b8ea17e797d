/**
 * The typed operations of src/client/generated, as the browser receives them: `npm run build` prints
 * every generated `…Document` into `operations.js` (src/cli/build-web.ts), so the page sends the very
 * documents the demo CLI and the tests send, without shipping graphql-js. The result and variable
 * types ride along as phantom types, taken from the same generated module.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type * as Generated from '../client/generated/graphql.js';

/** The text of one operation, typed by what it returns and the variables it takes. */
export type Operation<TData, TVariables> = string & { readonly __operation?: (variables: TVariables) => TData };

type OperationOf<TDocument> = TDocument extends TypedDocumentNode<infer TData, infer TVariables> ? Operation<TData, TVariables> : never;

/** `operations.Viewer` is the printed `ViewerDocument`, and so on for every operation. */
export declare const operations: {
  readonly [Name in keyof typeof Generated as Name extends `${infer Operation}Document` ? Operation : never]: OperationOf<(typeof Generated)[Name]>;
};
