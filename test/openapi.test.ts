/**
 * The OpenAPI document (`/api/v1/openapi.json`) comes from the same schemas that validate
 * requests, so it cannot drift from what the API accepts; `/docs` serves the browsable docs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from './support/collector.js';

let c: TestCollector;

beforeAll(async () => {
  c = await startTestCollector('PGlite');
}, 60_000);

afterAll(async () => c?.close());

it('describes every API route, with the request schemas that validate them', async () => {
  const { status, body } = await c.api('GET', '/api/v1/openapi.json', { token: null });
  expect(status).toBe(200);
  expect(body.openapi).toBe('3.1.0');
  for (const path of [
    '/api/v1/discoveries',
    '/api/v1/subnets',
    '/api/v1/addresses',
    '/api/v1/nodes/{id}/deploy',
    '/api/v1/pools/{pool}/claims/{claim}',
  ]) {
    expect(Object.keys(body.paths)).toContain(path);
  }
  const subnet = body.paths['/api/v1/subnets'].post.requestBody.content['application/json'].schema;
  expect(subnet.required).toEqual(['cidr']);
  expect(subnet.additionalProperties).toBe(false);
  // What the document says is what the validator enforces: a field it does not list is refused.
  expect(Object.keys(subnet.properties)).not.toContain('colour');
  expect((await c.api('POST', '/subnets', { json: { cidr: '10.99.0.0/24', colour: 'red' } })).status).toBe(400);
  expect(body.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
});

it('serves the browsable docs at /docs, assets included, without a token', async () => {
  const page = await fetch(`${c.url}/docs/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('swagger-ui');
  const bundle = await fetch(`${c.url}/docs/static/swagger-ui-bundle.js`);
  expect(bundle.status).toBe(200);
  expect((await bundle.text()).length).toBeGreaterThan(100_000);
});
