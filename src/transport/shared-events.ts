/**
 * graphql-js's `subscribe`, except that one event delivered to many subscribers who asked the same
 * thing is executed once. A decision reaches every subscriber of its session as the very same event
 * object (`DecisionBus.announce`); subscribers of one session with the same document (one shared
 * AST, `checkDocument`), variables and viewer would each run the same selection set over it. The
 * result, a plain JSON-ready object that nothing downstream changes, is computed by the first of
 * them and handed to the others.
 *
 * What makes two subscribers "the same" is `sharingKeyOf`: anything a resolver reads from its
 * context that could change the answer (the viewer) must be in it. A subscriber without a key (no
 * viewer) and an event that is not an object are executed for that subscriber alone.
 */
import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';

export type SubscribeFn = (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;

export function createSharedSubscribe(sharingKeyOf: (args: ExecutionArgs) => string | undefined): SubscribeFn {
  /** Results by event, then by what was asked; gone with the event once no subscriber holds it. */
  const results = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 1;
  const documentId = (document: DocumentNode) => {
    let id = documentIds.get(document);
    if (id === undefined) documentIds.set(document, (id = nextDocumentId++));
    return id;
  };

  return async (args) => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const viewerKey = sharingKeyOf(args);
    const key =
      viewerKey === undefined ? undefined : `${documentId(args.document)}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${viewerKey}`;
    const run = async (event: unknown): Promise<ExecutionResult> => execute({ ...args, rootValue: event });
    return mapEvents(source, (event) => {
      if (key === undefined || typeof event !== 'object' || event === null) return run(event);
      let byKey = results.get(event);
      if (!byKey) results.set(event, (byKey = new Map()));
      let result = byKey.get(key);
      if (!result) byKey.set(key, (result = run(event)));
      return result;
    });
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/** graphql-js's own `mapAsyncIterator` (not part of its public API): `return()` reaches the source. */
function mapEvents<T, R>(iterable: AsyncIterable<T>, map: (value: T) => Promise<R>): AsyncIterableIterator<R> {
  const iterator = iterable[Symbol.asyncIterator]();
  const mapResult = async (result: IteratorResult<T>): Promise<IteratorResult<R>> => {
    if (result.done) return result;
    try {
      return { value: await map(result.value), done: false };
    } catch (error) {
      await iterator.return?.().catch(() => undefined);
      throw error;
    }
  };
  return {
    next: async () => mapResult(await iterator.next()),
    return: async () => (iterator.return ? mapResult(await iterator.return()) : { value: undefined, done: true }),
    throw: async (error?: unknown) => {
      if (iterator.throw) return mapResult(await iterator.throw(error));
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
