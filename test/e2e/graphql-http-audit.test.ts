/**
 * graphql-http's conformance audits of the GraphQL-over-HTTP spec, run against the real gateway on a
 * real port, one test per audit. Every MUST and every SHOULD passes. Of the MAYs, the only ones
 * missed are GET requests without a token, a `content-type` or a preflight header, which Apollo's
 * CSRF prevention refuses on purpose (a browser can send such a request cross-site).
 */
import { serverAudits, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestGateway } from '../helpers/gateway';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start();
});
afterAll(async () => {
  await gateway?.stop();
});

const audits = serverAudits({ url: () => gateway.graphqlUrl });

async function failureOf(result: AuditResult): Promise<string> {
  if (result.status === 'ok') return '';
  return `${result.reason}: ${result.response.status} ${await result.response.text()}`;
}

describe('GraphQL over HTTP (graphql-http server audits)', () => {
  for (const audit of audits.filter((each) => !each.name.startsWith('MAY '))) {
    it(audit.name, async () => {
      const result = await audit.fn();
      expect(result.status, await failureOf(result)).toBe('ok');
    });
  }

  for (const audit of audits.filter((each) => each.name.startsWith('MAY '))) {
    it(`${audit.name} (or refuses it as a possible CSRF)`, async () => {
      const result = await audit.fn();
      if (result.status === 'ok') return;
      expect(result.status).toBe('notice');
      expect(result.response.status).toBe(400);
      expect(await result.response.text()).toContain('Cross-Site Request Forgery');
    });
  }
});
