import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DELIVERY, retryDelay, slackText } from './webhook-dispatcher.js';
import { signatureHeaders, standardWebhooksSecret } from './webhook-signature.js';

describe('retryDelay', () => {
  it('doubles from 1 s, drawn from the upper half of each step, and stops at 10 min', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, DEFAULT_DELIVERY, 0))).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, DEFAULT_DELIVERY, 0.999_999))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelay(20, DEFAULT_DELIVERY, 0.999_999)).toBe(600_000);
    expect(retryDelay(10_000, DEFAULT_DELIVERY, 0)).toBe(300_000);
  });

  it('keeps retrying for the whole retry period: 24 h take well over a hundred attempts at the cap', () => {
    let elapsed = 0;
    let attempts = 0;
    while (elapsed < DEFAULT_DELIVERY.retryForMs) elapsed += retryDelay(++attempts, DEFAULT_DELIVERY, 1);
    expect(attempts).toBeGreaterThan(140);
  });
});

describe('signatureHeaders', () => {
  it('signs the body in hex and "id.timestamp.body" in base64, both with the secret’s bytes', () => {
    const body = '{"id":7,"type":"ping","at":"2026-11-21T12:00:00.000Z","data":{}}';
    const headers = signatureHeaders('0123456789abcdef', { id: 7, timestamp: 1_795_000_000, body });
    expect(headers['x-ipwarden-signature']).toBe(
      `sha256=${createHmac('sha256', '0123456789abcdef').update(body).digest('hex')}`,
    );
    expect(headers['webhook-id']).toBe('7');
    expect(headers['webhook-timestamp']).toBe('1795000000');
    const key = Buffer.from(standardWebhooksSecret('0123456789abcdef').slice('whsec_'.length), 'base64');
    expect(headers['webhook-signature']).toBe(
      `v1,${createHmac('sha256', key).update(`7.1795000000.${body}`).digest('base64')}`,
    );
  });
});

describe('slackText', () => {
  it('says what happened in one line', () => {
    const text = slackText({
      id: 42,
      type: 'conflict.opened',
      at: '2026-11-21T12:00:00.000Z',
      data: { kind: 'duplicate-ip', ip: '10.0.0.7', macs: ['02:00:00:00:00:01', '02:00:00:00:00:02'] },
    });
    expect(text).toBe(
      'ipwarden conflict.opened — kind duplicate-ip; ip 10.0.0.7; macs 02:00:00:00:00:01, 02:00:00:00:00:02 (event 42, 2026-11-21T12:00:00.000Z)',
    );
    expect(text).not.toContain('\n');
  });
});
