import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from './api-client.js';
import { ApiProblem, ServerError } from './errors.js';

/** A stand-in server: each test sets how it answers; requests are recorded. */
let answer: (request: IncomingMessage, body: string, response: ServerResponse) => void;
const seen: { method: string; url: string; authorization?: string; contentType?: string; body: string }[] = [];
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => {
    body += chunk;
  });
  request.on('end', () => {
    seen.push({
      method: request.method!,
      url: request.url!,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
      body,
    });
    answer(request, body, response);
  });
});
let url: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections(); // the request left unanswered
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const json =
  (status: number, value: unknown, type = 'application/json') =>
  (_: unknown, __: string, r: ServerResponse) =>
    r.writeHead(status, { 'content-type': type }).end(JSON.stringify(value));

describe('ApiClient', () => {
  it('sends the token and a JSON body below /api/v1, leaving out undefined parameters', async () => {
    seen.length = 0;
    answer = json(201, { ip: '10.0.0.2' });
    const client = new ApiClient(url, 'tok', 5000);
    const result = await client.send({
      method: 'POST',
      path: '/subnets/10.0.0.0%2F24/reserve',
      query: { wait: '0', subnet: undefined },
      body: { hostname: 'vip' },
    });
    expect(result).toEqual({ ip: '10.0.0.2' });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/api/v1/subnets/10.0.0.0%2F24/reserve?wait=0',
        authorization: 'Bearer tok',
        contentType: 'application/json',
        body: '{"hostname":"vip"}',
      },
    ]);
  });

  it('sends no body, content type or token when it has none, and answers undefined for 204', async () => {
    seen.length = 0;
    answer = (_, __, r) => r.writeHead(204).end();
    expect(await new ApiClient(url, undefined, 5000).send({ method: 'POST', path: '/nodes/n1/release' })).toBe(
      undefined,
    );
    expect(seen[0]).toMatchObject({ authorization: undefined, contentType: undefined, body: '' });
  });

  it('follows nextCursor to the end of a list', async () => {
    seen.length = 0;
    answer = (request, _, r) => {
      const cursor = new URL(request.url!, url).searchParams.get('cursor');
      const pages: Record<string, unknown> = {
        none: { items: [1, 2], nextCursor: 'c2' },
        c2: { items: [3], nextCursor: 'c3' },
        c3: { items: [4], nextCursor: null },
      };
      json(200, pages[cursor ?? 'none'])(request, '', r);
    };
    const page = await new ApiClient(url, 't', 5000).all({ method: 'GET', path: '/addresses', query: { limit: '2' } });
    expect(page).toEqual({ items: [1, 2, 3, 4], nextCursor: null });
    expect(seen.map((s) => s.url)).toEqual([
      '/api/v1/addresses?limit=2',
      '/api/v1/addresses?limit=2&cursor=c2',
      '/api/v1/addresses?limit=2&cursor=c3',
    ]);
  });

  it('stops at a server that repeats a cursor', async () => {
    answer = json(200, { items: [1], nextCursor: 'same' });
    await expect(new ApiClient(url, 't', 5000).all({ method: 'GET', path: '/addresses' })).rejects.toThrow(ServerError);
  });

  it('turns a 4xx problem into an ApiProblem with its code, detail and field errors', async () => {
    const problem = {
      type: 'https://ipwarden.dev/problems/invalid-ip',
      title: 'Invalid IP address',
      status: 400,
      detail: 'ip: "10.0.0.300" is not an IPv4 or IPv6 address',
      code: 'invalid-ip',
      errors: [{ field: 'ip', message: '"10.0.0.300" is not an IPv4 or IPv6 address' }],
    };
    answer = json(400, problem, 'application/problem+json');
    const error = await new ApiClient(url, 't', 5000).send({ method: 'GET', path: '/x' }).catch((e) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect(error).toMatchObject({ status: 400, code: 'invalid-ip', detail: problem.detail, errors: problem.errors });
  });

  it('makes an ApiProblem of a 4xx that is not a problem (a proxy answering)', async () => {
    answer = (_, __, r) => r.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
    await expect(new ApiClient(url, 't', 5000).send({ method: 'GET', path: '/x' })).rejects.toMatchObject({
      status: 404,
      code: 'http-404',
      detail: 'GET /x answered 404',
    });
  });

  it('makes a ServerError naming the server of a 5xx, of an answer that is not JSON, and of no answer', async () => {
    const client = new ApiClient(url, 't', 200);
    answer = json(503, { code: 'unavailable', detail: 'the database cannot be reached; try again' });
    await expect(client.send({ method: 'GET', path: '/x' })).rejects.toThrow(
      `${url} failed (503 unavailable): the database cannot be reached; try again`,
    );
    answer = (_, __, r) => r.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    await expect(client.send({ method: 'GET', path: '/x' })).rejects.toThrow(
      `${url} answered GET /x with something not JSON`,
    );
    answer = () => {}; // never answers
    await expect(client.send({ method: 'GET', path: '/x' })).rejects.toThrow(`cannot reach ${url}: no answer in time`);
  });
});
