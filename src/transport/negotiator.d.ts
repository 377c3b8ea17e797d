/** The part of `negotiator` (the Accept-header negotiation Apollo Server itself uses) we call; it ships no types. */
declare module 'negotiator' {
  class Negotiator {
    constructor(request: { headers: Record<string, string | string[] | undefined> });
    /** The most preferred of `available` the client accepts, as given in `available`; undefined when none is. */
    mediaType(available: string[]): string | undefined;
  }
  export = Negotiator;
}
